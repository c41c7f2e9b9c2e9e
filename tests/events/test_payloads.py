"""Typed payloads: every model's example is valid, a wrong payload cannot be built, and `emit` takes only models."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import pytest
from pydantic import ValidationError

from gitproductivity.events import service as events
from gitproductivity.events.envelope import render
from gitproductivity.events.payloads import (
    EVENT_PAYLOADS,
    DeveloperAdded,
    EventData,
    MetricsTotals,
    MetricsUpdated,
    WebhookTest,
    envelope_model,
    example_envelope,
    sample_data,
)
from gitproductivity.events.types import EVENT_DESCRIPTIONS, EVENT_TYPES, WEBHOOK_TEST
from gitproductivity.metrics import service as metrics

MODELS = list(EVENT_PAYLOADS.values())


def test_the_catalogue_is_every_type_in_order() -> None:
    assert list(EVENT_PAYLOADS) == [*EVENT_TYPES, WEBHOOK_TEST]
    for event_type, model in EVENT_PAYLOADS.items():
        assert model.event_type == event_type
        assert model.description == EVENT_DESCRIPTIONS[event_type]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.event_type)
def test_each_example_is_a_valid_instance_of_its_own_model(model: type[EventData]) -> None:
    assert type(model.example) is model  # its own, not one inherited from a sibling's base
    dumped = model.example.model_dump(mode="json")
    assert model.model_validate(dumped) == model.example
    assert model.model_validate_json(json.dumps(dumped)) == model.example
    envelope = example_envelope(model.event_type)
    assert envelope["type"] == model.event_type and envelope["data"] == dumped
    assert envelope_model(model.event_type).model_validate(envelope).model_dump(mode="json") == envelope


def _without(data: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != key}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.event_type)
def test_a_payload_with_a_missing_extra_or_mistyped_field_cannot_be_built(model: type[EventData]) -> None:
    good = model.example.model_dump(mode="json")
    for key in good:
        with pytest.raises(ValidationError, match="Field required"):
            model.model_validate(_without(good, key))
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model.model_validate({**good, "surprise": 1})
    first = next(iter(good))
    with pytest.raises(ValidationError):
        model.model_validate({**good, first: {"not": "a string"}})


def test_nested_parts_and_enumerations_are_checked_too() -> None:
    data = MetricsUpdated.example.model_dump(mode="json")
    with pytest.raises(ValidationError, match="Extra inputs"):
        MetricsUpdated.model_validate({**data, "totals": {**data["totals"], "developer_ids": []}})
    with pytest.raises(ValidationError, match="Field required"):
        MetricsUpdated.model_validate({**data, "delta": _without(data["delta"], "active_days")})
    with pytest.raises(ValidationError, match="Extra inputs"):  # a totals is not a delta
        MetricsUpdated.model_validate({**data, "delta": data["totals"]})
    complete = EVENT_PAYLOADS["analysis.complete"].example.model_dump(mode="json")
    with pytest.raises(ValidationError):
        EVENT_PAYLOADS["analysis.complete"].model_validate({**complete, "status": "exploded"})
    repo = EVENT_PAYLOADS["repository.connected"].example.model_dump(mode="json")
    with pytest.raises(ValidationError):
        EVENT_PAYLOADS["repository.connected"].model_validate({**repo, "kind": "cloud"})
    with pytest.raises(ValidationError):
        WebhookTest(webhook_id="wh_1", message="hi", test=cast(Any, False))


def test_a_built_payload_cannot_be_changed_or_built_unvalidated() -> None:
    dev = DeveloperAdded(developer_id="dev_1", name="Ann", email="ann@example.com")
    with pytest.raises(ValidationError, match="frozen"):
        dev.name = "Bob"  # type: ignore[misc]
    with pytest.raises(TypeError, match="always validated"):
        DeveloperAdded.model_construct(developer_id="dev_1")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="immutable"):
        dev.model_copy(update={"email": 42})
    assert dev.model_copy() == dev


def test_emit_takes_only_payload_models() -> None:
    # Refused before the session is touched: no half-written event.
    session: Any = None
    data = {"developer_id": "dev_1", "name": "Ann", "email": "ann@example.com"}
    with pytest.raises(TypeError, match="payload model"):
        events.emit(session, organization_id="org_1", data=data)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        events.emit(session, organization_id="org_1", type="developer.added", data=data)  # type: ignore[call-arg, arg-type]

    class Sneaky(DeveloperAdded):  # not in the catalogue, so not a documented shape
        extra_field: int = 0

    with pytest.raises(TypeError, match="payload model"):
        events.emit(session, organization_id="org_1", data=Sneaky(developer_id="d", name="n", email="e"))


def test_timestamps_keep_the_envelope_form_and_must_be_aware() -> None:
    at = datetime(2026, 2, 2, 9, 14, 55, 123456, tzinfo=timezone(timedelta(hours=2)))
    totals = MetricsTotals(
        commits=1,
        merges=0,
        lines_added=2,
        lines_deleted=0,
        files_changed=1,
        active_days=1,
        first_commit_at=at,
        last_commit_at=None,
    )
    dumped = totals.model_dump(mode="json")
    assert dumped["first_commit_at"] == "2026-02-02T07:14:55Z" and dumped["last_commit_at"] is None
    with pytest.raises(ValidationError, match="time zone"):
        MetricsTotals.model_validate({**dumped, "first_commit_at": datetime(2026, 2, 2, 9, 14, 55)})


def test_the_one_metrics_updated_builder() -> None:
    class Dev:
        id, name, email = "dev_1", "Zoë", "zoe@example.com"

    at = datetime(2026, 2, 2, 9, 14, 55, tzinfo=UTC)
    new = metrics.Totals(5, 1, 40, 3, 7, 2, at, at + timedelta(days=1, seconds=0.5))
    old = metrics.Totals(4, 1, 30, 3, 5, 1, at, at)
    payload = metrics.metrics_updated(Dev, repository_id="repo_1", analysis_id=None, new=new, old=old)  # type: ignore[arg-type]
    assert payload.model_dump(mode="json") == {
        "developer_id": "dev_1",
        "name": "Zoë",
        "email": "zoe@example.com",
        "repository_id": "repo_1",
        "analysis_id": None,
        "totals": {
            "commits": 5,
            "merges": 1,
            "lines_added": 40,
            "lines_deleted": 3,
            "files_changed": 7,
            "new_work": 0,
            "refactor": 0,
            "rework": 0,
            "help_others": 0,
            "co_authored_commits": 0,
            "active_days": 2,
            "first_commit_at": "2026-02-02T09:14:55Z",
            "last_commit_at": "2026-02-03T09:14:55Z",
        },
        "delta": {
            "commits": 1,
            "merges": 0,
            "lines_added": 10,
            "lines_deleted": 0,
            "files_changed": 2,
            "new_work": 0,
            "refactor": 0,
            "rework": 0,
            "help_others": 0,
            "co_authored_commits": 0,
            "active_days": 1,
        },
    }
    # A developer whose rows all went (a full re-analysis after rewritten history) has no commit dates.
    gone = metrics.metrics_updated(Dev, repository_id="repo_1", analysis_id="ana_1", new=metrics.Totals(), old=new)  # type: ignore[arg-type]
    assert gone.totals.first_commit_at is None and gone.delta.commits == -5


def test_render_is_compact_utf8_json_in_envelope_order() -> None:
    body = render("evt_1", "developer.added", datetime(2026, 3, 19, 10, 30, tzinfo=UTC), {"name": "Zoë \u2603"})
    assert body == '{"id":"evt_1","type":"developer.added","created_at":"2026-03-19T10:30:00Z","data":{"name":"Zoë ☃"}}'
    with pytest.raises(TypeError):  # only JSON values: nothing is silently turned into a string
        render("evt_1", "developer.added", datetime(2026, 3, 19, tzinfo=UTC), {"at": datetime(2026, 3, 19)})


@pytest.mark.parametrize("event_type", list(EVENT_PAYLOADS))
def test_test_samples_are_the_real_shapes_plus_test_true(event_type: str) -> None:
    data = sample_data(event_type, webhook_id="wh_1")
    assert data["test"] is True
    model = EVENT_PAYLOADS[event_type]
    if event_type == WEBHOOK_TEST:
        assert model.model_validate(data) == WebhookTest(
            webhook_id="wh_1", message="This is a test webhook from GitProductivity.", test=True
        )
    else:
        assert model.model_validate(_without(data, "test")) == model.example
    with pytest.raises(KeyError):
        sample_data("nope.nope", webhook_id="wh_1")


@pytest.mark.parametrize("event_type", list(EVENT_PAYLOADS))
def test_the_published_schema_lists_every_field_as_required_without_forbidding_more(event_type: str) -> None:
    model = EVENT_PAYLOADS[event_type]
    schema = envelope_model(event_type).model_json_schema()
    assert schema["title"] == f"{model.__name__}Event"
    assert schema["required"] == ["id", "type", "created_at", "data"]
    assert schema["properties"]["type"]["const"] == event_type
    assert schema["properties"]["data"]["$ref"] == f"#/$defs/{model.__name__}"
    data_schema = schema["$defs"][model.__name__]
    assert data_schema["required"] == list(model.model_fields)
    assert data_schema["examples"] == [model.example.model_dump(mode="json")]
    assert all("additionalProperties" not in s for s in [schema, *schema["$defs"].values()])
    assert envelope_model(event_type) is envelope_model(event_type)  # one class: one OpenAPI component
