"""`gitproductivity listen`: develop against webhooks without a public URL.

Follows the organisation's event feed over HTTP with long-polling (`GET /v1/events?after=…&wait=…`) and POSTs
each event to a local URL, signed exactly like a real delivery but with a listen secret of its own. The feed is
cursor-based, so after a lost connection or a server restart it resumes after the last event it forwarded:
nothing is skipped and nothing is sent twice. A forward that fails is reported and not retried (run again with
`--after` to replay).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

import gitproductivity
from gitproductivity import receiver
from gitproductivity.core.ids import new_id

USER_AGENT = f"GitProductivity-Webhooks/{gitproductivity.__version__}"
PAGE_SIZE = 100


class ListenError(Exception):
    """A problem that retrying will not fix (bad key, unknown cursor, bad arguments)."""


class _Unavailable(Exception):
    """The server cannot be reached right now (restarting, network down, 5xx): retry."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx is the receiver's answer, as for real deliveries (redirects are not followed)."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


class Listener:
    def __init__(
        self,
        *,
        api_url: str,
        api_key: str,
        forward_to: str,
        secret: str,
        types: Sequence[str] = (),
        after: str | None = None,
        wait: float = 25.0,
        forward_timeout: float = 30.0,
        out: Callable[[str], None] = print,
    ) -> None:
        self.api_url = _http_url(api_url, "--api-url", "http://127.0.0.1:8000").rstrip("/")
        self.api_key = api_key
        self.forward_to = _http_url(forward_to, "--forward-to", "http://localhost:3000/webhooks")
        self.secret = secret
        self.types = list(types)
        self.cursor = after
        self.wait = wait
        self.forward_timeout = forward_timeout
        self.out = out
        self.stop = threading.Event()

    def run(self) -> None:
        """Forward events until `stop` is set. Raises `ListenError` for problems that waiting will not fix."""
        if self.cursor is None:
            self.cursor = self._retrying(self._newest_cursor)
            self.out(f"Following new events (after {self.cursor or 'the start'}).")
        else:
            self.out(f"Replaying every event after {self.cursor}, then following new ones.")
        while not self.stop.is_set():
            page = self._retrying(self._next_page)
            if page is None:
                return
            for envelope in page["data"]:
                self.out(self.forward(envelope))
                self.cursor = envelope["id"]  # only after the forward: a crash re-sends, never skips

    def forward(self, envelope: dict[str, Any]) -> str:
        """POST one event to the local URL; return the line to print."""
        body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        headers = receiver.sign(body, self.secret, event_id=envelope["id"], event_type=envelope["type"])
        headers.update({"X-GitProductivity-Delivery": new_id("dlv"), "User-Agent": USER_AGENT})
        request = urllib.request.Request(self.forward_to, data=body, headers=headers, method="POST")  # noqa: S310 (http/https checked)
        started = time.perf_counter()
        try:
            with _opener.open(request, timeout=self.forward_timeout) as response:
                status: int | None = response.status
                response.read(65536)
            outcome = f"{status}"
        except urllib.error.HTTPError as exc:
            status, outcome = exc.code, f"{exc.code}"
            exc.close()
        except (urllib.error.URLError, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            status, outcome = None, f"failed: {reason}"
        elapsed = (time.perf_counter() - started) * 1000
        mark = "ok" if status is not None and 200 <= status < 300 else "!!"
        stamp = time.strftime("%H:%M:%S")
        return f"{stamp}  {mark} {envelope['type']:<24} {envelope['id']}  -> {outcome}  {elapsed:.0f} ms"

    # --- the feed ---------------------------------------------------------------------------------------

    def _newest_cursor(self) -> str | None:
        page = self._get({"newest": "true", "limit": "1"})
        cursor = page.get("next_cursor")
        return str(cursor) if cursor else None

    def _next_page(self) -> dict[str, Any]:
        params = {"limit": str(PAGE_SIZE), "wait": str(self.wait)}
        if self.cursor:
            params["after"] = self.cursor
        if self.types:
            params["type"] = ",".join(self.types)
        return self._get(params)

    def _get(self, params: dict[str, str]) -> dict[str, Any]:
        url = f"{self.api_url}/v1/events?{urllib.parse.urlencode(params)}"
        headers = {"Authorization": f"Bearer {self.api_key}", "User-Agent": USER_AGENT}
        request = urllib.request.Request(url, headers=headers)  # noqa: S310 (http/https checked)
        try:
            with urllib.request.urlopen(request, timeout=self.wait + 30) as response:  # noqa: S310
                result: dict[str, Any] = json.loads(response.read())
                return result
        except urllib.error.HTTPError as exc:
            message = _error_message(exc)
            if exc.code >= 500 or exc.code == 429:
                raise _Unavailable(f"{exc.code} {message}") from None
            if exc.code == 401:
                raise ListenError(f"the server refused the API key ({message})") from None
            raise ListenError(f"the server answered {exc.code}: {message}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise _Unavailable(str(reason) or type(exc).__name__) from None

    def _retrying(self, call: Callable[[], Any]) -> Any:
        """Call until the server answers, backing off up to 5 s; None if stopped meanwhile."""
        delay, announced = 0.25, False
        while not self.stop.is_set():
            try:
                result = call()
            except _Unavailable as exc:
                if not announced:
                    self.out(f"Connection to {self.api_url} lost ({exc}); retrying…")
                    announced = True
                self.stop.wait(delay)
                delay = min(delay * 2, 5.0)
                continue
            if announced:
                self.out(f"Reconnected; resuming after {self.cursor or 'the start'}.")
            return result
        return None


def _error_message(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read() or b"{}")
        return str(body["error"]["message"])
    except (ValueError, KeyError, TypeError, OSError):
        return str(exc.reason)
    finally:
        exc.close()


def _http_url(url: str, option: str, example: str) -> str:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ListenError(f"{option} must be an http(s) URL such as {example}, not {url!r}")
    return url
