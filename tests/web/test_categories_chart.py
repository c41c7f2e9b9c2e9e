"""The dashboard's change-categories chart (partials/categories.html): stacked new work, refactor, rework and help
to others, from the hand-worked example of docs/metrics.md, drawn by Chart.js in Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from gitproductivity.metrics import categories_chart
from tests.analysis.gitrepo import Repo
from tests.analysis.test_categories import hand_worked
from tests.conftest import Tenant
from tests.web.conftest import UI
from tests.web.test_analysis_pages import connect_and_wait


@pytest.mark.slow  # a real `gitproductivity serve` driven by Chromium
def test_dashboard_draws_the_categories_stacked(ui: UI, tenant: Tenant, tmp_path: Path) -> None:
    hand_worked(Repo(tmp_path / "r"))
    ui.sign_in(tenant)
    connect_and_wait(ui, tmp_path / "r", "example")
    ui.goto("/dashboard?granularity=week&range=all")
    expect(ui.page.locator("#categories-title")).to_contain_text("New work, refactor, rework, help others")
    drawn = ui.page.evaluate(
        "(() => { const c = Chart.getChart(document.getElementById('chart-categories'));"
        " return {stacked: c.options.scales.y.stacked, sets: c.data.datasets.map(d => [d.label,"
        " d.data.reduce((a, b) => a + b, 0)])}; })()"
    )
    assert drawn["stacked"] is True
    assert drawn["sets"] == [["New work", 15], ["Refactor", 2], ["Rework", 1], ["Help others", 3]]


def test_chart_data_sums_per_bucket_with_quiet_buckets() -> None:
    from datetime import date

    axis = [date(2026, 1, 5), date(2026, 1, 12), date(2026, 1, 19)]
    rows = [(date(2026, 1, 5), 5, 1, 4, 5), (date(2026, 1, 7), 1, 0, 0, 0), (date(2026, 1, 19), 3, 1, 0, 0)]
    got = categories_chart.fold_rows(rows, axis, "week")
    assert got["labels"] == ["2026-01-05", "2026-01-12", "2026-01-19"]
    assert got["new_work"] == [6, 0, 3] and got["refactor"] == [1, 0, 1]
    assert got["rework"] == [4, 0, 0] and got["help_others"] == [5, 0, 0] and got["total"] == 20
    assert categories_chart.fold_rows([], [], "day") == {
        "labels": [],
        "new_work": [],
        "refactor": [],
        "rework": [],
        "help_others": [],
        "total": 0,
    }
