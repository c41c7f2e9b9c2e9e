"""The reference for change-category tests: brute force with a FULL `git blame --line-porcelain <parent> -- file`
for every file every commit deletes lines from, counted by hand.

Independent of `analysis.categories`: commits are listed with plain `git rev-list`, each diff is `git diff -U0 -M`
against the parent, excluded files are recognised by their own rule here (`ownership_truth.excluded`), and every
deleted line's origin is the `author-mail` / `author-time` git blame prints for it (blame applies the `.mailmap`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tests.analysis.gitrepo import Repo
from tests.analysis.ownership_truth import excluded

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


@dataclass
class Figures:
    new_work: int = 0
    refactor: int = 0
    rework: int = 0
    help_others: int = 0
    young: dict[str, int] = field(default_factory=dict)  # origin e-mail -> young lines

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.new_work, self.refactor, self.rework, self.help_others)


def _blame(
    repo: Repo, parent: str, path: str, ignore: list[str], cache: dict[tuple[str, str], list[tuple[str, int]]]
) -> list[tuple[str, int]]:
    """(author e-mail, author time) of every line of `path` at `parent`, from a full blame."""
    key = (parent, path)
    if key not in cache:
        text = repo.git_bytes("blame", "--line-porcelain", *ignore, parent, "--", path).decode()
        out: list[tuple[str, int]] = []
        mail, when = "", 0
        for line in text.split("\n"):
            if line.startswith("author-mail "):
                mail = line[len("author-mail ") :].strip().strip("<>").lower()
            elif line.startswith("author-time "):
                when = int(line[len("author-time ") :])
            elif line.startswith("\t"):
                out.append((mail, when))
        cache[key] = out
    return cache[key]


def brute_force(repo: Repo, *, window_days: int = 21, ignore_revs: bool = True) -> dict[str, Figures]:
    """commit -> its figures, for every non-merge commit reachable from HEAD (ignored ones all zero)."""
    ignore: list[str] = []
    ignored: set[str] = set()
    if ignore_revs and ".git-blame-ignore-revs" in repo.git("ls-tree", "--name-only", "HEAD").split():
        text = repo.git("show", "HEAD:.git-blame-ignore-revs")
        ids = [line.split("#")[0].strip() for line in text.splitlines()]
        ignored = {i for i in ids if len(i) == 40}
        target = Path(repo.path) / ".git" / "truth-categories-ignore"
        target.write_text("".join(i + "\n" for i in sorted(ignored)))
        ignore = ["--ignore-revs-file", str(target)]
    window = window_days * 86_400
    cache: dict[tuple[str, str], list[tuple[str, int]]] = {}
    out: dict[str, Figures] = {}
    for line in repo.git("rev-list", "--parents", "HEAD").splitlines():
        sha, *parents = line.split()
        if len(parents) > 1:
            continue
        figures = out[sha] = Figures()
        if sha in ignored:
            continue
        mail, when = repo.git("log", "-1", "--use-mailmap", "--format=%aE%x00%at", sha).split("\0")
        mail, author_time = mail.lower(), int(when)
        parent = parents[0] if parents else EMPTY_TREE
        diff = repo.git_bytes("diff", "-U0", "-M", "--src-prefix=a/", "--dst-prefix=b/", parent, sha).decode()
        old = new = None
        for text in diff.split("\n"):
            if text.startswith("diff --git "):
                old = new = None
            elif text.startswith("--- "):
                old = None if text[4:] == "/dev/null" else text[6:]
            elif text.startswith("+++ "):
                new = None if text[4:] == "/dev/null" else text[6:]
            elif (match := _HUNK.match(text)) and not excluded(new or old or ""):
                start = int(match.group(1))
                deleted = 1 if match.group(2) is None else int(match.group(2))
                added = 1 if match.group(4) is None else int(match.group(4))
                figures.new_work += max(0, added - deleted)
                if not deleted:
                    continue
                assert old is not None
                origins = _blame(repo, parent, old, ignore, cache)
                for origin_mail, origin_time in origins[start - 1 : start - 1 + deleted]:
                    if author_time - origin_time >= window:
                        figures.refactor += 1
                    elif origin_mail == mail:
                        figures.rework += 1
                    else:
                        figures.help_others += 1
                    if author_time - origin_time < window:
                        figures.young[origin_mail] = figures.young.get(origin_mail, 0) + 1
    return out
