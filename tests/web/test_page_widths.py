"""Every page of the UI at 1280 and 390 px, in real Chromium on both databases, with a many-developer history:
no page scrolls sideways, and on the phone width every visible button and row action is on screen.

The data (`_site`) is one function: a generated repository (a few hundred authors with long names and e-mails
over twenty years, analysed for real), a team, a webhook with a long URL whose deliveries fail, an invited
member. It returns the ids the pages need, so a bigger fixture (tests/web/bigteam.py) can take its place.
"""

from __future__ import annotations

import random
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect

from gitproductivity.core import settings
from tests.analysis.gitrepo import drain
from tests.conftest import Tenant
from tests.web.conftest import UI
from tests.web.test_ui_words import no_sideways_scroll
from tests.webhooks.conftest import wait_for

pytestmark = pytest.mark.slow  # a real `gitproductivity serve` driven by Chromium

AUTHORS = 300
COMMITS = 1_500
YEARS = 20
LONG_URL = (
    "https://hooks.invalid/services/T0123456789/B0123456789/an-uncommonly-long-path-segment-that-a-real-"
    "integration-would-generate/with/more/parts?token=abcdefghijklmnopqrstuvwxyz0123456789&team=platform"
)

#: Visible buttons, button-looking links and row actions that are not wholly inside the window's width, or are
#: cut off by a box that scrolls or clips them (a table scrolling inside its card hides its last column).
_OFF_SCREEN = """() => {
  const cut = e => {
    const r = e.getBoundingClientRect();
    if (r.left < 0 || r.right > innerWidth + 0.5) return true;
    for (let n = e.parentElement; n && n !== document.body; n = n.parentElement) {
      if (getComputedStyle(n).overflowX === 'visible') continue;
      const box = n.getBoundingClientRect();
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5) return true;
    }
    return false;
  };
  return [...document.querySelectorAll(
      'main button, main a.button, main td.actions a, main input[type=submit], header button, header a')]
    .filter(e => e.checkVisibility() && e.getClientRects().length && cut(e))
    .slice(0, 5)
    .map(e => (e.textContent || e.value || e.tagName).trim() + ' @' + Math.round(e.getBoundingClientRect().right));
}"""
#: For a failure: the first such element's boxes up to the page, and the widths of its row's cells.
_WHY = """() => {
  const e = [...document.querySelectorAll('main button, main a.button')].filter(
    b => b.checkVisibility() && b.getBoundingClientRect().right > innerWidth)[0];
  if (!e) return '';
  const out = [];
  for (let n = e; n && n !== document.body; n = n.parentElement) {
    const r = n.getBoundingClientRect();
    out.push(n.tagName + '.' + n.className + ' ' + Math.round(r.left) + '-' + Math.round(r.right));
  }
  const row = e.closest('tr');
  if (row) out.push([...row.cells].map(c => c.className + ':' + Math.round(c.getBoundingClientRect().width))
    .join(' | '));
  return out.join(' < ');
}"""


def _generated_repository(path: Path, *, seed: int = 13) -> Path:
    """A repository of COMMITS commits by AUTHORS people with long names and e-mails, spread over YEARS years
    ending last month, made with `git fast-import` (a long tail: a few people make most commits)."""
    rng = random.Random(seed)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    people = [
        (
            f"Maximiliana Featherstonehaugh-Bartholomew {n:03d}",
            f"maximiliana.featherstonehaugh.bartholomew.{n:03d}@engineering.very-long-subdomain.example.com",
        )
        for n in range(AUTHORS)
    ]
    weights = [1.0 / (i + 1) ** 0.7 for i in range(AUTHORS)]
    end = int(datetime.now(UTC).timestamp()) - 30 * 86400
    start = end - YEARS * 365 * 86400
    files: dict[str, int] = {}
    script: list[bytes] = []
    for i in range(COMMITS):
        name, email = people[i % AUTHORS] if i < AUTHORS else rng.choices(people, weights)[0]
        when = start + (end - start) * i // COMMITS
        file = f"src/module{rng.randint(0, 60)}.txt"
        files[file] = files.get(file, 0) + rng.randint(1, 30)
        blob = "".join(f"line {k}\n" for k in range(files[file])).encode()
        script.append(f"commit refs/heads/main\nmark :{i + 1}\n".encode())
        script.append(f"author {name} <{email}> {when} +0000\ncommitter {name} <{email}> {when} +0000\n".encode())
        script.append(b"data 6\nchange\n")
        if i:
            script.append(b"from :%d\n" % i)
        script.append(f"M 100644 inline {file}\n".encode() + b"data %d\n" % len(blob) + blob + b"\n\n")
    script.append(b"done\n")
    subprocess.run(["git", "-C", str(path), "fast-import", "--quiet", "--done"], input=b"".join(script), check=True)
    subprocess.run(["git", "-C", str(path), "checkout", "-q", "main"], check=True)
    return path


@dataclass(frozen=True)
class Site:
    developer_id: str  # the most active developer: twenty years of history
    team_id: str
    webhook_id: str


@pytest.fixture
def site(api: TestClient, tenant: Tenant, tmp_path: Path, configured: Any) -> Site:
    """The data, made and analysed in this process before the server starts (a fixture the `ui` one follows);
    change categories off (their blame per commit would take minutes on 300 authors over 20 years)."""
    configured(**{**settings._overrides, "change_categories": False})
    repo = _generated_repository(tmp_path / "platform-monorepo-with-a-rather-long-name")
    hook = api.post(
        "/v1/webhooks",
        json={"url": LONG_URL, "events": ["repository.connected", "analysis.complete"], "description": "Ops"},
    )
    assert hook.status_code == 201, hook.text
    assert api.post("/v1/repositories", json={"url": str(repo)}).status_code == 201
    assert drain() == ["succeeded"]
    top = api.get("/v1/metrics/developers", params={"sort": "-commits", "limit": 1}).json()["data"][0]
    team = api.post("/v1/teams", json={"name": "Platform, infrastructure and developer experience"}).json()
    for dev in api.get("/v1/developers", params={"limit": 60}).json()["data"]:
        assert api.put(f"/v1/teams/{team['id']}/developers/{dev['id']}").status_code == 204
    invited = api.post(
        "/v1/members",
        json={
            "email": "a.very.long.address.for.a.new.colleague@engineering.very-long-subdomain.example.com",
            "role": "viewer",
        },
    )
    assert invited.status_code == 201, invited.text
    return Site(developer_id=top["developer_id"], team_id=team["id"], webhook_id=hook.json()["id"])


def _failed_delivery(api: TestClient, webhook_id: str) -> str:
    """A delivery that failed for good (the server's dispatcher cannot reach hooks.invalid)."""

    def failed() -> Any:
        rows = api.get(f"/v1/webhooks/{webhook_id}/deliveries").json()["data"]
        done = [row["id"] for row in rows if row["status"] == "failed"]
        return done[0] if done else None

    return str(wait_for(failed, timeout=60, what="a failed delivery"))


def _misfits(ui: UI, width: int) -> list[str]:
    """What is wrong with the page at this width: sideways scroll, buttons off screen (empty: nothing)."""
    problems = []
    try:
        no_sideways_scroll(ui)
    except AssertionError as exc:
        problems.append(f"{width} px: {exc}")
    off = ui.page.evaluate(_OFF_SCREEN)
    if off:
        problems.append(f"{ui.path()} at {width} px: off screen: {off} {ui.page.evaluate(_WHY)}")
    return problems


def test_no_page_scrolls_sideways(site: Site, ui: UI, api: TestClient, tenant: Tenant) -> None:
    delivery_id = _failed_delivery(api, site.webhook_id)
    dev, team, hook = site.developer_id, site.team_id, site.webhook_id
    pages = [
        "/dashboard",
        "/developers",
        "/developers?sort=-commits",
        "/developers?last=1",
        f"/developers/{dev}",
        f"/developers/{dev}?range=all",
        f"/developers/{dev}?find=featherstonehaugh",
        "/teams",
        f"/teams/{team}",
        "/repositories",
        "/settings/webhooks",
        "/settings/webhooks/new",
        f"/settings/webhooks/{hook}",
        f"/settings/deliveries/{delivery_id}",
        f"/settings/webhooks/{hook}/routing",
        f"/settings/webhooks/{hook}/client-certificate",
        "/notifications",
        "/members",
        "/account",
    ]
    errors = ["/developers/dev_" + "0" * 26, "/no-such-page"]
    ui.sign_in(tenant)
    problems: list[str] = []
    for width in (1280, 390):
        ui.page.set_viewport_size({"width": width, "height": 860})
        for path in pages:
            answer = ui.goto(path)
            assert answer is not None and answer.status == 200, path
            expect(ui.page.get_by_role("navigation", name="Main")).to_be_visible()
            problems += _misfits(ui, width)
        for path in errors:
            ui.expect_status(404, path)
            answer = ui.goto(path)
            assert answer is not None and answer.status == 404, path
            problems += _misfits(ui, width)
    assert not problems, "\n".join(problems)
    # The developer's page shows twenty years: all time is drawn per year, in at most twenty-odd bars.
    ui.goto(f"/developers/{dev}?range=all")
    bars = ui.page.locator("#chart-commits rect.bar").count()
    assert 10 <= bars <= YEARS + 1
