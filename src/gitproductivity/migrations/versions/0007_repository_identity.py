"""repositories: one canonical identity per repository and organisation (issue 12, finding 11)

`/r` and `/r/.git`, a symlink to `/r`, `file:///r`, or `https://Host:443/a/b.git/` and `https://host/a/b` were
connected as different repositories and counted twice. Each row gets `identity` (`urls.identity`: the resolved
git directory of a local repository, the normalised URL of a remote one), unique per organisation.

Back-fill: existing rows get their identity computed now (a local repository that is gone from the disk keeps
its resolved path). Where existing rows of one organisation turn out to be the same repository, the one to keep
is the connected one (else the oldest); the others keep their records and metrics, are marked disconnected, and
get `duplicate-of:<kept id>:<identity>` so that the unique index holds. Nothing is deleted.

The identity computation is copied here, frozen (`_identity`), as `repositories.urls.identity` was when this
revision was written, so that later changes to it never change what this revision does (a test checks that the
two still agree on every kind of spelling). What it reads of a local repository is what decides its identity:
the `.git` directory, symlink or `gitdir:` file, and `commondir`.

Revision ID: 0007_repository_identity
Revises: 0006_analysis_failures
Create Date: 2026-12-01 23:50:00.000000
"""

import os
import re
import socket
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa
from alembic import op

revision: str = "0007_repository_identity"
down_revision: str | Sequence[str] | None = "0006_analysis_failures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_DEFAULT_PORTS = {"https": 443, "ssh": 22}
_SCP = re.compile(r"^(?:(?P<user>[A-Za-z0-9._~+-]+)@)?(?P<host>[^@:/\[\]]+|\[[0-9A-Fa-f:.]+\]):(?P<path>.+)$")
_HOST_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_.])?$")
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_MAX_POINTER_BYTES = 64 * 1024


class _NotARepository(Exception):
    pass


def _read_pointer(path: Path) -> str:
    with path.open("rb") as handle:
        data = handle.read(_MAX_POINTER_BYTES + 1)
    if len(data) > _MAX_POINTER_BYTES:
        raise _NotARepository(path)
    return data.decode(errors="replace")


def _local_identity(url: str) -> str:
    """`local:` and the resolved common git directory; the resolved path when it is not (or no longer) one."""
    resolved = Path(os.path.realpath(url))
    try:
        if not resolved.is_dir():
            raise _NotARepository(resolved)
        dot_git = resolved / ".git"
        if dot_git.is_symlink() or dot_git.is_dir():
            git_dir = Path(os.path.realpath(dot_git))
        elif dot_git.is_file():
            text = _read_pointer(dot_git).strip()
            if not text.startswith("gitdir:"):
                raise _NotARepository(dot_git)
            git_dir = Path(os.path.realpath(resolved / Path(text.removeprefix("gitdir:").strip())))
        elif (resolved / "HEAD").is_file() and (resolved / "objects").is_dir() and (resolved / "refs").is_dir():
            git_dir = resolved
        else:
            raise _NotARepository(resolved)
        if not git_dir.is_dir():
            raise _NotARepository(git_dir)
        common_dir = git_dir
        if (git_dir / "commondir").is_file():
            common_dir = Path(os.path.realpath(git_dir / _read_pointer(git_dir / "commondir").strip()))
    except (_NotARepository, OSError):
        return f"local:{Path(url).resolve()}"
    return f"local:{common_dir}"


def _host(raw: str) -> str:
    host = unquote(raw.strip()).strip("[]")
    if not host.isascii():
        mapped = unicodedata.normalize("NFKC", host.translate(_DOTS)).translate(_DOTS)
        host = mapped if mapped.isascii() else mapped.encode("idna").decode("ascii")  # UnicodeError: not a host
    host = host.lower()
    if host.startswith("-"):
        raise ValueError(host)
    if not _HOST_NAME.match(host):
        socket.inet_pton(socket.AF_INET6, host)  # OSError: not a host
    return host


def _remote_identity(url: str) -> str:
    """Scheme and host lower-case (IDNA), default port dropped, no credentials or user, the path without leading
    and trailing `/` and `.git`; `user@host:path` is `ssh://host/path`. The URL itself when it is none of these."""
    try:
        if "://" in url:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            if scheme not in _DEFAULT_PORTS or not parts.hostname:
                return url
            port = parts.port
            host_part = parts.netloc.rpartition("@")[2]
            if host_part.startswith("["):
                raw_host = host_part[: host_part.find("]") + 1]
            else:
                raw_host = host_part.rsplit(":", 1)[0] if ":" in host_part else host_part
            host, path = _host(raw_host), parts.path
        else:
            match = _SCP.match(url)
            if not match:
                return url
            scheme, port, host, path = "ssh", None, _host(match.group("host")), match.group("path")
    except (ValueError, OSError):  # UnicodeError is a ValueError
        return url
    if not path.strip("/"):
        return url
    shown_port = "" if port in (None, _DEFAULT_PORTS[scheme]) else f":{port}"
    shown_host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown_host}{shown_port}/{path.strip('/').removesuffix('.git').rstrip('/')}"


def _identity(url: str, kind: str) -> str:
    return _local_identity(url) if kind == "local" else _remote_identity(url)


def upgrade() -> None:
    with op.batch_alter_table("repositories", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identity", sa.Text(), nullable=True))
    repositories = sa.table(
        "repositories",
        sa.column("id", sa.String()),
        sa.column("organization_id", sa.String()),
        sa.column("url", sa.Text()),
        sa.column("kind", sa.String()),
        sa.column("status", sa.String()),
        sa.column("created_at", sa.String()),
        sa.column("connected_at", sa.String()),
        sa.column("disconnected_at", sa.String()),
        sa.column("identity", sa.Text()),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(
            repositories.c.id,
            repositories.c.organization_id,
            repositories.c.url,
            repositories.c.kind,
            repositories.c.status,
        ).order_by(
            repositories.c.organization_id,
            sa.case((repositories.c.status == "connected", 0), else_=1),
            repositories.c.created_at,
            repositories.c.id,
        )
    ).all()
    kept: dict[tuple[str, str], str] = {}
    for row in rows:
        ident = _identity(row.url, row.kind)
        update = sa.update(repositories).where(repositories.c.id == row.id)
        first = kept.setdefault((row.organization_id, ident), row.id)
        if first == row.id:
            conn.execute(update.values(identity=ident))
            continue
        conn.execute(
            update.values(
                identity=f"duplicate-of:{first}:{ident}",
                status="disconnected",
                disconnected_at=sa.func.coalesce(repositories.c.disconnected_at, repositories.c.connected_at),
            )
        )
    with op.batch_alter_table("repositories", schema=None) as batch_op:
        batch_op.alter_column("identity", existing_type=sa.Text(), nullable=False)
        batch_op.create_index("uq_repositories_org_identity", ["organization_id", "identity"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("repositories", schema=None) as batch_op:
        batch_op.drop_index("uq_repositories_org_identity")
        batch_op.drop_column("identity")
