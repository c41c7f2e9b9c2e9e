"""Every numeric setting is bounded both ways (issue 12: concurrency, batch sizes, body size and rate limits had
no upper bound), walked from `Settings.model_fields` so a new setting cannot forget; and an absurd value in the
environment stops the CLI with one line naming the variable, not a traceback."""

from __future__ import annotations

import sys

import pytest
from pydantic import ValidationError

from gitproductivity import cli
from gitproductivity.core import settings
from gitproductivity.core.db import Database
from gitproductivity.core.settings import Settings

NUMERIC = sorted(name for name, field in Settings.model_fields.items() if field.annotation in (int, float))
#: Far past any sensible bound, and still a well-formed number of the field's type (so the bound is what refuses).
HUGE = {int: "1" + "0" * 30, float: "1e30"}
NEGATIVE_HUGE = {int: "-1" + "0" * 30, float: "-1e30"}


def test_the_walk_sees_the_numeric_settings() -> None:
    assert {"max_body_bytes", "webhook_concurrency", "webhook_batch_size", "rate_limit_burst"} <= set(NUMERIC)
    assert {"analysis_shards", "http_max_connections", "smtp_port", "long_poll_max_wait"} <= set(NUMERIC)


@pytest.mark.parametrize("name", NUMERIC)
def test_every_numeric_setting_is_bounded_both_ways(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    kind = Settings.model_fields[name].annotation
    assert kind in HUGE
    variable = f"GITPRODUCTIVITY_{name.upper()}"
    for value in (HUGE[kind], NEGATIVE_HUGE[kind]):
        monkeypatch.setenv(variable, value)
        with pytest.raises(ValidationError) as caught:
            Settings()
        assert [e["loc"] for e in caught.value.errors()] == [(name,)], f"{variable}={value} was not refused alone"
    monkeypatch.delenv(variable)
    default = Settings.model_fields[name].default
    monkeypatch.setenv(variable, str(default))
    assert getattr(Settings(), name) == default  # the default lies within the bounds


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("WEBHOOK_CONCURRENCY", "100000000", "Input should be less than or equal to 10000"),
        ("MAX_BODY_BYTES", "99999999999999", "Input should be less than or equal to 1073741824"),
        ("ANALYSIS_SHARDS", "-3", "Value error, must not be negative"),
        ("RATE_LIMIT_BURST", "1" + "0" * 30, "Input should be less than or equal to 1000000"),
        ("SMTP_TIMEOUT", "0", "Input should be greater than 0"),
        ("WORKER_STALL_AFTER", "1e20", "Value error, must be between 0.05 and 86400 seconds"),
    ],
)
def test_an_absurd_value_stops_the_cli_with_the_variables_name(
    name: str,
    value: str,
    words: str,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Through the real entry point, as an operator meets it: exit status 2, one line. (`db current` reads the
    settings and then ends; with a value that were accepted it would print the revision and exit 0.)"""
    monkeypatch.setenv(f"GITPRODUCTIVITY_{name}", value)
    settings.get_settings.cache_clear()
    monkeypatch.setattr(sys, "argv", ["gitproductivity", "db", "current"])
    try:
        with pytest.raises(SystemExit) as exited:
            cli.main()
    finally:
        monkeypatch.delenv(f"GITPRODUCTIVITY_{name}")
        settings.configure(database_url=database.url)
    assert exited.value.code == 2
    out = capsys.readouterr()
    line = out.err.strip()
    assert line == f"error: invalid configuration: GITPRODUCTIVITY_{name}: {words}"
    assert "Traceback" not in out.err + out.out
