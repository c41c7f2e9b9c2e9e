"""Settings → Webhooks → Client certificate: save (or replace) the certificate and key an endpoint presents to its
receiver (mTLS), or remove them. The pair is never shown again: the page shows what identifies it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from gitproductivity.core.errors import ValidationFailed
from gitproductivity.core.http import unit_of_work
from gitproductivity.web.helpers import CurrentViewer, Viewer, flash, page_allows, redirect, render
from gitproductivity.web.security import guard
from gitproductivity.webhooks import client_certs, endpoints
from gitproductivity.webhooks.schemas import WebhookRead, webhook_read

router = APIRouter(prefix="/settings", include_in_schema=False, dependencies=[Depends(guard), page_allows("webhooks")])


def _page(
    request: Request, viewer: Viewer, hook: WebhookRead, errors: dict[str, str], status: int, certificate: str = ""
) -> Response:
    """The form; after an error the certificate sent is shown again (it is public), never the key."""
    cert = hook.client_certificate
    state = client_certs.expiry(cert.not_after) if cert is not None else None
    return render(
        request,
        "webhooks/client_certificate.html",
        viewer,
        status_code=status,
        hook=hook,
        expiry=state,
        errors=errors,
        certificate=certificate,
    )


@router.get("/webhooks/{webhook_id}/client-certificate")
def certificate_page(request: Request, webhook_id: str, viewer: CurrentViewer) -> Response:
    with unit_of_work() as session:
        hook = webhook_read(endpoints.get(session, organization_id=viewer.organization_id, webhook_id=webhook_id))
    return _page(request, viewer, hook, {}, 200)


def _errors(exc: ValidationFailed) -> dict[str, str]:
    """By form field: `certificate`, `private_key`, or "" for the pair (an OpenSSL refusal, a missing key)."""
    errors: dict[str, str] = {}
    for detail in exc.details or [{"field": client_certs.FIELD, "message": exc.message}]:
        field = str(detail.get("field", "")).removeprefix(client_certs.FIELD).lstrip(".")
        message = str(detail.get("message") or exc.message)
        errors[field] = message[:1].upper() + message[1:]
    return errors


@router.post("/webhooks/{webhook_id}/client-certificate")
def save_certificate(
    request: Request,
    webhook_id: str,
    viewer: CurrentViewer,
    certificate: Annotated[str, Form()] = "",
    private_key: Annotated[str, Form()] = "",
) -> Response:
    with unit_of_work() as session:
        try:
            hook = endpoints.update_(
                session,
                organization_id=viewer.organization_id,
                webhook_id=webhook_id,
                client_certificate={"certificate": certificate, "private_key": private_key},
            )
        except ValidationFailed as exc:
            session.rollback()
            read = webhook_read(endpoints.get(session, organization_id=viewer.organization_id, webhook_id=webhook_id))
            return _page(request, viewer, read, _errors(exc), 422, certificate=certificate)
        subject = hook.client_cert_info["subject"] if hook.client_cert_info else ""
    flash(request, f"Client certificate saved ({subject}): the next delivery presents it. Send a test to check.")
    return redirect(f"/settings/webhooks/{webhook_id}")


@router.post("/webhooks/{webhook_id}/client-certificate/remove")
def remove_certificate(request: Request, webhook_id: str, viewer: CurrentViewer) -> Response:
    with unit_of_work() as session:
        endpoints.update_(
            session, organization_id=viewer.organization_id, webhook_id=webhook_id, client_certificate=None
        )
    flash(request, "Client certificate removed: deliveries present none from now on.")
    return redirect(f"/settings/webhooks/{webhook_id}")
