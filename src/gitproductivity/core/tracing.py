"""OpenTelemetry traces, when the standard `OTEL_*` variables ask for them (docs/observability.md).

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (and `OTEL_SDK_DISABLED`
is not `true`); then spans go to that OTLP/HTTP endpoint, batched, with `OTEL_SERVICE_NAME` (default
`gitproductivity`). The SDK and exporter are the optional extra `gitproductivity[otel]`: without them a
configured endpoint logs one warning and nothing else changes. Off, every function here returns at once.

One trace per change: the API request's span (`server_span`) → `events.emit` (a span made by the webhooks'
fan-out, whose W3C `traceparent` is stored on each delivery row) → `webhook.claim` → `webhook.post` →
`webhook.record`, made by whichever worker process sends the delivery, as children of the stored context.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

_tracer: Any = None  # an opentelemetry Tracer once `setup` found tracing configured
_provider: Any = None
Attributes = Mapping[str, str | int | float | bool]


def configured() -> bool:
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def setup(*, exporter: Any = None) -> bool:
    """Start tracing if configured (idempotent); `exporter` (tests: the SDK's in-memory one) replaces OTLP."""
    global _tracer, _provider
    if _tracer is not None:
        return True
    if exporter is None and not configured():
        return False
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError:
        log.warning("OTEL_* is set but opentelemetry-sdk is not installed: pip install 'gitproductivity[otel]'")
        return False
    service = os.environ.get("OTEL_SERVICE_NAME") or "gitproductivity"
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))  # reads OTEL_EXPORTER_OTLP_*
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    _provider = provider
    _tracer = provider.get_tracer("gitproductivity")
    return True


def shutdown() -> None:
    """Flush and stop (tests; processes flush at exit through the SDK's own hook)."""
    global _tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    _tracer = _provider = None


def enabled() -> bool:
    return _tracer is not None


def _context(parent: str | None) -> Any:
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract({"traceparent": parent}) if parent else None


def traceparent(span: Any = None) -> str | None:
    """The W3C `traceparent` of `span`, or of the current span; None when tracing is off or no span is current."""
    if _tracer is None:
        return None
    from opentelemetry import trace

    ctx = (span or trace.get_current_span()).get_span_context()
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


@contextmanager
def span(
    name: str, *, parent: str | None = None, kind: str = "INTERNAL", attributes: Attributes | None = None
) -> Iterator[Any]:
    """A span as the current one (child of `parent`, a traceparent, or else of the current span); yields None
    when tracing is off."""
    if _tracer is None:
        yield None
        return
    from opentelemetry.trace import SpanKind

    with _tracer.start_as_current_span(
        name, context=_context(parent), kind=getattr(SpanKind, kind), attributes=dict(attributes or {})
    ) as current:
        yield current


def past_span(
    name: str, *, parent: str | None, start_ns: int, end_ns: int, attributes: Attributes | None = None
) -> str | None:
    """A span that already happened (a claim or record of a whole batch, one per delivery's trace); returns its
    traceparent, for the next step's parent. None when tracing is off or there is no parent."""
    if _tracer is None or parent is None:
        return None
    made = _tracer.start_span(name, context=_context(parent), start_time=start_ns, attributes=dict(attributes or {}))
    made.end(end_time=end_ns)
    return traceparent(made)


def describe_outcome(span: Any, status_code: int | None, error_kind: str | None) -> None:
    from opentelemetry.trace import Status, StatusCode

    if status_code is not None:
        span.set_attribute("http.response.status_code", status_code)
    if error_kind is not None:
        span.set_attribute("error.type", error_kind)
        span.set_status(Status(StatusCode.ERROR))


def mark(name: str, attributes: Attributes | None = None) -> str | None:
    """A moment (an event emitted) as a span under the current one, or a new trace; returns its traceparent."""
    if _tracer is None:
        return None
    made = _tracer.start_span(name, attributes=dict(attributes or {}))
    made.end()
    return traceparent(made)


@contextmanager
def server_span(method: str, headers: list[tuple[bytes, bytes]]) -> Iterator[Any]:
    """The span of one HTTP request (continuing the caller's `traceparent` header, if any); None when off."""
    if _tracer is None:
        yield None
        return
    incoming = next((v.decode("latin-1") for k, v in headers if k == b"traceparent"), None)
    with span(method, parent=incoming, kind="SERVER") as current:
        yield current
