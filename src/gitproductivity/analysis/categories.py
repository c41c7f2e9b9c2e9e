"""Change categories of each commit (docs/metrics.md, "Change categories").

For every non-merge commit, the lines it deletes or replaces are classified by the origin of each such line,
exactly as `git blame` of the commit's parent assigns it (with the head's `.git-blame-ignore-revs`, as ownership):
`rework` (the author's own lines younger than the churn window), `help_others` (someone else's younger lines),
`refactor` (lines older than the window, anyone's); `new_work` is, per diff hunk, added minus deleted, floored
at 0. Commits listed in `.git-blame-ignore-revs` count no categories.

Two engines give the same figures (the truth tests run both). A first or full analysis REPLAYS history
(`analysis.origins`): one `git log -p -U0 -M --raw` stream from the root carries every file's line origins, and
only the lines blame alone can tell are blamed, with `-L` on exactly those lines; the replay's state at the head
also gives ownership. An analysis of a few new commits BLAMES instead: ONE `git log -p -U0 -M` over those
commits gives every hunk, and the deleted ranges of each (commit, file) are blamed in ONE
`git blame --incremental -L a,+n -L ... <parent> -- <old path>`, a bounded number of git processes at once, so
that a commit's figures cost what its parent's history costs, not what all history costs.

Co-authors are not counted here: the commit reader reads them in its own pass (`analysis.coauthors`), whether
categories are on or off.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from gitproductivity.analysis import commit_graphs, git, origins
from gitproductivity.analysis.commits import Skipped
from gitproductivity.analysis.commits import author as parse_author
from gitproductivity.analysis.exclusions import PathFilter
from gitproductivity.analysis.identities import canonical_email
from gitproductivity.analysis.ownership import IGNORE_REVS, _ignore_revs_file
from gitproductivity.core.settings import get_settings

log = logging.getLogger(__name__)
#: Bump when a rule of this module changes: every repository is read again.
VERSION = 1
SECONDS_PER_DAY = 86_400
_FIELDS = ("%P", "%aN", "%aE", "%at", "%ct")
#: A commit's record starts with NUL, SOH, its id, NUL: found by the id the reader expects next, never by a byte
#: a name could contain.
_FORMAT = "--format=%x00%x01%H%x00" + "%x00".join(_FIELDS) + "%x00"
_LOG_ARGS = (
    "log",
    "--no-walk=unsorted",
    "--stdin",
    "--use-mailmap",
    "--encoding=UTF-8",
    "-M",
    "-p",
    "-U0",
    "--no-color",
    "--src-prefix=a/",
    "--dst-prefix=b/",
    _FORMAT,
)
#: The replay's stream (`analysis.origins`): the raw entries (exact paths and blob ids) before each patch.
_REPLAY_ARGS = (*_LOG_ARGS[:-1], "--raw", "-z", "--no-abbrev", "--full-index", _FORMAT)
_HUNK = re.compile(rb"@@ -([0-9]+)(?:,([0-9]+))? \+([0-9]+)(?:,([0-9]+))? @@")
_GROUP = re.compile(rb"([0-9a-f]{40}|[0-9a-f]{64}) [0-9]{1,12} ([0-9]{1,12}) ([0-9]{1,12})")
_ESCAPES = {b"a": 7, b"b": 8, b"t": 9, b"n": 10, b"v": 11, b"f": 12, b"r": 13, b'"': 34, b"\\": 92}


@dataclass
class Commit:
    """One commit's figures, before identities are resolved to developers."""

    sha: str
    identity: str
    name: str
    when: int
    merge: bool
    ignored: bool = False
    new_work: int = 0
    refactor: int = 0
    young: dict[str, int] = field(default_factory=dict)  # origin identity -> deleted lines younger than the window
    origins: dict[str, int] = field(default_factory=dict)  # origin commit -> deleted lines (until classified)


@dataclass
class Result:
    commits: list[Commit]
    blamed: int = 0  # (commit, file) pairs blamed
    replay: origins.Replay | None = None  # when history was replayed: its state at the head is kept


def fingerprint_parts(repo: Path, head: str | None) -> list[object]:
    """What decides the categories besides history (part of the analysis's rules fingerprint)."""
    s = get_settings()
    ignore = git.blob_id(repo, head, IGNORE_REVS) if head and s.categories_ignore_revs else ""
    return [s.change_categories, s.churn_window_days, s.categories_ignore_revs, ignore, VERSION]


def fingerprint(repo: Path, head: str | None) -> str:
    return hashlib.sha256(json.dumps(fingerprint_parts(repo, head)).encode()).hexdigest()


def unquote(raw: bytes) -> bytes:
    """A path as git prints it in a diff header: C-quoted when it holds special bytes."""
    if not (raw.startswith(b'"') and raw.endswith(b'"') and len(raw) >= 2):
        return raw
    out = bytearray()
    body, i = raw[1:-1], 0
    while i < len(body):
        byte = body[i : i + 1]
        if byte == b"\\" and i + 1 < len(body):
            nxt = body[i + 1 : i + 2]
            if body[i + 1 : i + 4].isdigit() and len(body[i + 1 : i + 4]) == 3:
                out.append(int(body[i + 1 : i + 4], 8) & 0xFF)
                i += 4
                continue
            out.append(_ESCAPES.get(nxt, nxt[0]))
            i += 2
            continue
        out += byte
        i += 1
    return bytes(out)


def _side(raw: bytes, prefix: bytes) -> bytes | None:
    raw = unquote(raw.rstrip(b"\t"))
    if raw == b"/dev/null":
        return None
    return raw[len(prefix) :] if raw.startswith(prefix) else raw


def parse_diff(text: bytes, paths: PathFilter) -> tuple[int, dict[bytes, list[tuple[int, int]]]]:
    """new work, and the deleted ranges (first line, count) per old path, of one commit's `-U0` diff."""
    new_work = 0
    ranges: dict[bytes, list[tuple[int, int]]] = {}
    old: bytes | None = None
    new: bytes | None = None
    minus = plus = 0
    for line in text.split(b"\n"):
        if minus or plus:  # inside a hunk: exactly the lines its header announced
            if line[:1] == b"-" and minus:
                minus -= 1
                continue
            if line[:1] == b"+" and plus:
                plus -= 1
                continue
            if line[:1] == b"\\":
                continue
            minus = plus = 0  # git's output did not match its header: read on as headers
        if line.startswith(b"diff --git "):
            old = new = None
        elif line.startswith(b"--- "):
            old = _side(line[4:], b"a/")
        elif line.startswith(b"+++ "):
            new = _side(line[4:], b"b/")
        elif line.startswith(b"@@ -"):
            match = _HUNK.match(line)
            counted = new if new is not None else old
            if match is None or counted is None:
                continue
            deleted = 1 if match.group(2) is None else int(match.group(2))
            added = 1 if match.group(4) is None else int(match.group(4))
            minus, plus = deleted, added
            if paths.excluded(counted):
                continue
            new_work += max(0, added - deleted)
            if deleted and old is not None:
                ranges.setdefault(old, []).append((int(match.group(1)), deleted))
    return new_work, ranges


def blame_ranges(
    repo: Path,
    parent: str,
    raw_path: bytes,
    ranges: Sequence[tuple[int, int]],
    ignore_revs: str | None,
    since: int | None = None,
) -> dict[str, int]:
    """origin commit -> lines among `ranges` of the file at `parent`, as `git blame` assigns them.

    `since` (the commit's time minus the window): git stops following lines at commits committed before it
    (`--since`) and reports them at that boundary commit. Such a line is old whatever commit before it wrote it,
    as long as no commit is dated after its descendants; a boundary commit whose own author time is inside the
    window (a date after its committer date) proves that history breaks it, and the ranges are blamed again in
    full."""
    args = ["blame", "--incremental"]
    if ignore_revs:
        args += ["--ignore-revs-file", ignore_revs]
    if since is not None:
        args.append(f"--since=@{max(since, 0)}")
    for start, count in ranges:
        args += ["-L", f"{start},+{count}"]
    path = raw_path.decode("utf-8", "surrogateescape")
    try:
        out = git.run(repo, [*args, parent, "--", path], env={"GIT_LITERAL_PATHSPECS": "1"})
    except git.GitError as exc:
        if exc.returncode is None:
            raise  # a timeout fails the analysis
        # A damaged history (a commit whose tree is missing): the lines have no known origin (counted old).
        log.warning(
            "%s: git blame failed for %r at %s; its deleted lines count as refactor: %s", repo, path, parent, exc
        )
        return {"": sum(count for _start, count in ranges)}
    origins: dict[str, int] = {}
    times: dict[str, int] = {}
    boundary: set[str] = set()
    sha = ""
    for line in out.split(b"\n"):
        match = _GROUP.fullmatch(line)
        if match:
            sha = match.group(1).decode()
            origins[sha] = origins.get(sha, 0) + int(match.group(3))
        elif line.startswith(b"author-time ") and line[12:].isdigit():
            times[sha] = int(line[12:])
        elif line == b"boundary":
            boundary.add(sha)
    if since is not None and any(times.get(b, since + 1) > since for b in boundary):
        return blame_ranges(repo, parent, raw_path, ranges, ignore_revs)
    return origins


def ignored_revs(ignore_file: str | None) -> set[str]:
    if not ignore_file:
        return set()
    return {line.strip() for line in Path(ignore_file).read_text().splitlines() if line.strip()}


Engine = Literal["auto", "replay", "blame"]
#: `auto` replays history when the commits to compute are at least this share of it (one blame costs about as
#: much as replaying ten commits) and at least `REPLAY_MIN` commits.
REPLAY_SHARE = 10
REPLAY_MIN = 50


def compute(
    repo: Path,
    commits: Sequence[str],
    paths: PathFilter,
    *,
    head: str | None,
    mailmap: str = "",
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    commit_graph: bool = False,
    engine: Engine = "auto",
) -> Result:
    """Every commit's categories (in the order of `commits`). `commit_graph`: the repository is
    ours (a mirror of a remote): write git's commit-graph with changed-path filters first, which makes every
    blame's walk through history several times faster. `engine`: `replay` reads all history from the root once
    (`analysis.origins`), `blame` blames each commit's deleted ranges; `auto` replays when the commits are a
    large share of the history (a first or full analysis) and blames otherwise (an analysis of new commits)."""
    settings = get_settings()
    made: list[Path] = []

    def blame_repo() -> Path:
        """Where to blame, made on first use (a replay that needs no blame makes no commit-graph)."""
        if not made:
            made.append(_blame_repo(repo, head, commit_graph=commit_graph, few=len(commits) < REPLAY_MIN))
        return made[0]

    window = settings.churn_window_days * SECONDS_PER_DAY
    config = ["-c", f"mailmap.blob={mailmap}"] if mailmap else []
    pool = max(1, workers or settings.analysis_shards or 2)
    found: dict[str, Commit] = {}
    blamed = 0
    with tempfile.TemporaryDirectory(prefix="gp-categories-") as scratch:
        use_ignore = settings.categories_ignore_revs and head is not None
        ignore_file = _ignore_revs_file(repo, head, Path(scratch)) if use_ignore and head else None
        ignored = ignored_revs(ignore_file)
        rest: Sequence[str] = commits
        replay: origins.Replay | None = None
        if head and engine != "blame" and (engine == "replay" or _worth_replaying(repo, head, len(commits))):
            try:
                replayed, reached, blamed, replay = _replay(
                    repo, blame_repo, head, commits, paths, config, ignore_file, ignored, pool, progress
                )
            except (git.GitError, origins.Unreadable) as exc:
                if isinstance(exc, git.GitError) and exc.returncode is None:
                    raise
                log.warning("%s: replaying history failed (one blame per changed file instead): %s", repo, exc)
            else:
                found.update(replayed)
                rest = [sha for sha in commits if sha not in reached]
        if rest:
            result = _blamed(blame_repo(), repo, rest, paths, config, ignore_file, ignored, pool, progress, window)
            found.update((c.sha, c) for c in result.commits)
            blamed += result.blamed
    out = [found[sha] for sha in commits if sha in found]
    _classify(repo, out, config, window)
    return Result(out, blamed, replay)


def _blame_repo(repo: Path, head: str | None, *, commit_graph: bool, few: bool) -> Path:
    """Where to blame: through a commit-graph, written (or brought up to date) unless there are only a few
    commits to blame (writing it for a whole history costs more than their blames gain)."""
    if not get_settings().categories_commit_graph:
        return repo
    if commit_graph:
        if not few:
            commit_graphs.write(repo)
        return repo
    return commit_graphs.shadow(repo, head, update=not few) if head else repo


def replay_history(repo: Path, head: str, paths: PathFilter, *, mailmap: str = "") -> origins.Replay | None:
    """All history replayed up to `head` (its state kept: ownership at the head without a blame per file), or
    None when git cannot read some of it."""
    config = ["-c", f"mailmap.blob={mailmap}"] if mailmap else []
    try:
        return _replay(repo, lambda: repo, head, [], paths, config, None, set(), 1, None)[3]
    except (git.GitError, origins.Unreadable) as exc:
        if isinstance(exc, git.GitError) and exc.returncode is None:
            raise
        log.warning("%s: replaying history failed (ownership blames every file instead): %s", repo, exc)
        return None


def _worth_replaying(repo: Path, head: str, count: int) -> bool:
    if count < REPLAY_MIN:
        return False
    total = int(git.run(repo, ["rev-list", "--count", head]).strip() or 0)
    return count * REPLAY_SHARE >= total


def _blamed(
    blame_repo: Path,
    repo: Path,
    commits: Sequence[str],
    paths: PathFilter,
    config: list[str],
    ignore_file: str | None,
    ignored: set[str],
    pool: int,
    progress: Callable[[int], None] | None,
    window: int,
) -> Result:
    """The categories of `commits` by one `git blame -L` per (commit, file) with deleted lines."""
    settings = get_settings()
    out: list[Commit] = []
    pending: list[tuple[Commit, Future[dict[str, int]]]] = []
    blamed = 0
    with ThreadPoolExecutor(max_workers=pool, thread_name_prefix="categories") as executor:
        for sha, header, diff in _records(repo, commits, config):
            commit = _commit(sha, header)
            if commit is None:
                continue
            out.append(commit)
            if commit.merge:
                continue
            if sha in ignored:
                commit.ignored = True
                continue
            commit.new_work, ranges = parse_diff(diff, paths)
            parent = header[0].split(b" ")[0].decode() if header[0] else ""
            for old_path, spans in ranges.items():
                if not parent:
                    continue
                blamed += 1
                since = commit.when - window if settings.categories_since else None
                job = executor.submit(blame_ranges, blame_repo, parent, old_path, spans, ignore_file, since)
                pending.append((commit, job))
            if progress and len(out) % 500 == 0:
                progress(500)
        for commit, job in pending:
            for origin, lines in job.result().items():
                commit.origins[origin] = commit.origins.get(origin, 0) + lines
    return Result(out, blamed)


def _replay(
    repo: Path,
    blame_repo: Callable[[], Path],
    head: str,
    commits: Sequence[str],
    paths: PathFilter,
    config: list[str],
    ignore_file: str | None,
    ignored: set[str],
    pool: int,
    progress: Callable[[int], None] | None,
) -> tuple[dict[str, Commit], set[str], int, origins.Replay]:
    """The categories of the `commits` reachable from `head`, by replaying all its history once
    (`analysis.origins`): (commit -> figures, every commit replayed, blames run for markers)."""
    listed = git.run(repo, ["rev-list", "--reverse", "--topo-order", "--parents", head]).decode().split("\n")
    order = [(parts[0], parts[1:]) for line in listed if (parts := line.split())]
    wanted = set(commits)
    lines = origins.BlobLines(repo)
    replay = origins.Replay(order, lines, keep=head)
    replay.ignored = frozenset(replay.index[sha] for sha in ignored if sha in replay.index)
    excluded: dict[bytes, bool] = {}

    def is_excluded(path: bytes) -> bool:
        found = excluded.get(path)
        if found is None:
            found = excluded[path] = paths.excluded(path)
        return found

    replay.excluded = is_excluded
    merges = [(sha, parents) for sha, parents in order if len(parents) > 1]
    first = _first_parent_changes(repo, merges)
    found: dict[str, Commit] = {}
    deleted: dict[str, origins.Deleted] = {}
    done = 0

    def pairwise(merge: str, parents: Sequence[str], paths: list[bytes]) -> list[list[origins.Change]] | None:
        """The merge's `-U0` diffs of `paths` against each of its parents (no rename detection: these paths
        exist in every parent), in one `git diff-tree`."""
        stdin = "".join(f"{merge} {parent}\n" for parent in parents).encode()  # the diff from parent to merge
        args = ["diff-tree", "--stdin", "-r", "-p", "-U0", "--no-renames", "--raw", "-z", "--no-abbrev"]
        args += [
            "--full-index",
            "--always",
            "--format=%x01%H",
            "--",
            *(p.decode("utf-8", "surrogateescape") for p in paths),
        ]
        try:
            out = git.run(repo, args, input=stdin, env={"GIT_LITERAL_PATHSPECS": "1"})
        except git.GitError as exc:
            if exc.returncode is None:
                raise
            return None
        records = out.split(b"\x01" + merge.encode() + b"\0")[1:]  # a path or a line cannot hold the merge's id
        if len(records) != len(parents):
            return None
        try:
            return [origins.parse(record) for record in records]
        except origins.Unreadable:
            return None

    try:
        for sha, header, body in _records(repo, [sha for sha, _p in order], config, replay=True):
            parents = order[replay.index[sha]][1]
            commit = _commit(sha, header) if sha in wanted else None
            if commit is not None:
                found[sha] = commit
            if len(parents) > 1:
                replay.merge(sha, parents, first.get(sha, []), pairwise)
                continue
            changes = origins.parse(body)
            tally: origins.Deleted | None = None
            if commit is not None and sha not in ignored:
                tally = deleted[sha] = origins.Deleted()
            elif commit is not None:
                commit.ignored = True
            replay.commit(sha, parents, changes, tally)
            done += 1
            if progress and done % 500 == 0:
                progress(500)
    finally:
        lines.close()
    needed: dict[int, set[int]] = {}
    for tally in deleted.values():
        for value in tally.markers:
            key, line = origins.unmark(value)
            needed.setdefault(key, set()).add(line)
    resolved = origins.resolve(blame_repo(), replay.keys, needed, ignore_file, pool) if needed else {}
    for sha, tally in deleted.items():
        commit = found[sha]
        commit.new_work = tally.new_work
        for index, count in tally.counts.items():
            origin = replay.shas[index]
            commit.origins[origin] = commit.origins.get(origin, 0) + count
        for value in tally.markers:
            key, line = origins.unmark(value)
            origin = resolved.get(key, {}).get(line, "")
            commit.origins[origin] = commit.origins.get(origin, 0) + 1
    return found, set(replay.index), len(needed), replay


def _first_parent_changes(repo: Path, merges: Sequence[tuple[str, Sequence[str]]]) -> dict[str, list[origins.Change]]:
    """Each merge's raw diff against its first parent (`git diff-tree -M`, one process for all of them)."""
    if not merges:
        return {}
    stdin = "".join(f"{sha} {parents[0]}\n" for sha, parents in merges).encode()
    args = ["diff-tree", "--stdin", "-r", "-M", "-z", "--no-abbrev", "--always", "--format=%x01%H"]
    out = git.run(repo, args, input=stdin)
    found: dict[str, list[origins.Change]] = {}
    markers = [b"\x01" + sha.encode() + b"\0" for sha, _parents in merges]
    at = out.find(markers[0]) if markers else -1
    for index, (sha, _parents) in enumerate(merges):
        if at < 0:
            raise origins.Unreadable(f"no diff of merge {sha}")
        start = at + len(markers[index])
        at = out.find(markers[index + 1], start) if index + 1 < len(markers) else len(out)
        changes, _end = origins.raw_entries(out[start : at if at >= 0 else len(out)])
        found[sha] = changes
    return found


def _records(
    repo: Path, commits: Sequence[str], config: list[str], *, replay: bool = False
) -> Iterable[tuple[str, list[bytes], bytes]]:
    """(commit, header fields, diff text) per commit, in order, from one streamed `git log`. When git fails (a
    commit it cannot read), the commits after the last complete one are read one at a time and an unreadable one
    is left out (the commit reader reports it); a timeout still fails the analysis."""
    if replay:  # every commit or none: a failure falls back to the blame engine
        yield from _stream(repo, commits, config, [0], _REPLAY_ARGS)
        return
    done = [0]
    try:
        yield from _stream(repo, commits, config, done)
        return
    except git.GitError as exc:
        if exc.returncode is None:
            raise
        log.warning("%s: git log failed while reading change categories; reading one commit at a time: %s", repo, exc)
    for sha in commits[done[0] :]:
        try:
            yield from _stream(repo, [sha], config, [0])
        except git.GitError as exc:
            if exc.returncode is None:
                raise
            log.warning("%s: no change categories for commit %s, which git cannot read: %s", repo, sha, exc)


def _stream(
    repo: Path, commits: Sequence[str], config: list[str], done: list[int], args: Sequence[str] = _LOG_ARGS
) -> Iterable[tuple[str, list[bytes], bytes]]:
    if not commits:
        return
    stdin = ("\n".join(commits) + "\n").encode()
    markers = [b"\0\x01" + sha.encode() + b"\0" for sha in commits]
    index = -1
    buffer = bytearray()
    with git.stream(repo, [*config, *args], stdin=stdin) as chunks:
        for chunk in chunks:
            buffer += chunk
            while index + 1 < len(markers):
                at = buffer.find(markers[index + 1], 0 if index < 0 else 1)
                if at < 0:
                    break
                if index >= 0:
                    done[0] = index + 1
                    yield _record(commits[index], bytes(buffer[len(markers[index]) : at]))
                del buffer[:at]
                index += 1
    if index >= 0:
        done[0] = index + 1
        yield _record(commits[index], bytes(buffer[len(markers[index]) :]))


def _record(sha: str, body: bytes) -> tuple[str, list[bytes], bytes]:
    parts = body.split(b"\0", len(_FIELDS))
    while len(parts) < len(_FIELDS) + 1:
        parts.append(b"")
    return sha, parts[: len(_FIELDS)], parts[len(_FIELDS)]


def _commit(sha: str, header: list[bytes]) -> Commit | None:
    parents, name, email, at, ct = header
    found = parse_author(name, email, at, ct)
    if isinstance(found, Skipped):
        return None  # not counted anywhere (the commit reader reports why)
    return Commit(sha, canonical_email(found.email), found.name, found.when, b" " in parents.strip())


def _classify(repo: Path, commits: list[Commit], config: list[str], window: int) -> None:
    """Resolve each origin commit to its identity and time; sort the deleted lines into refactor and young."""
    shas = sorted({sha for c in commits for sha in c.origins if sha})
    origin: dict[str, tuple[str, int | None]] = {}
    if shas:
        stdin = ("\n".join(shas) + "\n").encode()
        fmt = "--format=%H%x00%aN%x00%aE%x00%at%x00%ct%x00"
        args = [*config, "log", "--no-walk=unsorted", "--stdin", "--use-mailmap", "--encoding=UTF-8", fmt]
        fields = git.run(repo, args, input=stdin).split(b"\0")
        for i in range(0, len(fields) - 5, 5):
            raw, name, email, at, ct = (f.strip(b"\n") for f in fields[i : i + 5])
            found = parse_author(name, email, at, ct)
            dated = parse_author(b"-", b"-", at, ct)  # the date alone (an origin without author keeps its age)
            who = "" if isinstance(found, Skipped) else canonical_email(found.email)
            origin[raw.decode()] = (who, None if isinstance(dated, Skipped) else dated.when)
    for commit in commits:
        for sha, lines in commit.origins.items():
            who, when = origin.get(sha, ("", None))
            if when is None or commit.when - when >= window:
                commit.refactor += lines
            else:
                commit.young[who] = commit.young.get(who, 0) + lines
        commit.origins = {}
