"""Remote repositories: their canonical identity, and the destination guard on the address git connects to.

The rules are the webhooks' (`core.netguard`), read from `git_allow_private_destinations` and
`git_allowed_networks`. An IP literal (in any spelling, full-width and ideographic ones included) is refused
when the repository is connected; a name is resolved by `pin` right before each fetch, refused if any of its
addresses is refused, and git is then held to exactly the addresses checked, so DNS rebinding between the
check and the connection gains nothing: for https by curl's resolve list (`http.curloptResolve`), for ssh by
connecting to the checked address itself (`HostKeyAlias` keeps known_hosts working under the name). Redirects
and dumb-http alternates are not followed (`http.followRedirects=false`), and proxies are not used.
"""

from __future__ import annotations

import re
import shlex
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from gitproductivity.core.netguard import DestinationRefused, Guard, IPAddress, normalise_host
from gitproductivity.core.settings import get_settings

DEFAULT_PORTS = {"https": 443, "ssh": 22}
_SCP = re.compile(r"^(?:(?P<user>[A-Za-z0-9._~+-]+)@)?(?P<host>[^@:/\[\]]+|\[[0-9A-Fa-f:.]+\]):(?P<path>.+)$")
_HOST_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_.])?$")


@dataclass(frozen=True)
class Remote:
    scheme: str  # "https" | "ssh"
    userinfo: str | None  # as given (may hold a password); never part of the identity
    host: str  # normalised: lower-case, IDNA, no brackets
    port: int | None  # as given; None = the scheme's default
    path: str
    scp: bool  # written `user@host:path`

    @property
    def identity(self) -> str:
        """One name per repository: scheme and host lower-case, default port dropped, no credentials, the path
        without leading and trailing `/` and `.git` (`https://GitHub.com:443/a/b.git/` = `https://github.com/a/b`)."""
        port = "" if self.port in (None, DEFAULT_PORTS[self.scheme]) else f":{self.port}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        path = self.path.strip("/").removesuffix(".git").rstrip("/")
        return f"{self.scheme}://{host}{port}/{path}"

    def with_host(self, host: str) -> str:
        """The URL with its host replaced (by a checked address, or the normalised name)."""
        shown = f"[{host}]" if ":" in host else host
        user = f"{self.userinfo}@" if self.userinfo is not None else ""
        if self.scp:
            return f"{user}{shown}:{self.path}"
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.scheme}://{user}{shown}{port}{self.path}"


def split(url: str) -> Remote:
    """An https://, ssh:// or scp-style URL in parts; ValueError (with the reason) when it cannot be one."""
    if "://" in url:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError("has no host")
        port = parts.port  # ValueError for a malformed or out-of-range port
        netloc = parts.netloc
        userinfo = netloc.rpartition("@")[0] if "@" in netloc else None
        host_part = netloc.rpartition("@")[2]
        if host_part.startswith("["):
            raw_host = host_part[: host_part.find("]") + 1]
        else:
            raw_host = host_part.rsplit(":", 1)[0] if ":" in host_part else host_part
        remote = Remote(scheme, userinfo, _host(raw_host), port, parts.path, scp=False)
    else:
        match = _SCP.match(url)
        if not match:
            raise ValueError("must be an absolute path, file://, https://, ssh:// or user@host:path")
        remote = Remote("ssh", match.group("user"), _host(match.group("host")), None, match.group("path"), scp=True)
    if not remote.path.strip("/"):
        raise ValueError("has no repository path")
    return remote


def _host(raw: str) -> str:
    try:
        host = normalise_host(raw)
    except DestinationRefused as exc:
        raise ValueError(str(exc)) from None
    if host.startswith("-"):
        raise ValueError("a host or user name must not start with '-'")
    if not (_HOST_NAME.match(host) or _is_ipv6(host)):
        raise ValueError(f"{raw!r} is not a valid host name")
    return host


def _is_ipv6(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6, host)
    except OSError:
        return False
    return True


def guard() -> Guard:
    settings = get_settings()
    return Guard(allow_private=settings.git_allow_private_destinations, allowed_networks=settings.git_allowed_networks)


def check(remote: Remote) -> None:
    """The early check when a repository is connected: an IP literal outside the allowed ranges is refused."""
    guard().check_host(remote.host)


@dataclass(frozen=True)
class Pinned:
    """How to run git so that it connects only to the addresses checked: the URL, `-c` settings, environment."""

    url: str
    config: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)


def resolve(host: str, port: int) -> list[IPAddress]:
    import ipaddress

    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos))


def pin(url: str) -> Pinned:
    """Judge the address git will connect to, right before it does, and hold git to it. DestinationRefused when
    the host is (or resolves to any) refused address; OSError (socket.gaierror) when it does not resolve."""
    if url[:7].lower() == "file://":  # no network (never stored by `urls.parse`; tests stand it in for https)
        return Pinned(url)
    remote = split(url)
    rules = guard()
    port = remote.port or DEFAULT_PORTS[remote.scheme]
    literal = rules.check_host(remote.host)
    addresses = [literal] if literal is not None else resolve(remote.host, port)
    refused = [str(a) for a in addresses if not rules.allows(a)]
    if refused or not addresses:
        raise DestinationRefused(f"{remote.host} resolves to refused addresses ({', '.join(refused)})")
    if remote.scheme == "https":
        if literal is not None:
            return Pinned(remote.with_host(str(literal)))
        listed = ",".join(f"[{a}]" if a.version == 6 else str(a) for a in addresses)
        return Pinned(remote.with_host(remote.host), (f"http.curloptResolve={remote.host}:{port}:{listed}",))
    ssh = f"ssh -o BatchMode=yes -o HostKeyAlias={shlex.quote(remote.host)}"
    return Pinned(remote.with_host(str(addresses[0])), env={"GIT_SSH_COMMAND": ssh})
