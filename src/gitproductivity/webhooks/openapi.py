"""The events we send, in the OpenAPI document: one `webhooks` entry per event type (OpenAPI 3.1).

These operations describe requests *we* make to a receiver; nothing is served at them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Response
from pydantic import BaseModel

from gitproductivity.events.payloads import EVENT_PAYLOADS, envelope_model

_HEADERS = [
    ("X-GitProductivity-Event", "The event type, to route before parsing"),
    ("X-GitProductivity-Delivery", "This delivery's id (a redelivery gets a new one)"),
    ("X-GitProductivity-Timestamp", "When this attempt was signed, Unix seconds"),
    ("X-GitProductivity-Signature", "`sha256=` + hex HMAC-SHA256 of the raw body, keyed with the whole secret string"),
    ("webhook-id", "Standard Webhooks: the event id, stable across retries (dedupe on it)"),
    ("webhook-timestamp", "Standard Webhooks: same as X-GitProductivity-Timestamp"),
    (
        "webhook-signature",
        "Standard Webhooks: `v1,` + base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`; "
        "two, space-separated, during a secret rotation",
    ),
]
_OPENAPI_EXTRA: dict[str, Any] = {
    "parameters": [
        {"name": name, "in": "header", "required": True, "description": text, "schema": {"type": "string"}}
        for name, text in _HEADERS
    ]
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    "default": {
        "description": "Anything else, or no answer within 30 seconds, is a failure: the delivery is retried "
        "1 min, 5 min, 30 min, 2 h and 24 h after each failure (test deliveries are not retried)"
    }
}


def _describes(envelope: type[BaseModel]) -> Callable[..., None]:
    """An endpoint whose only purpose is its signature: FastAPI reads the request body's model from it."""

    def receive(*args: Any, **kwargs: Any) -> None:
        raise NotImplementedError  # never routed: webhooks are documentation

    endpoint: Any = receive  # to set its signature
    endpoint.__signature__ = inspect.Signature(
        [inspect.Parameter("event", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=envelope)],
        return_annotation=None,
    )
    return receive


def document_webhooks(app: FastAPI) -> None:
    """Add every event type, in catalogue order, to `app.webhooks` with its envelope as the request body."""
    for event_type, model in EVENT_PAYLOADS.items():
        app.webhooks.add_api_route(
            event_type,
            _describes(envelope_model(event_type)),
            methods=["POST"],
            name=event_type,
            summary=event_type,
            description=f"{model.description}.\n\n{inspect.cleandoc(model.__doc__ or '')}\n\n"
            "The body is compact JSON signed as sent: verify the raw bytes, parse afterwards (docs/webhooks.md).",
            operation_id=f"webhook_{event_type.replace('.', '_')}",
            tags=["webhooks"],
            response_model=None,
            response_class=Response,  # any body, or none: only the status counts
            response_description="Any 2xx within 30 seconds acknowledges the delivery",
            responses=_RESPONSES,
            openapi_extra=_OPENAPI_EXTRA,
        )
