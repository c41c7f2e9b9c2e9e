"""What a request carries: its media type, parsed one way everywhere, and text that no database can store
(NUL characters, unpaired surrogates), refused in words before any handler sees it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from gitproductivity.core.errors import ValidationFailed

# --- media types --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MediaType:
    """A parsed `Content-Type` (or one `Accept` range): type and subtype lower-cased (RFC 9110 §8.3.1: they are
    case-insensitive), parameter names lower-cased, quoted values unquoted."""

    type: str
    subtype: str
    params: dict[str, str]

    @property
    def essence(self) -> str:
        return f"{self.type}/{self.subtype}"

    @property
    def is_json(self) -> bool:
        return self.type == "application" and (self.subtype == "json" or self.subtype.endswith("+json"))

    @property
    def is_form(self) -> bool:
        return self.essence in ("application/x-www-form-urlencoded", "multipart/form-data")


_PARAM = re.compile(r';\s*+([^\s;=]++)\s*+=\s*+("(?:[^"\\]|\\.)*+"|[^;]*+)')
_QUOTED_PAIR = re.compile(r"\\(.)")


def media_type(value: str | None) -> MediaType | None:
    """`Application/JSON ; Charset="UTF-8"` → `MediaType("application", "json", {"charset": "UTF-8"})`.

    None when there is no header or it is not `type/subtype`: the one parser every branch on a media type uses.
    """
    if not value:
        return None
    essence, _, rest = value.partition(";")
    kind, slash, subtype = essence.strip().lower().partition("/")
    if not slash or not kind or not subtype or any(c.isspace() for c in kind + subtype):
        return None
    params: dict[str, str] = {}
    for name, raw in _PARAM.findall(";" + rest):
        raw = raw.strip()
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = _QUOTED_PAIR.sub(r"\1", raw[1:-1])
        params.setdefault(name.lower(), raw)
    return MediaType(kind, subtype, params)


def accepts(accept_header: str | None, essence: str) -> bool:
    """Whether an `Accept` header names `essence` (e.g. `text/html`) explicitly, in any letter case."""
    ranges = (media_type(part) for part in (accept_header or "").split(","))
    return any(
        r is not None and r.essence == essence and r.params.get("q", "1").strip() not in ("0", "0.0") for r in ranges
    )


# --- text every request may carry ---------------------------------------------------------------------------

#: NUL cannot be stored in PostgreSQL text and is never meaningful input; lone surrogates cannot be encoded as
#: UTF-8 (a JSON body can spell them as `"\\ud800"`), so neither database can store them.
_UNSTORABLE = re.compile("[\\x00\\ud800-\\udfff]")


def _unstorable(value: str) -> str | None:
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "control characters (a NUL character)"
    return "unpaired surrogates (text that is not valid Unicode)"


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string in a parsed JSON document (keys included) with where it is, without recursion."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            yield where, item
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{where}.{key}" if where else str(key)
                yield child_path, str(key)
                stack.append((child, child_path))
        elif isinstance(item, list):
            stack.extend((child, f"{where}.{i}" if where else str(i)) for i, child in enumerate(item))


def _refuse(where: str, field: str, what: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field}: must not contain {what}, found in {where}",
        details=[{"field": field, "message": f"This field must not contain {what}."}],
    )


def _check_pairs(pairs: Iterable[tuple[str, Any]], where: str) -> None:
    for name, value in pairs:
        for text_ in (name, value):
            if isinstance(text_, str) and (what := _unstorable(text_)) is not None:
                raise _refuse(where, _printable(name), what)


def _printable(name: str) -> str:
    return _UNSTORABLE.sub("\ufffd", name)[:100]


async def refuse_unstorable_text(request: Request) -> None:
    """App-wide dependency: a NUL character or an unpaired surrogate anywhere in the query string, a form or a
    JSON body is refused with 422 in words, before any handler (or database) sees it. Without this, PostgreSQL
    answers NUL with an error and both databases fail to encode surrogates: a 500. (Ids in paths are `PathId`:
    malformed ones are 404 like unknown ones; the pages' `guard` refuses NUL in their paths.)

    The body is read through the request's own cache, so handlers parse it once more from memory only.
    """
    _check_pairs(request.query_params.multi_items(), "the query string")
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    kind = media_type(request.headers.get("content-type"))
    if kind is not None and kind.is_form:
        form = await request.form()
        _check_pairs(form.multi_items(), "the form")
    elif kind is None or kind.is_json:
        if not await request.body():
            return
        try:
            document = await request.json()  # cached: the route's own parsing (FastAPI's) is the same one
        except (ValueError, RecursionError):
            return  # not JSON: the route's own validation answers in words (400 invalid_json or 422)
        for where, value in _strings(document, ""):
            if (what := _unstorable(value)) is not None:
                raise _refuse("the body", _printable(where) or "body", what)
