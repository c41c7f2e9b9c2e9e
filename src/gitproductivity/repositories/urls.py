"""Which repository locations are accepted, and how they are named.

Accepted: an absolute local path or `file://` URL of an existing git repository (work tree or bare),
`https://`, `ssh://`, and scp-style `user@host:path`. Everything else is refused before git ever sees it:
values starting with `-` (option injection), git's `<transport>::<address>` remote helpers such as `ext::`
(which run arbitrary commands), and other schemes (`http://`, `git://`, `ftp://` …).

When `git_allowed_roots` is set, local repositories must lie under one of those directories, judged on the
fully resolved path (symlinks and `..` followed), and so must what the repository points git at: the
`gitdir:` of a `.git` file and the object stores in `objects/info/alternates`. The check is made when a
repository is connected and again before each analysis (a symlink may have changed since).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from gitproductivity.core.errors import ValidationFailed
from gitproductivity.core.redaction import redact_url
from gitproductivity.core.settings import get_settings

_HELPER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SCP = re.compile(r"^(?:[A-Za-z0-9._~+-]+@)?(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(?P<path>[^/].*|/.+)$")
REMOTE_SCHEMES = ("https", "ssh")


@dataclass(frozen=True)
class Location:
    url: str  # normalised: local paths absolute, remotes as given
    kind: str  # "local" | "remote"
    default_name: str


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed(f"url: {message}", details=[{"field": "url", "message": message}])


def is_git_repository(path: Path) -> bool:
    """A work tree (has `.git`) or a bare repository (HEAD, objects/, refs/), checked without running git."""
    if (path / ".git").exists():
        return True
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()


def _name_from(path: str) -> str:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    name = name.removesuffix(".git")
    return name or "repository"


def parse(raw: str) -> Location:
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
        return Location(url=url, kind="remote", default_name=_name_from(parts.path))
    if url.startswith(("/", "~")):
        try:
            path = Path(url).expanduser()
        except RuntimeError:  # `~someone` for a user this machine does not have
            raise _refuse(f"{url.split('/', 1)[0]!r} is not a home directory on this machine") from None
        return _local(path, raw)
    scp = _SCP.match(url)
    if scp:
        if scp.group("host").startswith("-") or "@-" in url.split(":", 1)[0]:
            raise _refuse("a host or user name must not start with '-'")
        return Location(url=url, kind="remote", default_name=_name_from(scp.group("path")))
    raise _refuse("must be an absolute path, file://, https://, ssh:// or user@host:path")


def _local(path: Path, raw: str) -> Location:
    if not path.is_absolute():
        raise _refuse(f"local path {raw!r} must be absolute")
    path = path.resolve()
    if not path.exists():
        raise _refuse(f"{path} does not exist")
    if not path.is_dir() or not is_git_repository(path):
        raise _refuse(f"{path} is not a git repository")
    refusal = outside_allowed_roots(path)
    if refusal:
        raise _refuse(refusal)
    return Location(url=str(path), kind="local", default_name=_name_from(str(path)))


def _pointed_at(path: Path) -> list[Path]:
    """The directories a repository makes git read besides itself (`.git` file's gitdir, alternates)."""
    found: list[Path] = []
    dot_git = path / ".git"
    git_dir = path
    if dot_git.is_file():
        text = dot_git.read_text(errors="replace").strip()
        target = Path(text.removeprefix("gitdir:").strip())
        git_dir = (path / target) if not target.is_absolute() else target
        found.append(git_dir)
    elif dot_git.is_dir():
        git_dir = dot_git
    alternates = git_dir / "objects" / "info" / "alternates"
    if alternates.is_file():
        for line in alternates.read_text(errors="replace").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                target = Path(line)
                found.append(target if target.is_absolute() else git_dir / "objects" / target)
    return found


def outside_allowed_roots(path: Path) -> str | None:
    """Why `path` may not be read under `git_allowed_roots`, or None when it may (or no roots are set)."""
    roots = [Path(r).resolve() for r in get_settings().git_allowed_roots]
    if not roots:
        return None
    try:
        pointed = _pointed_at(path.resolve())
    except OSError as exc:
        return f"{path} cannot be checked against the allowed local roots ({exc.strerror or exc})"
    for candidate in [path, *pointed]:
        resolved = candidate.resolve()
        if not any(resolved.is_relative_to(root) for root in roots):
            what = "" if candidate == path else f" (the repository points git at {resolved})"
            return f"{resolved} is outside the allowed local roots{what}"
    return None


def redact(url: str) -> str:
    """Hide credentials in `https://user:token@host/…` so they never reach logs, events or responses."""
    return redact_url(url)
