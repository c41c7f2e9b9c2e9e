"""Start-up wiring: what one part of the package must hear from another is connected here, once.

`events` knows nothing of its listeners; webhooks subscribes its fan-out (one delivery per subscribed, enabled
endpoint, in the event's transaction). Every entry point calls `install()`: the app, the worker, the CLI.
"""

from __future__ import annotations

from gitproductivity.events import service as events
from gitproductivity.webhooks import queue


def install() -> None:
    """Register every in-transaction event subscriber (idempotent)."""
    events.subscribe(queue.fan_out)
