"""Change categories (and the state at the head, for ownership) by replaying all history once
(`analysis.origins`, docs/metrics.md "How it is computed"): one `git log -p -U0 -M --raw` stream in topological
order, each merge's raw diff against its first parent, and for a file a merge changed against every parent its
diffs against each parent; the lines the replay marks are blamed at the end."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gitproductivity.analysis import diff_log, git, origins, patches, reader
from gitproductivity.analysis.diff_log import Commit, Reading
from gitproductivity.analysis.exclusions import PathFilter

log = logging.getLogger(__name__)
#: The paths a merge's pairwise diff names on git's command line, at most (the system's limit is about 2 MB).
MAX_PATHSPEC_BYTES = 100_000


def replay_history(repo: Path, head: str, paths: PathFilter, *, mailmap: str = "") -> origins.Replay | None:
    """All history replayed up to `head` (its state kept: ownership at the head without a blame per file), or
    None when git cannot read some of it."""
    config = ["-c", f"mailmap.blob={mailmap}"] if mailmap else []
    try:
        return categories(Reading(repo, lambda: repo, paths, config), head, [])[3]
    except (git.GitError, patches.Unreadable) as exc:
        if isinstance(exc, git.GitError) and exc.returncode is None:
            raise
        log.warning("%s: replaying history failed (ownership blames every file instead): %s", repo, exc)
        return None


def categories(
    reading: Reading, head: str, commits: Sequence[str], counts: reader.Parser | None = None
) -> tuple[dict[str, Commit], set[str], int, origins.Replay, dict[str, diff_log.Origin]]:
    """The categories of the `commits` reachable from `head`, by replaying all its history once
    (`analysis.origins`): (commit -> figures, every commit replayed, blames run for markers, the replay's state,
    the identity and time of every origin of a deleted line, from the stream's headers). `counts`: the
    commit reader's tally of the same `commits`, from the same stream (the replay's hunks are numstat's
    counts), so that history is diffed once."""
    repo, ignored = reading.repo, reading.ignored
    listed = git.run(repo, ["rev-list", "--reverse", "--topo-order", "--parents", head]).decode().split("\n")
    order = [(parts[0], parts[1:]) for line in listed if (parts := line.split())]
    wanted = set(commits)
    lines = patches.BlobLines(repo)
    replay = origins.Replay(order, lines, keep=head)
    replay.ignored = frozenset(replay.index[sha] for sha in ignored if sha in replay.index)
    excluded: dict[bytes, bool] = {}

    def is_excluded(path: bytes) -> bool:
        found = excluded.get(path)
        if found is None:
            found = excluded[path] = reading.paths.excluded(path)
        return found

    replay.excluded = is_excluded
    merges = [(sha, parents) for sha, parents in order if len(parents) > 1]
    # The merges' diffs against their first parents are needed at the first merge: git makes them meanwhile.
    beside = ThreadPoolExecutor(max_workers=1, thread_name_prefix="merges")
    first_diffs = beside.submit(_first_parent_changes, repo, merges)
    first: dict[str, list[patches.Change]] | None = None
    found: dict[str, Commit] = {}
    who: dict[int, diff_log.Origin] = {}  # replay index -> identity and time, of every commit read
    deleted: dict[str, origins.Deleted] = {}
    done = 0

    def pairwise(merge: str, parents: Sequence[str], paths: list[bytes]) -> list[list[patches.Change]] | None:
        """The merge's `-U0` diffs of `paths` against each of its parents (no rename detection: these paths
        exist in every parent), in one `git diff-tree`; None (blame decides) for more paths than one command line
        should carry."""
        if sum(len(p) + 1 for p in paths) > MAX_PATHSPEC_BYTES:
            return None
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
            return [patches.parse(record) for record in records]
        except patches.Unreadable:
            return None

    try:
        for sha, header, body in diff_log.records(repo, [sha for sha, _p in order], reading.config, replay=True):
            index = replay.index[sha]
            parents = order[index][1]
            who[index] = diff_log.origin_of(*header[1:5])
            commit = diff_log.commit_of(sha, header) if sha in wanted else None
            if commit is not None:
                found[sha] = commit
            if len(parents) > 1:
                if counts is not None and sha in wanted:
                    counts.commit(_reader_fields(sha, header), ())
                if first is None:
                    first = first_diffs.result()
                replay.merge(sha, parents, first.get(sha, []), pairwise)
                continue
            changes = patches.parse(body)
            if counts is not None and sha in wanted:
                counts.commit(_reader_fields(sha, header), _numstat(changes))
            tally: origins.Deleted | None = None
            if commit is not None and sha not in ignored:
                tally = deleted[sha] = origins.Deleted()
            elif commit is not None:
                commit.ignored = True
            replay.commit(sha, parents, changes, tally)
            done += 1
            if reading.progress and done % 500 == 0:
                reading.progress(500)
    finally:
        lines.close()
        first_diffs.cancel()
        beside.shutdown(wait=True)
    needed: dict[int, set[int]] = {}
    for tally in deleted.values():
        for value in tally.markers:
            key, line = origins.unmark(value)
            needed.setdefault(key, set()).add(line)
    resolved = (
        origins.resolve(reading.blame_repo(), replay.keys, needed, reading.ignore_file, reading.pool) if needed else {}
    )
    known: dict[str, diff_log.Origin] = {}
    for sha, tally in deleted.items():
        commit = found[sha]
        commit.new_work = tally.new_work
        for index, count in tally.counts.items():
            origin = replay.shas[index]
            commit.origins[origin] = commit.origins.get(origin, 0) + count
            if index in who:
                known[origin] = who[index]
        for value in tally.markers:
            key, line = origins.unmark(value)
            origin = resolved.get(key, {}).get(line, "")
            commit.origins[origin] = commit.origins.get(origin, 0) + 1
    return found, set(replay.index), len(needed), replay, known


def _reader_fields(sha: str, header: list[bytes]) -> list[bytes]:
    """The replay's header (`diff_log.REPLAY_FIELDS`) as the commit reader's `FIELDS`."""
    return [sha.encode(), *header[:-1], header[-1][1:]]  # the co-authors field's leading `T` dropped


def _numstat(changes: Sequence[patches.Change]) -> list[tuple[int, int, bytes]]:
    """What `git log --numstat` prints for these file pairs: lines added and deleted per text file (the hunks of
    a `-U0` patch count exactly those), under the new path (the old one for a deletion)."""
    out: list[tuple[int, int, bytes]] = []
    for change in changes:
        path = change.new if change.new is not None else change.old
        if change.binary or path is None:
            continue
        out.append((sum(h[3] for h in change.hunks), sum(h[1] for h in change.hunks), path))
    return out


def _first_parent_changes(repo: Path, merges: Sequence[tuple[str, Sequence[str]]]) -> dict[str, list[patches.Change]]:
    """Each merge's raw diff against its first parent (`git diff-tree -M`, one process for all of them)."""
    if not merges:
        return {}
    stdin = "".join(f"{sha} {parents[0]}\n" for sha, parents in merges).encode()
    args = ["diff-tree", "--stdin", "-r", "-M", "-z", "--no-abbrev", "--always", "--format=%x01%H"]
    out = git.run(repo, args, input=stdin)
    found: dict[str, list[patches.Change]] = {}
    markers = [b"\x01" + sha.encode() + b"\0" for sha, _parents in merges]
    at = out.find(markers[0]) if markers else -1
    for index, (sha, _parents) in enumerate(merges):
        if at < 0:
            raise patches.Unreadable(f"no diff of merge {sha}")
        start = at + len(markers[index])
        at = out.find(markers[index + 1], start) if index + 1 < len(markers) else len(out)
        changes, _end = patches.raw_entries(out[start : at if at >= 0 else len(out)])
        found[sha] = changes
    return found
