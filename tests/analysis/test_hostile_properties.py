"""Property: whatever bytes a commit's author, e-mail, dates and message hold, the analysis succeeds and every
commit of the history is either counted or skipped (commits_analysed + skipped_commits == commits in history)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from gitproductivity.core.db import Database
from tests.analysis.gitrepo import Repo, drain, lines
from tests.analysis.hostile import fast_import, history, literal, point_branch
from tests.conftest import make_tenant

pytestmark = pytest.mark.slow  # hypothesis over real git repositories

SEPARATORS = [
    b"\x00",
    b"\x1e",
    b"\x1f",
    b"\n",
    b"\t",
    b"<",
    b">",
    b" ",
    b"\xff",
    b"\xc3",
    b"%aN",
    b"\r",
    "\u202e".encode(),
]
hostile_bytes = st.lists(st.one_of(st.binary(max_size=6), st.sampled_from(SEPARATORS)), max_size=6).map(b"".join)
dates = st.one_of(
    st.integers(min_value=0, max_value=2**64 + 5).map(lambda n: str(n).encode()),
    st.integers(min_value=-(2**40), max_value=-1).map(lambda n: str(n).encode()),
    hostile_bytes,
)
zones = st.sampled_from([b"+0000", b"-0830", b"+9999", b"", b"zone", b"+00:00"])
commit = st.fixed_dictionaries(
    {
        "how": st.sampled_from(["literal", "fast-import"]),
        "name": hostile_bytes,
        "email": hostile_bytes,
        "when": dates,
        "zone": zones,
        "extra": st.one_of(st.just(b""), hostile_bytes.map(lambda b: b + b"\n")),
        "message": hostile_bytes,
        "tree": st.sampled_from([0, 1]),
    }
)


@settings(
    max_examples=25,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking real repositories takes minutes
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(commits=st.lists(commit, min_size=1, max_size=5))
def test_any_bytes_in_authors_dates_and_messages_are_counted_or_skipped(
    client: TestClient, database: Database, tmp_path: Path, commits: list[dict[str, object]]
) -> None:
    tenant = make_tenant(database, f"owner-{uuid.uuid4().hex[:8]}@example.com")
    repo = Repo(tmp_path / uuid.uuid4().hex)
    repo.commit("Ann <ann@example.com>", "2026-01-05T10:00:00Z", {"a.txt": lines(2)})
    trees = [repo.git("rev-parse", "HEAD^{tree}")]
    repo.commit("Ann <ann@example.com>", "2026-01-06T10:00:00Z", {"a.txt": lines(5), "b.txt": lines(1)})
    trees.append(repo.git("rev-parse", "HEAD^{tree}"))
    parent = repo.head()
    for spec in commits:
        name, email, when, zone = (spec[k] for k in ("name", "email", "when", "zone"))
        assert isinstance(name, bytes) and isinstance(email, bytes) and isinstance(when, bytes)
        assert isinstance(zone, bytes)
        made = None
        if spec["how"] == "fast-import":
            message = spec["message"]
            assert isinstance(message, bytes)
            made = fast_import(repo, parent=parent, name=name, email=email, when=when + b" " + zone, message=message)
        if made is None:  # literally anything, when fast-import refuses it
            extra, message, tree = spec["extra"], spec["message"], spec["tree"]
            assert isinstance(extra, bytes) and isinstance(message, bytes) and isinstance(tree, int)
            author = name + b" <" + email + b"> " + when + b" " + zone
            made = literal(repo, tree=trees[tree], parent=parent, author=author, extra=extra, message=message)
        parent = made
    point_branch(repo, parent)

    headers = tenant.headers
    repo_id = client.post("/v1/repositories", json={"url": str(repo.path)}, headers=headers).json()["id"]
    assert drain() == ["succeeded"]
    done = client.get(f"/v1/repositories/{repo_id}/analyses", headers=headers).json()["data"][0]
    assert done["status"] == "succeeded", done["error"]
    assert done["commits_analysed"] + done["skipped_commits"] == len(history(repo))
    assert done["skipped_commits"] == sum(r["count"] for r in done["skipped_reasons"])
    names = [d["name"] for d in client.get("/v1/developers", headers=headers).json()["data"]]
    assert all(not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in n) for n in names)
