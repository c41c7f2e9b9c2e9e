"""Which repository locations are accepted, how they are named, and their canonical identity.

Accepted: an absolute local path or `file://` URL of an existing git repository (work tree or bare),
`https://`, `ssh://`, and scp-style `user@host:path`. Everything else is refused before git ever sees it:
values starting with `-` (option injection), git's `<transport>::<address>` remote helpers such as `ext::`
(which run arbitrary commands), and other schemes (`http://`, `git://`, `ftp://` …).

Local repositories are checked by `repositories.local` (the allowed roots first, on everything git follows),
and answered with one message whether they are missing, not a repository, or outside the roots. Remote hosts
pass the destination guard (`repositories.remotes`): IP literals outside the allowed ranges are refused here.

Each location has one canonical identity, so that the same repository cannot be connected twice under two
spellings: the resolved common git directory for local repositories (`/r`, `/r/`, `/r/.git`, a symlink to
`/r` and `file:///r` are one), a normalised URL for remotes (see `remotes.Remote.identity`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from gitproductivity.core.errors import ValidationFailed
from gitproductivity.core.netguard import DestinationRefused
from gitproductivity.core.redaction import redact_url
from gitproductivity.repositories import local, remotes

_HELPER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SCP = re.compile(r"^(?:[A-Za-z0-9._~+-]+@)?(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(?P<path>[^/].*|/.+)$")
REMOTE_SCHEMES = ("https", "ssh")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Location:
    url: str  # normalised: local paths absolute, remotes as given
    kind: str  # "local" | "remote"
    default_name: str
    identity: str  # canonical: the same repository always has the same identity, however it was written


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed(f"url: {message}", details=[{"field": "url", "message": message}])


def _name_from(path: str) -> str:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    name = name.removesuffix(".git")
    return name or "repository"


def parse(raw: str) -> Location:
    try:
        return _parse(raw)
    except ValueError as exc:  # urlsplit's "Invalid IPv6 URL", a port out of range, …: a 422, never a 500
        raise _refuse(f"is not a valid URL ({exc})") from None


def _parse(raw: str) -> Location:
    url = raw.strip()
    if not url:
        raise _refuse("must not be empty")
    if any(ch in url for ch in "\x00\n\r"):
        raise _refuse("must not contain control characters")
    if url.startswith("-"):
        raise _refuse("must not start with '-'")
    if _HELPER.match(url):
        raise _refuse(f"git remote helpers ('{url.split('::', 1)[0]}::') are not allowed")
    scheme_match = _SCHEME.match(url)
    if scheme_match:
        scheme = scheme_match.group(1).lower()
        if scheme == "file":
            return _local(Path(unquote(urlsplit(url).path)), raw)
        if scheme not in REMOTE_SCHEMES:
            raise _refuse(
                f"the '{scheme}://' transport is not allowed; use https://, ssh://, user@host:path or a local path"
            )
        parts = urlsplit(url)
        if not parts.hostname:
            raise _refuse("has no host")
        if parts.hostname.startswith("-") or (parts.username or "").startswith("-"):
            raise _refuse("a host or user name must not start with '-'")
        if not parts.path.strip("/"):
            raise _refuse("has no repository path")
        return _remote(url, _name_from(parts.path))
    if url.startswith(("/", "~")):
        try:
            path = Path(url).expanduser()
        except RuntimeError:  # `~someone` for a user this machine does not have: the same answer as any
            log.info("refused local repository %r: no such home directory", url)
            raise _refuse(_NO_REPOSITORY.format(path=url)) from None
        return _local(path, raw)
    scp = _SCP.match(url)
    if scp:
        if scp.group("host").startswith("-") or "@-" in url.split(":", 1)[0]:
            raise _refuse("a host or user name must not start with '-'")
        return _remote(url, _name_from(scp.group("path")))
    raise _refuse("must be an absolute path, file://, https://, ssh:// or user@host:path")


#: One answer for a path that is missing, is not a repository, or lies outside the allowed roots: which of the
#: three it is would tell a caller what exists on the server's disk (connecting `/etc`, `/proc/self`).
_NO_REPOSITORY = "{path} is not a git repository, or lies outside the allowed local roots"


def _local(path: Path, raw: str) -> Location:
    if not path.is_absolute():
        raise _refuse(f"local path {raw!r} must be absolute")
    try:
        repo = local.check(path)
    except local.Refused as exc:
        log.info("refused local repository %r: %s", raw.strip()[:500], exc.detail)
        raise _refuse(_NO_REPOSITORY.format(path=raw.strip()[:500])) from None
    return Location(url=str(repo.path), kind="local", default_name=_name_from(str(repo.path)), identity=repo.identity)


def _remote(url: str, default_name: str) -> Location:
    try:
        remote = remotes.split(url)
    except ValueError as exc:
        raise _refuse(str(exc)) from None
    try:
        remotes.check(remote)
    except DestinationRefused as exc:
        raise _refuse(f"{exc} (GITPRODUCTIVITY_GIT_ALLOWED_NETWORKS allows chosen networks)") from None
    return Location(url=url, kind="remote", default_name=default_name, identity=remote.identity)


def identity(url: str, kind: str) -> str:
    """The canonical identity of a stored location (the migration back-fills existing rows with it)."""
    if kind == "local":
        try:
            return local.inspect(Path(url)).identity
        except local.Refused:  # gone from the disk: its resolved path is the best name left
            return f"local:{Path(url).resolve()}"
    try:
        return remotes.split(url).identity
    except ValueError:
        return url


def redact(url: str) -> str:
    """Hide credentials in `https://user:token@host/…` so they never reach logs, events or responses."""
    return redact_url(url)
