"""Connecting and disconnecting repositories; each change writes its event in the same transaction."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import contains, get_owned
from gitproductivity.core.errors import Conflict
from gitproductivity.core.ids import new_id
from gitproductivity.events import service as events
from gitproductivity.events.payloads import RepositoryConnected, RepositoryDisconnected
from gitproductivity.repositories import urls
from gitproductivity.repositories.models import Repository, RepositoryStatus


def event_data(repo: Repository) -> dict[str, object]:
    return {"repository_id": repo.id, "name": repo.name, "url": repo.display_url, "kind": repo.kind}


def get(session: Session, *, organization_id: str, repository_id: str) -> Repository:
    return get_owned(session, Repository, organization_id=organization_id, id=repository_id, what="repository")


def list_(
    session: Session,
    *,
    organization_id: str,
    after: str | None = None,
    limit: int = 50,
    status: str | None = None,
) -> list[Repository]:
    stmt = select(Repository).where(Repository.organization_id == organization_id)
    if status:
        stmt = stmt.where(Repository.status == status)
    if after:
        stmt = stmt.where(Repository.id > after)
    return list(session.scalars(stmt.order_by(Repository.id).limit(limit + 1)))


def search(session: Session, *, organization_id: str, query: str, limit: int = 20) -> list[Repository]:
    """Repositories whose name contains `query` (any case) or whose id is `query`, by name: a picker's suggestions."""
    text = query.strip()[:200]
    stmt = select(Repository).where(
        Repository.organization_id == organization_id,
        or_(func.lower(Repository.name).like(contains(text), escape="!"), Repository.id == text),
    )
    return list(session.scalars(stmt.order_by(Repository.name, Repository.id).limit(limit)))


def connect(
    session: Session, *, organization_id: str, url: str, name: str | None = None, branch: str | None = None
) -> Repository:
    """Connect a repository (its analysis is queued by `repositories.flows.connect`). Connecting a disconnected
    one again reuses its record (and history).

    `branch` analyses that branch instead of the default one; connecting again may change it. The same
    repository written another way (`/r/.git` for `/r`, a symlink, `file://`, another spelling of a remote URL)
    is the same repository: 409 while it is connected, its record reused once it was disconnected.
    """
    location = urls.parse(url)
    existing = session.scalar(
        select(Repository).where(
            Repository.organization_id == organization_id, Repository.identity == location.identity
        )
    )
    now = utcnow()
    if existing is not None:
        if existing.status == RepositoryStatus.CONNECTED:
            raise _already_connected(existing)
        repo = existing
        repo.url = location.url  # the latest spelling (a remote's credentials may have changed)
        repo.status = RepositoryStatus.CONNECTED
        repo.connected_at = now
        repo.disconnected_at = None
        if name:
            repo.name = name.strip()
        if branch and branch != repo.branch:
            repo.branch = branch
            repo.rules_fingerprint = None  # another branch: its history is read in full
    else:
        repo = Repository(
            id=new_id("repo"),
            organization_id=organization_id,
            name=(name or location.default_name).strip(),
            url=location.url,
            kind=location.kind,
            identity=location.identity,
            status=RepositoryStatus.CONNECTED,
            created_at=now,
            connected_at=now,
            branch=branch,
        )
        session.add(repo)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # connected at the same moment by another request
        session.expire_all()
        raced = session.scalar(
            select(Repository).where(
                Repository.organization_id == organization_id, Repository.identity == location.identity
            )
        )
        if raced is None:
            raise
        raise _already_connected(raced) from None
    events.emit(session, organization_id=organization_id, data=RepositoryConnected.model_validate(event_data(repo)))
    return repo


def _already_connected(existing: Repository) -> Conflict:
    return Conflict(
        f"this repository is already connected as {existing.id} ({existing.name}, {existing.display_url})",
        details=[{"field": "url", "repository_id": existing.id, "name": existing.name}],
    )


def disconnect(session: Session, *, organization_id: str, repository_id: str) -> Repository:
    """Mark a repository disconnected; its record and metrics stay. Disconnecting twice emits nothing."""
    repo = get(session, organization_id=organization_id, repository_id=repository_id)
    if repo.status != RepositoryStatus.DISCONNECTED:
        repo.status = RepositoryStatus.DISCONNECTED
        repo.disconnected_at = utcnow()
        session.flush()
        events.emit(
            session, organization_id=organization_id, data=RepositoryDisconnected.model_validate(event_data(repo))
        )
    return repo
