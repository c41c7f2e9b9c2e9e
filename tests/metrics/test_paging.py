"""`GET /v1/metrics/developers` and `GET /v1/developers` as lists that scale: sorted by any column in the
database, paged by keyset so that every row comes exactly once whatever ties, searched, and counted."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gitproductivity.core.db import Database
from gitproductivity.developers import service as developers
from gitproductivity.metrics import table
from gitproductivity.metrics.models import DailyRollup
from gitproductivity.metrics.service import COUNTERS
from gitproductivity.repositories import flows
from tests.conftest import Tenant

#: Few distinct names and small figures: many rows tie on every column but the id.
NAMES = ("ann", "Ann", "ANN", "bob", "Bob Smith", "cid", "Dee", "100% Pure", "a_b", "zed")
PEOPLE = 240


def _people(database: Database, tenant: Tenant, tmp_path: Path) -> list[dict[str, Any]]:
    """PEOPLE developers (a few bots) with random rollups in two repositories; what the API should show."""
    rng = random.Random(13)
    org = tenant.organization_id
    (tmp_path / "r1" / ".git").mkdir(parents=True)
    (tmp_path / "r2" / ".git").mkdir(parents=True)
    expected = []
    with database.session() as session:
        repos = [flows.connect(session, organization_id=org, url=str(tmp_path / r)).id for r in ("r1", "r2")]
        wanted = [(rng.choice(NAMES), f"p{n:03d}@example.com", n % 40 == 0) for n in range(PEOPLE)]
        devs, _events = developers.create_found(session, organization_id=org, people=wanted)
        rows = []
        for dev in devs:
            days = rng.sample(range(30), rng.randint(0, 3))  # some have no activity at all
            totals: dict[str, Any] = dict.fromkeys(COUNTERS, 0)
            first = last = None
            for offset in days:
                day = date(2026, 1, 1) + timedelta(days=offset)
                at = datetime(day.year, day.month, day.day, rng.choice((9, 12)), tzinfo=UTC)
                figures = {name: rng.randint(0, 2) for name in COUNTERS}
                rows.append(
                    DailyRollup(
                        repository_id=rng.choice(repos),
                        developer_id=dev.id,
                        day=day,
                        organization_id=org,
                        first_commit_at=at,
                        last_commit_at=at,
                        **figures,
                    )
                )
                for name in COUNTERS:
                    totals[name] += figures[name]
                first = at if first is None else min(first, at)
                last = at if last is None else max(last, at)
            if days:
                totals |= {"active_days": len(days), "first_commit_at": first, "last_commit_at": last}
                expected.append({"id": dev.id, "name": dev.name, "email": dev.email, "is_bot": dev.is_bot, **totals})
        session.add_all(rows)
    return expected


def _walk(api: TestClient, url: str, params: dict[str, Any], limit: int) -> tuple[list[dict[str, Any]], set[int]]:
    """Every row, a page at a time; the totals the pages said."""
    items: list[dict[str, Any]] = []
    totals = set()
    query = {**params, "limit": limit}
    for _ in range(1000):
        body = api.get(url, params=query).json()
        assert "data" in body, body
        assert len(body["data"]) <= limit
        items += body["data"]
        totals.add(body["total"])
        if not body["has_more"]:
            assert body["next_cursor"] is None
            return items, totals
        query = {**params, "limit": limit, "after": body["next_cursor"]}
    raise AssertionError("did not end")


def _key(row: dict[str, Any], field: str) -> Any:
    value = row[field]
    return value.lower() if field == "name" else value


@pytest.mark.slow  # walks 20 sort orders page by page over 240 developers: seconds per backend
def test_metrics_pages_walk_every_row_once_in_every_sort_order(
    api: TestClient, database: Database, tenant: Tenant, tmp_path: Path
) -> None:
    expected = _people(database, tenant, tmp_path)
    people = [row for row in expected if not row["is_bot"]]
    assert 100 < len(people) < PEOPLE  # inactive developers and bots are left out
    for field in table.SORTS:
        for descending in (False, True):
            walked, totals = _walk(
                api, "/v1/metrics/developers", {"sort": f"-{field}" if descending else field}, limit=23
            )
            assert totals == {len(people)}, field

            # On the column in its direction, ties by name (any case) then id, both ascending: a stable sort on
            # the column (reverse keeps the order of equal rows) over rows already in tie order.
            def tie(row: dict[str, Any], field: str = field) -> tuple[str, str]:
                return (row["name"].lower() if field != "email" else "", row["id"])

            def column(row: dict[str, Any], field: str = field) -> Any:
                return _key(row, field)

            want = sorted(sorted(people, key=tie), key=column, reverse=descending)
            got = [row["developer_id"] for row in walked]
            assert len(got) == len(set(got)) == len(people), field
            assert got == [row["id"] for row in want], f"sort={'-' if descending else ''}{field}"
            for row in walked:  # the figures are the sums of the rollups
                mine = next(p for p in people if p["id"] == row["developer_id"])
                assert row["totals"]["commits"] == mine["commits"]
                assert row["totals"]["lines_added"] == mine["lines_added"]
                assert row["totals"]["active_days"] == mine["active_days"]


def test_developer_pages_walk_every_row_once_in_every_sort_order(
    api: TestClient, database: Database, tenant: Tenant, tmp_path: Path
) -> None:
    _people(database, tenant, tmp_path)
    everyone = api.get("/v1/developers", params={"limit": 500}).json()
    assert everyone["total"] == len(everyone["data"]) == PEOPLE and not everyone["has_more"]
    rows = everyone["data"]
    for field in developers.SORTS:
        for descending in (False, True):
            sort = f"-{field}" if descending else field
            walked, totals = _walk(api, "/v1/developers", {"sort": sort}, limit=17)
            assert totals == {PEOPLE}
            tie = sorted(rows, key=lambda r: r["id"])
            want = sorted(tie, key=lambda r, f=field: _key(r, f), reverse=descending)
            assert [r["id"] for r in walked] == [r["id"] for r in want], sort


@pytest.mark.parametrize("url", ["/v1/developers", "/v1/metrics/developers"])
def test_search_matches_name_and_email_in_any_case_with_wildcards_taken_literally(
    api: TestClient, database: Database, tenant: Tenant, tmp_path: Path, url: str
) -> None:
    expected = _people(database, tenant, tmp_path)
    key = "id" if url == "/v1/developers" else "developer_id"
    pool = {r["id"]: r for r in expected if not r["is_bot"]} if "metrics" in url else None

    def search(q: str) -> tuple[set[str], set[int]]:
        walked, totals = _walk(api, url, {"q": q}, limit=31)
        return {row[key] for row in walked}, totals

    def wanted(match: Any) -> set[str]:
        rows = api.get("/v1/developers", params={"limit": 500}).json()["data"]
        return {r["id"] for r in rows if match(r) and (pool is None or r["id"] in pool)}

    for q in ("ann", "ANN", "%", "_", "a_b", "100%", "P00", "p01", "@EXAMPLE.com", "nobody-has-this"):
        found, totals = search(q)
        want = wanted(lambda r, q=q: q.lower() in r["name"].lower() or q.lower() in r["email"])
        assert found == want, q
        assert totals == {len(want)}, q
    assert len(search("%")[0]) < len(search("")[0])  # `%` is a character, not "anything"
    assert search("ann")[0] and search("a_b")[0]


def test_bad_sorts_and_cursors_are_422_in_words(api: TestClient) -> None:
    for url, allowed in (("/v1/developers", "created_at"), ("/v1/metrics/developers", "lines_added")):
        bad = api.get(url, params={"sort": "salary"})
        assert bad.status_code == 422, bad.text
        error = bad.json()["error"]
        assert error["code"] == "validation_error" and "salary" in error["message"] and allowed in error["message"]
        assert error["details"][0]["field"] == "sort"
        assert api.get(url, params={"sort": "--name"}).status_code == 422
        assert api.get(url, params={"after": "not-a-cursor"}).status_code == 422


def test_a_cursor_is_only_good_for_its_own_sort(
    api: TestClient, database: Database, tenant: Tenant, tmp_path: Path
) -> None:
    _people(database, tenant, tmp_path)
    for url in ("/v1/developers", "/v1/metrics/developers"):
        cursor = api.get(url, params={"sort": "name", "limit": 5}).json()["next_cursor"]
        assert cursor
        wrong = api.get(url, params={"sort": "-name", "after": cursor})
        assert wrong.status_code == 422 and "sort" in wrong.json()["error"]["details"][0]["message"]

    # A page past the end (its last row went away since) is empty and still says the total.
    everyone = api.get("/v1/metrics/developers", params={"sort": "name", "limit": 500}).json()["data"]
    page = api.get("/v1/metrics/developers", params={"sort": "name", "limit": len(everyone) - 1}).json()
    assert page["has_more"] and page["total"] == len(everyone)
    with database.session() as session:
        session.query(DailyRollup).filter(DailyRollup.developer_id == everyone[-1]["developer_id"]).delete()
    rest = api.get("/v1/metrics/developers", params={"sort": "name", "after": page["next_cursor"]}).json()
    assert rest["data"] == [] and rest["total"] == len(everyone) - 1 and not rest["has_more"]


@pytest.mark.parametrize(
    ("url", "key", "sorts"),
    [
        ("/v1/metrics/developers", "developer_id", ("name", "-commits", "last_commit_at")),
        ("/v1/developers", "id", ("id", "-name", "created_at")),
    ],
)
def test_pages_walk_backwards_with_before(
    api: TestClient, database: Database, tenant: Tenant, tmp_path: Path, url: str, key: str, sorts: tuple[str, ...]
) -> None:
    """From the last page back to the first with `previous_cursor` as `before`: the same pages, in reverse."""
    _people(database, tenant, tmp_path)
    for sort in sorts:
        pages: list[list[str]] = []
        query: dict[str, Any] = {"sort": sort, "limit": 23}
        while True:
            body = api.get(url, params=query).json()
            pages.append([row[key] for row in body["data"]])
            assert (body["previous_cursor"] is None) == (len(pages) == 1), sort
            if not body["has_more"]:
                break
            query = {"sort": sort, "limit": 23, "after": body["next_cursor"]}
        back: list[list[str]] = [pages[-1]]
        cursor = body["previous_cursor"]
        while cursor:
            body = api.get(url, params={"sort": sort, "limit": 23, "before": cursor}).json()
            back.append([row[key] for row in body["data"]])
            assert body["has_more"] and body["next_cursor"]  # a page before another always has one after it
            cursor = body["previous_cursor"]
        assert back[::-1] == pages, sort
    both = api.get(url, params={"after": "x", "before": "y"})
    assert both.status_code == 422 and both.json()["error"]["details"][0]["field"] == "before"
    bad = api.get(url, params={"before": "not-a-cursor"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "before"
