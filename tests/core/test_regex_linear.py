"""Every regular expression in the package runs in time linear in its input (issue 12: `_CREDENTIALS`, applied to
git's stderr, which a hostile remote controls, was quadratic on a long run of letters).

The class is closed in two steps: every pattern must be a module-level compiled constant (checked on the source,
so a new `re.sub(r"…", …)` inside a function cannot hide), and every such constant is run on adversarial 100 kB
inputs under a generous budget. A quadratic pattern takes minutes on them; a linear one, milliseconds.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import gitproductivity
from gitproductivity.analysis import git

SIZE = 100_000
#: Far above what a linear pattern needs on 100 kB (milliseconds), far below what a quadratic one needs (minutes).
BUDGET_SECONDS = 3.0

#: Repeated to SIZE characters: runs of each character class the patterns use, and the prefixes that make an
#: unanchored pattern start a long attempt at every position (`a://`, `;a="`, `1+`, hex ids...).
SEEDS = [
    "a",
    "A",
    "0",
    " ",
    "\t",
    "a0",
    "a.",
    "a-",
    "a+",
    "1+",
    "a:",
    "a:/",
    "a://",
    "a://b",
    "://a",
    "a@",
    "a@b:",
    "a=",
    ";",
    ";a",
    ";a=",
    ';a="',
    ';a="\\"',
    '"\\',
    "\\",
    "\\a",
    "/",
    "é",
    "0" * 40 + " ",
    "0" * 41,
    "ssl",
    "timed",
    "not",
    "users.noreply.github.com",
]
SRC = Path(gitproductivity.__file__).parent
#: `re` calls allowed inside functions, and why each is linear.
DYNAMIC_ALLOWED = {
    # Glob chunks: escaped literals, `.` and character classes, never a quantifier (core/wildmatch.py's docstring).
    ("core/wildmatch.py", "compile"),
}
#: Names of `re` that do not run or build a pattern.
HARMLESS = {"escape", "Pattern", "Match", "error", "IGNORECASE", "I", "UNICODE", "VERBOSE", "X", "ASCII", "M"}


def _modules() -> Iterator[object]:
    for info in pkgutil.walk_packages([str(SRC)], "gitproductivity."):
        if ".migrations." in info.name or info.name.endswith("__main__"):
            continue
        yield importlib.import_module(info.name)


def _patterns_in(value: object, depth: int = 0) -> Iterator[re.Pattern[str] | re.Pattern[bytes]]:
    if isinstance(value, re.Pattern):
        yield value
    elif depth < 3 and isinstance(value, tuple | list | frozenset | set):
        for item in value:
            yield from _patterns_in(item, depth + 1)
    elif depth < 3 and isinstance(value, dict):
        for item in value.values():
            yield from _patterns_in(item, depth + 1)


def module_patterns() -> dict[str, re.Pattern[str] | re.Pattern[bytes]]:
    found: dict[str, re.Pattern[str] | re.Pattern[bytes]] = {}
    for module in _modules():
        for name, value in vars(module).items():
            for i, pattern in enumerate(_patterns_in(value)):
                found[f"{module.__name__}.{name}[{i}]"] = pattern  # type: ignore[attr-defined]
    return found


PATTERNS = module_patterns()


def test_the_walk_finds_the_patterns_that_read_hostile_text() -> None:
    """A sanity check on the walk itself: the patterns issue 12 is about are among what is timed below."""
    found = set(PATTERNS.values())
    assert git._CREDENTIALS in found
    assert len(found) >= 15


def _re_calls(tree: ast.AST) -> Iterator[tuple[ast.Call, bool]]:
    """Every call `re.<name>(…)`, and whether it sits inside a function (built or run at call time)."""

    def visit(node: ast.AST, in_function: bool) -> Iterator[tuple[ast.Call, bool]]:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func.value
            if isinstance(target, ast.Name) and target.id == "re":
                yield node, in_function
        inside = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            yield from visit(child, inside)

    yield from visit(tree, False)


def test_every_pattern_is_a_module_level_constant() -> None:
    """So the timing test below sees every one of them: `re.sub(r"…")` in a function would escape it."""
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        where = path.relative_to(SRC).as_posix()
        for call, in_function in _re_calls(ast.parse(path.read_text(), str(path))):
            name = call.func.attr  # type: ignore[attr-defined]
            if name in HARMLESS:
                continue
            if name != "compile" or (in_function and (where, name) not in DYNAMIC_ALLOWED):
                offenders.append(f"{where}:{call.lineno}: re.{name}(…)")
    assert not offenders, "compile patterns once at module level, as constants:\n" + "\n".join(offenders)


def _inputs(pattern: re.Pattern[str] | re.Pattern[bytes], size: int) -> Iterator[tuple[str, str | bytes]]:
    for seed in SEEDS:
        text = (seed * (size // len(seed) + 1))[:size] + "!"
        if isinstance(pattern.pattern, bytes):
            yield seed, text.encode("utf-8", "surrogatepass")
        else:
            yield seed, text


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_pattern_runs_in_linear_time_on_hostile_input(name: str) -> None:
    """10 kB first, with a tenth of the budget, so a quadratic pattern fails in about a second, not minutes."""
    pattern = PATTERNS[name]
    for size in (SIZE // 10, SIZE):
        budget = BUDGET_SECONDS * size / SIZE
        for seed, text in _inputs(pattern, size):
            empty = b"" if isinstance(text, bytes) else ""
            for method in ("sub", "fullmatch"):
                started = time.perf_counter()
                if method == "sub":
                    pattern.sub(empty, text)  # type: ignore[arg-type]  # tries a match at every position
                else:
                    pattern.fullmatch(text)  # type: ignore[arg-type]
                elapsed = time.perf_counter() - started
                assert elapsed < budget, f"{name} {method} on {seed!r} * {size}: {elapsed:.2f} s"


def test_credentials_are_still_hidden_in_every_spelling() -> None:
    """The rewritten `_CREDENTIALS` hides what the old pattern hid (its leftmost match), and nothing else."""
    cases = {
        "fatal: unable to access 'https://user:tok@host/r/': 403": "fatal: unable to access 'https://***@host/r/': 403",
        "0https://u:p@h/": "0https://***@h/",
        "+https://u@h and ssh://git@h:22/x": "+https://***@h and ssh://***@h:22/x",
        "'git+ssh://a:b@h/'": "'git+ssh://***@h/'",
        "HTTPS://U:P@H": "HTTPS://***@H",
        "a://b://c@d": "a://b://***@d",
        "://u@h": "://u@h",
        "0://u@h": "0://u@h",
        "https://host/path@v1": "https://host/path@v1",
    }
    for text, expected in cases.items():
        assert git._CREDENTIALS.sub(git._hide_credentials, text) == expected


def test_a_long_word_in_gits_stderr_is_scrubbed_quickly(tmp_path: Path) -> None:
    """Real git echoing a long word back on stderr: the error arrives at once with a URL's credentials hidden.
    (git cuts its own messages at 4 KiB, so this is no timing test: long stderr comes from a remote's `remote:`
    lines, which the scrub sees as any other text; the pattern timing above is what the old scrub fails.)"""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    word = "a" * 30_000
    started = time.perf_counter()
    with pytest.raises(git.GitError) as caught:
        git.run(tmp_path, ["log", f"https://user:secret@host/{word}"])
    assert time.perf_counter() - started < 2.0
    assert "secret" not in (caught.value.stderr or "")
    assert "https://***@host/aaa" in (caught.value.stderr or "")
