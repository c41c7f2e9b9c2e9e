"""The Developers page over the lists that scale: search, sort by any column, the real total, pages of 50
(without a browser; tests/web/test_developers_width.py looks at it in Chromium)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient

from gitproductivity.core.db import Database
from gitproductivity.developers import service as developers
from gitproductivity.repositories import flows
from tests.conftest import Tenant
from tests.metrics.test_team_series import rollup
from tests.teams.test_api import _signed_in

_ROW = re.compile(r'<tr id="(dev_[0-9a-z]+)">')
_NEXT = re.compile(r'<a href="(/developers\?[^"]+)" rel="next">')


def _people(database: Database, tenant: Tenant, tmp_path: Path, n: int) -> list[str]:
    org = tenant.organization_id
    (tmp_path / "r" / ".git").mkdir(parents=True)
    with database.session() as session:
        repo = flows.connect(session, organization_id=org, url=str(tmp_path / "r")).id
        people = [(f"Person {i:03d}", f"person{i:03d}@example.com", False) for i in range(n)]
        people.append(("renovate[bot]", "bot@renovate.example", True))
        devs, _events = developers.create_found(session, organization_id=org, people=people)
        # Commits 1 to 3 (many ties); every fifth person has none at all.
        session.add_all(rollup(org, repo, d.id, date(2026, 1, 5), 1 + i % 3) for i, d in enumerate(devs) if i % 5)
        return [d.id for d in devs if not d.is_bot]


def _walk(page: TestClient, url: str) -> tuple[list[str], list[str]]:
    """Every row id, following "Next" links; the pages' HTML."""
    ids: list[str] = []
    pages: list[str] = []
    next_url: str | None = url
    while next_url:
        html = page.get(next_url.replace("&amp;", "&")).text
        pages.append(html)
        ids += _ROW.findall(html.split('id="bots"')[0])
        found = _NEXT.search(html)
        next_url = found.group(1) if found else None
    return ids, pages


def test_the_page_lists_everyone_in_pages_with_the_total(
    client: TestClient, database: Database, tenant: Tenant, tmp_path: Path
) -> None:
    people = _people(database, tenant, tmp_path, 120)
    page = _signed_in(client, tenant)
    ids, pages = _walk(page, "/developers")
    assert ids == people  # by name (they were made in name order), each once, inactive ones too
    assert len(pages) == 3 and all('People <span class="count">120</span>' in html for html in pages)
    assert "Showing 1\N{EN DASH}50 of 120" in pages[0] and "Showing 101\N{EN DASH}120 of 120" in pages[2]
    assert "renovate[bot]" in pages[0].split('id="bots"')[1]  # bots apart, on every page

    by_commits, _ = _walk(page, "/developers?sort=-commits")
    assert sorted(by_commits) == sorted(people) and len(set(by_commits)) == len(people)
    assert by_commits[:3] == [people[2], people[8], people[11]]  # 3 commits first, ties by name
    assert set(by_commits[-24:]) == {people[i] for i in range(0, 120, 5)}  # no activity last

    found, pages = _walk(page, "/developers?q=PERSON01")
    assert found == people[10:20] and "Showing 1\N{EN DASH}10 of 10 matching" in pages[0]
    assert "Nobody matches" in page.get("/developers?q=100%25").text  # `%` is a character
    # A bad sort or a stale cursor is not an error page.
    assert page.get("/developers?sort=salary").status_code == 200
    stale = page.get("/developers?sort=-commits&after=bm90LWEtY3Vyc29y")
    assert stale.status_code == 200 and "here is its first page" in stale.text


def _link(html: str, label: str) -> str | None:
    """The pager's link whose text has `label` (First, Previous, Next, Last), or None when it is not a link."""
    found = re.search(rf'<a href="(/developers[^"]*)"[^>]*>[^<]*{label}[^<]*</a>', html)
    return found.group(1).replace("&amp;", "&") if found else None


def _rows(html: str) -> list[str]:
    return _ROW.findall(html.split('id="bots"')[0])


def test_the_pager_goes_first_previous_next_and_last_keeping_sort_and_search(
    client: TestClient, database: Database, tenant: Tenant, tmp_path: Path
) -> None:
    people = _people(database, tenant, tmp_path, 120)
    page = _signed_in(client, tenant)
    first = page.get("/developers?sort=-name").text
    by_name_down = people[::-1]
    assert _rows(first) == by_name_down[:50] and "Showing 1\N{EN DASH}50 of 120" in first
    assert _link(first, "First") is None and _link(first, "Previous") is None  # shown, but not links

    last_url = _link(first, "Last")
    assert last_url is not None and "sort=-name" in last_url
    last = page.get(last_url).text
    assert _rows(last) == by_name_down[100:] and "Showing 101\N{EN DASH}120 of 120" in last
    assert _link(last, "Next") is None and _link(last, "Last") is None

    previous_url = _link(last, "Previous")
    assert previous_url is not None and "before=" in previous_url and "sort=-name" in previous_url
    middle = page.get(previous_url).text
    assert _rows(middle) == by_name_down[50:100] and "Showing 51\N{EN DASH}100 of 120" in middle
    back_url = _link(middle, "Previous")
    assert back_url is not None
    again = page.get(back_url).text
    assert _rows(again) == by_name_down[:50] and "Showing 1\N{EN DASH}50 of 120" in again
    assert _link(again, "Previous") is None  # back at the start: no page before it
    next_url = _link(middle, "Next")
    assert next_url is not None and _rows(page.get(next_url).text) == by_name_down[100:]
    first_url = _link(middle, "First")
    assert first_url == "/developers?sort=-name"

    # With a search: "person0" is Person 000 to 099, two pages.
    searched = page.get("/developers?q=person0").text
    assert "Showing 1\N{EN DASH}50 of 100 matching" in searched
    last_found = page.get(_link(searched, "Last") or "").text
    assert "Showing 51\N{EN DASH}100 of 100 matching" in last_found and _rows(last_found) == people[50:100]
    back = page.get(_link(last_found, "Previous") or "").text
    assert _rows(back) == people[:50] and "q=person0" in (_link(back, "Next") or "")

    # One page only: no pager at all.
    assert 'class="pager"' not in page.get("/developers?q=person11").text
