"""Building commits git accepts but no tidy tool would make: raw commit objects and `git fast-import` streams."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.analysis.gitrepo import Repo, lines


def git_bytes(
    repo: Path, *args: str, input: bytes | None = None, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull})
    return subprocess.run(["git", "-C", str(repo), *args], input=input, env=env, capture_output=True, check=check)


def literal(
    repo: Repo, *, tree: str, parent: str | None, author: bytes, extra: bytes = b"", message: bytes = b"m\n"
) -> str:
    """A commit object written as given (`hash-object --literally`): `author` is the whole author line's value."""
    body = b"tree " + tree.encode() + b"\n"
    if parent:
        body += b"parent " + parent.encode() + b"\n"
    body += b"author " + author + b"\ncommitter Com Mitter <c@example.com> 1767225600 +0000\n" + extra
    body += b"\n" + message
    return (
        git_bytes(repo.path, "hash-object", "-t", "commit", "--literally", "-w", "--stdin", input=body)
        .stdout.decode()
        .strip()
    )


def fast_import(
    repo: Repo, *, parent: str | None, name: bytes, email: bytes, when: bytes, message: bytes
) -> str | None:
    """A commit made by `git fast-import` on a scratch ref; None when fast-import refuses the author."""
    data = b"commit refs/gp/scratch\n"
    data += b"author " + name + b" <" + email + b"> " + when + b"\n"
    data += b"committer Com Mitter <c@example.com> 1767225600 +0000\n"
    data += b"data " + str(len(message)).encode() + b"\n" + message + b"\n"
    if parent:
        data += b"from " + parent.encode() + b"\n"
    data += b"M 644 inline f.txt\ndata 4\nabc\n\n"
    done = git_bytes(repo.path, "fast-import", "--quiet", "--force", input=data, check=False)
    if done.returncode != 0:
        return None
    return repo.git("rev-parse", "refs/gp/scratch")


def damaged_history(repo: Repo, author: str) -> tuple[str, str, str]:
    """(first, lost, child): `author`'s first commit of a.txt, then a commit whose tree is missing and a child that
    restores the tree; the branch and the work tree end at the child."""
    first = repo.commit(author, "2026-01-01T10:00:00Z", {"a.txt": lines(4, "a")})
    tree = repo.git("rev-parse", "HEAD^{tree}")
    lost = literal(repo, tree="1" * 40, parent=first, author=b"Lost <lost@example.com> 1767261600 +0000")
    child = literal(repo, tree=tree, parent=lost, author=b"Child <child@example.com> 1767261600 +0000")
    point_branch(repo, child)
    repo.git("reset", "-q", "--hard", child)
    return first, lost, child


def point_branch(repo: Repo, sha: str, branch: str = "main") -> None:
    repo.git("update-ref", f"refs/heads/{branch}", sha)


def history(repo: Repo) -> list[str]:
    return repo.git("rev-list", "HEAD").split()
