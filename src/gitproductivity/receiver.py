"""Verify GitProductivity webhooks in one call: `event = verify(raw_body, headers, secret)`.

Standard library only, so a service that receives our webhooks needs nothing else installed (this file can even
be copied on its own). The framework helpers (`fastapi_webhook`, `flask_webhook`, `django_webhook`) import their
framework only when they are called.

Two signatures arrive with every delivery (see docs/webhooks.md):

- Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`): HMAC-SHA256 over
  `id.timestamp.body`, keyed with the base64-decoded part of the `whsec_…` secret. It covers the timestamp, so
  `verify` also rejects deliveries outside `tolerance` seconds (replays). Required by default.
- `X-GitProductivity-Signature: sha256=<hex>`: HMAC-SHA256 of the body keyed with the whole secret string, as
  the published Node example expects. It has no timestamp, so it cannot detect replays: `verify` accepts it
  alone only with `allow_legacy_signature=True` (else whoever strips the `webhook-*` headers turns replay
  protection off).

Always pass the RAW request body: JSON parsed and serialised again is not the same bytes and will not verify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, Protocol, TypeVar

__all__ = [
    "DEFAULT_TOLERANCE",
    "Event",
    "Idempotency",
    "IdempotencyStore",
    "MemoryStore",
    "SQLiteStore",
    "WebhookVerificationError",
    "django_webhook",
    "fastapi_webhook",
    "flask_webhook",
    "generate_secret",
    "sign",
    "verify",
]

DEFAULT_TOLERANCE = 300
SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret

Body = bytes | bytearray | memoryview | str
Headers = Mapping[str, str] | Iterable[tuple[Any, Any]] | Any
Secrets = str | Sequence[str]
SecretSource = Secrets | Callable[[], Secrets]
T = TypeVar("T")


class WebhookVerificationError(Exception):
    """The request is not a genuine, fresh GitProductivity webhook. Answer it with 4xx and do not act on it.

    `code` is one of: `missing_header`, `invalid_header`, `invalid_secret`, `stale_timestamp`,
    `invalid_signature`, `invalid_body`. The message never contains the secret.
    """

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Event:
    """A verified event. `raw` is the exact body that was signed; `data` depends on `type` (see the docs)."""

    id: str
    type: str
    created_at: datetime
    data: dict[str, Any]
    raw: bytes = field(repr=False)

    @property
    def is_test(self) -> bool:
        """True for `webhook.test` and for sample payloads (`data.test == true`): nothing real happened."""
        return self.type == "webhook.test" or self.data.get("test") is True


# --- verification ---------------------------------------------------------------------------------------------


def verify(
    body: Body,
    headers: Headers,
    secret: Secrets,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    allow_legacy_signature: bool = False,
) -> Event:
    """Check the Standard Webhooks signature and timestamp, and return the event.

    `secret` may be a list while you rotate: the delivery is accepted if any of them signed it.
    `headers` may be a dict, any Mapping (case-insensitive or not) or a list of (name, value) pairs.
    The `webhook-*` headers are required. `allow_legacy_signature=True` also accepts a delivery that carries only
    `X-GitProductivity-Signature`; that signature covers the body alone, so such a delivery can be replayed:
    turn it on only for a sender that cannot send the `webhook-*` headers, and dedupe on the event id.
    Raises `WebhookVerificationError` for any input that does not check out, and nothing else.
    """
    try:
        raw = _raw_body(body)
        secrets = _parse_secrets(secret)
        found = _lower_headers(headers)
        if any(name in found for name in _STANDARD) or not allow_legacy_signature:
            _verify_standard(raw, found, secrets, tolerance)
        else:
            _verify_legacy(raw, found, secrets)
        return _parse_event(raw)
    except WebhookVerificationError:
        raise
    except Exception as exc:  # a last guard: whatever a hostile request holds, the caller sees one exception type
        raise WebhookVerificationError(f"unreadable request ({type(exc).__name__})", code="invalid_body") from None


def sign(
    body: bytes, secret: Secrets, *, event_id: str, timestamp: int | None = None, event_type: str | None = None
) -> dict[str, str]:
    """The signature headers for `body`, as the server sends them (useful to test your own receiver).

    With several secrets (a rotation) the first is the current one: it alone makes `X-GitProductivity-Signature`,
    and each of them adds a `v1,` entry to `webhook-signature`.
    """
    secrets = _parse_secrets(secret)
    ts = int(time.time()) if timestamp is None else int(timestamp)
    current_text = secrets[0][0]
    headers = {
        "Content-Type": "application/json",
        "X-GitProductivity-Signature": "sha256=" + _hex_signature(current_text, body),
        "X-GitProductivity-Timestamp": str(ts),
        "webhook-id": event_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": " ".join(
            "v1," + base64.b64encode(_standard_digest(key, event_id, ts, body)).decode("ascii") for _, key in secrets
        ),
    }
    if event_type:
        headers["X-GitProductivity-Event"] = event_type
    return headers


def generate_secret() -> str:
    """A new signing secret in the `whsec_<base64 of 32 random bytes>` form the server uses."""
    return SECRET_PREFIX + base64.b64encode(os.urandom(32)).decode("ascii")


def _parse_secrets(secret: Secrets) -> list[tuple[str, bytes]]:
    """Each secret as (the string, its decoded key); malformed ones are refused rather than silently unmatched."""
    try:
        values = [secret] if isinstance(secret, str) else list(secret)
    except TypeError:
        values = [secret] if secret else []  # type: ignore[list-item]  # reported as malformed below
    if not values:
        raise WebhookVerificationError("no webhook secret configured", code="invalid_secret")
    parsed = []
    for position, value in enumerate(values, start=1):
        where = f"secret #{position}" if len(values) > 1 else "the secret"
        if not isinstance(value, str) or not value.startswith(SECRET_PREFIX):
            raise WebhookVerificationError(
                f"{where} is not a GitProductivity signing secret (expected whsec_…)", code="invalid_secret"
            )
        try:
            key = base64.b64decode(value[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise WebhookVerificationError(f"{where} is not valid base64 after whsec_", code="invalid_secret") from None
        if len(key) < 16:
            raise WebhookVerificationError(f"{where} is too short", code="invalid_secret")
        parsed.append((value, key))
    return parsed


_STANDARD = ("webhook-id", "webhook-timestamp", "webhook-signature")
_SIGNATURE_HEADERS = frozenset((*_STANDARD, "x-gitproductivity-signature"))
MAX_HEADER_LENGTH = 8192


def _raw_body(body: object) -> bytes:
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        try:
            return body.encode("utf-8")
        except UnicodeEncodeError:
            pass  # lone surrogates: no sender signed this text
    what = "text with lone surrogates" if isinstance(body, str) else type(body).__name__
    raise WebhookVerificationError(f"pass the raw request body (bytes), not {what}", code="invalid_body")


def _lower_headers(headers: Headers) -> dict[str, str]:
    """Lower-cased names (Mappings, werkzeug/Starlette headers, ASGI pairs); the signature headers must be single,
    printable ASCII and at most MAX_HEADER_LENGTH long."""
    items = headers.items() if hasattr(headers, "items") else headers
    result: dict[str, str] = {}
    try:
        for name, value in items:
            key = (name.decode("latin-1") if isinstance(name, bytes) else str(name)).lower()
            text = (value.decode("latin-1") if isinstance(value, bytes) else str(value)).strip()
            if key in _SIGNATURE_HEADERS:
                if key in result:
                    raise WebhookVerificationError(f"{key} header sent twice", code="invalid_header")
                if len(text) > MAX_HEADER_LENGTH or not (text.isascii() and text.isprintable()):
                    raise WebhookVerificationError(f"{key} header is not printable ASCII", code="invalid_header")
            result.setdefault(key, text)
    except (TypeError, ValueError):
        raise WebhookVerificationError("headers must be a mapping or name/value pairs", code="invalid_header") from None
    return result


def _standard_digest(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    message = msg_id.encode("utf-8") + b"." + str(timestamp).encode("ascii") + b"." + body
    return hmac.new(key, message, hashlib.sha256).digest()


def _hex_signature(secret_text: str, body: bytes) -> str:
    return hmac.new(secret_text.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _verify_standard(raw: bytes, headers: dict[str, str], secrets: list[tuple[str, bytes]], tolerance: int) -> None:
    missing = [name for name in _STANDARD if not headers.get(name)]
    if missing:
        legacy = " (X-GitProductivity-Signature alone is accepted only with allow_legacy_signature=True)"
        hint = legacy if "x-gitproductivity-signature" in headers and len(missing) == len(_STANDARD) else ""
        raise WebhookVerificationError(f"missing {', '.join(missing)} header{hint}", code="missing_header")
    msg_id, stamp = headers["webhook-id"], headers["webhook-timestamp"]
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise WebhookVerificationError("webhook-timestamp is not a unix time in seconds", code="invalid_header")
    timestamp = int(stamp)
    skew = time.time() - timestamp
    if abs(skew) > tolerance:
        when = f"{int(skew)} s old" if skew > 0 else f"{int(-skew)} s in the future"
        message = f"webhook-timestamp is {when} (tolerance {tolerance} s): a replay or a wrong clock"
        raise WebhookVerificationError(message, code="stale_timestamp")
    given = []
    for entry in headers["webhook-signature"].split():
        version, _, value = entry.partition(",")
        if version != "v1":
            continue
        try:
            given.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue  # one bad entry must not hide a good one next to it
    matched = False
    for _, key in secrets:
        expected = _standard_digest(key, msg_id, timestamp, raw)
        for candidate in given:
            matched |= hmac.compare_digest(expected, candidate)  # no early exit: timing says nothing
    if not matched:
        raise WebhookVerificationError(
            "webhook-signature does not match: wrong secret, or the body was changed", code="invalid_signature"
        )


def _verify_legacy(raw: bytes, headers: dict[str, str], secrets: list[tuple[str, bytes]]) -> None:
    header = headers.get("x-gitproductivity-signature")
    if not header:
        raise WebhookVerificationError(
            "missing signature: neither webhook-signature nor X-GitProductivity-Signature was sent",
            code="missing_header",
        )
    if not header.startswith("sha256="):
        raise WebhookVerificationError("X-GitProductivity-Signature must look like sha256=<hex>", code="invalid_header")
    given = header[len("sha256=") :].lower().encode("ascii")  # printable ASCII: checked with the headers
    matched = False
    for text, _ in secrets:
        matched |= hmac.compare_digest(_hex_signature(text, raw).encode("ascii"), given)
    if not matched:
        raise WebhookVerificationError(
            "X-GitProductivity-Signature does not match: wrong secret, or the body was changed",
            code="invalid_signature",
        )


def _parse_event(raw: bytes) -> Event:
    try:
        envelope = json.loads(raw)
    except (ValueError, RecursionError):
        raise WebhookVerificationError("the signed body is not JSON", code="invalid_body") from None
    if not isinstance(envelope, dict):
        raise WebhookVerificationError("the signed body is not an event envelope", code="invalid_body")
    event_id, event_type, created, data = (envelope.get(k) for k in ("id", "type", "created_at", "data"))
    if not (isinstance(event_id, str) and isinstance(event_type, str) and isinstance(data, dict)):
        raise WebhookVerificationError("the signed body lacks id, type or data", code="invalid_body")
    try:
        created_at = datetime.fromisoformat(str(created))
        created_at = created_at.replace(tzinfo=UTC) if created_at.tzinfo is None else created_at.astimezone(UTC)
    except (ValueError, OverflowError):
        raise WebhookVerificationError("created_at is not an ISO 8601 time", code="invalid_body") from None
    return Event(id=event_id, type=event_type, created_at=created_at, data=data, raw=raw)


# --- idempotency ----------------------------------------------------------------------------------------------


class IdempotencyStore(Protocol):
    """Remembers which event ids were handled. `claim` must be atomic: True for exactly one caller per id."""

    def claim(self, key: str) -> bool: ...

    def release(self, key: str) -> None: ...


class MemoryStore:
    """The last `max_size` ids in this process (an LRU); enough for one process and a few days of retries."""

    def __init__(self, max_size: int = 10_000) -> None:
        self.max_size = max_size
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, key: str) -> bool:
        with self._lock:
            if key in self._keys:
                self._keys.move_to_end(key)
                return False
            self._keys[key] = None
            while len(self._keys) > self.max_size:
                self._keys.popitem(last=False)
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._keys.pop(key, None)


class SQLiteStore:
    """Ids kept in a SQLite file, shared by every process (gunicorn workers) on one machine, kept across restarts."""

    def __init__(self, path: str | Path, *, max_age: float = 30 * 86400) -> None:
        self.max_age = max_age
        self._db = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self._claims = 0
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS processed_events (id TEXT PRIMARY KEY, at REAL NOT NULL)")

    def claim(self, key: str) -> bool:
        now = time.time()
        with self._lock:
            inserted = self._db.execute(
                "INSERT OR IGNORE INTO processed_events (id, at) VALUES (?, ?)", (key, now)
            ).rowcount
            self._claims += 1
            if self._claims % 1000 == 0:  # now and then, forget ids older than any retry could be
                self._db.execute("DELETE FROM processed_events WHERE at < ?", (now - self.max_age,))
        return inserted == 1

    def release(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM processed_events WHERE id = ?", (key,))

    def close(self) -> None:
        with self._lock:
            self._db.close()


class Idempotency:
    """Process each event once, although deliveries are at-least-once (retries, redeliveries, a lost 2xx).

        seen = Idempotency(SQLiteStore("webhooks.db"))
        with seen.once(event.id) as first:
            if first:
                handle(event)

    If the block raises, the id is released so the retry of that delivery is processed again.
    """

    def __init__(self, store: IdempotencyStore | None = None) -> None:
        self.store: IdempotencyStore = store if store is not None else MemoryStore()

    @contextmanager
    def once(self, event_id: str) -> Iterator[bool]:
        first = self.store.claim(event_id)
        try:
            yield first
        except BaseException:
            if first:
                self.store.release(event_id)
            raise

    def handle(self, event: Event, handler: Callable[[Event], object]) -> bool:
        """Run `handler(event)` unless this event id was already handled; True if it ran."""
        with self.once(event.id) as first:
            if first:
                handler(event)
        return first


# --- framework integrations (each imports its framework lazily) ----------------------------------------------


def _secrets(source: SecretSource) -> Secrets:
    return source() if callable(source) else source


def _error_body(exc: WebhookVerificationError) -> dict[str, Any]:
    return {"error": {"code": exc.code, "message": str(exc), "details": None}}


def fastapi_webhook(
    secret: SecretSource, *, tolerance: int = DEFAULT_TOLERANCE, allow_legacy_signature: bool = False
) -> Callable[..., Awaitable[Event]]:
    """A FastAPI dependency that reads the raw body and returns the verified `Event` (401 if it does not verify).

    @app.post("/webhooks")
    async def receive(event: Annotated[Event, Depends(fastapi_webhook(SECRET))]) -> dict[str, bool]: ...

    `secret` may be a callable returning the secret(s), read on each request. The options are `verify`'s.
    """
    from fastapi import HTTPException, Request

    options: dict[str, Any] = {"tolerance": tolerance, "allow_legacy_signature": allow_legacy_signature}

    async def dependency(request: Request) -> Event:
        body = await request.body()
        try:
            return verify(body, request.headers, _secrets(secret), **options)
        except WebhookVerificationError as exc:
            raise HTTPException(status_code=401, detail=str(exc)) from None

    dependency.__annotations__ = {"request": Request, "return": Event}  # resolvable without this module's imports
    return dependency


def flask_webhook(
    secret: SecretSource, *, tolerance: int = DEFAULT_TOLERANCE, allow_legacy_signature: bool = False
) -> Callable[[Callable[..., T]], Callable[..., Any]]:
    """A Flask view decorator: the view gets the verified `Event` as its first argument; 401 JSON otherwise."""
    options: dict[str, Any] = {"tolerance": tolerance, "allow_legacy_signature": allow_legacy_signature}

    def decorator(view: Callable[..., T]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from flask import jsonify, request

            try:
                event = verify(request.get_data(cache=True), request.headers, _secrets(secret), **options)
            except WebhookVerificationError as exc:
                return jsonify(_error_body(exc)), 401
            return view(event, *args, **kwargs)

        return wrapper

    return decorator


def django_webhook(
    secret: SecretSource, *, tolerance: int = DEFAULT_TOLERANCE, allow_legacy_signature: bool = False
) -> Callable[[Callable[..., T]], Callable[..., Any]]:
    """A Django view decorator: POST only, CSRF-exempt (the signature is the proof), `view(request, event, ...)`."""
    options: dict[str, Any] = {"tolerance": tolerance, "allow_legacy_signature": allow_legacy_signature}

    def decorator(view: Callable[..., T]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
            from django.http import HttpResponseNotAllowed, JsonResponse

            if request.method != "POST":
                return HttpResponseNotAllowed(["POST"])
            try:
                event = verify(request.body, request.headers, _secrets(secret), **options)
            except WebhookVerificationError as exc:
                return JsonResponse(_error_body(exc), status=401)
            return view(request, event, *args, **kwargs)

        wrapper.csrf_exempt = True  # type: ignore[attr-defined]  # what django's @csrf_exempt sets
        return wrapper

    return decorator
