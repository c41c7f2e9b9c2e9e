"""Commit-graphs with changed-path filters, which make `git blame`'s walk through history several times faster
(docs/metrics.md, "Change categories"): written into our own mirrors of remote repositories, and for a local
repository into a private repository under the data directory that borrows its objects, so that a repository
people point us at is never written to."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from gitproductivity.analysis import git
from gitproductivity.core.settings import get_settings

log = logging.getLogger(__name__)


def write(repo: Path) -> None:
    """`git commit-graph write --reachable --changed-paths --split` (a new layer for new commits only); a failure
    only costs speed."""
    try:
        git.run(repo, ["commit-graph", "write", "--reachable", "--changed-paths", "--split", "--no-progress"])
    except git.GitError as exc:
        if exc.returncode is None:
            raise
        log.warning("%s: git commit-graph write failed (blame will be slower): %s", repo, exc)


def shadow(repo: Path, head: str, *, update: bool = True) -> Path:
    """A repository of our own (under the data directory) that borrows `repo`'s objects (`objects/info/alternates`)
    and holds a commit-graph with changed-path filters for them: blames run there walk history several times
    faster, and `repo` itself is never written to. Falls back to `repo` when it cannot be made. `update=False`
    (a few blames): an existing one as it is (older commits in its graph still help), else `repo`."""
    digest = hashlib.sha256(str(repo.resolve()).encode()).hexdigest()[:24]
    target = get_settings().data_dir / "commit-graphs" / f"{digest}.git"
    if not update:
        return target if (target / "HEAD").is_file() else repo
    try:
        objects = git.run(repo, ["rev-parse", "--path-format=absolute", "--git-path", "objects"]).decode().strip()
        if not (target / "HEAD").is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            git.run(None, ["init", "-q", "--bare", str(target)])
        alternates = target / "objects" / "info" / "alternates"
        if not alternates.is_file() or alternates.read_text().strip() != objects:
            alternates.write_text(objects + "\n")
        args = ["commit-graph", "write", "--stdin-commits", "--changed-paths", "--split", "--no-progress"]
        git.run(target, args, input=(head + "\n").encode())
    except (git.GitError, OSError) as exc:
        if isinstance(exc, git.GitError) and exc.returncode is None:
            raise
        log.warning("%s: no private commit-graph (blame will be slower): %s", repo, exc)
        return repo
    return target
