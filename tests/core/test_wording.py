"""Validation errors in plain words (`core.wording`): through the API's one error shape, every field at once."""

from __future__ import annotations

from fastapi.testclient import TestClient

from gitproductivity.core.wording import field_label, sentence


def test_the_api_names_every_invalid_field_in_plain_words(api: TestClient) -> None:
    resp = api.post("/v1/webhooks", json={"url": "", "events": [], "description": "x" * 501, "extra": 1})
    assert resp.status_code == 422
    error = resp.json()["error"]
    by_field = {d["field"]: d["message"] for d in error["details"]}
    assert by_field == {
        "url": "required",
        "events": "at least 1 item",
        "description": "at most 500 characters",
        "extra": "is not a known field",
    }
    assert "should" not in error["message"] and "String" not in error["message"]
    assert all(f"{field}: {message}" in error["message"] for field, message in by_field.items())


def test_the_service_checks_every_field_before_refusing(api: TestClient) -> None:
    """A private URL and an unknown event: both named, not only the first."""
    resp = api.post("/v1/webhooks", json={"url": "http://10.1.2.3/h", "events": ["nope.nope"]})
    assert resp.status_code == 422
    fields = [d["field"] for d in resp.json()["error"]["details"]]
    assert fields == ["url", "events"]
    assert "GITPRODUCTIVITY_WEBHOOK_ALLOW_PRIVATE_DESTINATIONS=true" in resp.json()["error"]["message"]


def test_labels_and_sentences() -> None:
    assert field_label("event_filter.0") == "Event filter"
    assert field_label("url") == "URL"
    assert sentence("name", "at least 3 characters") == "Name: at least 3 characters"
    assert sentence("", "the form expired") == "The form expired"
