"""The destination guard (SSRF): webhooks may only reach public addresses unless settings allow more.

The check runs on the addresses actually connected to: `client.HttpClient` resolves names itself and keeps
only the addresses `Guard.allows` (so a name that resolves, or re-resolves, to 127.0.0.1 or 169.254.169.254
gets no connection: DNS rebinding gains nothing), then connects to exactly those; IP literals are checked
before connecting. `check_url` is the early check when an endpoint is saved. No proxy is ever used.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from gitproductivity.core.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class DestinationRefused(OSError):
    """The URL or its resolved address is not an allowed destination."""


class Guard:
    def __init__(self, *, allow_private: bool = False, allowed_networks: tuple[str, ...] = ()) -> None:
        self.allow_private = allow_private
        self.networks: list[Network] = [ipaddress.ip_network(n, strict=False) for n in allowed_networks]

    @classmethod
    def from_settings(cls, settings: Settings) -> Guard:
        return cls(
            allow_private=settings.webhook_allow_private_destinations,
            allowed_networks=settings.webhook_allowed_networks,
        )

    def allows(self, address: IPAddress | str) -> bool:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in net for net in self.networks):
            return True
        if self.allow_private:
            return not (ip.is_multicast or ip.is_unspecified)
        return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_link_local or ip.is_loopback)

    def check_url(self, url: str) -> None:
        """Refuse non-http(s) URLs and IP literals outside the allowed ranges (names are checked on resolve)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise DestinationRefused(f"only http and https URLs are allowed, not {parts.scheme or 'none'!r}")
        if not parts.hostname:
            raise DestinationRefused("the URL has no host")
        try:
            ip = ipaddress.ip_address(parts.hostname)
        except ValueError:
            return
        if not self.allows(ip):
            raise DestinationRefused(f"destination {ip} is a private or reserved address")
