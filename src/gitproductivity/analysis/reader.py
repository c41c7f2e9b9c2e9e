"""Reading history: `git log --numstat -z` streamed, parsed incrementally, sharded across cores.

The commits to read are listed first (`git rev-list`, fast: no diffs), cut into contiguous shards, and
each shard is one `git log --no-walk=unsorted --stdin` process; git's diffing is the expensive part and runs
in parallel, while each shard's output is parsed as it arrives (never buffered whole) into a `Tally` of
per-identity, per-day sums. The shards' tallies are then combined in shard order.

Counting rules (docs/metrics.md): a commit with more than one parent is a merge: counted in `merges`, never
in lines (git prints no diff for merges without `-m`). Rename detection is on (`-M`), so a renamed file is one
changed file with only its edited lines. Binary files (`-` in numstat) and excluded paths count nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gitproductivity.analysis import git
from gitproductivity.analysis.exclusions import PathFilter
from gitproductivity.analysis.identities import canonical_email

FORMAT = "--format=%x1e%H%x1f%P%x1f%aN%x1f%aE%x1f%at"
LOG_ARGS = ("--use-mailmap", "-M", "--numstat", "-z", "--no-color", "--no-ext-diff", "--no-textconv", FORMAT)
SECONDS_PER_DAY = 86_400

# Sums per (identity, day): commits, merges, lines added, lines deleted, files changed, first, last author time.
COMMITS, MERGES, ADDED, DELETED, FILES, FIRST, LAST = range(7)

Progress = Callable[[int], None]


@dataclass
class Tally:
    days: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    names: dict[str, tuple[int, str]] = field(default_factory=dict)  # identity -> (time, name) of newest commit
    commits: int = 0

    def add(self, other: Tally) -> None:
        self.commits += other.commits
        for key, row in other.days.items():
            mine = self.days.get(key)
            if mine is None:
                self.days[key] = list(row)
            else:
                for i in (COMMITS, MERGES, ADDED, DELETED, FILES):
                    mine[i] += row[i]
                mine[FIRST] = min(mine[FIRST], row[FIRST])
                mine[LAST] = max(mine[LAST], row[LAST])
        for email, (when, name) in other.names.items():
            if email not in self.names or when > self.names[email][0]:
                self.names[email] = (when, name)


class Parser:
    """A state machine over NUL-separated tokens, fed chunk by chunk."""

    def __init__(self, paths: PathFilter, progress: Progress | None = None, every: int = 500) -> None:
        self.tally = Tally()
        self.paths = paths
        self.progress = progress
        self.every = every
        self._rest = b""
        self._rename: tuple[bytes, bytes] | None = None
        self._skip_old_path = False
        self._emails: dict[bytes, str] = {}
        self._commit: list[int] | None = None  # merges, added, deleted, files for the commit being read
        self._key: tuple[str, int] = ("", 0)
        self._when = 0
        self._pending = 0

    def feed(self, chunk: bytes) -> None:
        tokens = (self._rest + chunk).split(b"\0")
        self._rest = tokens.pop()
        for token in tokens:
            if self._skip_old_path:
                self._skip_old_path = False
            elif self._rename is not None:
                added, deleted = self._rename
                self._rename = None
                self._file(added, deleted, token)
            elif token[:1] == b"\x1e":
                self._header(token)
            elif token := token.lstrip(b"\n"):
                if token[:1] == b"\x1e":
                    self._header(token)
                    continue
                added, deleted, path = token.split(b"\t", 2)
                if path:
                    self._file(added, deleted, path)
                else:  # a rename: the old and the new path follow as two tokens
                    self._rename = (added, deleted)
                    self._skip_old_path = True

    def close(self) -> Tally:
        if self._rest.strip(b"\n"):
            self.feed(b"\0")
        self._finish()
        if self.progress and self._pending:
            self.progress(self._pending)
        return self.tally

    def _file(self, added: bytes, deleted: bytes, path: bytes) -> None:
        if added == b"-" or self._commit is None or self.paths.excluded(path):
            return  # binary, or vendored / generated / lock file
        self._commit[1] += int(added)
        self._commit[2] += int(deleted)
        self._commit[3] += 1

    def _header(self, token: bytes) -> None:
        self._finish()
        _sha, parents, name, raw_email, when = token[1:].split(b"\x1f")
        email = self._emails.get(raw_email)
        if email is None:
            email = self._emails[raw_email] = canonical_email(raw_email.decode("utf-8", "replace"))
        self._when = int(when)
        self._key = (email, self._when // SECONDS_PER_DAY)
        self._commit = [1 if b" " in parents else 0, 0, 0, 0]
        names = self.tally.names
        if email not in names or self._when > names[email][0]:
            names[email] = (self._when, name.decode("utf-8", "replace"))

    def _finish(self) -> None:
        commit = self._commit
        if commit is None:
            return
        self._commit = None
        self.tally.commits += 1
        row = self.tally.days.get(self._key)
        if row is None:
            row = self.tally.days[self._key] = [0, 0, 0, 0, 0, self._when, self._when]
        if commit[0]:
            row[MERGES] += 1
        else:
            row[COMMITS] += 1
            row[ADDED] += commit[1]
            row[DELETED] += commit[2]
            row[FILES] += commit[3]
        if self._when < row[FIRST]:
            row[FIRST] = self._when
        if self._when > row[LAST]:
            row[LAST] = self._when
        self._pending += 1
        if self.progress and self._pending >= self.every:
            self.progress(self._pending)
            self._pending = 0


def list_commits(repo: Path, head: str, *, exclude: str | None = None, first_parent: bool = False) -> list[str]:
    """Commits reachable from `head` but not from `exclude`, newest first (no diffs: fast)."""
    args = ["rev-list", *(["--first-parent"] if first_parent else []), head]
    if exclude:
        args.append(f"^{exclude}")
    return git.run(repo, args).decode().split()


def read_shard(repo: Path, commits: Sequence[str], paths: PathFilter, progress: Progress | None, mailmap: str) -> Tally:
    parser = Parser(paths, progress)
    stdin = ("\n".join(commits) + "\n").encode()
    args = ["-c", f"mailmap.blob={mailmap}"] if mailmap else []
    # `-c` must come before the subcommand; git.stream puts its own safe options first.
    with git.stream(repo, [*args, "log", "--no-walk=unsorted", "--stdin", *LOG_ARGS], stdin=stdin) as chunks:
        for chunk in chunks:
            parser.feed(chunk)
    return parser.close()


def split(commits: Sequence[str], shards: int, minimum: int) -> list[Sequence[str]]:
    """Contiguous shards of about equal size; one shard when there is too little work to share."""
    count = max(1, min(shards, len(commits) // max(minimum, 1)))
    size = -(-len(commits) // count) if commits else 0
    return [commits[i : i + size] for i in range(0, len(commits), size)] if commits else []


def read(
    repo: Path,
    commits: Sequence[str],
    paths: PathFilter,
    *,
    shards: int,
    min_shard: int = 2_000,
    mailmap: str = "",
    progress: Progress | None = None,
) -> Tally:
    """Tally `commits` with up to `shards` git processes in parallel; the result does not depend on `shards`."""
    parts = split(commits, shards, min_shard)
    if len(parts) <= 1:
        return read_shard(repo, parts[0], paths, progress, mailmap) if parts else Tally()
    lock = threading.Lock()

    def safe_progress(n: int) -> None:
        if progress is not None:
            with lock:
                progress(n)

    results: list[Tally | BaseException | None] = [None] * len(parts)

    def work(index: int, part: Sequence[str]) -> None:
        try:
            results[index] = read_shard(repo, part, paths, safe_progress, mailmap)
        except BaseException as exc:
            results[index] = exc

    threads = [threading.Thread(target=work, args=(i, p), daemon=True) for i, p in enumerate(parts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = Tally()
    for result in results:  # in shard order
        if isinstance(result, BaseException):
            raise result
        assert result is not None
        total.add(result)
    return total
