"""Keyset pagination over the time-sortable ids (and opaque cursors for lists sorted otherwise)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from gitproductivity.core.errors import ValidationFailed

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    data: list[T]
    has_more: bool
    next_cursor: str | None


def page_of(items: list[T], *, limit: int) -> Page[T]:
    """`items` was fetched with `limit + 1` rows: the extra row only tells whether there is more."""
    has_more = len(items) > limit
    items = items[:limit]
    last = items[-1] if items else None
    next_cursor = getattr(last, "id", None) if has_more and last is not None else None
    return Page[T](data=items, has_more=has_more, next_cursor=next_cursor)


def page_from(items: Sequence[T], *, start: int, limit: int, cursor: Callable[[T], str]) -> Page[T]:
    """A page of a list computed whole and kept in its own order (per-developer totals, event types): `limit`
    items from `start`; `next_cursor` is `cursor(last item)` when more follow."""
    chunk = list(items[start : start + limit])
    has_more = start + limit < len(items)
    return Page[T](data=chunk, has_more=has_more, next_cursor=cursor(chunk[-1]) if has_more and chunk else None)


def encode_cursor(key: Sequence[Any]) -> str:
    """An opaque cursor for a list sorted by something other than ids: the last item's sort key, base64url JSON."""
    raw = json.dumps(list(key), separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, field: str = "after") -> list[Any]:
    """The sort key in a cursor from `encode_cursor`; anything else is a 422 in words."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:  # bad base64, bad UTF-8, bad JSON
        key = None
    if not isinstance(key, list):
        raise ValidationFailed(
            "invalid cursor", details=[{"field": field, "message": "pass the `next_cursor` of the previous page"}]
        )
    return key
