"""The envelope's bytes: one function renders every body we sign, real events and test deliveries alike."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from gitproductivity.core.clock import isoformat_z


def render(event_id: str, event_type: str, created_at: datetime, data: dict[str, Any]) -> str:
    """`{"id", "type", "created_at", "data"}` as compact JSON, non-ASCII kept as UTF-8: what gets signed.

    `data` must already be JSON values (a payload's `model_dump(mode="json")`): anything else raises
    rather than being turned into some string.
    """
    envelope = {"id": event_id, "type": event_type, "created_at": isoformat_z(created_at), "data": data}
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)
