"""An endpoint's routing options: validation of its filter and extra headers, and trying a filter on an event.

Every error is reported at once, in the API's one error shape, each with the JSON path of the bad part.
"""

from __future__ import annotations

import re
from typing import Any

from gitproductivity.core.errors import ValidationFailed
from gitproductivity.events.types import OPERATIONAL_EVENT_TYPES
from gitproductivity.webhooks import filters

MAX_HEADERS = 20
MAX_HEADER_NAME = 64
MAX_HEADER_VALUE = 1024

#: RFC 9110 token characters.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
#: Visible ASCII, space and tab (no CR/LF: a value can never start a header of its own).
_VALUE = re.compile(r"^[\x20-\x7e\t]*$")

#: What a custom header can never set: our signature and delivery headers, the framing and hop-by-hop headers,
#: and Authorization (use `auth`, which is stored encrypted).
RESERVED = frozenset(
    {
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "authorization",
        "user-agent",
    }
)
RESERVED_PREFIX = "x-gitproductivity-"


def check_filter(spec: Any) -> dict[str, Any] | None:
    """A filter to store: `None` or `{}` clear it."""
    if spec is None or spec == {}:
        return None
    errors = filters.check(spec)
    if errors:
        details = [{"field": _path("filter", e.path), "message": e.message} for e in errors]
        raise ValidationFailed(
            "filter: " + "; ".join(f"{d['field']}: {d['message']}" for d in details[:5]), details=details
        )
    result: dict[str, Any] = spec
    return result


def _path(prefix: str, path: str) -> str:
    return prefix if path == "filter" else f"{prefix}.{path}"


def check_headers(headers: Any) -> dict[str, str] | None:
    """Extra headers to store: `None` or `{}` clear them. Names are kept as written, unique case-insensitively."""
    if headers is None or headers == {}:
        return None
    if not isinstance(headers, dict):
        raise ValidationFailed("headers: must be an object of names to values", details=[{"field": "headers"}])
    details = []
    if len(headers) > MAX_HEADERS:
        details.append({"field": "headers", "message": f"at most {MAX_HEADERS} headers"})
    seen: set[str] = set()
    for name, value in list(headers.items())[: MAX_HEADERS + 1]:
        field = f"headers.{name[:MAX_HEADER_NAME]}"
        lower = name.lower()
        if not _TOKEN.match(name) or len(name) > MAX_HEADER_NAME:
            details.append({"field": field, "message": f"a header name is 1 to {MAX_HEADER_NAME} token characters"})
        elif lower in RESERVED or lower.startswith(RESERVED_PREFIX):
            details.append({"field": field, "message": "reserved: set by the server (for Authorization use `auth`)"})
        elif lower in seen:
            details.append({"field": field, "message": "given twice (header names are case-insensitive)"})
        seen.add(lower)
        if not isinstance(value, str) or len(value) > MAX_HEADER_VALUE or not _VALUE.match(value):
            details.append({"field": field, "message": f"a value is up to {MAX_HEADER_VALUE} visible ASCII characters"})
    if details:
        raise ValidationFailed(
            "headers: " + "; ".join(f"{d['field']}: {d['message']}" for d in details[:5]), details=details
        )
    return {str(k): str(v) for k, v in headers.items()}


def rate_from_text(text: str) -> float | None:
    """A rate limit typed into a form: empty means none; the range is checked when it is saved."""
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        message = "a number of requests per second, like 50 or 0.5 (empty: no limit)"
        raise ValidationFailed(
            f"rate_limit_per_second: {message}", details=[{"field": "rate_limit_per_second", "message": message}]
        ) from None


def try_filter(*, spec: Any, subscribed: list[str], event: dict[str, Any]) -> tuple[bool, list[str], bool]:
    """(matches, failing conditions, type subscribed) for `event` against a filter (validated first)."""
    checked = check_filter(spec)
    kind = event.get("type")
    subscribed_type = isinstance(kind, str) and (
        kind in subscribed or ("*" in subscribed and kind not in OPERATIONAL_EVENT_TYPES)
    )
    failing = filters.explain(checked, event) if checked else []
    matches = filters.compile_(checked)(event)
    return matches, failing, subscribed_type
