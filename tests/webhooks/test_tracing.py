"""OpenTelemetry: one trace from the API request to the recorded delivery (request → emit → claim → POST →
record), with the trace context carried by the delivery row into the dispatcher; spans from the SDK's
in-memory exporter, and through a real OTLP/HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import select

from gitproductivity.core import tracing
from gitproductivity.core.db import Database
from gitproductivity.webhooks.models import Delivery
from tests.webhooks.conftest import Receiver, RunningDispatcher, wait_for


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    assert tracing.setup(exporter=exporter)
    yield exporter
    tracing.shutdown()


def test_a_request_and_its_delivery_are_one_trace(
    api: TestClient, receiver: Receiver, database: Database, spans: InMemorySpanExporter, dispatcher: RunningDispatcher
) -> None:
    hook = api.post("/v1/webhooks", json={"url": receiver.url("/ok"), "events": ["developer.added"]}).json()
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"  # the client's own trace continues
    assert api.post(
        "/v1/developers", json={"name": "Jane Doe", "email": "jane@example.com"}, headers={"traceparent": caller}
    ).is_success

    def recorded() -> list[Any]:
        return [s for s in spans.get_finished_spans() if s.name == "webhook.record"]

    wait_for(recorded, what="the delivery's record span")
    by_id = {s.context.span_id: s for s in spans.get_finished_spans()}
    chain = [recorded()[0]]
    while chain[-1].parent is not None and chain[-1].parent.span_id in by_id:
        chain.append(by_id[chain[-1].parent.span_id])
    assert [s.name for s in reversed(chain)] == [
        "POST /v1/developers",
        "events.emit",
        "webhook.claim",
        "webhook.post",
        "webhook.record",
    ]
    assert {s.context.trace_id for s in chain} == {0x0AF7651916CD43DD8448EB211C80319C}
    assert chain[-1].parent is not None and chain[-1].parent.span_id == 0xB7AD6B7169203331
    post = next(s for s in chain if s.name == "webhook.post")
    assert post.attributes is not None and post.attributes["http.response.status_code"] == 200
    with database.session() as session:  # the context travelled in the delivery row
        stored = session.scalars(
            select(Delivery.trace_context).where(Delivery.webhook_id == hook["id"], Delivery.is_test.is_(False))
        ).all()
    emit = next(s for s in chain if s.name == "events.emit")
    assert stored == [f"00-{emit.context.trace_id:032x}-{emit.context.span_id:016x}-01"]


class _Collector(BaseHTTPRequestHandler):
    received: list[ExportTraceServiceRequest] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        assert self.path == "/v1/traces" and self.headers["Content-Type"] == "application/x-protobuf"
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.received.append(request)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_spans_reach_a_real_otlp_http_collector_named_by_the_standard_variables(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Collector.received = []
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "gp-under-test")
    try:
        assert tracing.setup()
        assert client.get("/healthz").status_code == 200
        tracing.shutdown()  # flushes the batch
    finally:
        server.shutdown()
        server.server_close()
    [request] = _Collector.received
    [resource_spans] = request.resource_spans
    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}["service.name"]
    assert service == "gp-under-test"
    assert [s.name for scope in resource_spans.scope_spans for s in scope.spans] == ["GET /healthz"]


def test_tracing_is_off_without_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert not tracing.setup()
    assert not tracing.enabled() and tracing.traceparent() is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert not tracing.setup()
