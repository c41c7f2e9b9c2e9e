"""Which paths never count toward lines or files changed: vendored, generated and lock files.

Three sources, all matched with gitignore-style patterns (a pattern without `/` matches a name at any depth,
one with `/` is anchored at the root, a trailing `/` means a directory and everything in it, `**` crosses
directories): the built-in list below, `GITPRODUCTIVITY_EXCLUDE_GLOBS`, and the repository's
`.gitattributes` files at the analysed head (`linguist-generated` / `linguist-vendored`, set or unset,
last matching line wins, as git does).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from gitproductivity.analysis import git

LOCK_FILES = (
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lockb",
    "Cargo.lock",
    "poetry.lock",
    "Pipfile.lock",
    "uv.lock",
    "pdm.lock",
    "composer.lock",
    "Gemfile.lock",
    "go.sum",
    "mix.lock",
    "flake.lock",
    "Podfile.lock",
    "packages.lock.json",
    "pubspec.lock",
)
DEFAULT_EXCLUDES = ("vendor/", "node_modules/", "*.min.js", "*.min.css", *LOCK_FILES)
LINGUIST_ATTRIBUTES = ("linguist-generated", "linguist-vendored")


def pattern_regex(pattern: str, base: str = "") -> str:
    """A gitignore-style pattern (relative to directory `base`) as a regular expression over full paths."""
    directory = pattern.endswith("/")
    pattern = pattern.strip("/") if directory else pattern
    anchored = "/" in pattern or pattern.startswith("/")
    pattern = pattern.lstrip("/")
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    body = "".join(out)
    prefix = re.escape(base + "/") if base else ""
    start = prefix if anchored else prefix + "(?:.*/)?"
    end = "/.*" if directory else "(?:/.*)?"
    return f"{start}{body}{end}"


Rule = tuple[str, str, bool]  # (path regex, linguist attribute, set?)


class PathFilter:
    """`excluded(path)` with a cache: the same paths come back in commit after commit.

    As in GitHub's linguist, an explicit `-linguist-vendored` overrides the built-in and configured lists
    (`vendor/** -linguist-vendored` counts a vendored directory you maintain yourself).
    """

    def __init__(self, globs: Iterable[str], rules: Sequence[Rule] = ()) -> None:
        globs = [g for g in globs if g.strip()]
        self._globs = re.compile("|".join(f"(?:{pattern_regex(g)})" for g in globs)) if globs else None
        self._rules = [(re.compile(rx), attr, value) for rx, attr, value in rules]
        self._cache: dict[bytes, bool] = {}

    def excluded(self, raw_path: bytes) -> bool:
        hit = self._cache.get(raw_path)
        if hit is None:
            path = raw_path.decode("utf-8", "surrogateescape")
            vendored = bool(self._globs and self._globs.fullmatch(path))
            generated = False
            for regex, attr, value in self._rules:  # the last matching line wins, per attribute
                if regex.fullmatch(path):
                    if attr == "linguist-vendored":
                        vendored = value
                    else:
                        generated = value
            hit = self._cache[raw_path] = vendored or generated
        return hit


def parse_gitattributes(text: str, base: str) -> list[Rule]:
    """The lines that set or unset a linguist attribute, in file order."""
    rules: list[Rule] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("[attr]"):
            continue
        pattern, *attrs = line.split()
        for attr in attrs:
            name, _, value = attr.lstrip("-!").partition("=")
            if name in LINGUIST_ATTRIBUTES:
                unset = attr.startswith(("-", "!")) or value.lower() in ("false", "0")
                rules.append((pattern_regex(pattern, base), name, not unset))
    return rules


def gitattributes_rules(repo: Path, commit: str) -> list[Rule]:
    """The linguist rules of every `.gitattributes` file in the tree at `commit` (shallow directories first)."""
    listing = git.run(repo, ["ls-tree", "-r", "-z", "--name-only", commit])
    paths = listing.decode("utf-8", "surrogateescape").split("\0")
    files = [p for p in paths if p.rsplit("/", 1)[-1] == ".gitattributes"]
    rules: list[Rule] = []
    for path in sorted(files, key=lambda p: (p.count("/"), p)):
        text = git.run(repo, ["cat-file", "blob", f"{commit}:{path}"]).decode("utf-8", "replace")
        base = path.rsplit("/", 1)[0] if "/" in path else ""
        rules += parse_gitattributes(text, base)
    return rules
