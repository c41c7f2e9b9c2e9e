"""Which network addresses outgoing connections may reach (the SSRF rules), shared by webhooks and git.

By default only **public** addresses are allowed: loopback, "this host", private, link-local (cloud metadata),
shared/CGNAT, benchmarking, reserved and multicast ranges are refused. Hosts are judged the way the resolver
would read them: `normalise_host` first undoes percent-encoding, maps circled and full-width digits and
ideographic dots (U+2460.., U+FF10.., U+3002, U+FF0E, U+FF61) through IDNA/NFKC, and lower-cases; then
`literal_address` reads every spelling of an IP literal the C library connects to (`127.1`, `2130706433`,
`0x7f000001`, `0177.0.0.1`, `127.0.0.1.`); IPv6 addresses that stand for an IPv4 address (`::ffff:a.b.c.d`,
NAT64, 6to4) are judged by that IPv4 address. Names can only be judged once resolved: callers resolve them
themselves, right before connecting, and connect only to the addresses `Guard.allows` (webhooks:
`webhooks.client`; git: `repositories.remotes.pin`).

This module lives in `core` so that the webhooks and the repositories domains, which never import one
another, apply the very same rules; each reads its own settings (`webhook_*`, `git_*`).
"""

from __future__ import annotations

import ipaddress
import socket
import unicodedata
from urllib.parse import unquote

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class DestinationRefused(OSError):
    """The URL or its resolved address is not an allowed destination."""


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
#: Dots that IDNA (and so browsers, curl with libidn2, and Python's resolver) read as a label separator.
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


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


def normalise_host(host: str) -> str:
    """The host as a resolver would look it up: brackets and percent-encoding removed, Unicode spellings mapped
    (NFKC, ideographic dots) and IDNA-encoded, lower-case. DestinationRefused for a host no resolver accepts."""
    host = unquote(host.strip()).strip("[]")
    if host.isascii():
        return host.lower()
    mapped = unicodedata.normalize("NFKC", host.translate(_DOTS)).translate(_DOTS)
    if mapped.isascii():
        return mapped.lower()
    try:
        return mapped.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise DestinationRefused(f"{host!r} is not a valid host name") from None


def literal_address(host: str) -> IPAddress | None:
    """The address a host names by itself, in every spelling the C library connects to: `127.0.0.1`, but also
    `127.1`, `2130706433`, `0x7f000001`, `0177.0.0.1`, `127.0.0.1.` and their full-width or ideographic forms.
    None for a DNS name."""
    try:
        host = normalise_host(host)
    except DestinationRefused:
        return None
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
    """The rules: public addresses only, unless `allow_private` (then all but multicast and "this host") or the
    address lies in one of `allowed_networks`."""

    def __init__(self, *, allow_private: bool = False, allowed_networks: tuple[str, ...] = ()) -> None:
        self.allow_private = allow_private
        self.networks: list[Network] = [ipaddress.ip_network(n, strict=False) for n in allowed_networks]

    def allows(self, address: IPAddress | str) -> bool:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        ip = _embedded_ipv4(ip) or ip
        if any(ip in net for net in self.networks):
            return True
        if self.allow_private:
            return not (ip.is_multicast or ip.is_unspecified)
        return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_link_local or ip.is_loopback)

    def check_host(self, host: str) -> IPAddress | None:
        """Refuse a host that is an IP literal (in any spelling) outside the allowed ranges; return the literal's
        address, or None for a name (names are judged when resolved, right before connecting)."""
        normalise_host(host)  # raises for a host no resolver accepts
        ip = literal_address(host)
        if ip is not None and not self.allows(ip):
            raise DestinationRefused(f"destination {ip} is a private or reserved address")
        return ip
