"""Secrets and signatures: the wire contract shared with `gitproductivity.receiver` (keep them identical).

- `X-GitProductivity-Signature: sha256=<hex HMAC-SHA256(key=secret string as shown, msg=raw body)>`, so the
  spec page's `verifyWebhook(payload, signature, secret)` accepts it unchanged;
- Standard Webhooks `webhook-signature: v1,<base64 HMAC-SHA256(key=base64-decoded part after whsec_,
  msg="{webhook-id}.{timestamp}.{body}")>`, one per valid secret (new first) during a rotation's overlap.
"""

from __future__ import annotations

import base64
import hmac
import os
from collections.abc import Sequence
from functools import lru_cache

import gitproductivity

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
USER_AGENT = f"GitProductivity-Webhooks/{gitproductivity.__version__}"


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(os.urandom(32)).decode("ascii")


@lru_cache(maxsize=4096)
def _keys(secret: str) -> tuple[bytes, bytes]:
    """(the body signature's key: the secret string's UTF-8 bytes, the Standard Webhooks key: base64-decoded)."""
    return secret.encode("utf-8"), base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def body_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.digest(_keys(secret)[0], body, "sha256").hex()


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.digest(_keys(secret)[1], signed, "sha256")).decode("ascii")


def headers(
    *,
    body: bytes,
    event_id: str,
    event_type: str,
    delivery_id: str,
    secret: str,
    old_secrets: Sequence[str] = (),
    timestamp: int,
) -> dict[str, str]:
    """Every header of one delivery attempt (the timestamp is the attempt's, so retries sign afresh)."""
    signatures = " ".join(standard_signature(s, event_id, timestamp, body) for s in (secret, *old_secrets))
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-GitProductivity-Signature": body_signature(secret, body),
        "X-GitProductivity-Event": event_type,
        "X-GitProductivity-Delivery": delivery_id,
        "X-GitProductivity-Timestamp": str(timestamp),
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }
