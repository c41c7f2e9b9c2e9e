"""The reference for ownership tests: `git blame --line-porcelain` at the head, file by file, counted by hand.

Independent of `analysis.ownership`: the files are listed with plain `git ls-tree`, excluded and binary files are
recognised by their own rules here, and every line's owner is the `author-mail` git blame prints for it (git blame
applies the `.mailmap` itself).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from tests.analysis.gitrepo import Repo

EXCLUDED_NAMES = {"package-lock.json", "yarn.lock"}


def excluded(path: str) -> bool:
    parts = path.split("/")
    return "vendor" in parts[:-1] or parts[-1] in EXCLUDED_NAMES or parts[-1].endswith(".min.js")


def blame_owners(repo: Repo, *, ignore_revs: bool = True) -> dict[str, dict[str, int]]:
    """directory ("" for the root) -> author e-mail (lower case) -> lines, from `git blame --line-porcelain`."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    listing = repo.git("ls-tree", "-r", "--full-tree", "HEAD")
    ignore: list[str] = []
    if ignore_revs and ".git-blame-ignore-revs" in listing.split():
        target = Path(repo.path) / ".git" / "truth-ignore-revs"
        target.write_text(repo.git("show", "HEAD:.git-blame-ignore-revs") + "\n")
        ignore = ["--ignore-revs-file", str(target)]
    for entry in listing.splitlines():
        meta, path = entry.split("\t", 1)
        mode, kind, blob = meta.split(" ")
        if kind != "blob" or mode not in ("100644", "100755") or excluded(path):
            continue
        content = repo.git_bytes("cat-file", "blob", blob)
        if b"\0" in content[:8000]:
            continue
        text = repo.git("blame", "--line-porcelain", *ignore, "HEAD", "--", path)
        parts = path.split("/")[:-1]
        dirs = [""] + ["/".join(parts[: i + 1]) for i in range(len(parts))]
        for line in text.split("\n"):
            if line.startswith("author-mail "):
                email = line[len("author-mail ") :].strip().strip("<>").lower()
                for directory in dirs:
                    out[directory][email] += 1
    return {d: dict(v) for d, v in out.items()}


def bus_factor(owners: dict[str, int]) -> int:
    total = sum(owners.values())
    count = owned = 0
    for n in sorted(owners.values(), reverse=True):
        if total and 2 * owned >= total:
            break
        owned += n
        count += 1
    return count if total else 0
