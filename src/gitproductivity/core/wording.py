"""Validation errors in plain words: the one wording of pydantic's errors, for the API's error shape
(`core.http`) and the pages' forms (`web.helpers.field_errors`).

`"String should have at least 3 characters"` becomes `"at least 3 characters"`, and with its field,
`"Name: at least 3 characters"`. Unknown kinds keep pydantic's sentence, lower-cased, without its
`"Value error, "` prefix; never an exception class name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

_ACRONYMS = {"url": "URL", "id": "ID", "ids": "IDs", "utc": "UTC", "json": "JSON"}
_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie", "form"})


def _n(value: Any, one: str, many: str) -> str:
    return f"{value} {one if value == 1 else many}"


def _num(value: Any) -> str:
    """`0.0` -> `0`, `0.5` -> `0.5`, `10000` -> `10000`: bounds as people write them."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _choices(ctx: Mapping[str, Any]) -> str:
    expected = str(ctx.get("expected", "")).replace("'", '"')
    return f"one of {expected}" if expected else "one of the listed values"


_SIMPLE = {
    "missing": "required",
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "extra_forbidden": "is not a known field",
    "string_pattern_mismatch": "is not in the expected format",
    "url_parsing": "must be a URL (https://…)",
    "url_type": "must be a URL (https://…)",
    "url_scheme": "must be an http or https URL",
    "datetime_parsing": "must be a date and time, like 2026-01-31T09:00:00Z",
    "datetime_from_date_parsing": "must be a date and time, like 2026-01-31T09:00:00Z",
    "datetime_type": "must be a date and time, like 2026-01-31T09:00:00Z",
    "date_parsing": "must be a date, like 2026-01-31",
    "date_from_datetime_parsing": "must be a date, like 2026-01-31",
    "json_invalid": "is not valid JSON",
    "uuid_parsing": "is not a valid identifier",
}


#: Length errors: (words, the context key with the limit, the unit counted).
_LENGTHS = {
    "string_too_short": ("at least", "min_length", "character"),
    "string_too_long": ("at most", "max_length", "character"),
    "too_short": ("at least", "min_length", "item"),
    "too_long": ("at most", "max_length", "item"),
}
#: Number bounds: (words, the context key with the bound).
_BOUNDS = {
    "greater_than_equal": ("at least", "ge"),
    "greater_than": ("more than", "gt"),
    "less_than_equal": ("at most", "le"),
    "less_than": ("less than", "lt"),
}


def plain_message(err: Mapping[str, Any]) -> str:
    """One pydantic error (`ValidationError.errors()` item) in plain words, without its field."""
    kind = str(err.get("type", ""))
    ctx: Mapping[str, Any] = err.get("ctx") or {}
    if kind in _SIMPLE:
        return _SIMPLE[kind]
    if kind == "string_too_short" and ctx.get("min_length", 1) == 1:
        return "required"
    if kind in _LENGTHS:
        words, key, unit = _LENGTHS[kind]
        return f"{words} {_n(ctx.get(key), unit, unit + 's')}"
    if kind in _BOUNDS:
        words, key = _BOUNDS[kind]
        return f"{words} {_num(ctx.get(key))}"
    if kind in ("literal_error", "enum"):
        return _choices(ctx)
    message = str(err.get("msg") or "is not valid")
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return (message[:1].lower() + message[1:]).rstrip(".")


def field_path(loc: Sequence[Any]) -> str:
    """`("body", "events", 0)` -> `"events.0"`: where the value was, without the request part it came in."""
    parts = [str(p) for p in loc if p not in _LOCATIONS]
    return ".".join(parts) or (str(loc[0]) if loc else "")


def field_label(field: str) -> str:
    """`"event_filter.all"` -> `"Event filter"` (the field a person typed in; list positions left out)."""
    head = next((p for p in field.split(".") if p and not p.isdigit()), field)
    words = " ".join(_ACRONYMS.get(w, w) for w in head.replace("_", " ").split())
    return (words[:1].upper() + words[1:]) if words else "Request"


def sentence(field: str, message: str) -> str:
    """`"Name: at least 3 characters"`."""
    return f"{field_label(field)}: {message}" if field else message[:1].upper() + message[1:]
