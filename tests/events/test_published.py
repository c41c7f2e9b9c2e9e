"""What we publish about events (`GET /v1/event-types`, the OpenAPI `webhooks`) and what we really emit agree."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from gitproductivity.app import create_app
from gitproductivity.core.db import Database
from gitproductivity.events.envelope import render
from gitproductivity.events.models import Event
from gitproductivity.events.payloads import EVENT_PAYLOADS, envelope_model, example_envelope
from gitproductivity.events.types import PRODUCT_EVENT_TYPES
from gitproductivity.webhooks import signing
from tests.analysis.gitrepo import drain


def test_event_types_lists_the_seven_with_schema_and_example(api: TestClient, client: TestClient) -> None:
    resp = api.get("/v1/event-types")
    assert resp.status_code == 200, resp.text
    listed = resp.json()["data"]
    assert [t["type"] for t in listed] == list(EVENT_PAYLOADS)
    for item in listed:
        model = EVENT_PAYLOADS[item["type"]]
        assert item["description"] == model.description
        assert item["schema"] == envelope_model(item["type"]).model_json_schema()
        assert item["schema"]["properties"]["data"]["$ref"] == f"#/$defs/{model.__name__}"
        assert item["example"] == example_envelope(item["type"])
        envelope_model(item["type"]).model_validate(item["example"])
    client.headers.pop("Authorization")
    assert client.get("/v1/event-types").status_code == 401


SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_openapi_webhooks_carry_each_envelope_schema() -> None:
    doc = TestClient(create_app(run_workers=False)).get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert list(doc["webhooks"]) == list(EVENT_PAYLOADS)
    components = doc["components"]["schemas"]
    for event_type, model in EVENT_PAYLOADS.items():
        operation = doc["webhooks"][event_type]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{model.__name__}Event"}
        envelope = components[f"{model.__name__}Event"]
        assert envelope["properties"]["type"]["const"] == event_type
        assert envelope["properties"]["data"]["$ref"] == f"#/components/schemas/{model.__name__}"
        assert components[model.__name__]["required"] == list(model.model_fields)
        # Exactly the headers the signer sets on every delivery (besides Content-Type and User-Agent).
        sent = signing.headers(
            body=b"{}", event_id="evt_x", event_type=event_type, delivery_id="dlv_x", secret=SECRET, timestamp=1
        )
        assert {p["name"] for p in operation["parameters"]} == set(sent) - {"Content-Type", "User-Agent"}
        assert "422" not in operation["responses"]  # we send these; a receiver's validation is not ours to describe
    event_types = doc["paths"]["/v1/event-types"]["get"]["responses"]["200"]["content"]["application/json"]
    assert event_types["schema"] == {"$ref": "#/components/schemas/EventTypeList"}


def test_every_type_we_really_emit_validates_against_its_model(
    api: TestClient, database: Database, git_repo: Path, tmp_path: Path
) -> None:
    """Drive the product (API and an analysis), then check every event in the feed, bytes included."""
    dev = api.post("/v1/developers", json={"name": "Ann Lee", "email": "ann@example.com"}).json()["id"]
    assert api.delete(f"/v1/developers/{dev}").status_code == 200
    repo = api.post("/v1/repositories", json={"url": str(git_repo)}).json()["id"]
    assert drain() == ["succeeded"]  # developer.added (Jane, from history), metrics.updated, analysis.complete
    [jane] = [d for d in api.get("/v1/developers").json()["data"] if d["email"] == "jane@example.com"]
    keeper = api.post("/v1/developers", json={"name": "J. Doe", "email": "jd@example.com"}).json()["id"]
    merged = api.post(f"/v1/developers/{keeper}/merge", json={"developer_id": jane["id"]})
    assert merged.status_code == 200, merged.text  # metrics.updated with analysis_id null, developer.removed
    assert api.delete(f"/v1/repositories/{repo}").status_code == 200
    doomed = tmp_path / "doomed"
    shutil.copytree(git_repo, doomed)
    assert api.post("/v1/repositories", json={"url": str(doomed)}).status_code == 201
    shutil.rmtree(doomed)
    assert drain() == ["failed"]  # analysis.complete with status failed and mode null

    feed = api.get("/v1/events", params={"limit": 100}).json()["data"]
    assert {e["type"] for e in feed} == set(PRODUCT_EVENT_TYPES)  # operational ones: tests/webhooks/test_operational.py
    nulls = set()
    for envelope in feed:
        parsed = envelope_model(envelope["type"]).model_validate(envelope)
        assert parsed.model_dump(mode="json") == envelope
        nulls |= {(envelope["type"], k) for k, v in envelope["data"].items() if v is None}
    assert {("metrics.updated", "analysis_id"), ("analysis.complete", "mode")} <= nulls

    # What was stored (and is signed and delivered) is byte for byte the rendering of the validated model.
    with database.session() as session:
        for event in session.scalars(select(Event).order_by(Event.seq)):
            data = EVENT_PAYLOADS[event.type].model_validate_json(event.payload.split(',"data":', 1)[1][:-1])
            assert render(event.id, event.type, event.created_at, data.model_dump(mode="json")) == event.payload
