"""One page of a directory's ownership for the repository page: its totals, its top owners, and one page of its
subdirectories (largest first) with each one's bus factor and top owner, every part cut by the database, so a
directory with thousands of subdirectories or owners sends one page of them (analysis.views)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gitproductivity.analysis.models import OwnershipDirectory, OwnershipLine, OwnershipState
from gitproductivity.analysis.ownership_store import key
from gitproductivity.core.errors import NotFound
from gitproductivity.developers.models import Developer
from gitproductivity.repositories import service as repositories

PER_PAGE = 50  # subdirectories per page
OWNERS = 20  # owners listed for the directory shown


@dataclass
class PageOwner:
    developer_id: str
    name: str
    is_bot: bool
    lines: int
    share: float  # of the directory's lines, 0 to 1


@dataclass
class Subdirectory:
    path: str
    name: str
    files: int
    lines: int
    bus_factor: int
    share: float  # of the parent directory's lines
    top_owner: str | None = None
    top_share: float = 0.0


@dataclass
class OwnershipPage:
    repository_id: str
    repository_name: str
    path: str
    head_commit: str | None
    computed_at: datetime | None
    files: int = 0
    lines: int = 0
    bot_lines: int = 0
    unattributed_lines: int = 0
    bus_factor: int = 0
    owners: list[PageOwner] = field(default_factory=list)
    owners_total: int = 0
    directories: list[Subdirectory] = field(default_factory=list)
    directories_total: int = 0
    page: int = 1
    pages: int = 1

    @property
    def crumbs(self) -> list[tuple[str, str]]:
        """(name, path) of each directory from the root down to this one."""
        parts = self.path.split("/") if self.path else []
        return [(part, "/".join(parts[: i + 1])) for i, part in enumerate(parts)]


def view(
    session: Session,
    *,
    organization_id: str,
    repository_id: str,
    path: str = "",
    page: int = 1,
    per_page: int = PER_PAGE,
    owners: int = OWNERS,
) -> OwnershipPage:
    repo = repositories.get(session, organization_id=organization_id, repository_id=repository_id)
    path = path.strip("/")
    state = session.get(OwnershipState, repo.id)
    out = OwnershipPage(
        repo.id, repo.name, path, state.head_commit if state else None, state.computed_at if state else None
    )
    row = session.scalar(
        select(OwnershipDirectory).where(
            OwnershipDirectory.repository_id == repo.id, OwnershipDirectory.path_key == key(path)
        )
    )
    if row is None:
        if path:
            raise NotFound(f"directory {path!r} has no counted lines at the analysed head of repository {repo.id}")
        return out
    out.files, out.lines, out.bot_lines = row.files, row.lines, row.bot_lines
    out.unattributed_lines, out.bus_factor = row.unattributed_lines, row.bus_factor
    here = (OwnershipLine.repository_id == repo.id, OwnershipLine.path_key == key(path))
    out.owners_total = session.scalar(select(func.count()).select_from(OwnershipLine).where(*here)) or 0
    out.owners = [
        PageOwner(dev_id, name, bot, n, _share(n, row.lines))
        for dev_id, name, bot, n in session.execute(
            select(Developer.id, Developer.name, Developer.is_bot, OwnershipLine.lines)
            .join(OwnershipLine, OwnershipLine.developer_id == Developer.id)
            .where(*here)
            .order_by(OwnershipLine.lines.desc(), Developer.name, Developer.id)
            .limit(owners)
        )
    ]
    children = (OwnershipDirectory.repository_id == repo.id, OwnershipDirectory.parent_key == key(path))
    out.directories_total = session.scalar(select(func.count()).select_from(OwnershipDirectory).where(*children)) or 0
    out.pages = max(1, -(-out.directories_total // per_page))
    out.page = min(max(page, 1), out.pages)
    found = session.scalars(
        select(OwnershipDirectory)
        .where(*children)
        .order_by(OwnershipDirectory.lines.desc(), OwnershipDirectory.path)
        .offset((out.page - 1) * per_page)
        .limit(per_page)
    )
    out.directories = [
        Subdirectory(d.path, d.path.rsplit("/", 1)[-1], d.files, d.lines, d.bus_factor, _share(d.lines, row.lines))
        for d in found
    ]
    _top_owners(session, repo.id, out.directories)
    return out


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _top_owners(session: Session, repository_id: str, directories: list[Subdirectory]) -> None:
    """Each subdirectory's largest owner (most lines, then name), in one query for the page."""
    by_key = {key(d.path): d for d in directories}
    if not by_key:
        return
    best: dict[str, tuple[int, str]] = {}
    for path_key, name, n in session.execute(
        select(OwnershipLine.path_key, Developer.name, OwnershipLine.lines)
        .join(Developer, Developer.id == OwnershipLine.developer_id)
        .where(OwnershipLine.repository_id == repository_id, OwnershipLine.path_key.in_(list(by_key)))
    ):
        seen = best.get(path_key)
        if seen is None or (-n, name) < (-seen[0], seen[1]):
            best[path_key] = (n, name)
    for path_key, (n, name) in best.items():
        directory = by_key[path_key]
        directory.top_owner, directory.top_share = name, _share(n, directory.lines)
