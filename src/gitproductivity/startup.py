"""Start-up wiring: what one part of the package must hear from another is connected here, once.

`events` knows nothing of its listeners; webhooks subscribes its fan-out (one delivery per subscribed, enabled
endpoint, in the event's transaction). Worker liveness (`core.workers`) knows nothing of what workers claim;
pruning a dead worker hands back its deliveries and analyses through the hooks registered here. Developers know
nothing of teams or ownership: merging two developers moves team memberships and owned lines through the movers
registered here. Every entry
point calls `install()`: the app, the worker, the CLI.
"""

from __future__ import annotations

from gitproductivity.analysis import child, jobs, ownership_store
from gitproductivity.core import tracing, workers
from gitproductivity.developers import flows as developers
from gitproductivity.events import service as events
from gitproductivity.metrics import activity
from gitproductivity.teams import service as teams
from gitproductivity.webhooks import fanout, queue


def install() -> None:
    """Register every in-transaction event subscriber, and what a dead worker's pruning hands back (idempotent)."""
    events.subscribe(fanout.fan_out)
    events.read_along(fanout.READ_ALONG, fanout.ENABLED_HOOKS_JSON)  # its endpoints, read with each event's insert
    developers.on_merge("teams", teams.move_members)  # a merged developer's teams become the kept one's
    developers.on_merge("activity", activity.move_developer)  # and their languages and hours of the week
    developers.on_merge("ownership", ownership_store.move_developer)  # and their owned lines (summed)
    workers.on_prune("deliveries", queue.release_claims_of)
    workers.on_prune("analyses", jobs.release_claims_of)
    child.on_start(install)  # each analysis child process runs this same wiring first
    tracing.setup()  # OpenTelemetry, when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set
