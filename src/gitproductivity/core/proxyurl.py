"""The egress proxy's address (`GITPRODUCTIVITY_WEBHOOK_PROXY`), parsed once: where to connect, and the
`Proxy-Authorization` header its credentials make. Only `display` (host:port) ever appears in messages."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class ProxyAddress:
    host: str
    port: int
    authorization: str | None  # the Proxy-Authorization header's value, from the URL's user:password

    @property
    def display(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_proxy(url: str) -> ProxyAddress:
    """`http://[user:password@]host[:port]` (port 80 by default). ValueError in words, without the credentials."""
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        raise ValueError("the webhook proxy must be a URL like http://proxy.internal:4750") from None
    if parts.scheme != "http":
        raise ValueError(
            f"the webhook proxy must be an http:// URL (https destinations are tunnelled through it with CONNECT), "
            f"not {parts.scheme or 'none'!r}"
        )
    if not host:
        raise ValueError("the webhook proxy URL has no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("the webhook proxy URL must be only http://[user:password@]host:port")
    authorization = None
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(credentials.encode()).decode("ascii")
    return ProxyAddress(host=host, port=port or 80, authorization=authorization)
