"""Keyset pagination over the time-sortable ids."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel

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
