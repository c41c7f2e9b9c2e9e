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

import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gitproductivity.analysis import activity, coauthors, git
from gitproductivity.analysis.commits import Adjusted, Author, Issues, Skipped
from gitproductivity.analysis.commits import author as parse_author
from gitproductivity.analysis.exclusions import PathFilter
from gitproductivity.analysis.identities import canonical_email

# Fields separated by NUL, which git never prints inside one (a commit's text ends at its first NUL); with `-z`
# the last field ends with NUL too, so a commit starts with exactly `len(FIELDS)` tokens. The reader knows which
# commit comes next (`--no-walk=unsorted --stdin` keeps the order given), so a header is recognised by its id,
# never by a byte a name could contain, and git's output is checked against that order. `--encoding=UTF-8`
# overrides a repository's `i18n.logOutputEncoding` (UTF-16 output would put NULs everywhere).
# %ad with --date=raw: "<seconds> <+hhmm>"; last, the Co-authored-by trailers (analysis.coauthors).
FIELDS = ("%H", "%P", "%aN", "%aE", "%at", "%ct", "%ad", coauthors.FIELD)
FORMAT = "--format=" + "%x00".join(FIELDS)
LOG_ARGS = (
    "--use-mailmap",
    "--encoding=UTF-8",
    "-M",
    "--numstat",
    "-z",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--date=raw",
    FORMAT,
)
SECONDS_PER_DAY = 86_400
log = logging.getLogger(__name__)
#: More unreadable commits than this in one shard means a damaged repository (or one that vanished while it
#: was read): the analysis fails with git's message instead of storing a history with holes.
MAX_UNREADABLE = 100

# Sums per (identity, day): commits, merges, lines added, lines deleted, files changed, first, last author time.
COMMITS, MERGES, ADDED, DELETED, FILES, FIRST, LAST = range(7)

Progress = Callable[[int], None]

_PARENTS = re.compile(rb"(?:[0-9a-f]{40}|[0-9a-f]{64})(?: (?:[0-9a-f]{40}|[0-9a-f]{64}))*")


def _count(field: bytes) -> bool:
    """A numstat count as git prints it: digits (bounded: int() refuses very long ones), or `-` for binary."""
    return (field.isdigit() and len(field) <= 18) or field == b"-"


@dataclass
class Tally:
    days: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    names: dict[str, tuple[int, str]] = field(default_factory=dict)  # identity -> (time, name) of newest commit
    commits: int = 0
    issues: Issues = field(default_factory=Issues)
    # Languages and hours of the week (analysis.activity), per identity and day; empty when turned off.
    languages: activity.Languages = field(default_factory=dict)
    hours: activity.Hours = field(default_factory=dict)
    # (author identity, author time, contacts) of each counted non-merge commit with co-authors, in read order;
    # credited after the read, once the contacts went through the mailmap (categories_rollup.credit_co_authors).
    co_authored: list[tuple[str, int, tuple[coauthors.Contact, ...]]] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.commits += other.commits
        self.co_authored += other.co_authored
        activity.add(self.languages, self.hours, other.languages, other.hours)
        self.issues.add(other.issues)
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


@dataclass
class _Commit:
    sha: str
    merge: bool
    author: Author | None  # None: skipped (the reason is in `skip`)
    skip: Skipped | None
    sums: list[int] = field(default_factory=lambda: [0, 0, 0])  # added, deleted, files
    offset: int = 0  # the author date's UTC offset, in minutes
    languages: dict[str, list[int]] | None = None  # language -> [added, deleted, files] (analysis.activity)
    co_authors: tuple[coauthors.Contact, ...] = ()


class Parser:
    """A state machine over NUL-separated tokens, fed chunk by chunk, for the commits `expected` in order.

    Every expected commit ends up either counted (`tally.commits`) or skipped with a reason (`tally.issues`);
    a commit counts only once its output is complete, so after git fails `done` says where to resume.
    """

    def __init__(
        self,
        paths: PathFilter,
        expected: Sequence[str] = (),
        progress: Progress | None = None,
        every: int = 500,
        *,
        languages_hours: bool = True,
        oldest_first: bool = False,
    ) -> None:
        self.tally = Tally()
        # Commits come oldest first (the replay's topological order) rather than newest first: of two commits of
        # one identity at the same second, the one read later names it, as the newer would in `git log` order.
        self.oldest_first = oldest_first
        self.activity = activity.Collector() if languages_hours else None
        self.paths = paths
        self.progress = progress
        self.every = every
        self.expected = [sha.encode() for sha in expected]
        self.done = 0  # expected commits finished (counted or skipped)
        self._next = 0  # index in `expected` of the next header
        self._rest = b""
        self._fields: list[bytes] | None = None  # a header being read
        self._paths_to_skip = 0  # a rename's old and new path follow as two tokens
        self._rename: tuple[bytes, bytes] | None = None
        self._commit: _Commit | None = None
        self._lost = False  # git's output stopped making sense: ignore it until the next expected commit
        self._emails: dict[str, str] = {}
        self.pending = 0

    def feed(self, chunk: bytes) -> None:
        tokens = (self._rest + chunk).split(b"\0")
        self._rest = tokens.pop()
        for token in tokens:
            self._token(token)

    def _token(self, token: bytes) -> None:
        if self._fields is not None:
            self._fields.append(token)
            if len(self._fields) == len(FIELDS):
                fields, self._fields = self._fields, None
                self._header(fields)
            return
        if self._paths_to_skip:  # a rename's old path, then its new path (the one counted)
            self._paths_to_skip -= 1
            if not self._paths_to_skip and self._rename is not None:
                added, deleted = self._rename
                self._rename = None
                self._file(added, deleted, token)
            return
        if self._next < len(self.expected) and token == self.expected[self._next]:
            self._finish()
            self._next += 1
            self._lost = False
            self._fields = [token]
            return
        if self._lost:
            return
        line = token[1:] if token[:1] == b"\n" else token
        if not line:
            return
        parts = line.split(b"\t", 2)
        if len(parts) != 3 or not (_count(parts[0]) and _count(parts[1])) or self._commit is None:
            self._malformed()
        elif parts[2]:
            self._file(parts[0], parts[1], parts[2])
        else:  # a rename: the old and the new path follow as two tokens; the new one is counted
            self._rename = (parts[0], parts[1])
            self._paths_to_skip = 2

    def commit(self, fields: Sequence[bytes], files: Iterable[tuple[int, int, bytes]]) -> None:
        """One commit read by another pass (the change categories' replay): its header in `FIELDS` order and
        (added, deleted, path) per text file, binary files left out; counted exactly as from `--numstat`."""
        self._finish()
        self._header(list(fields))
        if self._lost:  # a malformed header: skipped, as in the stream
            self._lost = False
        else:
            for added, deleted, path in files:
                self._counted(added, deleted, path)
        self._finish()

    def close(self) -> Tally:
        if self._rest:
            self.feed(b"\0")
        if self._fields is not None:
            self._fields = None
            self._malformed()
        self._finish()
        while self.done < len(self.expected):  # git printed nothing for these
            self.tally.issues.skip(self.expected[self.done].decode(), Skipped.MALFORMED)
            self.done += 1
        if self.progress and self.pending:
            self.progress(self.pending)
        return self.tally

    def _malformed(self) -> None:
        if self._commit is not None:
            self._commit.author, self._commit.skip = None, Skipped.MALFORMED
        self._lost = True

    def _file(self, added: bytes, deleted: bytes, path: bytes) -> None:
        if added != b"-" and deleted != b"-":  # `-`: binary
            self._counted(int(added), int(deleted), path)

    def _counted(self, added: int, deleted: int, path: bytes) -> None:
        if self._commit is None or self.paths.excluded(path):
            return  # vendored / generated / lock file
        sums = self._commit.sums
        sums[0] += added
        sums[1] += deleted
        sums[2] += 1
        if self.activity is not None:
            self.activity.file(self._commit, path, added, deleted)

    def _header(self, fields: list[bytes]) -> None:
        sha, parents, name, email, author_time, committer_time, raw_date, trailers = fields
        found = parse_author(name, email, author_time, committer_time)
        if parents and not _PARENTS.fullmatch(parents):
            found = Skipped.MALFORMED
            self._lost = True
        if isinstance(found, Skipped):
            self._commit = _Commit(sha.decode(), False, None, found)
        else:
            self._commit = _Commit(sha.decode(), b" " in parents, found, None)
            if trailers and not self._commit.merge:  # merges credit no co-authors
                self._commit.co_authors = coauthors.parse(trailers, found.email)
            if not found.adjusted or Adjusted.DATE_REPLACED not in found.adjusted:
                self._commit.offset = activity.offset(raw_date)

    def _finish(self) -> None:
        commit = self._commit
        if commit is None:
            return
        self._commit = None
        self.done += 1
        self.pending += 1
        if self.progress and self.pending >= self.every:
            self.progress(self.pending)
            self.pending = 0
        if commit.author is None:
            self.tally.issues.skip(commit.sha, commit.skip or Skipped.MALFORMED)
            return
        author = commit.author
        if author.adjusted:
            self.tally.issues.adjust(commit.sha, author.adjusted)
        email = self._emails.get(author.email)
        if email is None:
            email = self._emails[author.email] = canonical_email(author.email)
        when = author.when
        self.tally.commits += 1
        key = (email, when // SECONDS_PER_DAY)
        row = self.tally.days.get(key)
        if row is None:
            row = self.tally.days[key] = [0, 0, 0, 0, 0, when, when]
        if commit.merge:
            row[MERGES] += 1
        else:
            row[COMMITS] += 1
            row[ADDED] += commit.sums[0]
            row[DELETED] += commit.sums[1]
            row[FILES] += commit.sums[2]
            if self.activity is not None:
                self.activity.commit(self.tally.languages, self.tally.hours, email, when, commit)
            if commit.co_authors:
                self.tally.co_authored.append((email, when, commit.co_authors))
        if when < row[FIRST]:
            row[FIRST] = when
        if when > row[LAST]:
            row[LAST] = when
        names = self.tally.names
        if email not in names or when > names[email][0] or (self.oldest_first and when == names[email][0]):
            names[email] = (when, author.name)


def list_commits(repo: Path, head: str, *, exclude: str | None = None, first_parent: bool = False) -> list[str]:
    """Commits reachable from `head` but not from `exclude`, newest first (no diffs: fast)."""
    args = ["rev-list", *(["--first-parent"] if first_parent else []), head]
    if exclude:
        args.append(f"^{exclude}")
    return git.run(repo, args).decode().split()


def read_shard(
    repo: Path,
    commits: Sequence[str],
    paths: PathFilter,
    progress: Progress | None,
    mailmap: str,
    *,
    languages_hours: bool = True,
) -> Tally:
    """Tally `commits`; a commit git cannot read is skipped, the others are read around it.

    When git fails, what it printed completely is kept and reading resumes after it; a run that fails before
    finishing anything is halved until the commit it fails on is alone, then that one is skipped. A timeout
    is never skipped (it ends the analysis), and neither are more than `MAX_UNREADABLE` failures.
    """
    total = Tally()
    todo: list[Sequence[str]] = [commits]
    unreadable = 0
    while todo:
        part = todo.pop()
        parser = Parser(paths, part, progress, languages_hours=languages_hours)
        try:
            _log(repo, part, parser, mailmap)
        except git.GitError as exc:
            if exc.returncode is None:
                raise  # a timeout: reading again would only take as long
            total.add(parser.tally)  # the commits git printed completely before it failed
            if progress and parser.pending:
                progress(parser.pending)
            rest = part[parser.done :]
            if parser.done:
                todo.append(rest)
            elif len(rest) > 1:
                todo += [rest[len(rest) // 2 :], rest[: len(rest) // 2]]
            else:
                unreadable += 1
                if unreadable > MAX_UNREADABLE:
                    raise git.GitError(f"more than {MAX_UNREADABLE} commits could not be read; last: {exc}") from None
                _still_there(repo, rest[0], exc)
                log.warning("skipping commit %s, which git cannot read: %s", rest[0], exc)
                total.issues.skip(rest[0], Skipped.UNREADABLE)
                if progress:
                    progress(1)
            continue
        total.add(parser.close())
    return total


def _still_there(repo: Path, sha: str, failure: git.GitError) -> None:
    """Skip a commit only when the repository is still there and still has it: a repository removed or made
    unreadable while it is read fails the analysis (with git's first message) instead of losing its history."""
    try:
        git.run(repo, ["cat-file", "-e", f"{sha}^{{commit}}"])
    except git.GitError:
        raise failure from None


def _log(repo: Path, commits: Sequence[str], parser: Parser, mailmap: str) -> None:
    stdin = ("\n".join(commits) + "\n").encode()
    args = ["-c", f"mailmap.blob={mailmap}"] if mailmap else []
    # `-c` must come before the subcommand; git.stream puts its own safe options first.
    with git.stream(repo, [*args, "log", "--no-walk=unsorted", "--stdin", *LOG_ARGS], stdin=stdin) as chunks:
        for chunk in chunks:
            parser.feed(chunk)


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
    languages_hours: bool = True,
) -> Tally:
    """Tally `commits` with up to `shards` git processes in parallel; the result does not depend on `shards`."""
    parts = split(commits, shards, min_shard)
    if len(parts) <= 1:
        return (
            read_shard(repo, parts[0], paths, progress, mailmap, languages_hours=languages_hours) if parts else Tally()
        )
    lock = threading.Lock()

    def safe_progress(n: int) -> None:
        if progress is not None:
            with lock:
                progress(n)

    results: list[Tally | BaseException | None] = [None] * len(parts)

    def work(index: int, part: Sequence[str]) -> None:
        try:
            results[index] = read_shard(repo, part, paths, safe_progress, mailmap, languages_hours=languages_hours)
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
