"""Which paths never count toward lines or files changed: vendored, generated and lock files.

Three sources, all matched with git's pattern rules (a pattern without `/` matches a name at any depth,
one with `/` is anchored at the root, `**` crosses directories): the built-in list below and
`GITPRODUCTIVITY_EXCLUDE_GLOBS` (gitignore-style: a trailing `/` means a directory and everything in it), and the
repository's `.gitattributes` files at the analysed head (`linguist-generated` / `linguist-vendored`, set or
unset, last matching line wins, with git's attribute semantics). Matching is `core.wildmatch`, whose cost is
bounded by pattern length times path length: a pattern from a repository cannot stall the analysis.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

from gitproductivity.analysis import git
from gitproductivity.core import wildmatch

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

log = logging.getLogger(__name__)


Rule = tuple[str, str, str, bool]  # (pattern, directory of its .gitattributes, linguist attribute, set?)

#: Bounds on what a repository supplies: the linguist lines read from its `.gitattributes` files, and the files
#: read. Every path is checked against every rule, so the number is what bounds an analysis's matching time.
MAX_RULES = 1000
MAX_ATTRIBUTE_FILES = 200


class PathFilter:
    """`excluded(path)` with a cache: the same paths come back in commit after commit.

    Globs (built-in and configured) have gitignore semantics: a pattern that matches a directory excludes
    everything in it. `.gitattributes` rules have git's attribute semantics: a pattern applies to the paths it
    matches itself (`vendor/** linguist-vendored`, not `vendor/`), the last matching line wins. As in GitHub's
    linguist, an explicit `-linguist-vendored` overrides the built-in and configured lists (`vendor/**
    -linguist-vendored` counts a vendored directory you maintain yourself).

    All matching is `core.wildmatch`: bounded by pattern length times path length, never exponential.
    """

    def __init__(self, globs: Iterable[str], rules: Sequence[Rule] = ()) -> None:
        names: set[str] = set()  # `yarn.lock`: a name at any depth, compared with ==
        suffixes: list[str] = []  # `*.min.js`
        general: list[wildmatch.Pattern] = []
        for glob in globs:
            glob = glob.strip()
            try:
                pattern = wildmatch.Pattern.parse(glob)
            except ValueError:  # malformed or too long: matches nothing, as in git
                continue
            segment = pattern.segments[0]
            if pattern.basename_only and not pattern.must_be_dir and pattern.suffix is not None:
                suffixes.append(pattern.suffix)
            elif pattern.basename_only and not pattern.must_be_dir and segment and segment.literal is not None:
                names.add(segment.literal)
            else:
                general.append(pattern)
        self._names = names
        self._suffixes = tuple(suffixes)
        self._globs = general
        self._rules: list[tuple[wildmatch.Pattern, str, bool]] = []
        for text, base, attr, value in rules[:MAX_RULES]:
            try:
                self._rules.append((wildmatch.Pattern.parse(text, base), attr, value))
            except ValueError:
                continue
        self._rules.reverse()  # the last matching line wins: look from the end, stop at the first match
        self._cache: dict[bytes, bool] = {}

    def _glob_excluded(self, parts: list[str]) -> bool:
        if self._names and not self._names.isdisjoint(parts):
            return True
        if self._suffixes and any(part.endswith(self._suffixes) for part in parts):
            return True
        return any(glob.excludes(parts) for glob in self._globs)

    def excluded(self, raw_path: bytes) -> bool:
        hit = self._cache.get(raw_path)
        if hit is None:
            parts = raw_path.decode("utf-8", "surrogateescape").split("/")
            vendored: bool | None = None
            generated: bool | None = None
            for pattern, attr, value in self._rules:
                if (vendored if attr == "linguist-vendored" else generated) is not None:
                    continue
                if pattern.matches(parts):
                    if attr == "linguist-vendored":
                        vendored = value
                    else:
                        generated = value
                    if vendored is not None and generated is not None:
                        break
            if vendored is None:
                vendored = self._glob_excluded(parts)
            hit = self._cache[raw_path] = vendored or bool(generated)
        return hit


def parse_gitattributes(text: str, base: str) -> list[Rule]:
    """The lines that set or unset a linguist attribute, in file order (git's own line rules: lines longer
    than `wildmatch.MAX_PATTERN_LENGTH` and negative patterns are ignored)."""
    rules: list[Rule] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("[attr]") or len(line) > wildmatch.MAX_PATTERN_LENGTH:
            continue
        pattern, *attrs = line.split()
        if pattern.startswith("!"):
            continue  # git: "Negative patterns are forbidden"
        for attr in attrs:
            name, _, value = attr.lstrip("-!").partition("=")
            if name in LINGUIST_ATTRIBUTES:
                unset = attr.startswith(("-", "!")) or value.lower() in ("false", "0")
                rules.append((pattern, base, name, not unset))
    return rules


def gitattributes_rules(repo: Path, commit: str) -> list[Rule]:
    """The linguist rules of every `.gitattributes` file in the tree at `commit` (shallow directories first)."""
    listing = git.run(repo, ["ls-tree", "-r", "-z", "--name-only", commit])
    paths = listing.decode("utf-8", "surrogateescape").split("\0")
    files = [p for p in paths if p.rsplit("/", 1)[-1] == ".gitattributes"]
    rules: list[Rule] = []
    for path in sorted(files, key=lambda p: (p.count("/"), p))[:MAX_ATTRIBUTE_FILES]:
        text = git.run(repo, ["cat-file", "blob", f"{commit}:{path}"]).decode("utf-8", "replace")
        base = path.rsplit("/", 1)[0] if "/" in path else ""
        rules += parse_gitattributes(text, base)
        if len(rules) >= MAX_RULES:
            log.warning("%s: only the first %d linguist rules of .gitattributes are used", repo, MAX_RULES)
            break
    return rules[:MAX_RULES]
