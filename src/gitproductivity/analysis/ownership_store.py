"""Ownership in the database: the per-file blame cache, per-directory totals and owners, and the reads the API and
CLI make (docs/metrics.md, "Provenance and ownership").

`save` runs inside the analysis's one transaction (`analysis.store`): identities are resolved to developers there
(aliases; bots flagged), so ownership and the commit metrics always agree on who is who. The directory totals and
owners are written again in full each run (cheap next to blame); the file cache only for the files blamed again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from gitproductivity.analysis import ownership
from gitproductivity.analysis.models import (
    OwnershipCommit,
    OwnershipDirectory,
    OwnershipFile,
    OwnershipLine,
    OwnershipState,
)
from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import bulk_insert
from gitproductivity.core.errors import NotFound
from gitproductivity.developers.models import Developer
from gitproductivity.repositories import service as repositories

_FILES = cast(Table, OwnershipFile.__table__)
_DIRECTORIES = cast(Table, OwnershipDirectory.__table__)
_LINES = cast(Table, OwnershipLine.__table__)
_COMMITS = cast(Table, OwnershipCommit.__table__)
_CHUNK = 500


def key(path: str) -> str:
    return hashlib.sha256(path.encode()).hexdigest()


def parent(path: str) -> str | None:
    if not path:
        return None
    return path.rsplit("/", 1)[0] if "/" in path else ""


def load(session: Session, *, repository_id: str) -> ownership.Previous | None:
    """The last computation's head, rules and file cache, or None when there is none."""
    state = session.get(OwnershipState, repository_id)
    if state is None:
        return None
    files = {
        path: ownership.CachedFile(blob, commits)
        for path, blob, commits in session.execute(
            select(OwnershipFile.path, OwnershipFile.blob, OwnershipFile.commits).where(
                OwnershipFile.repository_id == repository_id
            )
        )
    }
    commits = {
        sha: (identity, when, name)
        for sha, identity, when, name in session.execute(
            select(
                OwnershipCommit.commit, OwnershipCommit.identity, OwnershipCommit.author_time, OwnershipCommit.name
            ).where(OwnershipCommit.repository_id == repository_id)
        )
    }
    return ownership.Previous(state.head_commit, state.fingerprint, files, commits)


def save(
    session: Session,
    *,
    organization_id: str,
    repository_id: str,
    result: ownership.Result,
    owner: dict[str, str],
) -> None:
    """Store `result`; `owner` maps every identity in it to its developer."""
    previous = session.get(OwnershipState, repository_id)
    if result.full or previous is None:
        session.execute(delete(OwnershipFile).where(OwnershipFile.repository_id == repository_id))
        session.execute(delete(OwnershipCommit).where(OwnershipCommit.repository_id == repository_id))
        fresh = sorted(result.files)
    else:
        stale = sorted(result.stale)
        for start in range(0, len(stale), _CHUNK):
            keys = [key(p) for p in stale[start : start + _CHUNK]]
            session.execute(
                delete(OwnershipFile).where(
                    OwnershipFile.repository_id == repository_id, OwnershipFile.path_key.in_(keys)
                )
            )
        fresh = sorted(result.fresh)
    bulk_insert(
        session,
        _FILES,
        [
            {
                "repository_id": repository_id,
                "path_key": key(p),
                "path": p,
                "blob": result.files[p].blob,
                "commits": result.files[p].commits,
            }
            for p in fresh
        ],
    )
    bulk_insert(  # who the commits met in this run are (the others are stored already, under the same rules)
        session,
        _COMMITS,
        [
            {"repository_id": repository_id, "commit": sha, "identity": who, "author_time": when, "name": name}
            for sha, (who, when, name) in sorted(result.met.items())
        ],
    )
    _write_directories(session, repository_id=repository_id, result=result, owner=owner)
    if previous is None:
        previous = OwnershipState(repository_id=repository_id, organization_id=organization_id)
        session.add(previous)
    previous.head_commit = result.head
    previous.fingerprint = result.fingerprint
    previous.mode = "full" if result.full else "incremental"
    previous.files_blamed = result.blamed
    previous.computed_at = utcnow()


def _write_directories(
    session: Session, *, repository_id: str, result: ownership.Result, owner: dict[str, str]
) -> None:
    session.execute(delete(OwnershipLine).where(OwnershipLine.repository_id == repository_id))
    session.execute(delete(OwnershipDirectory).where(OwnershipDirectory.repository_id == repository_id))
    by_directory = result.by_directory()
    developer_ids = sorted({dev for dev in owner.values()})
    bots: set[str] = set()
    for start in range(0, len(developer_ids), _CHUNK):
        chunk = developer_ids[start : start + _CHUNK]
        bots.update(session.scalars(select(Developer.id).where(Developer.id.in_(chunk), Developer.is_bot)))
    files = result.files_by_directory()
    directories: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    for directory in sorted(set(by_directory) | set(files)):
        per_identity = by_directory.get(directory, {})
        per_developer: dict[str, int] = {}
        unattributed = 0
        for identity, count in per_identity.items():
            dev = owner.get(identity) if identity else None
            if dev is None:
                unattributed += count
            else:
                per_developer[dev] = per_developer.get(dev, 0) + count
        people = {dev: n for dev, n in per_developer.items() if dev not in bots}
        directories.append(
            {
                "repository_id": repository_id,
                "path_key": key(directory),
                "path": directory,
                "parent_key": None if parent(directory) is None else key(cast(str, parent(directory))),
                "files": files.get(directory, 0),
                "lines": sum(per_identity.values()),
                "bot_lines": sum(n for dev, n in per_developer.items() if dev in bots),
                "unattributed_lines": unattributed,
                "bus_factor": ownership.bus_factor(people),
            }
        )
        lines += [
            {"repository_id": repository_id, "path_key": key(directory), "developer_id": dev, "lines": n}
            for dev, n in sorted(per_developer.items())
        ]
    bulk_insert(session, _DIRECTORIES, directories)
    bulk_insert(session, _LINES, lines)


def move_developer(session: Session, *, source_id: str, target_id: str) -> None:
    """Merging two developers: `source_id`'s owned lines become `target_id`'s, summed where both own lines in the
    same directory; each touched directory's bus factor is computed again (bots' lines stay apart)."""
    rows = list(session.scalars(select(OwnershipLine).where(OwnershipLine.developer_id == source_id)))
    if not rows:
        return
    keys = {(r.repository_id, r.path_key) for r in rows}
    existing = {
        (r.repository_id, r.path_key): r
        for r in session.scalars(select(OwnershipLine).where(OwnershipLine.developer_id == target_id))
    }
    moved = []
    for row in rows:
        mine = existing.get((row.repository_id, row.path_key))
        if mine is None:
            moved.append({"repository_id": row.repository_id, "path_key": row.path_key, "lines": row.lines})
        else:
            mine.lines += row.lines
    session.execute(delete(OwnershipLine).where(OwnershipLine.developer_id == source_id))
    session.add_all(OwnershipLine(developer_id=target_id, **values) for values in moved)
    session.flush()
    for repository_id in sorted({repo for repo, _ in keys}):
        paths = sorted(path for repo, path in keys if repo == repository_id)
        for start in range(0, len(paths), _CHUNK):
            chunk = paths[start : start + _CHUNK]
            owned: dict[str, dict[str, int]] = {}
            for path_key, lines in session.execute(
                select(OwnershipLine.path_key, OwnershipLine.lines)
                .join(Developer, Developer.id == OwnershipLine.developer_id)
                .where(
                    OwnershipLine.repository_id == repository_id,
                    OwnershipLine.path_key.in_(chunk),
                    Developer.is_bot.is_(False),
                )
            ):
                people = owned.setdefault(path_key, {})
                people[str(len(people))] = lines
            for directory in session.scalars(
                select(OwnershipDirectory).where(
                    OwnershipDirectory.repository_id == repository_id, OwnershipDirectory.path_key.in_(chunk)
                )
            ):
                directory.bus_factor = ownership.bus_factor(owned.get(directory.path_key, {}))
    session.flush()


@dataclass
class Owner:
    developer_id: str
    name: str
    email: str
    is_bot: bool
    lines: int
    share: float


@dataclass
class Directory:
    path: str
    files: int
    lines: int
    bus_factor: int


@dataclass
class Ownership:
    repository_id: str
    path: str
    head_commit: str | None
    computed_at: datetime | None
    files: int
    lines: int
    bot_lines: int
    unattributed_lines: int
    bus_factor: int
    owners: list[Owner]
    directories: list[Directory]


def get(session: Session, *, organization_id: str, repository_id: str, path: str = "") -> Ownership:
    """Ownership of `path` ("" for the whole repository) at the last analysed head: owners (most lines first),
    bus factor and immediate subdirectories. Before the first computation, the root is empty."""
    repo = repositories.get(session, organization_id=organization_id, repository_id=repository_id)
    path = path.strip("/")
    state = session.get(OwnershipState, repo.id)
    row = session.scalar(
        select(OwnershipDirectory).where(
            OwnershipDirectory.repository_id == repo.id, OwnershipDirectory.path_key == key(path)
        )
    )
    if row is None:
        if path:
            raise NotFound(f"directory {path!r} has no counted lines at the analysed head of repository {repo.id}")
        head = state.head_commit if state else None
        return Ownership(repo.id, "", head, state.computed_at if state else None, 0, 0, 0, 0, 0, [], [])
    owners = [
        Owner(dev.id, dev.name, dev.email, dev.is_bot, n, round(n / row.lines, 4) if row.lines else 0.0)
        for dev, n in session.execute(
            select(Developer, OwnershipLine.lines)
            .join(OwnershipLine, OwnershipLine.developer_id == Developer.id)
            .where(OwnershipLine.repository_id == repo.id, OwnershipLine.path_key == key(path))
            .order_by(OwnershipLine.lines.desc(), Developer.name, Developer.id)
        )
    ]
    children = [
        Directory(d.path, d.files, d.lines, d.bus_factor)
        for d in session.scalars(
            select(OwnershipDirectory)
            .where(OwnershipDirectory.repository_id == repo.id, OwnershipDirectory.parent_key == key(path))
            .order_by(OwnershipDirectory.path)
        )
    ]
    assert state is not None
    return Ownership(
        repo.id,
        path,
        state.head_commit,
        state.computed_at,
        row.files,
        row.lines,
        row.bot_lines,
        row.unattributed_lines,
        row.bus_factor,
        owners,
        children,
    )
