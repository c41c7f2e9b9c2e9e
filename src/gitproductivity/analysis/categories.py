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
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gitproductivity.analysis import commit_graphs, diff_log, git, origins, patches, reader, replay
from gitproductivity.analysis.diff_log import Commit, Reading, parse_diff
from gitproductivity.analysis.exclusions import PathFilter
from gitproductivity.analysis.ownership import IGNORE_REVS, _ignore_revs_file
from gitproductivity.core.settings import get_settings

log = logging.getLogger(__name__)
#: Bump when a rule of this module changes: every repository is read again.
VERSION = 1
SECONDS_PER_DAY = 86_400
_GROUP = re.compile(rb"([0-9a-f]{40}|[0-9a-f]{64}) [0-9]{1,12} ([0-9]{1,12}) ([0-9]{1,12})")


@dataclass
class Result:
    commits: list[Commit]
    blamed: int = 0  # (commit, file) pairs blamed
    replay: origins.Replay | None = None  # when history was replayed: its state at the head is kept
    counts: reader.Tally | None = None  # the commit reader's tally, when the replay read it (`compute`'s `counts`)


def fingerprint_parts(repo: Path, head: str | None) -> list[object]:
    """What decides the categories besides history (part of the analysis's rules fingerprint)."""
    s = get_settings()
    ignore = git.blob_id(repo, head, IGNORE_REVS) if head and s.categories_ignore_revs else ""
    return [s.change_categories, s.churn_window_days, s.categories_ignore_revs, ignore, VERSION]


def fingerprint(repo: Path, head: str | None) -> str:
    return hashlib.sha256(json.dumps(fingerprint_parts(repo, head)).encode()).hexdigest()


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
    full. More ranges than one command line should carry take several blames (`origins.MAX_RANGES_PER_BLAME`)."""
    if len(ranges) > origins.MAX_RANGES_PER_BLAME:
        total: dict[str, int] = {}
        for batch in origins.batches(ranges):
            for origin, lines in blame_ranges(repo, parent, raw_path, batch, ignore_revs, since).items():
                total[origin] = total.get(origin, 0) + lines
        return total
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
    counted: dict[str, int] = {}
    times: dict[str, int] = {}
    boundary: set[str] = set()
    sha = ""
    for line in out.split(b"\n"):
        match = _GROUP.fullmatch(line)
        if match:
            sha = match.group(1).decode()
            counted[sha] = counted.get(sha, 0) + int(match.group(3))
        elif line.startswith(b"author-time ") and line[12:].isdigit():
            times[sha] = int(line[12:])
        elif line == b"boundary":
            boundary.add(sha)
    if since is not None and any(times.get(b, since + 1) > since for b in boundary):
        return blame_ranges(repo, parent, raw_path, ranges, ignore_revs)
    return counted


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
    counts: reader.Parser | None = None,
) -> Result:
    """Every commit's categories (in the order of `commits`). `commit_graph`: the repository is
    ours (a mirror of a remote): write git's commit-graph with changed-path filters first, which makes every
    blame's walk through history several times faster. `engine`: `replay` reads all history from the root once
    (`analysis.origins`), `blame` blames each commit's deleted ranges; `auto` replays when the commits are a
    large share of the history (a first or full analysis) and blames otherwise (an analysis of new commits).
    `counts`: a commit reader's parser, fed the `commits` from the replay's own stream (one pass over history for
    both); the result's `counts` is its tally, or None when history was not replayed (read it yourself then)."""
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
        reading = Reading(repo, blame_repo, paths, config, ignore_file, ignored, pool, progress)
        rest: Sequence[str] = commits
        kept: origins.Replay | None = None
        tally: reader.Tally | None = None
        known: dict[str, diff_log.Origin] = {}
        if head and engine != "blame" and (engine == "replay" or worth_replaying(repo, head, len(commits))):
            try:
                replayed, reached, blamed, kept, known = replay.categories(reading, head, commits, counts)
            except (git.GitError, patches.Unreadable) as exc:
                if isinstance(exc, git.GitError) and exc.returncode is None:
                    raise
                log.warning("%s: replaying history failed (one blame per changed file instead): %s", repo, exc)
            else:
                found.update(replayed)
                rest = [sha for sha in commits if sha not in reached]
                tally = counts.close() if counts is not None and not rest else None
        if rest:
            result = _blamed(reading, rest, window)
            found.update((c.sha, c) for c in result.commits)
            blamed += result.blamed
    out = [found[sha] for sha in commits if sha in found]
    _classify(repo, out, config, window, known)
    return Result(out, blamed, kept, tally)


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


def worth_replaying(repo: Path, head: str, count: int) -> bool:
    """Whether `auto` replays history for `count` commits up to `head`."""
    if count < REPLAY_MIN:
        return False
    total = int(git.run(repo, ["rev-list", "--count", head]).strip() or 0)
    return count * REPLAY_SHARE >= total


def _blamed(reading: Reading, commits: Sequence[str], window: int) -> Result:
    """The categories of `commits` by one `git blame -L` per (commit, file) with deleted lines."""
    settings = get_settings()
    blame_repo, ignore_file, progress = reading.blame_repo(), reading.ignore_file, reading.progress
    out: list[Commit] = []
    pending: list[tuple[Commit, Future[dict[str, int]]]] = []
    blamed = 0
    with ThreadPoolExecutor(max_workers=reading.pool, thread_name_prefix="categories") as executor:
        for sha, header, diff in diff_log.records(reading.repo, commits, reading.config):
            commit = diff_log.commit_of(sha, header)
            if commit is None:
                continue
            out.append(commit)
            if commit.merge:
                continue
            if sha in reading.ignored:
                commit.ignored = True
                continue
            commit.new_work, ranges = parse_diff(diff, reading.paths)
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


def _classify(
    repo: Path, commits: list[Commit], config: list[str], window: int, known: dict[str, diff_log.Origin]
) -> None:
    """Resolve each origin commit to its identity and time (`known`: those the replay read already); sort the
    deleted lines into refactor and young."""
    shas = sorted({sha for c in commits for sha in c.origins if sha and sha not in known})
    origin = known
    if shas:
        origin = dict(known)
        stdin = ("\n".join(shas) + "\n").encode()
        fmt = "--format=%H%x00%aN%x00%aE%x00%at%x00%ct%x00"
        args = [*config, "log", "--no-walk=unsorted", "--stdin", "--use-mailmap", "--encoding=UTF-8", fmt]
        fields = git.run(repo, args, input=stdin).split(b"\0")
        for i in range(0, len(fields) - 5, 5):
            raw, name, email, at, ct = (f.strip(b"\n") for f in fields[i : i + 5])
            origin[raw.decode()] = diff_log.origin_of(name, email, at, ct)
    for commit in commits:
        for sha, lines in commit.origins.items():
            who, when = origin.get(sha, ("", None))
            if when is None or commit.when - when >= window:
                commit.refactor += lines
            else:
                commit.young[who] = commit.young.get(who, 0) + lines
        commit.origins = {}
