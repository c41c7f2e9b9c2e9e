"""Properties on random small histories: ownership equals `git blame --line-porcelain` at every head, and an
incremental computation from the previous head equals a full one (merges clean and conflicting, renames,
reverts, ignored revisions, excluded and binary files)."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitproductivity.analysis import exclusions, ownership, replay
from tests.analysis.gitrepo import Repo
from tests.analysis.ownership_truth import blame_owners

pytestmark = pytest.mark.slow  # hypothesis over real git repositories: a few hundred git processes per example

AUTHORS = ["Ann <ann@x.org>", "Ben <ben@x.org>", "Cy <cy@x.org>"]
FILES = ["a.txt", "d/b.txt", "d/e/c.txt", "vendor/v.txt"]

edit = st.tuples(st.sampled_from(FILES), st.integers(0, 12), st.integers(0, 3), st.integers(0, 4))
step = st.one_of(
    st.tuples(st.just("commit"), st.integers(0, 2), st.lists(edit, min_size=1, max_size=3)),
    st.tuples(st.just("merge"), st.integers(0, 2), st.lists(edit, min_size=1, max_size=2)),
    st.tuples(st.just("revert"), st.integers(0, 2), st.just([])),
    st.tuples(st.just("rename"), st.integers(0, 2), st.just([])),
    st.tuples(st.just("ignore"), st.integers(0, 2), st.just([])),
    st.tuples(st.just("binary"), st.integers(0, 2), st.just([])),
    st.tuples(st.just("churn"), st.integers(0, 2), st.lists(edit, min_size=1, max_size=2)),
)


class History:
    def __init__(self, path: Path) -> None:
        self.repo = Repo(path)
        self.n = 0
        self.commits: list[str] = []

    def when(self) -> str:
        self.n += 1
        return f"2026-01-01T00:{self.n // 60:02d}:{self.n % 60:02d}Z"

    def content(self, name: str) -> list[str]:
        target = self.repo.path / name
        return target.read_text().splitlines(keepends=True) if target.is_file() else []

    def apply(self, edits: list[tuple[str, int, int, int]], tag: str) -> dict[str, str | bytes | None]:
        files: dict[str, str | bytes | None] = {}
        for name, at, deleted, added in edits:
            text = self.content(name) if name not in files else str(files[name]).splitlines(keepends=True)
            at = min(at, len(text))
            self.n += 1
            text[at : at + deleted] = [f"{tag} {self.n} {i}\n" for i in range(added)]
            files[name] = "".join(text)
        return files

    def commit(self, who: int, files: dict[str, str | bytes | None]) -> None:
        self.commits.append(self.repo.commit(AUTHORS[who], self.when(), files))

    def step(self, kind: str, who: int, edits: list[tuple[str, int, int, int]]) -> None:
        repo = self.repo
        if kind == "commit" or not self.commits:
            self.commit(who, self.apply(edits or [("a.txt", 0, 0, 2)], f"w{who}"))
        elif kind == "merge":
            branch = f"b{self.n}"
            repo.git("checkout", "-q", "-b", branch)
            self.commit((who + 1) % 3, self.apply(edits, "side"))
            repo.git("checkout", "-q", "main")
            self.commit(who, self.apply(edits, "main"))
            env = repo._env(AUTHORS[who], self.when())
            try:
                repo.git("merge", "-q", "--no-ff", "--no-edit", branch, env=env)
            except subprocess.CalledProcessError:
                for name in repo.git("diff", "--name-only", "--diff-filter=U").split():
                    repo.git("checkout", "--theirs", "--", name)
                    with (repo.path / name).open("a") as f:
                        f.write(f"resolved {self.n}\n")
                    repo.git("add", "--", name)
                repo.git("commit", "-q", "--no-edit", env=env)
            self.commits.append(repo.head())
        elif kind == "revert":
            parents = repo.git("rev-list", "--parents", "-n1", "HEAD").split()
            if len(parents) == 2 and repo.git("diff", "--name-only", "HEAD~1", "HEAD"):  # one parent, a change
                repo.git("revert", "--no-edit", "HEAD", env=repo._env(AUTHORS[who], self.when()))
                self.commits.append(repo.head())
        elif kind == "churn":  # a change and its revert: the same blobs as before, owned by the revert
            self.commit(who, self.apply(edits, "churn"))
            if repo.git("diff", "--name-only", "HEAD~1", "HEAD"):
                repo.git("revert", "--no-edit", "HEAD", env=repo._env(AUTHORS[(who + 1) % 3], self.when()))
                self.commits.append(repo.head())
        elif kind == "rename":
            if (repo.path / "a.txt").is_file():
                (repo.path / "d").mkdir(exist_ok=True)
                repo.git("mv", "-f", "a.txt", "d/moved.txt")
                self.commit(who, {})
        elif kind == "ignore":
            self.commit(who, {".git-blame-ignore-revs": self.commits[(who * 7) % len(self.commits)] + "\n"})
        elif kind == "binary":
            self.commit(who, {"d/bin.dat": f"\0binary {self.n}\n".encode()})


def owners(result: ownership.Result) -> dict[str, dict[str, int]]:
    return {d: {who: n for who, n in row.items() if n} for d, row in result.by_directory().items()}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=2, max_size=10))
def test_ownership_is_blame_and_incremental_is_full(
    steps: list[tuple[str, int, list[tuple[str, int, int, int]]]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ownership, "REPLAY_FILES", 0)  # the replay of history answers for every file it can
    history = History(tmp_path / uuid.uuid4().hex)
    paths = exclusions.PathFilter(exclusions.DEFAULT_EXCLUDES)
    previous: ownership.Previous | None = None

    def check() -> None:
        nonlocal previous
        head = history.repo.head()
        common = {"head": head, "paths": paths, "mailmap": "", "rules_fingerprint": "rules", "workers": 2}
        full = ownership.compute(history.repo.path, previous=None, **common)  # type: ignore[arg-type]
        replayed_history = replay.replay_history(history.repo.path, head, paths)
        assert replayed_history is not None
        replayed = ownership.compute(
            history.repo.path,
            previous=None,
            known=lambda ignored: replayed_history.owners(head, ignored),
            **common,  # type: ignore[arg-type]
        )
        assert {p: (c.blob, c.commits) for p, c in replayed.files.items()} == {
            p: (c.blob, c.commits) for p, c in full.files.items()
        }
        incremental = ownership.compute(history.repo.path, previous=previous, **common)  # type: ignore[arg-type]
        assert owners(full) == blame_owners(history.repo)
        assert owners(incremental) == owners(full)
        assert {p: (c.blob, c.commits) for p, c in incremental.files.items()} == {
            p: (c.blob, c.commits) for p, c in full.files.items()
        }
        previous = ownership.Previous(incremental.head, incremental.fingerprint, incremental.files)

    for kind, who, edits in steps:
        history.step(kind, who, edits)
        check()
