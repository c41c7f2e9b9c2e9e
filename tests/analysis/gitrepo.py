"""Building real repositories with the git binary, with exact authors and dates."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from gitproductivity.analysis import jobs, run
from gitproductivity.core.db import get_database


class Repo:
    def __init__(self, path: Path, branch: str = "main") -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", branch)

    def git(self, *args: str, env: dict[str, str] | None = None) -> str:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        clean.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, **(env or {})})
        done = subprocess.run(
            ["git", "-C", str(self.path), *args], env=clean, check=True, capture_output=True, text=True
        )
        return done.stdout.strip()

    def git_bytes(self, *args: str) -> bytes:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        clean.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull})
        return subprocess.run(["git", "-C", str(self.path), *args], env=clean, check=True, capture_output=True).stdout

    def _env(self, author: str, when: str) -> dict[str, str]:
        name, email = author.rsplit(" <", 1)
        email = email.rstrip(">")
        return {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_AUTHOR_DATE": when,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
            "GIT_COMMITTER_DATE": when,
        }

    def commit(self, author: str, when: str, files: dict[str, str | bytes | None], message: str = "change") -> str:
        """`files`: path -> new content (None deletes). `author` is "Name <email>"; `when` ISO 8601."""
        for name, content in files.items():
            target = self.path / name
            if content is None:
                self.git("rm", "-q", "--", name)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
            self.git("add", "--", name)
        self.git("commit", "-q", "--allow-empty", "-m", message, env=self._env(author, when))
        return self.head()

    def rename(self, author: str, when: str, old: str, new: str, content: str) -> str:
        self.git("mv", old, new)
        return self.commit(author, when, {new: content}, message=f"rename {old}")

    def merge(self, author: str, when: str, branch: str) -> str:
        self.git("merge", "-q", "--no-ff", "--no-edit", branch, env=self._env(author, when))
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")


def lines(count: int, tag: str = "line") -> str:
    return "".join(f"{tag} {i}\n" for i in range(count))


def drain(worker: str = "test-worker") -> list[str]:
    """Run every queued analysis now, in this thread (what a worker does); returns their final statuses."""
    statuses: list[str] = []
    while True:
        with get_database().session() as session:
            claimed = [a.id for a in jobs.claim(session, worker=worker, limit=1)]
        if not claimed:
            return statuses
        statuses.append(run.execute(analysis_id=claimed[0], worker=worker))
