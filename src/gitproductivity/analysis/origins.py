"""Line origins by replaying history once (docs/metrics.md, "Change categories": the one-pass engine).

Every commit reachable from the head is read once, parents before children, from ONE `git log -p -U0 -M --raw`
stream; each file of each commit carries a tuple with the origin of every line: the commit that wrote it, as
`git blame` assigns it. A non-merge commit's diff against its parent is applied to the parent's tuples (the lines
a hunk deletes leave, the lines it adds belong to the commit): these are the diffs blame itself walks, so the
deleted lines of every commit have their blame origins without one blame per commit and file.

Where the replay cannot know what blame would say, it does not guess: it writes a *marker* (line n of the file
at commit C) and asks `git blame -L` at C for exactly the marked lines that are ever deleted, at the end, in
parallel. Markers stand for:
- a file a merge renamed against some parent (a merge that changed a file against every parent otherwise gets
  blame's split: each line from the first parent whose diff leaves it unchanged, else the merge's; a file a
  merge took whole from a parent, the same blob, keeps that parent's origins, as blame passes it whole);
- a file git shows as binary (no hunks), so that its lines are unknown if it turns into text, and the new side of
  a type change (a file turned symlink, or back);
- a file over `MAX_LINES` lines, and a diff that does not fit the tuple (which should not happen; a safety net);
- a deleted line whose origin is a commit of `.git-blame-ignore-revs`: blame with the ignore file at the parent.

State is kept only for commits whose children are not all replayed yet (parents before children in
`--topo-order`), and shared between them until one changes a file (tuples are never modified).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from gitproductivity.analysis import git
from gitproductivity.analysis.patches import Change

_GROUP = re.compile(rb"([0-9a-f]{40}|[0-9a-f]{64}) [0-9]{1,12} ([0-9]{1,12}) ([0-9]{1,12})")
_SHIFT = 32  # a marker is -((key << _SHIFT) | line) - 1
#: A file longer than this keeps no tuple (a bound on the work a hostile history can ask for: every commit that
#: changes it would copy it): its deleted lines are blamed, as by the blame engine.
MAX_LINES = 100_000
#: `-L` ranges given to one `git blame` at most: the ranges come from a repository's diffs, and one command line
#: carrying all of a hostile commit's hunks would pass the system's limit (about 2 MB): more take several blames.
MAX_RANGES_PER_BLAME = 1_000


@dataclass(frozen=True, slots=True)
class Deferred:
    """The lines of the file at `Replay.keys[key]`, as blame at that commit will tell; counted when first needed."""

    key: int


Lines = tuple[int, ...] | Deferred
State = dict[bytes, tuple[str, Lines]]  # path -> (blob id, line origins)


def marker(key: int, line: int) -> int:
    return -((key << _SHIFT) | line) - 1


def unmark(value: int) -> tuple[int, int]:
    value = -value - 1
    return value >> _SHIFT, value & ((1 << _SHIFT) - 1)


@dataclass
class Deleted:
    """The origins of the lines one commit deleted: commit index -> lines, and markers still to resolve."""

    counts: Counter[int] = field(default_factory=Counter)
    markers: list[int] = field(default_factory=list)
    new_work: int = 0  # per hunk, lines added minus lines deleted, floored at 0 (counted files only)


class Replay:
    """Line origins of every file of every commit, replayed from the root (see the module's docstring)."""

    def __init__(
        self, order: Sequence[tuple[str, Sequence[str]]], blob_lines: Callable[[str], int], keep: str = ""
    ) -> None:
        self.keep = keep  # the head: its state outlives the replay (ownership at the head)
        self.index = {sha: i for i, (sha, _parents) in enumerate(order)}
        self.shas = [sha for sha, _parents in order]
        self.children: Counter[str] = Counter(p for _sha, parents in order for p in parents)
        self.states: dict[str, State] = {}
        self.keys: list[tuple[str, bytes]] = []  # marker key -> (commit, path) blame asks about
        self.key_of: dict[tuple[str, bytes], int] = {}
        self.blob_lines = blob_lines
        self.ignored: frozenset[int] = frozenset()
        self.excluded: Callable[[bytes], bool] = lambda _path: False

    def key(self, commit: str, path: bytes) -> int:
        found = self.key_of.get((commit, path))
        if found is None:
            found = self.key_of[(commit, path)] = len(self.keys)
            self.keys.append((commit, path))
        return found

    def _take(self, parent: str) -> State:
        """The parent's state to change: its own dict when this is its last child, else a copy."""
        self.children[parent] -= 1
        if self.children[parent] <= 0:
            return self.states.pop(parent, {})
        return dict(self.states.get(parent, {}))

    def _keep(self, sha: str, state: State) -> None:
        if self.children[sha] > 0 or sha == self.keep:
            self.states[sha] = state

    def owners(self, sha: str, ignored: set[str]) -> dict[bytes, tuple[str, dict[str, int] | None]]:
        """Every file at commit `sha` (replayed, and kept): path -> (blob id, commit -> lines it owns), the
        counts None where only blame can tell (a marker, a binary file, a line of an ignored commit)."""
        skip = frozenset(self.index[s] for s in ignored if s in self.index)
        out: dict[bytes, tuple[str, dict[str, int] | None]] = {}
        for path, (blob, lines) in self.states.get(sha, {}).items():
            if isinstance(lines, Deferred) or (lines and min(lines) < 0) or not skip.isdisjoint(lines):
                out[path] = (blob, None)
                continue
            out[path] = (blob, {self.shas[i]: n for i, n in Counter(lines).items()})
        return out

    def _lines(self, blob: str, lines: Lines) -> tuple[int, ...]:
        if isinstance(lines, Deferred):
            base = marker(lines.key, 1) + 1  # marker(key, n) == base - n
            return tuple(range(base - 1, base - 1 - self.blob_lines(blob), -1))
        return lines

    def commit(self, sha: str, parents: Sequence[str], changes: Iterable[Change], deleted: Deleted | None) -> None:
        """Apply a non-merge commit's diff; with `deleted`, collect the origins of the lines it deletes."""
        parent = parents[0] if parents else ""
        state = self._take(parent) if parent else {}
        before = state  # read as it was: the changes are applied after the loop
        me = self.index[sha]
        updates: dict[bytes, tuple[str, Lines]] = {}
        gone: list[bytes] = []
        for change in changes:
            counted = deleted is not None and not self.excluded(
                change.new if change.new is not None else change.old or b""
            )
            if change.old is not None and change.status != b"C":
                gone.append(change.old)
            if counted and deleted is not None:
                deleted.new_work += sum(added - removed for _s, removed, _n, added in change.hunks if added > removed)
            if change.new is None:
                if counted and deleted is not None and change.old is not None and change.hunks:
                    self._deleted(before, parent, change, deleted)
                continue
            if change.binary or change.status == b"T":  # binary, or a type change: blame tells the lines
                if counted and deleted is not None and change.old is not None and change.hunks:
                    self._deleted(before, parent, change, deleted)
                updates[change.new] = (change.new_blob, Deferred(self.key(sha, change.new)))
                continue
            if change.old is None:
                added = sum(h[3] for h in change.hunks)
                new_file: Lines = (me,) * added if added <= MAX_LINES else Deferred(self.key(sha, change.new))
                updates[change.new] = (change.new_blob, new_file)
                continue
            blob, lines = before.get(change.old, (change.old_blob, ()))
            if not change.hunks:  # a rename or a mode change: the same lines
                updates[change.new] = (change.new_blob, lines)
                continue
            old = self._lines(blob, lines)
            new = _apply(old, change.hunks, me)
            if new is None:  # the diff does not fit what we know: blame decides, for these lines and the file
                if counted and deleted is not None:
                    for start, count, _s, _c in change.hunks:
                        key = self.key(parent, change.old)
                        deleted.markers += [marker(key, n) for n in range(start, start + count)]
                updates[change.new] = (change.new_blob, Deferred(self.key(sha, change.new)))
                continue
            if counted and deleted is not None:
                self._collect(old, parent, change, deleted)
            updates[change.new] = (change.new_blob, new)
        for path in gone:
            if path not in updates:
                state.pop(path, None)
        state.update(updates)
        self._keep(sha, state)

    def _deleted(self, before: State, parent: str, change: Change, deleted: Deleted) -> None:
        assert change.old is not None
        blob, lines = before.get(change.old, (change.old_blob, ()))
        old = self._lines(blob, lines)
        if any(start - 1 + count > len(old) for start, count, _s, _c in change.hunks):
            key = self.key(parent, change.old)
            for start, count, _s, _c in change.hunks:
                deleted.markers += [marker(key, n) for n in range(start, start + count)]
            return
        self._collect(old, parent, change, deleted)

    def _collect(self, old: tuple[int, ...], parent: str, change: Change, deleted: Deleted) -> None:
        assert change.old is not None
        for start, count, _s, _c in change.hunks:
            if not count:
                continue
            span = old[start - 1 : start - 1 + count]
            if self.ignored and not self.ignored.isdisjoint(span):
                key = self.key(parent, change.old)
                for n, origin in enumerate(span, start):
                    if origin in self.ignored:
                        deleted.markers.append(marker(key, n))
                    elif origin < 0:
                        deleted.markers.append(origin)
                    else:
                        deleted.counts[origin] += 1
                continue
            for origin in span:
                if origin < 0:
                    deleted.markers.append(origin)
                else:
                    deleted.counts[origin] += 1

    def merge(
        self,
        sha: str,
        parents: Sequence[str],
        first: Iterable[Change],
        pairwise: Callable[[str, Sequence[str], list[bytes]], list[list[Change]] | None],
    ) -> None:
        """A merge, from its raw diff against the first parent: a file it did not change is the first parent's;
        a file with the blob of another parent is that parent's (blame passes an identical blob whole); a file
        it changed against every parent takes each line from the first parent whose diff leaves it unchanged,
        else it is the merge's (blame's split), from `pairwise` diffs of just those files against each parent.
        A file renamed against some parent, or whose diffs do not fit, is left to blame (a marker)."""
        others = [self.states.get(p, {}) for p in parents[1:]]
        state = self._take(parents[0])
        before = state  # read as it was: the changes are applied after the loop
        updates: dict[bytes, tuple[str, Lines]] = {}
        gone: list[bytes] = []
        split: list[Change] = []
        for change in first:
            if change.old is not None and change.status != b"C":
                gone.append(change.old)
            if change.new is None:
                continue
            if change.old is not None and change.old_blob == change.new_blob and change.old in before:
                updates[change.new] = (change.new_blob, before[change.old][1])
                continue
            if change.status != b"R" and all(change.new in other for other in others):
                for other in others:
                    found = other[change.new]
                    if found[0] == change.new_blob:
                        updates[change.new] = found
                        break
                else:
                    split.append(change)
                continue
            updates[change.new] = (change.new_blob, Deferred(self.key(sha, change.new)))
        diffs = pairwise(sha, parents, [c.new for c in split if c.new is not None]) if split else None
        for at, change in enumerate(split):
            assert change.new is not None
            lines: Lines | None = None
            if diffs is not None and all(len(d) == len(split) and d[at].new == change.new for d in diffs):
                bases = [before.get(change.new), *(other.get(change.new) for other in others)]
                tuples = [self._lines(*base) if base else () for base in bases]
                lines = _split(tuples, [d[at] for d in diffs], self.index[sha])
            updates[change.new] = (change.new_blob, lines or Deferred(self.key(sha, change.new)))
        for path in gone:
            if path not in updates:
                state.pop(path, None)
        state.update(updates)
        for p in parents[1:]:
            self.children[p] -= 1
            if self.children[p] <= 0:
                self.states.pop(p, None)
        self._keep(sha, state)


def _split(parents: Sequence[tuple[int, ...]], diffs: Sequence[Change], me: int) -> tuple[int, ...] | None:
    """A merged file's origins: each line from the first parent whose `-U0` diff to the merge leaves it unchanged,
    else the merge's own. None when a diff does not fit its parent's lines."""
    size = len(parents[0]) + sum(added - deleted for _s, deleted, _n, added in diffs[0].hunks)
    if size > MAX_LINES or any(len(lines) > MAX_LINES for lines in parents):
        return None
    out: list[int | None] = [None] * size
    for lines, diff in zip(parents, diffs, strict=True):
        at = result = 0
        for start, deleted, new_start, added in diff.hunks:
            begin = start if deleted == 0 else start - 1
            begin_result = new_start if added == 0 else new_start - 1
            if begin - at != begin_result - result or begin < at or begin + deleted > len(lines):
                return None
            for k in range(begin - at):
                if out[result + k] is None:
                    out[result + k] = lines[at + k]
            at, result = begin + deleted, begin_result + added
        if len(lines) - at != size - result:
            return None
        for k in range(len(lines) - at):
            if out[result + k] is None:
                out[result + k] = lines[at + k]
    return tuple(me if origin is None else origin for origin in out)


def _apply(old: tuple[int, ...], hunks: Sequence[tuple[int, int, int, int]], me: int) -> tuple[int, ...] | None:
    """The origins after a `-U0` diff: each hunk's deleted lines leave, its added lines are `me`'s. A hunk that
    deletes nothing starts AFTER line `start` (git's convention). None when the hunks do not fit `old`."""
    if len(old) > MAX_LINES:
        return None
    out: list[int] = []
    at = 0
    for start, deleted, _new_start, added in hunks:
        begin = start if deleted == 0 else start - 1
        if begin < at or begin + deleted > len(old):
            return None
        out += old[at:begin]
        if added:
            out += (me,) * added
        at = begin + deleted
    out += old[at:]
    return tuple(out) if len(out) <= MAX_LINES else None


def resolve(
    repo: Path,
    keys: Sequence[tuple[str, bytes]],
    wanted: dict[int, set[int]],
    ignore_file: str | None,
    workers: int,
) -> dict[int, dict[int, str]]:
    """marker key -> {line: origin commit} for the wanted lines, one `git blame --incremental -L ...` per key, a
    bounded number at once. A blame that fails (a damaged history) leaves its lines without an origin."""

    def one(key: int) -> dict[int, str]:
        found: dict[int, str] = {}
        for ranges in batches(_ranges(sorted(wanted[key]))):
            found.update(blame_lines(key, ranges))
        return found

    def blame_lines(key: int, ranges: Sequence[tuple[int, int]]) -> dict[int, str]:
        commit, path = keys[key]
        args = ["blame", "--incremental"]
        if ignore_file:
            args += ["--ignore-revs-file", ignore_file]
        for start, count in ranges:
            args += ["-L", f"{start},+{count}"]
        try:
            out = git.run(
                repo,
                [*args, commit, "--", path.decode("utf-8", "surrogateescape")],
                env={"GIT_LITERAL_PATHSPECS": "1"},
            )
        except git.GitError as exc:
            if exc.returncode is None:
                raise
            return {}
        found: dict[int, str] = {}
        for line in out.split(b"\n"):
            m = _GROUP.fullmatch(line)
            if m:
                sha, first, count = m.group(1).decode(), int(m.group(2)), int(m.group(3))
                for n in range(first, first + count):
                    found[n] = sha
        return found

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="origins") as pool:
        return dict(zip(wanted, pool.map(one, list(wanted)), strict=True))


def batches(ranges: Sequence[tuple[int, int]]) -> list[Sequence[tuple[int, int]]]:
    """`ranges` cut into the batches one `git blame` each takes (`MAX_RANGES_PER_BLAME`)."""
    return [ranges[at : at + MAX_RANGES_PER_BLAME] for at in range(0, len(ranges), MAX_RANGES_PER_BLAME)]


def _ranges(lines: Sequence[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for n in lines:
        if out and out[-1][0] + out[-1][1] == n:
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((n, 1))
    return out
