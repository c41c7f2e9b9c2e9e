"""Keyset pagination over the time-sortable ids (and opaque cursors for lists sorted otherwise)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, or_

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


class CountedPage(Page[T], Generic[T]):
    """A page of a list that also says how many items the whole list has (with its filters applied)."""

    total: int


# --- sorted lists paged by keyset -------------------------------------------------------------------------------
# A list sorted by any of its columns pages exactly when every page starts strictly after the last row of the
# previous one in the full sort key, which ends in the (unique) id: rows that tie on the sorted column are then
# ordered by id, and no row is skipped or repeated, however many tie. The database does the sorting, the
# filtering and the limit, so a page costs the same at the first row and the 2,500th.


@dataclass(frozen=True)
class Sort:
    """`sort=` as parsed: the field and its direction (a leading `-` is descending)."""

    field: str
    descending: bool

    @property
    def text(self) -> str:
        return f"-{self.field}" if self.descending else self.field


def parse_sort(value: str | None, *, allowed: Sequence[str], default: str) -> Sort:
    """`name`, `-commits`, ...; anything else is a 422 that lists what can be sorted by."""
    text = (value or default).strip()
    descending = text.startswith("-")
    field = text[1:] if descending else text
    if field not in allowed:
        choices = ", ".join(allowed)
        raise ValidationFailed(
            f"cannot sort by {field!r}: sort by one of {choices}, with a leading - for descending order",
            details=[{"field": "sort", "message": f"one of {choices}, optionally with a leading -"}],
        )
    return Sort(field=field, descending=descending)


def keyset_order(keys: Sequence[tuple[ColumnElement[Any], bool]]) -> list[ColumnElement[Any]]:
    """ORDER BY for `(column, descending)` pairs (the last one must be unique: the id)."""
    return [column.desc() if descending else column.asc() for column, descending in keys]


def keyset_after(keys: Sequence[tuple[ColumnElement[Any], bool]], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after `values` in the order of `keys`: (a > x) or (a = x and b > y) or ..., each column in
    its own direction (a row-value comparison would need every column in the same direction)."""
    clauses = []
    for i, (column, descending) in enumerate(keys):
        beyond = column < values[i] if descending else column > values[i]
        clauses.append(and_(*[keys[j][0] == values[j] for j in range(i)], beyond))
    return or_(*clauses)


def sort_cursor(sort: Sort, values: Sequence[Any]) -> str:
    """The opaque cursor of a sorted list: the sort it belongs to, then the last row's sort key."""
    return encode_cursor([sort.text, *[v.isoformat() if isinstance(v, datetime) else v for v in values]])


def sort_cursor_values(cursor: str, sort: Sort, kinds: Sequence[type], *, field: str = "after") -> list[Any]:
    """The sort key in a cursor from `sort_cursor`, checked against the sort it is used with and the kinds of the
    key's values (`int`, `str`, `datetime`); `field` names the parameter in a 422."""
    key = decode_cursor(cursor, field=field)
    problem = None
    if not key or key[0] != sort.text:
        problem = "this cursor belongs to another sort order: pass the same `sort` as for the previous page"
    elif len(key) != len(kinds) + 1:
        problem = "pass the `next_cursor` of the previous page"
    values: list[Any] = []
    for kind, value in zip(kinds, key[1:], strict=False):
        if problem:
            break
        if kind is datetime and isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                problem = "pass the `next_cursor` of the previous page"
        if not problem and (type(value) is not kind or (isinstance(value, datetime) and value.tzinfo is None)):
            problem = "pass the `next_cursor` of the previous page"
        values.append(value)
    if problem:
        raise ValidationFailed("invalid cursor", details=[{"field": field, "message": problem}])
    return values
