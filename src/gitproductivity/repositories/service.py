"""Connecting and disconnecting repositories; each change writes its event in the same transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import get_owned
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


def connect(
    session: Session, *, organization_id: str, url: str, name: str | None = None, branch: str | None = None
) -> Repository:
    """Connect a repository (its analysis is queued by `repositories.flows.connect`). Connecting a disconnected
    one again reuses its record (and history).

    `branch` analyses that branch instead of the default one; connecting again may change it.
    """
    location = urls.parse(url)
    existing = session.scalar(
        select(Repository).where(Repository.organization_id == organization_id, Repository.url == location.url)
    )
    now = utcnow()
    if existing is not None:
        if existing.status == RepositoryStatus.CONNECTED:
            raise Conflict(f"{existing.display_url} is already connected as {existing.id}")
        repo = existing
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
            status=RepositoryStatus.CONNECTED,
            created_at=now,
            connected_at=now,
            branch=branch,
        )
        session.add(repo)
    session.flush()
    events.emit(session, organization_id=organization_id, data=RepositoryConnected.model_validate(event_data(repo)))
    return repo


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
