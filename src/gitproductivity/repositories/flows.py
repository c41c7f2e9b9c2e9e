"""Work on repositories that reaches into other domains: connecting one queues its analysis."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gitproductivity.analysis import jobs
from gitproductivity.repositories import service
from gitproductivity.repositories.models import Repository


def connect(
    session: Session, *, organization_id: str, url: str, name: str | None = None, branch: str | None = None
) -> Repository:
    """Connect a repository and queue its first analysis, in one transaction."""
    repo = service.connect(session, organization_id=organization_id, url=url, name=name, branch=branch)
    jobs.enqueue(session, organization_id=organization_id, repository_id=repo.id, trigger="connect")
    return repo
