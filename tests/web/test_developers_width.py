"""The Developers page with a big team, in real Chromium at 1280 and 390 px: it never scrolls sideways, each
row's Remove button is on screen, and search, sorting and pages work from the page itself."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from gitproductivity.core.db import Database
from gitproductivity.developers import service
from tests.conftest import Tenant
from tests.web.conftest import UI

pytestmark = pytest.mark.slow  # a real `gitproductivity serve` driven by Chromium

#: How far the page may be wider than the window: nothing.
_OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.mark.parametrize("width", [1280, 390])
def test_a_big_team_fits_the_window(ui: UI, tenant: Tenant, database: Database, width: int) -> None:
    people = [
        (
            f"Maximiliana Bartholomew-Featherstonehaugh {n:03d}",
            f"maximiliana.bartholomew.featherstonehaugh.{n:03d}@very-long-subdomain.example.com",
            False,
        )
        for n in range(120)
    ]
    with database.session() as session:
        devs, _events = service.create_found(session, organization_id=tenant.organization_id, people=people)
        service.add_alias(
            session,
            organization_id=tenant.organization_id,
            developer_id=devs[0].id,
            email="another.rather.long.address.of.maximiliana@users.noreply.github.example.com",
        )
    ui.page.set_viewport_size({"width": width, "height": 860})
    ui.sign_in(tenant)
    ui.goto("/developers")
    expect(ui.page.locator("#showing")).to_have_text("Showing 1\N{EN DASH}50 of 120.")
    assert ui.page.evaluate(_OVERFLOW) == 0
    first = ui.page.get_by_role("row", name=people[0][0])
    remove = first.get_by_role("button", name="Remove")
    box = remove.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width

    # Search from the page.
    ui.page.get_by_label("Find", exact=True).fill("haugh 11")
    ui.page.get_by_role("button", name="Search").click()
    expect(ui.page.locator("#showing")).to_contain_text("of 10 matching")
    assert ui.page.evaluate(_OVERFLOW) == 0

    # Sort by a column (names Z to A on the second click), then page.
    ui.goto("/developers")
    ui.page.get_by_role("link", name="Name").click()
    expect(ui.page.locator("tbody tr").first).to_contain_text(people[-1][0])
    ui.page.get_by_role("link", name="Next").click()
    expect(ui.page.locator("#showing")).to_have_text("Showing 51\N{EN DASH}100 of 120.")
    expect(ui.page.locator("tbody tr").first).to_contain_text(people[69][0])
    assert ui.page.evaluate(_OVERFLOW) == 0


@pytest.mark.parametrize("width", [1280, 390])
def test_the_teams_pages_fit_the_window(ui: UI, tenant: Tenant, database: Database, width: int) -> None:
    from gitproductivity.teams import service as teams

    with database.session() as session:
        devs, _events = service.create_found(
            session,
            organization_id=tenant.organization_id,
            people=[
                (f"Bartholomew Featherstonehaugh {n}", f"bartholomew.{n}@very-long-subdomain.example.com", False)
                for n in range(30)
            ],
        )
        team = teams.create(session, organization_id=tenant.organization_id, name="Platform and infrastructure")
        for dev in devs:
            teams.add_member(session, organization_id=tenant.organization_id, team_id=team.id, developer_id=dev.id)
        team_id = team.id
    ui.page.set_viewport_size({"width": width, "height": 860})
    ui.sign_in(tenant)
    ui.goto("/teams")
    expect(ui.page.get_by_role("row", name="Platform and infrastructure")).to_contain_text("30")
    assert ui.page.evaluate(_OVERFLOW) == 0
    ui.page.get_by_role("link", name="Platform and infrastructure").click()
    ui.page.wait_for_url(f"**/teams/{team_id}")
    button = ui.page.get_by_role("row", name=devs[0].name).get_by_role("button", name="Take out")
    box = button.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    assert ui.page.evaluate(_OVERFLOW) == 0
    button.click()
    expect(ui.page.get_by_role("status")).to_contain_text(f"Took {devs[0].name} out of the team")
