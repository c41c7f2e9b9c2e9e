"""Path patterns: built-in exclusions, configured globs and .gitattributes linguist rules."""

from __future__ import annotations

import pytest

from gitproductivity.analysis.exclusions import DEFAULT_EXCLUDES, PathFilter, parse_gitattributes


@pytest.mark.parametrize(
    ("path", "excluded"),
    [
        ("vendor/lib.js", True),
        ("src/vendor/lib.js", True),
        ("vendored/lib.js", False),
        ("node_modules/a/b.js", True),
        ("web/app.min.js", True),
        ("web/app.js", False),
        ("package-lock.json", True),
        ("sub/yarn.lock", True),
        ("go.sum", True),
        ("src/main.go", False),
        ("docs/generated/api.md", True),  # configured glob
        ("src/docs/generated/api.md", False),  # a glob with a slash is anchored at the root
        ("ui/__snapshots__/x.snap", True),
    ],
)
def test_globs(path: str, excluded: bool) -> None:
    paths = PathFilter([*DEFAULT_EXCLUDES, "docs/generated/", "*.snap"])
    assert paths.excluded(path.encode()) is excluded


def test_gitattributes_linguist_rules() -> None:
    rules = parse_gitattributes(
        "# comment\n"
        "*.pb.go linguist-generated\n"
        "api/*.json linguist-generated=true\n"
        "vendor/ours/** -linguist-vendored\n"
        "keep.pb.go -linguist-generated\n"
        "*.txt text eol=lf\n",
        "",
    )
    nested = parse_gitattributes("gen/** linguist-vendored\n", "sub")
    paths = PathFilter(DEFAULT_EXCLUDES, rules + nested)
    assert paths.excluded(b"a/b/c.pb.go")
    assert not paths.excluded(b"a/keep.pb.go")  # a later line unsets it again
    assert paths.excluded(b"api/schema.json") and not paths.excluded(b"x/api/schema.json")
    assert not paths.excluded(b"vendor/ours/lib.py")  # -linguist-vendored beats the built-in vendor/
    assert paths.excluded(b"vendor/theirs/lib.py")
    assert paths.excluded(b"sub/gen/x.py") and not paths.excluded(b"gen/x.py")
    assert not paths.excluded(b"notes.txt")
