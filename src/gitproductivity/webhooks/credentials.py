"""Endpoint credentials (the `Authorization` header a receiver asks for), encrypted at rest.

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) under a key derived from the
`GITPRODUCTIVITY_WEBHOOK_CREDENTIALS_KEY` setting, or `GITPRODUCTIVITY_SECRET_KEY` when that is unset; with
neither, credentials cannot be saved (the error says which setting to set). The stored text is the token
`fernet:<token>`; the plain credentials exist only in memory, while a delivery is signed and sent, and never
appear in responses, pages, the attempt log (`Authorization: ***`) or log lines.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from gitproductivity.core.errors import ValidationFailed
from gitproductivity.core.settings import Settings, get_settings

PREFIX = "fernet:"
AUTH_TYPES = ("basic", "bearer")
MAX_CREDENTIAL_LENGTH = 4096


#: RFC 6750's b64token: what a bearer token can be, so the header value is always well formed.
_TOKEN68 = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")


class CredentialsUnreadable(Exception):
    """The stored credentials cannot be decrypted with the configured key (it changed, or none is set)."""


def _key_material(settings: Settings) -> str | None:
    for secret in (settings.webhook_credentials_key, settings.secret_key):
        if secret is not None and secret.get_secret_value():
            return secret.get_secret_value()
    return None


@lru_cache(maxsize=4)
def _fernet(material: str) -> Fernet:
    digest = hashlib.sha256(b"gitproductivity webhook credentials\0" + material.encode("utf-8")).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _cipher(settings: Settings | None = None) -> Fernet | None:
    material = _key_material(settings or get_settings())
    return None if material is None else _fernet(material)


def check_auth(auth: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """(type, the fields to keep) for `{"type": "basic", "username", "password"}` or `{"type": "bearer", "token"}`."""
    kind = auth.get("type")
    wanted = {"basic": ("username", "password"), "bearer": ("token",)}.get(kind) if isinstance(kind, str) else None
    if wanted is None:
        raise ValidationFailed(
            'auth.type: must be "basic" or "bearer"', details=[{"field": "auth.type", "message": "basic or bearer"}]
        )
    details = []
    for name in set(auth) - {"type", *wanted}:
        details.append({"field": f"auth.{name}", "message": f"not a field of {kind} credentials"})
    for name in wanted:
        value = auth.get(name)
        if not isinstance(value, str) or not value or len(value) > MAX_CREDENTIAL_LENGTH:
            details.append({"field": f"auth.{name}", "message": f"1 to {MAX_CREDENTIAL_LENGTH} characters"})
        elif any(ord(c) < 32 or ord(c) == 127 for c in value):
            details.append({"field": f"auth.{name}", "message": "must not contain control characters"})
        elif kind == "basic" and name == "username" and ":" in value:
            details.append({"field": f"auth.{name}", "message": "a basic user name cannot contain ':'"})
        elif kind == "bearer" and not _TOKEN68.match(value):
            details.append({"field": f"auth.{name}", "message": "a bearer token is letters, digits and -._~+/="})
    if details:
        raise ValidationFailed("auth: " + "; ".join(f"{d['field']}: {d['message']}" for d in details), details=details)
    return str(kind), {name: auth[name] for name in wanted}


def encrypt(fields: dict[str, str], settings: Settings | None = None, *, field: str = "auth") -> str:
    """`fields` as a `fernet:` token; a 422 naming `field` when no key is configured."""
    cipher = _cipher(settings)
    if cipher is None:
        raise ValidationFailed(
            f"{field}: credentials are stored encrypted; set GITPRODUCTIVITY_WEBHOOK_CREDENTIALS_KEY "
            "(or GITPRODUCTIVITY_SECRET_KEY) on the server first",
            details=[
                {
                    "field": field,
                    "message": "no encryption key: set GITPRODUCTIVITY_WEBHOOK_CREDENTIALS_KEY on the server first",
                }
            ],
        )
    return PREFIX + cipher.encrypt(json.dumps(fields).encode("utf-8")).decode("ascii")


def _open(stored: str, material: str) -> dict[str, str]:
    try:
        plain = _fernet(material).decrypt(stored.removeprefix(PREFIX).encode("ascii"))
    except (InvalidToken, ValueError):
        raise CredentialsUnreadable("the endpoint's credentials cannot be decrypted with the configured key") from None
    result: dict[str, str] = json.loads(plain)
    return result


#: Authorization headers are made per delivery: their decrypted fields are kept (client certificates are not: their
#: TLS contexts are, by `webhooks.client_certs`).
_decrypt = lru_cache(maxsize=1024)(_open)


def decrypt(stored: str, settings: Settings | None = None) -> dict[str, str]:
    """The fields `encrypt` stored; CredentialsUnreadable when no key, or another key, is configured."""
    material = _key_material(settings or get_settings())
    if material is None:
        raise CredentialsUnreadable("the endpoint has credentials but no encryption key is configured")
    return _open(stored, material)


def authorization(auth_type: str | None, stored: str | None, settings: Settings | None = None) -> str | None:
    """The `Authorization` header value for an endpoint, or None when it has no credentials."""
    if not auth_type or not stored:
        return None
    material = _key_material(settings or get_settings())
    if material is None:
        raise CredentialsUnreadable("the endpoint has credentials but no encryption key is configured")
    fields = _decrypt(stored, material)
    if auth_type == "basic":
        pair = f"{fields['username']}:{fields['password']}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")
    return "Bearer " + fields["token"]
