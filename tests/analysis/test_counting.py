"""Every counting rule, checked number by number on a repository built with the git binary."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.analysis.gitrepo import Repo, drain, lines

ALICE = "Alice Liddell <alice@example.com>"
BOB_OLD = "bob <bob@old.example>"  # mapped to Bob Builder <bob@example.com> by .mailmap
BOB = "Bob Builder <bob@example.com>"
DEPENDABOT = "dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>"


def build(path: Path) -> Repo:
    repo = Repo(path)
    repo.commit(ALICE, "2026-01-05T10:00:00Z", {"src/app.py": lines(10), "README.md": lines(3, "readme")})
    # 21:30 at UTC-3 is the next UTC day: days are UTC author dates. Upper-case email: same person.
    app = lines(10).replace("line 3\n", "LINE 3\n").replace("line 4\n", "LINE 4\n")
    repo.commit("Alice <ALICE@Example.COM>", "2026-01-05T21:30:00-03:00", {"src/app.py": app})
    mailmap = "Bob Builder <bob@example.com> <bob@old.example>\n"
    repo.commit(BOB_OLD, "2026-01-06T09:00:00Z", {".mailmap": mailmap, "lib.py": lines(5, "lib")})
    # A rename with one edited line is one changed file, +1 -1 (not a delete of 10 and an add of 10).
    repo.rename(BOB, "2026-01-07T09:00:00Z", "src/app.py", "src/main.py", app.replace("line 9\n", "nine\n"))
    repo.commit(
        BOB,
        "2026-01-07T15:00:00Z",
        {
            ".gitattributes": "gen/** linguist-generated\n",
            "vendor/lib/x.js": lines(50),
            "node_modules/pkg/index.js": lines(7),
            "package-lock.json": lines(20),
            "web/app.min.js": lines(3),
            "gen/out.pb.go": lines(30),
            "logo.png": b"\x89PNG\r\n\x00\x00binary\x00" * 20,
        },
    )
    repo.commit(DEPENDABOT, "2026-01-08T08:00:00Z", {"lib.py": lines(6, "lib")})
    repo.commit("Carol <12345+carol@users.noreply.github.com>", "2026-01-08T10:00:00Z", {"carol.txt": lines(2)})
    repo.commit("Carol C <carol@users.noreply.github.com>", "2026-01-09T10:00:00Z", {"carol.txt": lines(3)})
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("Dave <dave@example.com>", "2026-01-09T11:00:00Z", {"dave.txt": lines(4)})
    repo.git("checkout", "-q", "main")
    repo.commit(ALICE, "2026-01-09T12:00:00Z", {"README.md": lines(4, "readme")})
    repo.merge(ALICE, "2026-01-10T12:00:00Z", "feature")
    repo.commit("Alice <alice.personal@gmail.com>", "2026-01-11T12:00:00Z", {"README.md": lines(5, "readme")})
    # Another branch is not the default branch: not counted.
    repo.git("checkout", "-q", "-b", "experiment")
    repo.commit("Eve <eve@example.com>", "2026-01-12T12:00:00Z", {"eve.txt": lines(100)})
    repo.git("checkout", "-q", "main")
    return repo


def totals_by_email(api: TestClient, **params: Any) -> dict[str, dict[str, Any]]:
    resp = api.get("/v1/metrics/developers", params=params)
    assert resp.status_code == 200, resp.text
    return {d["email"]: d["totals"] | {"name": d["name"], "id": d["developer_id"]} for d in resp.json()["data"]}


def counters(row: dict[str, Any]) -> tuple[int, ...]:
    return tuple(row[k] for k in ("commits", "merges", "lines_added", "lines_deleted", "files_changed", "active_days"))


def test_every_counting_rule(api: TestClient, tmp_path: Path) -> None:
    repo = build(tmp_path / "project")
    alice = api.post(
        "/v1/developers",
        json={"name": "Alice Liddell", "email": "alice@example.com", "aliases": ["alice.personal@gmail.com"]},
    ).json()
    connected = api.post("/v1/repositories", json={"url": str(repo.path)}).json()
    queued = api.get(f"/v1/repositories/{connected['id']}/analyses").json()["data"]
    assert [a["status"] for a in queued] == ["queued"]
    assert [a["trigger"] for a in queued] == ["connect"]
    began = time.monotonic()
    assert drain() == ["succeeded"]
    took = time.monotonic() - began

    done = api.get(f"/v1/analyses/{queued[0]['id']}").json()
    assert done["status"] == "succeeded"
    assert (done["mode"], done["reason"], done["branch"]) == ("full", "first", "main")
    assert done["head_commit"] == repo.head()
    assert done["commits_analysed"] == done["new_commits"] == done["commits_total"] == 12
    assert done["developers_updated"] == 4
    assert done["read_ms"] is not None and done["finished_at"] is not None

    team = totals_by_email(api, repository_id=connected["id"])
    assert set(team) == {"alice@example.com", "bob@example.com", "carol@users.noreply.github.com", "dave@example.com"}
    # commits, merges, added, deleted, files, active days
    assert counters(team["alice@example.com"]) == (4, 1, 3 + 10 + 2 + 1 + 1, 2, 2 + 1 + 1 + 1, 5)
    assert team["alice@example.com"]["id"] == alice["id"]
    assert team["alice@example.com"]["first_commit_at"] == "2026-01-05T10:00:00Z"
    assert team["alice@example.com"]["last_commit_at"] == "2026-01-11T12:00:00Z"
    # .mailmap + lib.py; the rename +1 -1; only .gitattributes of the vendored/generated/lock/binary commit.
    assert counters(team["bob@example.com"]) == (3, 0, 1 + 5 + 1 + 1, 1, 2 + 1 + 1, 2)
    assert team["bob@example.com"]["name"] == "Bob Builder"
    assert counters(team["carol@users.noreply.github.com"]) == (2, 0, 3, 0, 2, 2)
    assert counters(team["dave@example.com"]) == (1, 0, 4, 0, 1, 1)

    with_bots = totals_by_email(api, repository_id=connected["id"], include_bots="true")
    bot = with_bots["dependabot[bot]@users.noreply.github.com"]
    assert counters(bot) == (1, 0, 1, 0, 1, 1)

    developers = {d["email"]: d for d in api.get("/v1/developers").json()["data"]}
    assert developers["dependabot[bot]@users.noreply.github.com"]["is_bot"] is True
    assert "eve@example.com" not in developers

    events = api.get("/v1/events", params={"type": "developer.added"}).json()["data"]
    assert sorted(e["data"]["email"] for e in events) == sorted(
        ["alice@example.com", "bob@example.com", "carol@users.noreply.github.com", "dave@example.com"]
    )
    updates = api.get("/v1/events", params={"type": "metrics.updated"}).json()["data"]
    by_dev = {e["data"]["email"]: e["data"] for e in updates}
    assert set(by_dev) == set(team)
    assert by_dev["bob@example.com"]["delta"] == {
        "commits": 3,
        "merges": 0,
        "lines_added": 8,
        "lines_deleted": 1,
        "files_changed": 4,
        "new_work": 1 + 5 + 1,  # .mailmap, lib.py, .gitattributes: lines that replace nothing
        "refactor": 0,
        "rework": 0,
        "help_others": 1,  # the renamed file's edited line was Alice's, two days old
        "co_authored_commits": 0,
        "active_days": 2,
    }
    assert by_dev["bob@example.com"]["totals"]["lines_added"] == 8
    assert by_dev["bob@example.com"]["analysis_id"] == done["id"]
    assert by_dev["bob@example.com"]["repository_id"] == connected["id"]
    complete = api.get("/v1/events", params={"type": "analysis.complete"}).json()["data"]
    assert len(complete) == 1
    data = complete[0]["data"]
    assert data["status"] == "succeeded"
    assert data["head_commit"] == repo.head()
    assert (data["commits_analysed"], data["new_commits"], data["analysis_id"]) == (12, 12, done["id"])
    # The whole run: at least its fetch, read and store phases (each counted in whole ms), at most the drain.
    phases = (done["fetch_ms"] or 0) + done["read_ms"] + done["store_ms"]
    assert phases / 1000 - 0.0005 <= data["duration_seconds"] <= took + 0.0005

    # A series by week: 2026-01-05 is a Monday, 2026-01-11 the Sunday of the same week.
    series = api.get(f"/v1/developers/{alice['id']}/metrics", params={"granularity": "week"}).json()
    assert [(b["start"], b["commits"], b["merges"], b["active_days"]) for b in series["buckets"]] == [
        ("2026-01-05", 4, 1, 5)
    ]
