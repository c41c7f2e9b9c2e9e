"""One HTTP/1.1 connection of the webhook client (`webhooks.client`): an asyncio Protocol that buffers what arrives
and reads one response from it (Content-Length, chunked, or until close; informational 1xx skipped), keeping the
first `keep` bytes of the body and saying whether the connection can be reused.

Apart from the client so each stays small: the client decides where to connect and which connection to reuse; this
module only speaks HTTP/1.x on one connection, and keeps the TLS alert a server closed it with (a receiver that
requires a client certificate says so with one: `webhooks.sender` words it).
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

#: Response head (status line + headers) larger than this is refused.
MAX_HEAD_BYTES = 64 * 1024
#: A response body up to this size is read to the end so the connection can be reused; larger ones close it.
DRAIN_LIMIT = 64 * 1024


class InvalidResponse(Exception):
    """The server answered something that is not HTTP/1.x."""


class ConnectionDropped(ConnectionError):
    """The server closed the connection before a complete answer."""


class ClosedAfterHandshake(ConnectionDropped):
    """A new TLS connection closed before a byte of answer, without a TLS alert: what a server that requires a
    client certificate does when it gets none it accepts, if it does not say so (Python's asyncio servers)."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes  # the first `keep` bytes


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.closed = False
        self.waiter: asyncio.Future[None] | None = None
        self.idle_since = 0.0
        self.timed_out = False
        self.alert: ssl.SSLError | None = None  # the TLS alert the server closed with, if it sent one
        self.answered = False  # whether any byte came back on this connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.answered = True
        self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        # With TLS 1.3 a server checks the client certificate after the handshake, and says why it closes with an
        # alert ("certificate required", "unknown ca"): kept, so the failure says so instead of "dropped".
        if isinstance(exc, ssl.SSLError) and "ALERT" in str(exc.reason or ""):
            self.alert = exc
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def time_out(self) -> None:
        self.timed_out = True
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(TimeoutError("no complete answer within the timeout"))
        self.close()

    async def more(self) -> None:
        """Wait for more bytes; raise if the server has closed the connection or the deadline passed."""
        if self.timed_out:
            raise TimeoutError("no complete answer within the timeout")
        if self.closed:
            raise ConnectionDropped("the server closed the connection before a complete answer") from self.alert
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def read_response(self, keep: int) -> tuple[Response, bool]:
        """(the response, whether the connection can be reused)."""
        buf = self.buffer
        while True:
            end = buf.find(b"\r\n\r\n")
            while end < 0:
                if len(buf) > MAX_HEAD_BYTES:
                    raise InvalidResponse(f"response headers longer than {MAX_HEAD_BYTES} bytes")
                await self.more()
                end = buf.find(b"\r\n\r\n")
            lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
            del buf[: end + 4]
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not (len(parts[1]) == 3 and parts[1].isdigit()):
                raise InvalidResponse(f"not an HTTP/1.x status line: {lines[0][:100]!r}")
            status = int(parts[1])
            if 100 <= status < 200 and status != 101:
                continue  # informational (100 Continue, 103 Early Hints): the real answer follows
            break
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise InvalidResponse(f"malformed header line: {line[:100]!r}")
            value = value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        lower = {k.lower(): v for k, v in headers.items()}
        reusable = parts[0] == "HTTP/1.1" and "close" not in lower.get("connection", "").lower()
        if status == 101:
            raise InvalidResponse("the server switched protocols")
        if status in (204, 304):
            return Response(status, headers, b""), reusable
        if "chunked" in lower.get("transfer-encoding", "").lower():
            body, complete = await self._read_chunked(keep)
            return Response(status, headers, body), reusable and complete
        if "content-length" in lower:
            length_text = lower["content-length"].split(",")[0].strip()
            if not length_text.isdigit():
                raise InvalidResponse(f"bad Content-Length: {lower['content-length'][:40]!r}")
            length = int(length_text)
            wanted = length if length <= DRAIN_LIMIT else min(length, keep)
            while len(buf) < wanted:
                await self.more()
            body = bytes(buf[: min(wanted, keep)])
            del buf[:wanted]
            return Response(status, headers, body), reusable and wanted == length
        # No framing: the body runs until the server closes the connection.
        while not self.closed and len(buf) < keep:
            await self.more()
        body = bytes(buf[:keep])
        return Response(status, headers, body), False

    async def _read_chunked(self, keep: int) -> tuple[bytes, bool]:
        buf = self.buffer
        kept = bytearray()
        total = 0
        while True:
            end = buf.find(b"\r\n")
            while end < 0:
                if len(buf) > 1024:
                    raise InvalidResponse("chunk size line too long")
                await self.more()
                end = buf.find(b"\r\n")
            size_text = bytes(buf[:end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise InvalidResponse(f"bad chunk size {size_text[:20]!r}") from None
            del buf[: end + 2]
            if size == 0:
                break
            if total + size > DRAIN_LIMIT:  # too much to drain: keep what we need and drop the connection
                need = max(0, min(size, keep - len(kept)))
                while len(buf) < need and not self.closed:
                    await self.more()
                kept += buf[:need]
                return bytes(kept[:keep]), False
            while len(buf) < size + 2:
                await self.more()
            if len(kept) < keep:
                kept += buf[: min(size, keep - len(kept))]
            total += size
            del buf[: size + 2]
        while True:  # trailers, up to the empty line
            end = buf.find(b"\r\n")
            while end < 0:
                if len(buf) > MAX_HEAD_BYTES:
                    raise InvalidResponse("trailers too long")
                await self.more()
                end = buf.find(b"\r\n")
            line_empty = end == 0
            del buf[: end + 2]
            if line_empty:
                return bytes(kept), True
