"""Repositories with live analysis status, developers with metrics, aliases and merge, and the dashboard."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.analysis.gitrepo import Repo
from tests.conftest import Tenant
from tests.web.conftest import UI

pytestmark = pytest.mark.slow  # a real `gitproductivity serve` driven by Chromium

JANE = "Jane Doe <jane@example.com>"
JANE_HOME = "Jane D <jane@home.example>"
BOB = "Bob Stone <bob@example.com>"
BOT = "dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>"


def team_repo(path: Path) -> Repo:
    repo = Repo(path)
    repo.commit(JANE, "2026-01-05T10:00:00Z", {"app.py": "a\nb\nc\n"})
    repo.commit(BOB, "2026-01-06T10:00:00Z", {"lib.py": "x\ny\n"})
    repo.commit(JANE, "2026-01-13T10:00:00Z", {"app.py": "a\nB\nc\nd\n"})
    repo.commit(JANE_HOME, "2026-02-02T10:00:00Z", {"notes.md": "one\ntwo\nthree\n"})
    repo.commit(BOT, "2026-02-03T10:00:00Z", {"deps.txt": "pin\n"})
    repo.commit(JANE, "2026-02-10T10:00:00Z", {"app.py": None})
    return repo


def connect_and_wait(ui: UI, path: Path, name: str) -> None:
    ui.goto("/repositories")
    ui.page.get_by_label("Git URL or local path").fill(str(path))
    ui.page.get_by_label("Name (optional)").fill(name)
    ui.page.get_by_role("button", name="Connect", exact=True).click()
    row = ui.page.get_by_role("row", name=name)
    # The status cell is polled by htmx while queued or running, so "complete" appears without a reload.
    expect(row.locator(".analysis")).to_contain_text("complete", timeout=30_000)


def test_analysis_developers_and_dashboard(ui: UI, tenant: Tenant, tmp_path: Path) -> None:
    team_repo(tmp_path / "team")
    other = Repo(tmp_path / "other")
    other.commit(BOB, "2026-03-02T10:00:00Z", {"x.txt": "1\n2\n3\n4\n5\n"})
    ui.sign_in(tenant)
    connect_and_wait(ui, tmp_path / "team", "team")
    connect_and_wait(ui, tmp_path / "other", "other")
    ui.screenshot("repositories", tmp_path)

    ui.page.get_by_role("row", name="team").get_by_role("button", name="Analyse now").click()
    expect(ui.page.get_by_role("status")).to_contain_text("Analysis queued")
    expect(ui.page.get_by_role("row", name="team").locator(".analysis")).to_contain_text("complete", timeout=30_000)

    # Developers: people with their metrics, the bot apart.
    ui.goto("/developers")
    jane = ui.page.get_by_role("row", name="Jane Doe")
    expect(jane.locator("td.num").first).to_have_text("3")
    expect(ui.page.get_by_role("row", name="Bob Stone").locator("td.num").first).to_have_text("2")
    bots = ui.page.locator("section", has=ui.page.get_by_role("heading", name="Bots"))
    expect(bots).to_contain_text("dependabot[bot]")
    expect(ui.page.locator("section", has=ui.page.get_by_role("heading", name="People"))).not_to_contain_text(
        "dependabot"
    )

    # Aliases: adding an address that belongs to someone else is explained next to the field.
    jane.get_by_role("link", name="Jane Doe").click()
    ui.page.wait_for_url(re.compile(r"/developers/dev_"))
    ui.expect_status(409, ui.path() + "/aliases")  # the refused address: answered 409, shown next to the field
    ui.page.get_by_label("Email", exact=True).fill("bob@example.com")
    ui.page.get_by_role("button", name="Add email").click()
    expect(ui.page.locator("#e-email")).to_contain_text("belongs to developer")
    ui.page.get_by_label("Email", exact=True).fill("jane@work.example")
    ui.page.get_by_role("button", name="Add email").click()
    expect(ui.page.get_by_role("status")).to_contain_text("Added jane@work.example")
    expect(ui.page.locator("ul.plain")).to_contain_text("jane@work.example")

    # Merge the duplicate made from her home address: her totals become one developer's.
    ui.page.get_by_label("Find the duplicate").fill("jane@home")
    ui.page.get_by_role("button", name="Search").click()
    match = ui.page.locator("#merge-matches li", has_text="jane@home.example")
    expect(match).to_contain_text("Jane D")
    match.get_by_role("button", name="Merge into Jane Doe").click()
    expect(ui.page.get_by_role("status")).to_contain_text("Merged into Jane Doe")
    expect(ui.page.locator("ul.plain")).to_contain_text("jane@home.example")
    ui.goto("/developers")
    expect(ui.page.get_by_role("row", name="Jane Doe").locator("td.num").first).to_have_text("4")
    expect(ui.page.get_by_role("row", name="Jane D", exact=True)).to_have_count(0)
    ui.screenshot("developers-small", tmp_path)  # the README's is taken with the big team (test_dashboard_bigteam)

    # Dashboard: team totals and charts, then the filters.
    ui.goto("/dashboard?range=all")  # the commits are dated early 2026: all time, whatever today is
    expect(ui.page.locator("#stat-commits")).to_have_text(
        "6"
    )  # Jane 4 + Bob 2 (one in each repository); the bot is not counted
    for canvas in ("chart-commits", "chart-lines", "chart-developers", "chart-top"):
        assert ui.page.evaluate(f"!!Chart.getChart(document.getElementById('{canvas}'))"), canvas
    labels = ui.page.evaluate("Chart.getChart(document.getElementById('chart-top')).data.labels")
    assert labels == ["Jane Doe", "Bob Stone"]
    ui.screenshot("dashboard-small", tmp_path)  # the README's is taken with the big team (test_dashboard_bigteam)

    ui.page.get_by_label("Repository", exact=True).select_option(label="team")
    ui.page.get_by_label("Range", exact=True).select_option("custom")
    ui.page.get_by_label("From", exact=True).fill("2026-01-01")
    ui.page.get_by_label("To", exact=True).fill("2026-01-31")
    ui.page.get_by_role("button", name="Apply").click()
    expect(ui.page.locator("#stat-commits")).to_have_text("3")  # January in "team": Jane 2, Bob 1
    ui.page.get_by_label("Developer", exact=True).fill("Jane Doe")  # the searchable picker
    ui.page.get_by_label("Per", exact=True).select_option("day")
    ui.page.get_by_role("button", name="Apply").click()
    expect(ui.page.locator("#stat-commits")).to_have_text("2")
    chart = ui.page.evaluate(
        "(() => { const c = Chart.getChart(document.getElementById('chart-commits')).data;"
        " return {labels: c.labels, commits: c.datasets[0].data}; })()"
    )
    # Every day of the range, at its place: the quiet ones are drawn as gaps (zeros), none left out.
    assert chart["labels"] == [f"2026-01-{d:02d}" for d in range(1, 32)]
    assert chart["commits"] == [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1] + [0] * 18

    # A range that ends before it starts is explained, not a stack trace.
    ui.goto("/dashboard?from=2026-02-01&to=2026-01-01")
    expect(ui.page.get_by_role("alert")).to_contain_text("from must not be after to")


def test_dashboard_empty_state(ui: UI, tenant: Tenant) -> None:
    ui.sign_in(tenant)
    expect(ui.page).to_have_url(ui.base + "/dashboard")  # the home page once metrics exist
    expect(ui.page.get_by_text("No activity to show")).to_be_visible()
    expect(ui.page.get_by_role("link", name="Connect a repository")).to_be_visible()


def test_a_failed_analysis_is_explained(ui: UI, tenant: Tenant, tmp_path: Path) -> None:
    import shutil

    repo = Repo(tmp_path / "fragile")
    repo.commit(JANE, "2026-01-05T10:00:00Z", {"a.txt": "a\n"})
    ui.sign_in(tenant)
    connect_and_wait(ui, tmp_path / "fragile", "fragile")
    shutil.rmtree(tmp_path / "fragile")  # the repository goes away under us
    ui.page.get_by_role("row", name="fragile").get_by_role("button", name="Analyse now").click()
    cell = ui.page.get_by_role("row", name="fragile").locator(".analysis")
    expect(cell).to_contain_text("failed", timeout=30_000)
    expect(cell.locator(".field-error")).to_contain_text("is no longer a git repository")  # the reason, in words
