"""The destination guard (SSRF): webhooks may only reach public addresses unless settings allow more.

The check runs on the addresses actually connected to: `client.HttpClient` resolves names itself and keeps
only the addresses `Guard.allows` (so a name that resolves, or re-resolves, to 127.0.0.1 or 169.254.169.254
gets no connection: DNS rebinding gains nothing), then connects to exactly those. IP literals are judged in
every spelling the C library accepts (`127.1`, `2130706433`, `0x7f000001`, `0177.0.0.1`), and IPv6 addresses
that stand for an IPv4 address (`::ffff:a.b.c.d`, NAT64, 6to4) by that IPv4 address. `check_url` is the early
check when an endpoint is saved. No proxy is ever used.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from gitproductivity.core.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class DestinationRefused(OSError):
    """The URL or its resolved address is not an allowed destination."""


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (`::ffff:a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4
    `2002:aabb:ccdd::`): such addresses are judged by the IPv4 address they reach."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def literal_address(host: str) -> IPAddress | None:
    """The address a host names by itself, in every spelling the C library connects to: `127.0.0.1`, but also
    `127.1`, `2130706433`, `0x7f000001`, `0177.0.0.1` and `127.0.0.1.`. None for a DNS name."""
    host = host.strip("[]")
    candidates = [host, host[:-1]] if host.endswith(".") else [host]
    for candidate in candidates:
        try:
            return ipaddress.ip_address(candidate)
        except ValueError:
            pass
        try:
            return ipaddress.IPv4Address(socket.inet_aton(candidate))
        except OSError:
            pass
    return None


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
        ip = _embedded_ipv4(ip) or ip
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
        ip = literal_address(parts.hostname)
        if ip is None:
            return
        if not self.allows(ip):
            raise DestinationRefused(f"destination {ip} is a private or reserved address")
