"""The webhook HTTP client against raw servers on 127.0.0.1 that answer in every way HTTP/1.x allows (and some
it does not): framing, keep-alive and its races, oversized answers, TLS, the guard on the connected address."""

from __future__ import annotations

import asyncio
import base64
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from gitproductivity.webhooks import client as client_module
from gitproductivity.webhooks.client import ConnectionDropped, HttpClient, target
from gitproductivity.webhooks.guard import DestinationRefused, Guard
from gitproductivity.webhooks.sender import HttpSender, classify
from tests.conftest import require_program, run_async

LOOPBACK = Guard(allowed_networks=("127.0.0.0/8",))
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Server"], Awaitable[None]]


class Server:
    """A raw TCP server: `handler` reads requests and writes whatever bytes the test wants."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[tuple[bytes, bytes]] = []  # (head, body)
        self.server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> Server:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer, self)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
        )
        body = await reader.readexactly(length)
        self.requests.append((head, body))
        return head

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def answering(*responses: bytes, keep_open: bool = True) -> Handler:
    """Answer the server's n-th request with the n-th of `responses` (the last one repeats)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
        while True:
            await server.read_request(reader)
            writer.write(responses[min(len(server.requests) - 1, len(responses) - 1)])
            await writer.drain()
            if not keep_open:
                return

    return handler


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def run(coro: Awaitable[None]) -> None:
    run_async(lambda: asyncio.wait_for(coro, 20), timeout=60)


def test_request_on_the_wire_and_keep_alive() -> None:
    async def main() -> None:
        async with Server(answering(OK)) as server:
            http = HttpClient(guard=LOOPBACK, timeout=5)
            for i in range(5):
                body = b'{"n": %d}' % i
                response = await http.post(server.url("/hook?x=1"), body, {"X-Test": "yes"})
                assert (response.status, response.body) == (200, b"ok")
            await http.close()
        assert server.connections == 1, "five POSTs should share one keep-alive connection"
        head, body = server.requests[-1]
        lines = head.decode().split("\r\n")
        assert lines[0] == "POST /hook?x=1 HTTP/1.1"
        assert f"Host: 127.0.0.1:{server.port}" in lines
        assert "X-Test: yes" in lines
        assert f"Content-Length: {len(body)}" in lines
        assert body == b'{"n": 4}'

    run(main())


@pytest.mark.parametrize(
    ("answer", "status", "body"),
    [
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n3;ext=1\r\n!!!\r\n0\r\nX-T: 1\r\n\r\n",
            200,
            b"ok!!!",
        ),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx", 201, b"x"),
        (b"HTTP/1.1 204 No Content\r\n\r\n", 204, b""),
        (b"HTTP/1.1 500 Oops\r\ncontent-length: 4\r\n\r\nboom", 500, b"boom"),
        (b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 200, b""),  # no reason phrase
    ],
)
def test_framings(answer: bytes, status: int, body: bytes) -> None:
    async def main() -> None:
        async with Server(answering(answer, OK)) as server:
            http = HttpClient(guard=LOOPBACK, timeout=5)
            response = await http.post(server.url(), b"{}", {})
            assert (response.status, response.body) == (status, body)
            again = await http.post(server.url(), b"{}", {})  # the connection is still usable, in step
            assert (again.status, again.body) == (200, b"ok")
            await http.close()
        assert server.connections == 1

    run(main())


def test_body_until_close_and_connection_close_are_not_reused() -> None:
    async def main() -> None:
        until_close = b"HTTP/1.0 200 OK\r\n\r\nall of it"
        async with Server(answering(until_close, keep_open=False)) as server:
            http = HttpClient(guard=LOOPBACK, timeout=5)
            assert (await http.post(server.url(), b"{}", {})).body == b"all of it"
            assert (await http.post(server.url(), b"{}", {})).body == b"all of it"
            await http.close()
        assert server.connections == 2
        closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
        async with Server(answering(closing, keep_open=False)) as server:
            http = HttpClient(guard=LOOPBACK, timeout=5)
            for _ in range(3):
                assert (await http.post(server.url(), b"{}", {})).status == 200
            await http.close()
        assert server.connections == 3

    run(main())


def test_large_bodies_are_truncated_and_the_connection_dropped_not_drained() -> None:
    big = 10 * client_module.DRAIN_LIMIT
    answers = [
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % big + b"a" * big,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n" % big + b"b" * big + b"\r\n0\r\n\r\n",
    ]

    async def main() -> None:
        for answer, letter in zip(answers, b"ab", strict=True):
            async with Server(answering(answer, OK)) as server:
                http = HttpClient(guard=LOOPBACK, timeout=5)
                response = await http.post(server.url(), b"{}", {}, keep=100)
                assert response.body == bytes([letter]) * 100
                assert (await http.post(server.url(), b"{}", {})).body == b"ok"
                await http.close()
            assert server.connections == 2, "an oversized body closes the connection instead of draining it"

    run(main())


def test_idle_connection_closed_by_the_server_is_not_reused() -> None:
    async def one_request_per_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Server) -> None:
        await s.read_request(reader)
        writer.write(OK)  # keep-alive promised, but the server closes right after (an idle timeout race)
        await writer.drain()

    async def main() -> None:
        async with Server(one_request_per_connection) as server:
            http = HttpClient(guard=LOOPBACK, timeout=5)
            for _ in range(3):
                assert (await http.post(server.url(), b"{}", {})).status == 200
                await asyncio.sleep(0.05)
            await http.close()
        assert server.connections == 3
        assert len(server.requests) == 3

    run(main())


def test_a_reused_connection_dropped_without_an_answer_is_a_failed_try_not_a_second_post() -> None:
    async def answer_once_then_read_and_close(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Server
    ) -> None:
        await s.read_request(reader)
        writer.write(OK)
        await writer.drain()
        await s.read_request(reader)  # the whole second POST arrives; the receiver dies without answering

    async def main() -> None:
        async with Server(answer_once_then_read_and_close) as server:
            http = HttpClient(guard=LOOPBACK, timeout=5)
            assert (await http.post(server.url(), b"{}", {})).status == 200
            with pytest.raises(ConnectionDropped):
                await http.post(server.url(), b"{}", {})  # on the kept-alive connection
            await http.close()
        assert len(server.requests) == 2, "one POST per try: the dropped one is not sent again"

    run(main())


def test_a_connection_dropped_mid_answer_is_not_retried() -> None:
    async def main() -> None:
        half = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
        async with Server(answering(OK, half, keep_open=True)) as server:
            http = HttpClient(guard=LOOPBACK, timeout=5)
            assert (await http.post(server.url(), b"{}", {})).status == 200

            async def drop_after_half(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Server) -> None:
                await s.read_request(reader)
                writer.write(half)
                await writer.drain()

            server.handler = drop_after_half
            http2 = HttpClient(guard=LOOPBACK, timeout=5)
            with pytest.raises(ConnectionDropped):
                await http2.post(server.url(), b"{}", {})
            await http.close()
            await http2.close()
        assert len(server.requests) == 2, "a POST the server began answering is never sent twice"

    run(main())


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "not an HTTP/1.x status line"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed header line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"a" * (client_module.MAX_HEAD_BYTES + 10), "response headers longer"),
    ],
)
def test_malformed_answers_are_invalid_responses(answer: bytes, message: str) -> None:
    async def main() -> None:
        async with Server(answering(answer)) as server:
            sender = HttpSender.__new__(HttpSender)
            sender.client = HttpClient(guard=LOOPBACK, timeout=5)
            outcome = await sender.post(server.url(), b"{}", {})
            await sender.close()
        assert outcome.error_kind == "invalid_response"
        assert outcome.error is not None and message in outcome.error

    run(main())


def test_timeout_covers_a_slow_trickle() -> None:
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Server) -> None:
        await s.read_request(reader)
        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.05)

    async def main() -> None:
        async with Server(trickle) as server:
            http = HttpClient(guard=LOOPBACK, timeout=0.5)
            with pytest.raises(TimeoutError):
                await http.post(server.url(), b"{}", {})
            await http.close()

    run(main())


def test_credentials_in_the_url_become_basic_auth_and_paths_are_encoded() -> None:
    t = target("https://us%40er:p%3Ass@Example.COM/a b/%7E?q=1 2")
    assert (t.scheme, t.host, t.port, t.ip) == ("https", "example.com", 443, None)
    lines = t.head.decode().split("\r\n")
    assert lines[0] == "POST /a%20b/~?q=1+2 HTTP/1.1"  # as aiohttp and browsers send it
    assert "Host: example.com" in lines
    assert "Authorization: Basic " + base64.b64encode(b"us@er:p:ss").decode() in lines
    assert target("http://[::1]:8080/").head.startswith(b"POST / HTTP/1.1\r\nHost: [::1]:8080\r\n")
    assert target("http://[::1]:8080/").ip == "::1"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/",
        "http://2130706433:9/",
        "http://0x7f000001:9/",
        "http://0177.0.0.1:9/",
        "http://localhost:9/",
        "http://[::1]:9/",
        "http://[::ffff:127.0.0.1]:9/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "ftp://example.com/",
    ],
)
def test_the_guard_refuses_before_connecting(url: str) -> None:
    async def main() -> None:
        http = HttpClient(guard=Guard(), timeout=5)
        with pytest.raises(DestinationRefused):
            await http.post(url, b"{}", {})
        await http.close()

    run(main())


def test_a_name_resolving_to_a_refused_address_is_refused_and_an_allowed_one_connects() -> None:
    async def main() -> None:
        async with Server(answering(OK)) as server:
            refused = HttpClient(guard=Guard(), timeout=5)
            with pytest.raises(DestinationRefused, match="resolves only to refused addresses"):
                await refused.post(f"http://localhost:{server.port}/", b"{}", {})
            allowed = HttpClient(guard=LOOPBACK, timeout=5)  # ::1, if localhost has it, is dropped: 127.0.0.1 used
            assert (await allowed.post(f"http://localhost:{server.port}/", b"{}", {})).status == 200
            await refused.close()
            await allowed.close()
        assert server.connections == 1

    run(main())


def test_connection_refused_is_a_connection_error() -> None:
    async def main() -> None:
        async with Server(answering(OK)) as server:
            port = server.port
        http = HttpClient(guard=LOOPBACK, timeout=5)
        with pytest.raises(OSError) as caught:
            await http.post(f"http://127.0.0.1:{port}/", b"{}", {})
        url = f"http://127.0.0.1:{port}/"
        assert classify(caught.value, url) == (
            "connection_error",
            f"the receiver refused the connection (nothing listening on 127.0.0.1:{port})",
        )  # in words: no exception class name
        await http.close()

    run(main())


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [require_program("openssl", "openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_tls_checks_the_certificate_and_the_host_name(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))

    async def main() -> None:
        server = await asyncio.start_server(_tls_answer, "127.0.0.1", 0, ssl=server_context)
        port = server.sockets[0].getsockname()[1]
        try:
            ok = HttpClient(guard=LOOPBACK, timeout=5, ssl_context=trusting)
            assert (await ok.post(f"https://localhost:{port}/", b"{}", {})).status == 200
            wrong_name = HttpClient(guard=LOOPBACK, timeout=5, ssl_context=trusting)  # cert is for localhost only
            with pytest.raises(ssl.SSLError) as caught:
                await wrong_name.post(f"https://127.0.0.1:{port}/", b"{}", {})
            kind, words = classify(caught.value, f"https://127.0.0.1:{port}/")
            assert kind == "tls_error" and words.startswith("the receiver's TLS certificate was not accepted (")
            assert "Error" not in words and "_ssl.c" not in words
            untrusted = HttpClient(guard=LOOPBACK, timeout=5)  # the system's CAs do not know this certificate
            with pytest.raises(ssl.SSLError):
                await untrusted.post(f"https://localhost:{port}/", b"{}", {})
            for c in (ok, wrong_name, untrusted):
                await c.close()
        finally:
            server.close()

    run(main())


async def _tls_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        writer.write(OK)
        await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
        pass
    finally:
        writer.close()
