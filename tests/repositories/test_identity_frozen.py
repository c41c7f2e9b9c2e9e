"""Migration 0007_repository_identity computes identities with its own frozen copy of the rules, so a later
change to `repositories.urls.identity` cannot silently change what the migration does; this checks the copy and
today's function still agree, on real repositories (symlinks, `.git` directories, files and symlinks, linked
worktrees, bare ones) and on remote URLs in every spelling."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
from pathlib import Path
from types import ModuleType

from hypothesis import given, settings
from hypothesis import strategies as st

from gitproductivity.core import migrate
from gitproductivity.repositories import urls

REVISION = migrate.MIGRATIONS / "versions" / "0007_repository_identity.py"


def _revision() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rev0007", REVISION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FROZEN = _revision()


def _git(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_the_revision_imports_nothing_of_the_package() -> None:
    """Frozen means frozen: no import of live code (only the standard library, SQLAlchemy and Alembic)."""
    imported: set[str] = set()
    for node in ast.walk(ast.parse(REVISION.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert "gitproductivity" not in imported
    allowed = {"os", "re", "socket", "unicodedata", "collections", "pathlib", "urllib", "sqlalchemy", "alembic"}
    assert imported <= allowed


def _local_spellings(tmp_path: Path) -> list[str]:
    repo = tmp_path / "r"
    _git("init", "-q", str(repo))
    _git("-c", "user.name=A", "-c", "user.email=a@example.com", "commit", "-q", "--allow-empty", "-m", "one", cwd=repo)
    (tmp_path / "link").symlink_to(repo)
    _git("worktree", "add", "-q", str(tmp_path / "wt"), cwd=repo)  # .git file + commondir
    _git("clone", "-q", "--bare", str(repo), str(tmp_path / "bare.git"))
    (tmp_path / "dotgit-link").mkdir()
    (tmp_path / "dotgit-link" / ".git").symlink_to(repo / ".git")
    (tmp_path / "dotgit-file").mkdir()
    (tmp_path / "dotgit-file" / ".git").write_text("gitdir: ../r/.git\n")
    (tmp_path / "bad-gitfile").mkdir()
    (tmp_path / "bad-gitfile" / ".git").write_text("not a pointer\n")
    (tmp_path / "plain").mkdir()
    (tmp_path / "a-file").write_text("x")
    return [
        str(repo),
        f"{repo}/",
        f"{repo}/.git",
        f"{repo}/.git/",
        f"{repo}/../{repo.name}",
        str(tmp_path / "link"),
        f"{tmp_path / 'link'}/.git",
        str(tmp_path / "wt"),
        f"{tmp_path / 'wt'}/",
        str(tmp_path / "dotgit-link"),
        str(tmp_path / "dotgit-file"),
        # from here on: other repositories, and what is none
        f"file://{repo}",  # never stored so (connecting stores the path), but a row could hold anything
        str(tmp_path / "bare.git"),
        f"{tmp_path / 'bare.git'}/",
        str(tmp_path / "bad-gitfile"),
        str(tmp_path / "plain"),
        str(tmp_path / "a-file"),
        str(tmp_path / "missing"),
        f"{tmp_path / 'missing'}/.git",
    ]


def test_local_spellings_agree(tmp_path: Path) -> None:
    spellings = _local_spellings(tmp_path)
    for url in spellings:
        assert FROZEN._identity(url, "local") == urls.identity(url, "local"), url
    # and they mean something: every spelling of the one repository is one identity
    assert len({urls.identity(u, "local") for u in spellings[:11]}) == 1


REMOTES = [
    "https://github.com/a/b",
    "https://GitHub.com:443/a/b.git/",
    "https://user:secret@github.com/a/b.git",
    "https://token@GITHUB.com/a/b/",
    "https://github.com:8443/a/b",
    "HTTPS://github.com//a/b.git//",
    "ssh://git@Host.example:22/a/b.git",
    "ssh://git@host.example:2222/a/b",
    "ssh://host.example/~user/r.git",
    "git@github.com:a/b.git",
    "git@GitHub.com:/a/b",
    "github.com:a/b",
    "https://[::1]:8443/x.git",
    "https://[2001:DB8::1]/x",
    "git@[::1]:x.git",
    "https://bücher.de/r",
    "https://BÜCHER.de/r.git",
    "https://xn--bcher-kva.de/r",
    "https://127。0。0。1/r",
    "https://\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com/r",  # full-width letters
    "https://①②⑦.0.0.1/r",
    "https://host:99999/r",
    "https://host:port/r",
    "https://-host/r",
    "https:///no-host",
    "https://host/",
    "https://host",
    "git@host:",
    "ftp://host/r",
    "weird",
    "https://bad host/r",
    "https://host%2Fx/r",
    "https://\udcff/r",
    "https://a..b/r",
    "https://" + "x" * 300 + "/r",
]


def test_remote_spellings_agree() -> None:
    for url in REMOTES:
        assert FROZEN._identity(url, "remote") == urls.identity(url, "remote"), url


URLISH = st.text(alphabet="aB0.-_:/@[]%~+ü\u3002\uff11", max_size=30)


@settings(max_examples=300, deadline=None)  # a second or two: the fast tier
@given(prefix=st.sampled_from(["https://", "ssh://", "HTTPS://", "git@", "", "ssh://git@"]), rest=URLISH)
def test_arbitrary_remote_spellings_agree(prefix: str, rest: str) -> None:
    url = prefix + rest
    assert FROZEN._identity(url, "remote") == urls.identity(url, "remote")
