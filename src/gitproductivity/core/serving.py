"""uvicorn's HTTP/1.1 protocol with deadlines for slow clients and a cap on open connections.

uvicorn bounds only the idle time between requests (`timeout_keep_alive`) and the size of a request's headers
(h11's `max_incomplete_event_size`, 16 KiB); a client that sends its headers, or its body, one byte at a time
holds its connection (a socket, a file descriptor, memory) for as long as it likes. So, per connection:

- the headers of a request must be complete within `header_timeout` seconds of the connection being made (or of
  the previous response, on a kept-alive connection); otherwise the answer is `408` and the connection closes;
- the body must be complete within `body_timeout` seconds of the headers; otherwise the application sees the
  client disconnect, the answer is `408` (when nothing was answered yet) and the connection closes;
- over `max_connections` open connections, a new one is answered `503` with `Retry-After` and closed at once,
  before it can read anything.

A request being handled (a long-poll, say) is not limited here: these deadlines cover only what the client sends.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

_HEADERS = "headers"
_BODY = "body"


def _plain(status: bytes, message: str, extra: bytes = b"") -> bytes:
    body = message.encode()
    return (
        b"HTTP/1.1 "
        + status
        + b"\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
        + extra
        + b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


class DeadlineProtocol(H11Protocol):
    """Configured by subclassing (see `protocol_class`): uvicorn instantiates the class itself, per connection."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = 1000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._phase: str | None = None

    # --- the connection cap -----------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            log.warning(
                "refused a connection: %d open connections (GITPRODUCTIVITY_HTTP_MAX_CONNECTIONS)",
                len(self.connections) - 1,
            )
            self.connections.discard(self)
            transport.write(_plain(b"503 Service Unavailable", "too many open connections\n", b"Retry-After: 1\r\n"))
            transport.close()
            return
        self._arm(_HEADERS)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    # --- the deadlines ----------------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow_the_request()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._follow_the_request()

    def _follow_the_request(self) -> None:
        """Which deadline applies now, from h11's view of the client: waiting for headers, for a body, or none."""
        state = self.conn.their_state
        if state is h11.IDLE and self.conn.our_state is h11.IDLE:
            self._arm(_HEADERS)
        elif state is h11.SEND_BODY:
            self._arm(_BODY)
        elif state is not h11.IDLE:
            self._disarm()

    def _arm(self, phase: str) -> None:
        if self._phase == phase:
            return  # keeps running from when this phase began
        self._disarm()
        self._phase = phase
        delay = self.header_timeout if phase == _HEADERS else self.body_timeout
        self._deadline = self.loop.call_later(delay, self._expired, phase)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._phase = None

    def _expired(self, phase: str) -> None:
        self._deadline = None
        self._phase = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        answered = cycle is not None and cycle.response_started if phase == _BODY else False
        if phase == _BODY and cycle is not None:
            cycle.disconnected = True  # the application's receive() now says the client went away
            cycle.message_event.set()
        if not answered:
            what = "request headers" if phase == _HEADERS else "request body"
            seconds = self.header_timeout if phase == _HEADERS else self.body_timeout
            self.transport.write(_plain(b"408 Request Timeout", f"the {what} took longer than {seconds:g} s\n"))
        self.transport.close()


def protocol_class(*, header_timeout: float, body_timeout: float, max_connections: int) -> type[DeadlineProtocol]:
    """A `DeadlineProtocol` with these limits, for `uvicorn.Config(http=...)`."""
    return type(
        "ConfiguredDeadlineProtocol",
        (DeadlineProtocol,),
        {"header_timeout": header_timeout, "body_timeout": body_timeout, "max_connections": max_connections},
    )
