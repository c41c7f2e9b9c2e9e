from __future__ import annotations

import pytest
from pydantic import ValidationError

from gitproductivity.core.ids import has_prefix, new_id
from gitproductivity.core.settings import Settings


def test_ids_are_prefixed_unique_and_sortable() -> None:
    ids = [new_id("evt") for _ in range(5000)]
    assert len(set(ids)) == 5000
    assert ids == sorted(ids)
    assert all(has_prefix(i, "evt") for i in ids)
    assert not has_prefix(ids[0], "dev")


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
