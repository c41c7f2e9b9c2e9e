"""The repository's ownership view and the dashboard's languages and hours cards, in real Chromium at 1280 and
390 px: bars by directory, paged and drilled into, exact lines, shares and bus factors, never a sideways scroll."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.analysis.gitrepo import Repo, lines
from tests.conftest import Tenant
from tests.web.conftest import UI

pytestmark = pytest.mark.slow  # a real `gitproductivity serve` driven by Chromium

ALICE = "Alice Featherstonehaugh-Bartholomew <alice@example.com>"
BOB = "Bob <bob@example.com>"
CAROL = "Carol <carol@example.com>"
_OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
DIRS = 120


def name(n: int) -> str:
    return f"a-rather-long-directory-name-to-test-the-layout-{n:03d}"


def build(path: Path) -> Repo:
    repo = Repo(path)
    # Monday 09:15 in India: directory n holds n + 1 of Alice's lines.
    repo.commit(ALICE, "2026-03-02T09:15:00+05:30", {f"{name(n)}/mod.py": lines(n + 1) for n in range(DIRS)})
    # Sunday 23:30 in California: Bob owns most of the last directory, in a subdirectory.
    repo.commit(BOB, "2026-03-01T23:30:00-08:00", {f"{name(119)}/deep/x.go": lines(200, "go")})
    # Three equal owners of directory 117: a bus factor of 2.
    repo.commit(BOB, "2026-03-03T10:00:00-08:00", {f"{name(117)}/b.go": lines(118, "b")})
    repo.commit(CAROL, "2026-03-03T12:00:00-03:30", {f"{name(117)}/c.rs": lines(118, "c")})
    return repo


def connect(ui: UI, path: Path) -> None:
    ui.goto("/repositories")
    ui.page.get_by_label("Git URL or local path").fill(str(path))
    ui.page.get_by_label("Name (optional)").fill("big")
    ui.page.get_by_role("button", name="Connect", exact=True).click()
    expect(ui.page.get_by_role("row", name="big").locator(".analysis")).to_contain_text("complete", timeout=60_000)


@pytest.mark.parametrize("width", [1280, 390])
def test_ownership_view_and_activity_cards(ui: UI, tenant: Tenant, tmp_path: Path, width: int) -> None:
    build(tmp_path / "big")
    ui.page.set_viewport_size({"width": width, "height": 860})
    ui.sign_in(tenant)
    connect(ui, tmp_path / "big")
    ui.page.get_by_role("link", name="big", exact=True).click()
    ui.page.wait_for_url(re.compile(r"/repositories/repo_\w+/ownership$"))
    total = sum(range(1, DIRS + 1)) + 200 + 2 * 118
    expect(ui.page.locator("#own-lines")).to_have_text(f"{total:,}")
    expect(ui.page.locator("#own-bus")).to_have_text("1")  # Alice owns most of it
    owners = ui.page.locator("#owners li")
    expect(owners.first).to_contain_text("Alice Featherstonehaugh-Bartholomew")
    expect(owners.first).to_contain_text(f"{sum(range(1, DIRS + 1)):,} · {sum(range(1, DIRS + 1)) / total:.1%}")
    expect(ui.page.get_by_role("heading", name="Directories")).to_contain_text(str(DIRS))
    dirs = ui.page.locator("#directories li")
    expect(dirs).to_have_count(50)  # one page
    # Largest first: 117 (3 x 118 lines, bus factor 2), then 119 (120 + 200, bus factor 1).
    expect(dirs.nth(0)).to_contain_text(f"{name(117)}/")
    expect(dirs.nth(0).locator(".bus")).to_have_text("2")
    expect(dirs.nth(1)).to_contain_text(f"{name(119)}/")
    expect(dirs.nth(1)).to_contain_text("most by Bob (62%)")
    assert ui.page.evaluate(_OVERFLOW) == 0
    ui.screenshot(f"ownership-{width}", tmp_path)

    # Pages of directories, server-side.
    ui.page.get_by_role("link", name="Next →").click()
    expect(ui.page.locator(".pager")).to_contain_text("Page 2 of 3")
    expect(ui.page.locator("#directories li")).to_have_count(50)
    ui.page.get_by_role("link", name="Next →").click()
    expect(ui.page.locator("#directories li")).to_have_count(DIRS - 100)
    expect(ui.page.locator("#directories li").last).to_contain_text(f"{name(0)}/")  # one line: the smallest
    assert ui.page.evaluate(_OVERFLOW) == 0

    # Drill down into 119 and its subdirectory; the crumbs lead back.
    ui.goto(ui.path() + f"?path={name(119)}")
    expect(ui.page.locator("#own-lines")).to_have_text("320")
    expect(ui.page.locator("#owners li").first).to_contain_text("Bob")
    expect(ui.page.locator("#owners li").first).to_contain_text("200 · 62.5%")
    ui.page.get_by_role("link", name="deep/").click()
    expect(ui.page.locator("#own-lines")).to_have_text("200")
    expect(ui.page.locator("#own-bus")).to_have_text("1")
    expect(ui.page.locator("#directories")).to_have_count(0)
    assert ui.page.evaluate(_OVERFLOW) == 0
    ui.page.get_by_role("navigation", name="Directory").get_by_role("link", name="big").click()
    expect(ui.page.locator("#own-lines")).to_have_text(f"{total:,}")

    # The dashboard's cards: languages and the hours of the week in each author's own zone.
    ui.goto("/dashboard")
    languages = ui.page.locator("#languages li")
    expect(languages.first).to_contain_text("Python")
    expect(languages.first).to_contain_text(f"+{sum(range(1, DIRS + 1)):,}")
    expect(ui.page.locator("#languages")).to_contain_text("Go")
    expect(ui.page.locator("#languages")).to_contain_text("Rust")
    rows = ui.page.locator("#hours tbody tr")
    expect(rows.nth(0).locator("td").nth(9)).to_have_attribute("data-n", "1")  # Monday 09:00, India
    expect(rows.nth(6).locator("td").nth(23)).to_have_attribute("data-n", "1")  # Sunday 23:00, California
    expect(rows.nth(1).locator("td").nth(10)).to_have_attribute("data-n", "1")  # Tuesday 10:00, California
    expect(rows.nth(1).locator("td").nth(12)).to_have_attribute("data-n", "1")  # Tuesday 12:00, Newfoundland
    expect(ui.page.locator("#hours td[data-n='0']")).to_have_count(168 - 4)
    assert ui.page.evaluate(_OVERFLOW) == 0
    ui.screenshot(f"dashboard-activity-{width}", tmp_path)
