from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from gitproductivity.core import ids as ids_module
from gitproductivity.core import settings
from gitproductivity.core.ids import has_prefix, new_id
from gitproductivity.core.settings import Settings


def test_ids_are_prefixed_unique_and_sortable() -> None:
    ids = [new_id("evt") for _ in range(5000)]
    assert len(set(ids)) == 5000
    assert ids == sorted(ids)
    assert all(has_prefix(i, "evt") for i in ids)
    assert not has_prefix(ids[0], "dev")


def _digit_by_digit(value: int, length: int) -> str:
    """The encoding as ids were first made: one base32 digit at a time from the low end, then reversed."""
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
    out = []
    for _ in range(length):
        out.append(alphabet[value & 31])
        value >>= 5
    return "".join(reversed(out))


def test_id_encoding_by_table_equals_digit_by_digit() -> None:
    rng = random.Random(16)
    edges = [0, 1, 31, 32, 1023, 1024, (1 << 80) - 1, 1 << 80, (1 << 128) - 1, (1 << 130) - 1, 1 << 130, (1 << 140) + 7]
    values = edges + [rng.getrandbits(rng.choice((5, 48, 80, 128, 130, 136))) for _ in range(50_000)]
    for value in values:
        assert ids_module._encode(value, 26) == _digit_by_digit(value, 26), value
    # Order: ids compare as their numbers do.
    ordered = sorted(rng.getrandbits(128) for _ in range(2000))
    assert [ids_module._encode(v, 26) for v in ordered] == sorted(ids_module._encode(v, 26) for v in ordered)
    # Minted ids: the prefix, then the millisecond and the random part exactly as digit by digit.
    minted = new_id("att")
    assert len(minted) == 30 and minted[4:] == _digit_by_digit(_decode(minted[4:]), 26)


def _decode(digits: str) -> int:
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
    value = 0
    for digit in digits:
        value = value * 32 + alphabet.index(digit)
    return value


def test_retry_schedule_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings()
    assert s.retry_schedule == (60, 300, 1800, 7200, 86400)
    assert s.webhook_timeout == 30
    assert s.database_url == "sqlite:///./gitproductivity.db"
    monkeypatch.setenv("GITPRODUCTIVITY_RETRY_SCHEDULE", "0.1, 0.2,0.5")
    assert Settings().retry_schedule == (0.1, 0.2, 0.5)
    monkeypatch.setenv("GITPRODUCTIVITY_RETRY_SCHEDULE", "1,soon")
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.setenv("GITPRODUCTIVITY_RETRY_SCHEDULE", "60")
    monkeypatch.setenv("GITPRODUCTIVITY_WEBHOOK_TIMEOUT", "0")
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GITPRODUCTIVITY_GIT_ALLOWED_ROOTS", "/srv/git,relative/repos"),
        ("GITPRODUCTIVITY_GIT_ALLOWED_NETWORKS", "10.0.0.0/8,not-a-network"),
        ("GITPRODUCTIVITY_RATE_LIMIT_PER_MINUTE", "-1"),
        ("GITPRODUCTIVITY_RATE_LIMIT_BURST", "0"),
        ("GITPRODUCTIVITY_SIGN_IN_RATE_LIMIT_PER_MINUTE", "-5"),
    ],
)
def test_bad_security_settings_are_refused(name: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        settings.configure()
    monkeypatch.delenv(name)
    settings.configure()


def test_security_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITPRODUCTIVITY_GIT_ALLOWED_ROOTS", "/srv/git, /home/shared/repos/")
    monkeypatch.setenv("GITPRODUCTIVITY_RATE_LIMIT_PER_MINUTE", "0")
    monkeypatch.setenv("GITPRODUCTIVITY_GIT_ALLOWED_NETWORKS", "10.1.0.0/16, 192.168.5.7")
    loaded = settings.configure()
    assert loaded.git_allowed_networks == ("10.1.0.0/16", "192.168.5.7/32")
    assert loaded.git_allow_private_destinations is False
    monkeypatch.delenv("GITPRODUCTIVITY_GIT_ALLOWED_NETWORKS")
    assert loaded.git_allowed_roots == ("/srv/git", "/home/shared/repos")
    assert loaded.rate_limit_per_minute == 0 and loaded.rate_limit_burst == 600
    monkeypatch.delenv("GITPRODUCTIVITY_GIT_ALLOWED_ROOTS")
    monkeypatch.delenv("GITPRODUCTIVITY_RATE_LIMIT_PER_MINUTE")
    assert settings.configure().git_allowed_roots == ()


@pytest.mark.parametrize("value", ["0", "0.5", "-1", "604801", "1e20", "inf", "nan", "soon"])
def test_the_analysis_failure_backoff_is_bounded(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITPRODUCTIVITY_ANALYSIS_FAILURE_BACKOFF", value)
    with pytest.raises(ValidationError, match="analysis_failure_backoff"):
        Settings()
    monkeypatch.setenv("GITPRODUCTIVITY_ANALYSIS_FAILURE_BACKOFF", "60")
    assert Settings().analysis_failure_backoff == 60
    monkeypatch.delenv("GITPRODUCTIVITY_ANALYSIS_FAILURE_BACKOFF")
    assert Settings().analysis_failure_backoff == 300


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GITPRODUCTIVITY_SESSION_MAX_AGE", "0"),
        ("GITPRODUCTIVITY_SESSION_MAX_AGE", "1e20"),
        ("GITPRODUCTIVITY_SESSION_IDLE_TIMEOUT", "inf"),
        ("GITPRODUCTIVITY_SESSION_IDLE_TIMEOUT", "-60"),
        ("GITPRODUCTIVITY_HTTP_HEADER_TIMEOUT", "0"),
        ("GITPRODUCTIVITY_HTTP_HEADER_TIMEOUT", "nan"),
        ("GITPRODUCTIVITY_HTTP_BODY_TIMEOUT", "99999"),
        ("GITPRODUCTIVITY_HTTP_MAX_CONNECTIONS", "0"),
        ("GITPRODUCTIVITY_HTTP_MAX_CONNECTIONS", "lots"),
    ],
)
def test_session_and_slow_client_settings_are_bounded(name: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.removeprefix("GITPRODUCTIVITY_").lower()):
        settings.configure()
    monkeypatch.delenv(name)
    settings.configure()


def test_session_and_slow_client_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings()
    assert (defaults.session_max_age, defaults.session_idle_timeout) == (14 * 86400, 3 * 86400)
    assert (defaults.http_header_timeout, defaults.http_body_timeout, defaults.http_max_connections) == (10, 30, 1000)
    monkeypatch.setenv("GITPRODUCTIVITY_SESSION_IDLE_TIMEOUT", "3600")
    monkeypatch.setenv("GITPRODUCTIVITY_HTTP_HEADER_TIMEOUT", "2.5")
    monkeypatch.setenv("GITPRODUCTIVITY_HTTP_MAX_CONNECTIONS", "200")
    chosen = Settings()
    assert (chosen.session_idle_timeout, chosen.http_header_timeout, chosen.http_max_connections) == (3600, 2.5, 200)
