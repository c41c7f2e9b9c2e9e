"""The dashboard with a big generated team (2,200 authors, 20 years, analysed for real: `tests.web.bigteam`), in
real Chromium at 1280 and 390 px: it does not scroll sideways, shows the last 12 months on a real time axis (the
weeks without commits are gaps at their place), the top ten with "show all" (a paged list), the top five stacked
under everyone else, and a developer picker that searches within the chosen team."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.web.bigteam import BigTeam, use_big_team
from tests.web.conftest import UI

pytestmark = pytest.mark.slow  # a real `gitproductivity serve` driven by Chromium

database_url, database, big_team = use_big_team()

#: How far the page is wider than the window: nothing.
_OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"
_CHART = (
    "(id) => { const c = Chart.getChart(document.getElementById(id)).data;"
    " return {labels: c.labels, sets: c.datasets.map(d => ({label: d.label, data: d.data}))}; }"
)


@pytest.mark.parametrize("width", [1280, 390])
def test_the_dashboard_holds_a_big_team(ui: UI, big_team: BigTeam, width: int, tmp_path: Path) -> None:
    ui.page.set_viewport_size({"width": width, "height": 860})
    ui.sign_in(big_team.tenant)
    answer = ui.goto("/dashboard")
    assert len(answer.body()) < 150_000  # 2,200 people: the page sends the top of each list only
    expect(ui.page.get_by_label("Range", exact=True)).to_have_value("12m")
    ui.page.wait_for_function("() => !!Chart.getChart(document.getElementById('chart-developers'))")
    assert ui.page.evaluate(_OVERFLOW) <= 0
    ui.screenshot("dashboard" if width == 1280 else "dashboard-phone", tmp_path)  # the README's, with 2,200 people

    # The last 12 months, every week of them, the quiet stretch as zeros at its place.
    commits = ui.page.evaluate(_CHART, "chart-commits")
    weeks = [date.fromisoformat(label) for label in commits["labels"]]
    assert len(weeks) == 53 and weeks[0] <= big_team.today - timedelta(days=358) and weeks[-1] <= big_team.today
    values = commits["sets"][0]["data"]
    first, last = big_team.quiet
    quiet = [v for week, v in zip(weeks, values, strict=True) if week >= first and week + timedelta(days=6) <= last]
    assert len(quiet) >= 6 and set(quiet) == {0}
    assert sum(1 for v in values if v) >= 30  # and commits everywhere else

    # The top five, and everyone else stacked on them.
    stacked = ui.page.evaluate(_CHART, "chart-developers")
    assert [s["label"] for s in stacked["sets"]][-1] == "Everyone else" and len(stacked["sets"]) == 6
    assert stacked["labels"] == commits["labels"]
    totals = [sum(column) for column in zip(*(s["data"] for s in stacked["sets"]), strict=True)]
    assert totals == values  # the bands add up to the team's commits

    # The top ten, then everyone through "show all": a page at a time, sortable, not 2,000 rows at once.
    rows = ui.page.locator("table.contributors tbody tr")
    expect(rows).to_have_count(10)
    heading = ui.page.get_by_role("heading", name=re.compile("Top contributors"))
    expect(heading.last).to_contain_text(re.compile(r"10 of \d+"))
    ui.page.get_by_role("link", name=re.compile(r"Show all [\d,]+ contributors")).click()
    ui.page.wait_for_url("**/dashboard/contributors**")
    expect(rows).to_have_count(50)
    assert ui.page.evaluate(_OVERFLOW) <= 0
    ui.page.get_by_role("link", name="Next page").click()
    expect(ui.page.get_by_role("link", name="First page")).to_be_visible()
    expect(rows).to_have_count(50)
    ui.page.get_by_role("link", name="Active days").click()
    expect(ui.page.locator("th[aria-sort]")).to_contain_text("Active days")
    assert ui.page.evaluate(_OVERFLOW) <= 0


def test_the_developer_picker_searches_within_the_team(ui: UI, big_team: BigTeam) -> None:
    ui.sign_in(big_team.tenant)
    ui.goto("/dashboard")
    options = ui.page.locator("#developer-options option")
    ids = "() => Array.from(document.querySelectorAll('#developer-options option')).map(o => o.dataset.id)"

    team = ui.page.get_by_label("Team", exact=True)
    team.fill("Platf")  # the team picker suggests as one types, and takes the one that matches
    team.dispatch_event("change")
    expect(ui.page.locator("#f-team-id")).to_have_value(big_team.team_id)
    picker = ui.page.get_by_label("Developer", exact=True)

    member = big_team.team_member_ids[3]
    outsider = next(dev for dev in big_team.developer_ids if dev not in big_team.team_member_ids)

    def address(dev: str) -> str:  # gen_repo: "Developer N" writes as devN@example.com
        return f"dev{big_team.names[dev].split()[-1]}@"

    picker.fill(address(outsider))
    expect(options).to_have_count(0)  # not in the team: not suggested
    picker.fill("Developer")
    ui.page.wait_for_function("() => document.getElementById('developer-options').options.length === 20")
    assert set(ui.page.evaluate(ids)) <= set(big_team.team_member_ids)  # only the team's people
    picker.fill(address(member))
    expect(options).to_have_count(1)
    assert ui.page.evaluate(ids) == [member]
    ui.page.get_by_role("button", name="Apply").click()
    ui.page.wait_for_url(re.compile(f"developer={member}"))
    assert f"team_id={big_team.team_id}" in ui.page.url
    expect(ui.page.locator("#stat-developers")).to_have_text("1")
    expect(ui.page.get_by_role("heading", name=re.compile(re.escape(big_team.names[member])))).to_have_count(2)


def test_no_page_scrolls_sideways_with_the_big_team(ui: UI, big_team: BigTeam, tmp_path: Path) -> None:
    """Every page whose size grows with the team, at 1280 and 390 px, with 2,200 people over 20 years (the sweep
    of every page, with long names and e-mails, is tests/web/test_page_widths.py)."""
    from tests.web.test_page_widths import _misfits

    top = big_team.developer_ids[0]
    pages = [
        "/dashboard",
        "/dashboard?range=all",
        f"/dashboard?team_id={big_team.team_id}",
        "/dashboard/contributors",
        "/developers",
        "/developers?sort=-commits",
        "/developers?last=1",
        f"/developers/{top}",
        f"/developers/{top}?range=all",
        "/teams",
        f"/teams/{big_team.team_id}",
        "/repositories",
        f"/repositories/{big_team.repository_id}/ownership",
    ]
    ui.sign_in(big_team.tenant)
    problems: list[str] = []
    for width in (1280, 390):
        ui.page.set_viewport_size({"width": width, "height": 860})
        for path in pages:
            answer = ui.goto(path)
            assert answer is not None and answer.status == 200, path
            problems += _misfits(ui, width)
            if width == 1280 and path in ("/developers?sort=-commits", f"/developers/{top}"):
                ui.screenshot("developers" if path.startswith("/developers?") else "developer", tmp_path)
    assert not problems, "\n".join(problems)


def test_the_activity_cards_follow_the_dashboards_range(ui: UI, big_team: BigTeam) -> None:
    """The hours card (loaded after the page) counts the commits of the range shown (12 months by default), as
    the stats above it do, not all 20 years; all time counts every commit."""
    ui.sign_in(big_team.tenant)
    for path in ("/dashboard", "/dashboard?range=all"):
        ui.goto(path)
        commits = ui.page.locator("#stat-commits").inner_text()
        expect(ui.page.locator("#hours-card")).to_contain_text(f"{commits} commits by hour of the week")
    assert commits == "3,000"
