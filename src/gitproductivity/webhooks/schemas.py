from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from gitproductivity.core.bounds import MAX_SECRET_OVERLAP_SECONDS, UtcDateTime, seconds
from gitproductivity.core.pagination import Page
from gitproductivity.core.redaction import redact_url

FILTER_DESCRIPTION = (
    "Only events matching this filter over the envelope are delivered (docs/webhooks.md, Filters): "
    "Convoy's syntax, `$eq $neq $in $nin $gt $gte $lt $lte $exist $and $or`; null or {} removes it"
)
HEADERS_DESCRIPTION = "Extra request headers (at most 20; never the signature, framing or Authorization headers)"
AUTH_DESCRIPTION = "Authorization credentials, stored encrypted and never shown again; null removes them"
#: The highest per-endpoint rate limit (a faster endpoint needs none: the engine's own rate is the bound).
MAX_RATE_LIMIT = 10_000
RATE_LIMIT_DESCRIPTION = (
    "At most this many POSTs per second to this endpoint, across every worker (docs/webhooks.md, Rate limits); "
    f"more than 0, at most {MAX_RATE_LIMIT}; null: no limit"
)


ORDERING_DESCRIPTION = (
    '"per_repository" or "per_developer": the events of one repository (`data.repository_id`) or one developer '
    "(`data.developer_id`) reach this endpoint one at a time, in feed order, and a failing delivery holds back "
    'only the later ones of its key (docs/webhooks.md, Ordering); "none" (the default): no order'
)
Ordering = Literal["per_repository", "per_developer", "none"]


class BasicAuth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["basic"]
    username: str = Field(min_length=1, max_length=4096)
    password: str = Field(min_length=1, max_length=4096)


class BearerAuth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["bearer"]
    token: str = Field(min_length=1, max_length=4096)


Auth = Annotated[BasicAuth | BearerAuth, Field(discriminator="type", description=AUTH_DESCRIPTION)]

CLIENT_CERTIFICATE_DESCRIPTION = (
    "A client certificate for mutual TLS, presented to https receivers (docs/webhooks.md, Client certificates): "
    "stored encrypted and never shown again; null removes it"
)
#: Each PEM text at most this long (webhooks.client_certs checks it again, with the rest).
MAX_PEM_CHARS = 32 * 1024


class ClientCertificate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    certificate: str = Field(
        min_length=1,
        max_length=MAX_PEM_CHARS,
        description="PEM: the endpoint's certificate first, then any intermediates; not expired",
    )
    private_key: str = Field(
        min_length=1,
        max_length=MAX_PEM_CHARS,
        description="PEM, without a passphrase (PKCS#8 or traditional): RSA, EC, Ed25519 or Ed448; the certificate's",
    )


class ClientCertificateRead(BaseModel):
    subject: str = Field(description="RFC 4514, e.g. `CN=gitproductivity,O=Example`")
    issuer: str
    not_after: datetime = Field(description="After this the certificate is not presented: attempts fail until renewed")
    fingerprint_sha256: str = Field(description="SHA-256 of the certificate (DER), lower-case hex")


FILTER_EXAMPLE = {"data": {"repository_id": {"$in": ["repo_01jd5v7k2m"]}}}


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2000, examples=["https://example.com/webhooks"])
    events: list[str] = Field(min_length=1, max_length=20, examples=[["developer.added", "metrics.updated"], ["*"]])
    description: str = Field(default="", max_length=500)
    filter: dict[str, Any] | None = Field(default=None, description=FILTER_DESCRIPTION, examples=[FILTER_EXAMPLE])
    headers: dict[str, Any] | None = Field(default=None, description=HEADERS_DESCRIPTION, examples=[{"X-Team": "a"}])
    auth: Auth | None = None
    client_certificate: ClientCertificate | None = Field(default=None, description=CLIENT_CERTIFICATE_DESCRIPTION)
    rate_limit_per_second: float | None = Field(
        default=None, gt=0, le=MAX_RATE_LIMIT, strict=True, description=RATE_LIMIT_DESCRIPTION, examples=[50]
    )
    ordering: Ordering = Field(default="none", description=ORDERING_DESCRIPTION)


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    events: list[str] | None = Field(default=None, min_length=1, max_length=20)
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = None
    filter: dict[str, Any] | None = Field(default=None, description=FILTER_DESCRIPTION + "; absent: unchanged")
    headers: dict[str, Any] | None = Field(default=None, description=HEADERS_DESCRIPTION + "; absent: unchanged")
    auth: Auth | None = None
    client_certificate: ClientCertificate | None = Field(
        default=None, description=CLIENT_CERTIFICATE_DESCRIPTION + "; absent: unchanged"
    )
    rate_limit_per_second: float | None = Field(
        default=None, gt=0, le=MAX_RATE_LIMIT, strict=True, description=RATE_LIMIT_DESCRIPTION + "; absent: unchanged"
    )
    ordering: Ordering | None = Field(default=None, description=ORDERING_DESCRIPTION + "; absent: unchanged")


class FilterTest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event: dict[str, Any] = Field(
        description="An event envelope (`id`, `type`, `created_at`, `data`), e.g. one read from GET /v1/events"
    )
    filter: dict[str, Any] | None = Field(
        default=None, description="Test this filter instead of the endpoint's saved one (to try an edit)"
    )


class FilterTestResult(BaseModel):
    matches: bool
    failing: list[str] = Field(description="The conditions that did not hold, by path (empty when it matches)")
    event_type_subscribed: bool = Field(description="Whether the endpoint is subscribed to the event's type")


class AuthRead(BaseModel):
    type: Literal["basic", "bearer"]
    configured: bool = True


class RotateSecret(BaseModel):
    model_config = ConfigDict(extra="forbid")
    overlap_seconds: float | None = seconds(
        MAX_SECRET_OVERLAP_SECONDS,
        "How long the old secret still signs (default: the server's setting, 24 h)",
        default=None,
    )


class TestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event: str = Field(default="webhook.test", description="Send a sample of this event type (data.test = true)")


class Recover(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: UtcDateTime = Field(
        description="Re-send every delivery to this endpoint that failed since this time (no offset: UTC)"
    )
    until: UtcDateTime | None = Field(default=None, description="... and before this time (default: now)")


#: Answers to a correctly signed test webhook that usually mean the receiver verifies the wrong bytes.
SIGNATURE_TROUBLE_STATUSES = (401, 500)


def signature_hint(*, ok: bool, status_code: int | None) -> str | None:
    """What a failed test webhook's answer usually means, in words (None when there is nothing to add)."""
    if ok or status_code not in SIGNATURE_TROUBLE_STATUSES:
        return None
    return (
        f"The test webhook was signed correctly, yet your endpoint answered {status_code}. The usual cause is "
        "verifying the signature over parsed JSON (such as req.body after express.json()) instead of the raw body "
        "as it arrived: verify the raw bytes (express.raw(), Flask request.get_data(), Django request.body, "
        "FastAPI await request.body()), parse them afterwards, and check that the secret is this endpoint's. "
        'See "Signature verification fails" in docs/webhooks.md (Troubleshooting).'
    )


class TestResult(BaseModel):
    """The outcome of the test webhook sent when an endpoint is saved, or on request."""

    delivery_id: str | None
    ok: bool
    status_code: int | None
    latency_ms: float | None
    error: str | None
    at: datetime | None
    hint: str | None = Field(
        default=None,
        description="When the endpoint answered 401 or 500 to the (correctly signed) test: the usual cause in words",
    )


class WebhookRead(BaseModel):
    id: str
    url: str = Field(description="Credentials in the URL, if any, are replaced by `***`; to change them, send the URL")
    description: str
    events: list[str]
    status: Literal["enabled", "disabled"]
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    secret_rotation_ends_at: datetime | None
    filter: dict[str, Any] | None
    headers: dict[str, str]
    auth: AuthRead | None = Field(description="Only the kind of credentials: they are never shown after saving")
    client_certificate: ClientCertificateRead | None = Field(
        description="What identifies the client certificate (never the certificate or its key); null: none"
    )
    rate_limit_per_second: float | None = Field(description="POSTs per second at most, across workers; null: none")
    ordering: Ordering = Field(description="Ordered delivery per repository or per developer, or none")
    created_at: datetime
    updated_at: datetime
    last_test: TestResult | None


class WebhookWithSecret(WebhookRead):
    secret: str = Field(description="Verify signatures with this (`whsec_…`): HMAC key for both signature headers")


class WebhookCreated(WebhookWithSecret):
    test: TestResult


class AttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    number: int
    started_at: datetime
    duration_ms: float
    request_headers: dict[str, str]
    # Read from `DeliveryAttempt.body_sent`: the attempt's own copy, or (since migration 0017) the delivery's payload.
    request_body: str = Field(validation_alias=AliasChoices("body_sent", "request_body"))
    response_status: int | None
    response_headers: dict[str, str] | None
    response_body: str | None
    error_kind: str | None
    error: str | None
    retry_after_seconds: float | None = Field(
        description="The receiver's `Retry-After` on a 429 or 503, in seconds (an HTTP date is converted)"
    )
    next_retry_seconds: float | None = Field(
        description="The wait scheduled after this failed attempt: the schedule's step, lengthened to "
        "`retry_after_seconds` if longer, at most the longest step; null after a success or the last attempt"
    )


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    webhook_id: str
    event_id: str
    event_type: str
    is_test: bool
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    completed_at: datetime | None
    last_status_code: int | None
    last_error: str | None


class DeliveryDetail(DeliveryRead):
    attempt_log: list[AttemptRead] = Field(description="Every attempt, oldest first (pruned after the retention)")


class RecoverResult(BaseModel):
    redelivered: int
    deliveries: list[DeliveryRead]


WebhookPage = Page[WebhookRead]
DeliveryPage = Page[DeliveryRead]


def webhook_read(hook: Any, cls: type[WebhookRead] = WebhookRead, **extra: Any) -> Any:
    last = None
    if hook.last_test_at is not None:
        last = TestResult(
            delivery_id=hook.last_test_delivery_id,
            ok=bool(hook.last_test_ok),
            status_code=hook.last_test_status_code,
            latency_ms=hook.last_test_latency_ms,
            error=hook.last_test_error,
            at=hook.last_test_at,
            hint=signature_hint(ok=bool(hook.last_test_ok), status_code=hook.last_test_status_code),
        )
    fields: dict[str, Any] = {
        "id": hook.id,
        "url": redact_url(hook.url),  # credentials are write-only, like repositories' (docs/security.md)
        "description": hook.description,
        "events": hook.events,
        "status": "enabled" if hook.enabled else "disabled",
        "enabled": hook.enabled,
        "disabled_reason": hook.disabled_reason,
        "failing_since": hook.failing_since,
        "secret_rotation_ends_at": hook.previous_secret_expires_at if hook.previous_secret else None,
        "filter": hook.event_filter,
        "headers": hook.headers or {},
        "auth": AuthRead(type=hook.auth_type) if hook.auth_type and hook.auth_secret else None,
        "client_certificate": (
            ClientCertificateRead(**hook.client_cert_info)
            if hook.client_cert_secret and hook.client_cert_info
            else None
        ),
        "rate_limit_per_second": hook.rate_limit_per_second,
        "ordering": hook.ordering or "none",
        "created_at": hook.created_at,
        "updated_at": hook.updated_at,
        "last_test": last,
    }
    if issubclass(cls, WebhookWithSecret):
        fields["secret"] = hook.secret
    return cls(**fields, **extra)
