"""A small, real HTTP proxy for the egress-proxy tests, run as its own process: `python proxy_server.py LOG PORT
[USER:PASSWORD]`. It listens on 127.0.0.1:PORT (0: a free one; printed as `port N` on stdout), tunnels CONNECT and
forwards absolute-form requests, and appends one JSON line per request to LOG: the method, the target, and
whether the client's Proxy-Authorization matched. With USER:PASSWORD it answers 407 to requests without them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from urllib.parse import urlsplit


class Proxy:
    def __init__(self, log_path: str, credentials: str | None) -> None:
        self.log_path = log_path
        self.expected = None if credentials is None else "Basic " + base64.b64encode(credentials.encode()).decode()

    def log(self, **entry: object) -> None:
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        authorised = self.expected is None or headers.get("proxy-authorization") == self.expected
        self.log(method=method, target=target, authorised=authorised)
        if not authorised:
            writer.write(
                b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            await writer.drain()
            writer.close()
            return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            try:
                up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
            except OSError:
                writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                writer.close()
                return
            writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            await writer.drain()
        else:
            url = urlsplit(target)
            assert url.hostname is not None
            up_reader, up_writer = await asyncio.open_connection(url.hostname, url.port or 80)
            origin = (url.path or "/") + (f"?{url.query}" if url.query else "")
            kept = [line for line in lines[1:] if line and not line.lower().startswith("proxy-authorization:")]
            up_writer.write(("\r\n".join([f"{method} {origin} {version}", *kept]) + "\r\n\r\n").encode("latin-1"))
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copy bytes until either side closes. After a forwarded request the connection is a plain pipe: the
    client keeps it for the same destination only, so later requests on it go to the same place."""
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        sink.close()


async def main() -> None:
    proxy = Proxy(sys.argv[1], sys.argv[3] if len(sys.argv) > 3 else None)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", int(sys.argv[2]))
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())  # noqa: TID251 (a process of its own, not a test)
