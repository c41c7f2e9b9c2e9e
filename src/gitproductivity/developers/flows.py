"""Work on developers that reaches into other domains: merging two developers moves their metrics.

Other domains that keep rows per developer (team memberships, ownership) register a mover with `on_merge` at
start-up (`gitproductivity.startup.install`): the merge runs each in its transaction, and developers never import
them.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from gitproductivity.core.errors import Conflict
from gitproductivity.core.ids import new_id, require_id
from gitproductivity.developers import service
from gitproductivity.developers.models import Developer, DeveloperEmail
from gitproductivity.events import service as events
from gitproductivity.metrics import service as metrics

#: What moves another domain's rows from a merged-away developer to the kept one: (session, source_id=, target_id=).
Mover = Callable[..., None]
_movers: dict[str, Mover] = {}


def on_merge(name: str, mover: Mover) -> None:
    """Register `mover(session, source_id=, target_id=)`, run by every merge (registering a name again replaces it)."""
    _movers[name] = mover


def merge(session: Session, *, organization_id: str, developer_id: str, other_id: str) -> Developer:
    """Fold `other_id` into `developer_id`: its emails become aliases, its metrics are added, its teams become
    the kept developer's too, and it is removed.

    Emits `metrics.updated` for each repository where the kept developer's totals changed (with
    `analysis_id: null`), then `developer.removed` for the merged-away developer.
    """
    if developer_id == other_id:
        raise Conflict("a developer cannot be merged into itself")
    for value in (developer_id, other_id):
        require_id(value, "dev", "developer")
    dev = service.get(session, organization_id=organization_id, developer_id=developer_id)
    other = service.get(session, organization_id=organization_id, developer_id=other_id)
    repo_ids = metrics.repositories_of(session, developer_id=other.id)
    before = {r: metrics.repository_totals(session, repository_id=r, developer_ids=[dev.id]) for r in repo_ids}
    for item in list(other.emails):
        other.emails.remove(item)
        session.flush()
        dev.emails.append(DeveloperEmail(id=new_id("dem"), organization_id=organization_id, email=item.email))
    session.flush()
    metrics.move_developer(session, source_id=other.id, target_id=dev.id)
    if not _movers:
        raise RuntimeError("no merge movers: call gitproductivity.startup.install() first")
    for mover in _movers.values():
        mover(session, source_id=other.id, target_id=dev.id)
    for repo_id in sorted(repo_ids):
        old = before[repo_id].get(dev.id, metrics.Totals())
        new = metrics.repository_totals(session, repository_id=repo_id, developer_ids=[dev.id])[dev.id]
        if not dev.is_bot:
            data = metrics.metrics_updated(dev, repository_id=repo_id, analysis_id=None, new=new, old=old)
            events.emit(session, organization_id=organization_id, data=data)
    service.remove(session, organization_id=organization_id, developer_id=other.id)
    return dev
