"""Client certificates (mTLS) per endpoint: checked when saved, stored encrypted, presented in the TLS handshake.

Saved: `{"certificate": PEM, "private_key": PEM}`. The certificate (then any intermediates) must parse, the key
must be unencrypted and belong to it, the leaf must not have expired, and OpenSSL must accept the pair (its
security level refuses, say, 1024-bit RSA). The pair is stored as one `fernet:` token under the credentials key
(`webhooks.credentials`); only `info` (subject, issuer, not_after, SHA-256 fingerprint) is stored in the clear.

Sent: `identity` decrypts the pair once per fingerprint and keeps the `ssl.SSLContext` made from it (trust
settings as the client's default context: the system's CAs, or `SSL_CERT_FILE`). OpenSSL loads certificates only
from files, so the PEMs are written to an anonymous in-memory file (Linux `memfd_create`: never on a disk, gone
when closed); elsewhere to a 0600 temporary file deleted at once. An expired certificate is never presented: the
attempt fails without sending, with the date in the attempt log, and is retried on the schedule (a renewed
certificate saved meanwhile is used by the next try).
"""

from __future__ import annotations

import collections
import contextlib
import os
import ssl
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from gitproductivity.core.clock import utcnow
from gitproductivity.core.errors import ValidationFailed
from gitproductivity.core.settings import Settings
from gitproductivity.webhooks import credentials
from gitproductivity.webhooks.client import TlsIdentity
from gitproductivity.webhooks.schemas import MAX_PEM_CHARS

FIELD = "client_certificate"
#: At most this many certificates in the chain (the endpoint's own, then intermediates).
MAX_CHAIN = 8
SIGNING_KEYS = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)
#: TLS contexts kept, by fingerprint.
CACHE_SIZE = 256


class ClientCertificateUnusable(Exception):
    """The endpoint's client certificate cannot be presented (expired, or unreadable with the configured key)."""


def _refuse(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", details=[{"field": field, "message": message}])


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _pem(value: Any, name: str) -> bytes:
    field = f"{FIELD}.{name}"
    if not isinstance(value, str) or not value.strip():
        raise _refuse(field, "a PEM text is required")
    if len(value) > MAX_PEM_CHARS:
        raise _refuse(field, f"longer than {MAX_PEM_CHARS} characters")
    if not value.isascii():
        raise _refuse(field, "a PEM text is ASCII only")
    return value.encode("ascii")


def _certificates(data: bytes) -> list[x509.Certificate]:
    field = f"{FIELD}.certificate"
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise _refuse(field, "not a PEM certificate (it starts with -----BEGIN CERTIFICATE-----)")
    try:
        chain = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise _refuse(field, "the PEM certificate cannot be parsed") from None
    if len(chain) > MAX_CHAIN:
        raise _refuse(field, f"at most {MAX_CHAIN} certificates (this endpoint's, then intermediates)")
    return chain


def _private_key(data: bytes) -> Any:
    field = f"{FIELD}.private_key"
    if b"ENCRYPTED" in data:
        raise _refuse(
            field,
            "the private key is encrypted with a passphrase: send it decrypted (`openssl pkey -in key.pem -out "
            "plain.pem`); it is stored encrypted here",
        )
    if b"PRIVATE KEY-----" not in data:
        raise _refuse(field, "not a PEM private key (it starts with -----BEGIN PRIVATE KEY-----)")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:  # a passphrase is needed after all
        raise _refuse(field, "the private key is encrypted with a passphrase: send it decrypted") from None
    except (ValueError, UnsupportedAlgorithm):
        raise _refuse(field, "the PEM private key cannot be parsed") from None
    if not isinstance(key, SIGNING_KEYS):
        raise _refuse(field, "an RSA, EC, Ed25519 or Ed448 key is needed to sign the TLS handshake")
    return key


def _spki(public_key: Any) -> bytes:
    result: bytes = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return result


def info_of(leaf: x509.Certificate) -> dict[str, str]:
    """What is shown of a certificate (and stored in the clear): subject, issuer, expiry, fingerprint."""
    return {
        "subject": leaf.subject.rfc4514_string(),
        "issuer": leaf.issuer.rfc4514_string(),
        "not_after": leaf.not_valid_after_utc.isoformat().replace("+00:00", "Z"),
        "fingerprint_sha256": leaf.fingerprint(hashes.SHA256()).hex(),
    }


def check(value: Any, settings: Settings | None = None) -> tuple[str, dict[str, str]]:
    """(the stored `fernet:` token, the shown info) for a `{"certificate", "private_key"}` pair, or a 422 naming
    the field that is wrong."""
    if not isinstance(value, dict) or set(value) != {"certificate", "private_key"}:
        raise _refuse(FIELD, 'an object with "certificate" and "private_key" (PEM texts), or null to remove it')
    cert_pem, key_pem = _pem(value["certificate"], "certificate"), _pem(value["private_key"], "private_key")
    chain = _certificates(cert_pem)
    key = _private_key(key_pem)
    leaf = chain[0]
    if _spki(key.public_key()) != _spki(leaf.public_key()):
        raise _refuse(f"{FIELD}.private_key", "this private key does not belong to the certificate (the first one)")
    now = utcnow()
    if leaf.not_valid_after_utc <= now:
        raise _refuse(f"{FIELD}.certificate", f"the certificate expired on {_when(leaf.not_valid_after_utc)}")
    chain_pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain).decode("ascii")
    plain_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    try:
        _load(chain_pem, plain_key)  # OpenSSL's own judgement: what it refuses here it would refuse when sending
    except ssl.SSLError as exc:
        reason = str(exc.reason or exc).lower().replace("_", " ")
        raise _refuse(FIELD, f"OpenSSL does not accept this certificate and key ({reason})") from None
    stored = credentials.encrypt({"certificate": chain_pem, "private_key": plain_key}, settings, field=FIELD)
    return stored, info_of(leaf)


@contextlib.contextmanager
def _pem_file(text: str) -> Iterator[str]:
    """A path OpenSSL can read `text` from, for as long as the block runs; nothing of it is left afterwards."""
    data = text.encode("ascii")
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        fd = os.memfd_create("gitproductivity-client-cert", os.MFD_CLOEXEC)  # in memory, never on a disk
        try:
            os.write(fd, data)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    fd, path = tempfile.mkstemp(prefix="gp-client-cert-", suffix=".pem")  # mode 0600
    try:
        os.write(fd, data)
        os.close(fd)
        fd = -1
        yield path
    finally:
        if fd >= 0:
            os.close(fd)
        os.unlink(path)


def _load(chain_pem: str, key_pem: str) -> ssl.SSLContext:
    context = ssl.create_default_context()  # the server's certificate is checked as without a client certificate
    with _pem_file(chain_pem + key_pem) as path:
        context.load_cert_chain(path)
    return context


#: By fingerprint: the certificate's end and the identity made from it (its SSLContext), most recently used last.
_identities: collections.OrderedDict[str, tuple[datetime, TlsIdentity]] = collections.OrderedDict()
_lock = threading.Lock()


def clear_cache() -> None:
    """Forget every TLS context made (tests that change `SSL_CERT_FILE`; the next delivery makes them again)."""
    with _lock:
        _identities.clear()


def _expired(not_after: datetime, subject: str) -> ClientCertificateUnusable:
    return ClientCertificateUnusable(
        f"the client certificate expired on {_when(not_after)} ({subject}); "
        "save a renewed one for this endpoint (docs/webhooks.md, Client certificates)"
    )


def identity(stored: str | None, info: dict[str, Any] | None, settings: Settings | None = None) -> TlsIdentity | None:
    """The TLS identity to present for an endpoint (None when it has no client certificate); raises
    ClientCertificateUnusable when it has expired or cannot be decrypted. Made once per fingerprint."""
    if not stored or not info:
        return None
    fingerprint = str(info["fingerprint_sha256"])
    with _lock:
        known = _identities.get(fingerprint)
        if known is not None:
            _identities.move_to_end(fingerprint)
    if known is not None:
        if known[0] <= utcnow():
            raise _expired(known[0], str(info.get("subject", "")))
        return known[1]
    not_after = datetime.fromisoformat(str(info["not_after"]).replace("Z", "+00:00"))
    if not_after <= utcnow():
        raise _expired(not_after, str(info.get("subject", "")))
    try:
        pair = credentials.decrypt(stored, settings)
    except credentials.CredentialsUnreadable:
        raise ClientCertificateUnusable(
            "the endpoint's client certificate cannot be decrypted with the configured key (or none is configured: "
            "GITPRODUCTIVITY_WEBHOOK_CREDENTIALS_KEY)"
        ) from None
    made = TlsIdentity(fingerprint, _load(pair["certificate"], pair["private_key"]))
    with _lock:
        _identities[fingerprint] = (not_after, made)
        while len(_identities) > CACHE_SIZE:
            _identities.popitem(last=False)
    return made


#: Within this many days of its end, a certificate is shown as expiring soon.
SOON_DAYS = 30


def expiry(not_after: datetime, now: datetime | None = None) -> tuple[str, str]:
    """(state, words) for pages: "expired", "soon" (within `SOON_DAYS`) or "valid", and the date in words."""
    left = not_after - (now or utcnow())
    if left.total_seconds() <= 0:
        return "expired", f"expired on {_when(not_after)}: deliveries fail until a renewed certificate is saved"
    if left.days < SOON_DAYS:
        return "soon", f"expires on {_when(not_after)}, in {left.days} day{'s' if left.days != 1 else ''}"
    return "valid", f"valid until {_when(not_after)}"
