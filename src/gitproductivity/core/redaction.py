"""The one way a URL's credentials are hidden, for repositories and webhooks alike (responses, pages, events,
notifications and log lines)."""

from __future__ import annotations

import re

# Anchored at the start, so the greedy user-info part backtracks over one string once: linear in its length.
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)@")
_SECRET_USER_SCHEMES = frozenset({"http", "https"})


def redact_url(url: str) -> str:
    """`https://user:token@host:8443/x` → `https://***@host:8443/x`.

    Any `user:password@` is hidden, and for http(s) a user name alone as well (it is often a token:
    `https://ghp_…@github.com/…`); `ssh://git@host/…` keeps its user name, which is not a secret. The host, port,
    path and query are kept exactly as written, and nothing here can raise: a malformed URL is redacted too.
    """
    match = _USERINFO.match(url)
    if match is None:
        return url
    scheme, userinfo = match.group(1).lower(), match.group(2)
    if ":" not in userinfo and scheme not in _SECRET_USER_SCHEMES:
        return url
    return f"{match.group(1)}://***@{url[match.end() :]}"
