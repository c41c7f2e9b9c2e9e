"""The webhooks' use of the destination guard (SSRF): the address rules live in `core.netguard`, shared with
git; here they are read from the `webhook_*` settings, and a webhook URL is checked when it is saved.

The check runs on the addresses actually connected to: `client.HttpClient` resolves names itself and keeps
only the addresses `Guard.allows` (so a name that resolves, or re-resolves, to 127.0.0.1 or 169.254.169.254
gets no connection: DNS rebinding gains nothing), then connects to exactly those. `check_url` is the early
check when an endpoint is saved: IP literals in every spelling, full-width and ideographic ones included,
and the names that always mean this host (`localhost`, `*.localhost`, RFC 6761) are refused there, in words
that name the setting allowing them (`PRIVATE_HINT`). With an egress proxy (`webhooks.proxy`) the proxy
resolves names again: what that leaves to the proxy is written down in docs/security.md.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from gitproductivity.core import netguard
from gitproductivity.core.netguard import DestinationRefused, IPAddress, Network, literal_address, normalise_host
from gitproductivity.core.settings import Settings

__all__ = ["PRIVATE_HINT", "DestinationRefused", "Guard", "IPAddress", "Network", "literal_address"]

#: Said with every refusal of a private destination, at save and at send: the settings that allow one.
PRIVATE_HINT = (
    "private destinations are refused unless GITPRODUCTIVITY_WEBHOOK_ALLOW_PRIVATE_DESTINATIONS=true "
    "(or the network is listed in GITPRODUCTIVITY_WEBHOOK_ALLOWED_NETWORKS)"
)
_LOOPBACK = ipaddress.ip_address("127.0.0.1")


def is_local_name(host: str) -> bool:
    """`localhost`, `*.localhost`, `localhost.localdomain`: names that always mean this host (RFC 6761)."""
    name = host.rstrip(".")
    return name in ("localhost", "localhost.localdomain") or name.endswith(".localhost")


class Guard(netguard.Guard):
    @classmethod
    def from_settings(cls, settings: Settings) -> Guard:
        return cls(
            allow_private=settings.webhook_allow_private_destinations,
            allowed_networks=settings.webhook_allowed_networks,
        )

    def check_url(self, url: str) -> None:
        """Refuse non-http(s) URLs and IP literals outside the allowed ranges (names are checked on resolve)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise DestinationRefused(f"only http and https URLs are allowed, not {parts.scheme or 'none'!r}")
        if not parts.hostname:
            raise DestinationRefused("the URL has no host")
        host = normalise_host(parts.hostname)
        if is_local_name(host) and not self.allows(_LOOPBACK):
            raise DestinationRefused(f"{host} is this server itself (a private or reserved address); {PRIVATE_HINT}")
        ip = literal_address(host)
        if ip is not None and not self.allows(ip):
            raise DestinationRefused(f"{ip} is a private or reserved address; {PRIVATE_HINT}")
        self.check_host(parts.hostname)
