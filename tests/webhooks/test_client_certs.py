"""Client certificates (mTLS): a real TLS receiver on 127.0.0.1 that requires a certificate from a test CA (made by
openssl). Without one the delivery fails, in words; with one it arrives and the receiver sees whose it is (the
dispatcher, the test webhook, and through the egress proxy's CONNECT tunnel); the 422s at saving; the pair is stored
encrypted and shown, logged or answered nowhere; an expired certificate fails the attempt with its date."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from sqlalchemy import text

from gitproductivity.core.db import Database
from gitproductivity.core.settings import Settings
from gitproductivity.webhooks import client as http_client
from gitproductivity.webhooks import client_certs
from gitproductivity.webhooks.client import HttpClient
from gitproductivity.webhooks.guard import Guard
from gitproductivity.webhooks.models import Webhook
from gitproductivity.webhooks.sender import classify
from tests.conftest import require_program, run_async
from tests.netutil import listening_port
from tests.webhooks.conftest import RunningDispatcher, configure, wait_for
from tests.webhooks.mtls import MtlsReceiver, Pki, make_pki, mtls_receiver, openssl
from tests.webhooks.test_proxy import ProxyProcess

KEY = "a-credentials-key-for-tests-only-0123456789"


@pytest.fixture
def pki(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pki]:
    """The test PKI, its CA trusted the operator's way (SSL_CERT_FILE, read when a TLS context is made)."""
    made = make_pki(tmp_path / "pki")
    monkeypatch.setenv("SSL_CERT_FILE", str(made.ca))
    http_client._default_ssl_context.cache_clear()
    client_certs.clear_cache()
    yield made
    http_client._default_ssl_context.cache_clear()
    client_certs.clear_cache()


@pytest.fixture
def mtls(pki: Pki) -> Iterator[MtlsReceiver]:
    r = mtls_receiver(pki)
    yield r
    r.stop()


@pytest.fixture
def keyed(database: Database, database_url: str, tmp_path: Path) -> Settings:
    return configure(database_url, tmp_path, webhook_credentials_key=KEY)


def _secrets(pki: Pki, name: str = "client") -> list[str]:
    """Lines of the private key that would betray it (its base64 body), and the whole PEM."""
    pem = pki.pair(name)["private_key"]
    return [pem, *(line for line in pem.splitlines() if len(line) > 40)]


def _attempts(api: TestClient, hook_id: str) -> list[dict[str, Any]]:
    return [
        attempt
        for d in api.get(f"/v1/webhooks/{hook_id}/deliveries").json()["data"]
        for attempt in api.get(f"/v1/deliveries/{d['id']}").json()["attempt_log"]
    ]


def test_the_receiver_gets_the_client_certificate_only_from_an_endpoint_that_has_one(
    api: TestClient,
    database: Database,
    keyed: Settings,
    pki: Pki,
    mtls: MtlsReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = mtls.url("/ok", host="localhost")
    made = api.post("/v1/webhooks", json={"url": url, "events": ["developer.added"]})
    assert made.status_code == 201, made.text
    hook = made.json()
    # No certificate: the receiver turns the connection down, and the attempt says why in words.
    assert hook["client_certificate"] is None and hook["test"]["ok"] is False
    # Python 3.11's asyncio server closes without a TLS alert (a server that sends one: the s_server test below).
    words = f"localhost:{mtls.port} closed the connection right after the TLS handshake, without answering; "
    alert = f"the TLS handshake with localhost:{mtls.port} failed (tlsv13 alert certificate required); "
    assert hook["test"]["error"].startswith((words, alert)), hook["test"]["error"]
    assert "a receiver that requires a client certificate does this" in hook["test"]["error"]
    assert not mtls.requests

    resp = api.patch(f"/v1/webhooks/{hook['id']}", json={"client_certificate": pki.pair("client")})
    assert resp.status_code == 200, resp.text
    shown = resp.json()["client_certificate"]
    assert shown["subject"] == "O=GitProductivity Tests,CN=gp-client"
    assert shown["issuer"] == "CN=GitProductivity Test CA"
    assert shown["fingerprint_sha256"] == pki.fingerprint("client")
    assert (
        datetime.now(UTC) + timedelta(days=1)
        < datetime.fromisoformat(shown["not_after"])
        < datetime.now(UTC) + timedelta(days=3)
    )

    test = api.post(f"/v1/webhooks/{hook['id']}/test").json()
    assert test["ok"] is True, test
    assert mtls.subjects == ["gp-client"]

    running = RunningDispatcher(database)
    try:
        api.post("/v1/developers", json={"name": "Jane Doe", "email": "jane@example.com"})
        wait_for(lambda: len(mtls.requests) == 2, what="the event's delivery")
    finally:
        running.stop()
    assert mtls.requests[1].headers["X-GitProductivity-Event"] == "developer.added"
    assert mtls.subjects == ["gp-client", "gp-client"]

    # Stored encrypted: no PEM in the row; never in a response, the attempt log, or a log line.
    with database.session() as session:
        stored = session.get(Webhook, hook["id"])
        assert stored is not None and stored.client_cert_secret is not None
        assert stored.client_cert_secret.startswith("fernet:") and "PRIVATE KEY" not in stored.client_cert_secret
        row = session.execute(text("SELECT * FROM webhooks WHERE id = :id"), {"id": hook["id"]}).one()
    everything = json.dumps(
        [api.get(f"/v1/webhooks/{hook['id']}").json(), api.get("/v1/webhooks").json(), _attempts(api, hook["id"])]
    )
    for secret in _secrets(pki):
        assert secret not in everything and secret not in caplog.text and secret not in str(tuple(row))
    assert "BEGIN CERTIFICATE" not in everything

    # Removed: the next try presents none, and fails again.
    assert (
        api.patch(f"/v1/webhooks/{hook['id']}", json={"client_certificate": None}).json()["client_certificate"] is None
    )
    assert api.post(f"/v1/webhooks/{hook['id']}/test").json()["ok"] is False
    assert len(mtls.requests) == 2


def test_a_certificate_saved_at_creation_is_used_by_the_first_test_webhook(
    api: TestClient, keyed: Settings, pki: Pki, mtls: MtlsReceiver
) -> None:
    made = api.post(
        "/v1/webhooks",
        json={"url": mtls.url("/ok", host="localhost"), "events": ["*"], "client_certificate": pki.pair("client")},
    ).json()
    assert made["test"]["ok"] is True, made["test"]
    assert made["client_certificate"]["fingerprint_sha256"] == pki.fingerprint("client")
    assert mtls.subjects == ["gp-client"]


def test_a_connection_made_with_one_certificate_is_never_reused_without_it(pki: Pki, mtls: MtlsReceiver) -> None:
    """The keep-alive pool is per client certificate: the same client, the same host, one request with the
    certificate and one without; the second must make its own connection (and be turned down)."""
    info = {
        "subject": "CN=gp-client",
        "not_after": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        "fingerprint_sha256": pki.fingerprint("client"),
    }
    stored, _ = client_certs.check(pki.pair("client"), Settings(webhook_credentials_key=KEY))
    tls = client_certs.identity(stored, info, Settings(webhook_credentials_key=KEY))
    assert tls is not None
    assert client_certs.identity(stored, info, Settings(webhook_credentials_key=KEY)) is not None
    url = mtls.url("/ok", host="localhost")

    async def exchange() -> tuple[int, BaseException | None]:
        client = HttpClient(guard=Guard.from_settings(Settings(webhook_allowed_networks="127.0.0.0/8")), timeout=5)
        try:
            first = await client.post(url, b"{}", {}, tls=tls)
            try:
                await client.post(url, b"{}", {})
            except Exception as exc:
                return first.status, exc
            return first.status, None
        finally:
            await client.close()

    status, refused = run_async(exchange)
    assert status == 200 and refused is not None
    kind, words = classify(refused, url)
    assert kind in ("connection_dropped", "tls_error") and "requires a client certificate" in words, words
    assert mtls.subjects == ["gp-client"]


def test_an_openssl_receiver_s_alert_for_a_missing_certificate_is_named(
    api: TestClient, keyed: Settings, pki: Pki, tmp_path: Path
) -> None:
    """OpenSSL's own server (`openssl s_server -Verify 1`) says why it closes, with a TLS alert: the attempt quotes it.
    (Python's asyncio servers close without one: the first test's wording.)"""
    server = subprocess.Popen(
        [require_program("openssl", "openssl"), "s_server", "-accept", "127.0.0.1:0", "-cert", "server.pem", "-key",
         "server-key.pem", "-CAfile", "ca.pem", "-Verify", "1", "-verify_return_error", "-www", "-quiet"],
        cwd=pki.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        port = listening_port(server)
        made = api.post("/v1/webhooks", json={"url": f"https://localhost:{port}/hook", "events": ["*"]}).json()
    finally:
        server.terminate()
        server.wait(10)
    assert made["test"]["ok"] is False
    assert made["test"]["error"].startswith(
        f"the TLS handshake with localhost:{port} failed (tlsv13 alert certificate required); a receiver that "
        "requires a client certificate does this"
    )
    assert _attempts(api, made["id"])[0]["error_kind"] == "tls_error"


def _expired_pair() -> dict[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=30))
        .not_valid_after(now - timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return {
        "certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "private_key": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
    }


def _bad_pairs(pki: Pki) -> list[tuple[str, dict[str, Any], str, str]]:
    """(case, client_certificate, the field named, words in the message)."""
    good = pki.pair("client")
    pki.issue("other", "/CN=other", curve=True)
    openssl(
        "pkey", "-in", "client-key.pem", "-aes256", "-passout", "pass:hunter2", "-out", "locked-key.pem", cwd=pki.root
    )
    cert_lines = good["certificate"].splitlines()
    return [
        ("not PEM", {**good, "certificate": "hello"}, "client_certificate.certificate", "not a PEM certificate"),
        (
            "broken PEM",
            {**good, "certificate": "\n".join(cert_lines[:3] + cert_lines[5:])},
            "client_certificate.certificate",
            "cannot be parsed",
        ),
        ("key of another", {**good, "private_key": pki.pair("other")["private_key"]}, "client_certificate.private_key",
         "does not belong"),
        ("certificate as key", {**good, "private_key": good["certificate"]}, "client_certificate.private_key",
         "not a PEM private key"),
        ("encrypted key", {**good, "private_key": (pki.root / "locked-key.pem").read_text()},
         "client_certificate.private_key", "passphrase"),
        ("expired", _expired_pair(), "client_certificate.certificate", "expired on"),
        ("too long", {**good, "certificate": "A" * 40_000}, "client_certificate.certificate", "32768"),
        ("no key", {"certificate": good["certificate"]}, "client_certificate.private_key", "required"),
        ("extra field", {**good, "passphrase": "x"}, "client_certificate.passphrase", "not a known field"),
    ]  # fmt: skip


def test_what_cannot_be_used_is_refused_at_saving_with_the_field_named(
    api: TestClient, keyed: Settings, pki: Pki
) -> None:
    hook = api.post("/v1/webhooks", json={"url": "https://127.0.0.1:9/x", "events": ["*"]}).json()
    for case, pair, field, words in _bad_pairs(pki):
        for resp in (
            api.post(
                "/v1/webhooks", json={"url": "https://127.0.0.1:9/x", "events": ["*"], "client_certificate": pair}
            ),
            api.patch(f"/v1/webhooks/{hook['id']}", json={"client_certificate": pair}),
        ):
            assert resp.status_code == 422, (case, resp.text)
            error = resp.json()["error"]
            assert set(error) == {"code", "message", "details"}, case
            assert [d["field"] for d in error["details"]] == [field], (case, error)
            assert words in json.dumps(error), (case, error)
            echoed = [line for v in pair.values() for line in str(v).splitlines() if len(line) > 40]
            assert not [line for line in echoed if line in resp.text], case  # the PEMs are never echoed back
    assert api.get(f"/v1/webhooks/{hook['id']}").json()["client_certificate"] is None
    assert len(api.get("/v1/webhooks").json()["data"]) == 1


def test_a_certificate_needs_the_encryption_key(
    api: TestClient, database: Database, database_url: str, tmp_path: Path, pki: Pki
) -> None:
    configure(database_url, tmp_path)  # no GITPRODUCTIVITY_WEBHOOK_CREDENTIALS_KEY, no SECRET_KEY
    resp = api.post(
        "/v1/webhooks",
        json={"url": "https://127.0.0.1:9/x", "events": ["*"], "client_certificate": pki.pair("client")},
    )
    assert resp.status_code == 422 and resp.json()["error"]["details"][0]["field"] == "client_certificate"
    assert "GITPRODUCTIVITY_WEBHOOK_CREDENTIALS_KEY" in resp.json()["error"]["message"]


def test_an_expired_certificate_fails_the_attempt_with_its_date_and_sends_nothing(
    api: TestClient, keyed: Settings, pki: Pki, mtls: MtlsReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = api.post(
        "/v1/webhooks",
        json={"url": mtls.url("/ok", host="localhost"), "events": ["*"], "client_certificate": pki.pair("client")},
    ).json()
    assert hook["test"]["ok"] is True and len(mtls.requests) == 1
    not_after = datetime.fromisoformat(hook["client_certificate"]["not_after"])
    monkeypatch.setattr(client_certs, "utcnow", lambda: not_after + timedelta(seconds=1))  # a day or two later
    result = api.post(f"/v1/webhooks/{hook['id']}/test").json()
    assert result["ok"] is False and len(mtls.requests) == 1
    when = not_after.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert result["error"].startswith(
        f"the client certificate expired on {when} (O=GitProductivity Tests,CN=gp-client)"
    )
    last = _attempts(api, hook["id"])[0]
    assert last["error_kind"] == "client_certificate" and last["error"] == result["error"]


def test_a_changed_key_fails_the_attempt_without_sending(
    api: TestClient, database_url: str, tmp_path: Path, keyed: Settings, pki: Pki, mtls: MtlsReceiver
) -> None:
    hook = api.post(
        "/v1/webhooks",
        json={"url": mtls.url("/ok", host="localhost"), "events": ["*"], "client_certificate": pki.pair("client")},
    ).json()
    client_certs.clear_cache()
    configure(database_url, tmp_path, webhook_credentials_key="another-key-entirely-0123456789")
    result = api.post(f"/v1/webhooks/{hook['id']}/test").json()
    assert result["ok"] is False and "client certificate cannot be decrypted" in result["error"]
    assert len(mtls.requests) == 1


def test_the_pem_is_handed_to_openssl_without_a_file_left_behind(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pem = pki.pair("client")
    with client_certs._pem_file(pem["certificate"]) as path:
        assert path.startswith("/proc/self/fd/")  # memfd: in memory only
        assert Path(path).read_text() == pem["certificate"]
    assert not Path(path).exists()
    # Without memfd_create (not Linux): a 0600 temporary file, removed as soon as OpenSSL has read it.
    monkeypatch.delattr(os, "memfd_create")
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(spool))
    with client_certs._pem_file(pem["private_key"]) as path:
        assert Path(path).parent == spool and stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert Path(path).read_text() == pem["private_key"]
    assert list(spool.iterdir()) == []
    stored, info = client_certs.check(pem, Settings(webhook_credentials_key=KEY))
    assert client_certs.identity(stored, info, Settings(webhook_credentials_key=KEY)) is not None
    assert list(spool.iterdir()) == []


@pytest.mark.slow  # starts a proxy process
def test_the_certificate_is_presented_through_the_proxy_s_connect_tunnel(
    api: TestClient, database: Database, database_url: str, tmp_path: Path, pki: Pki, mtls: MtlsReceiver
) -> None:
    proxy = ProxyProcess(tmp_path / "proxy.log")
    try:
        configure(database_url, tmp_path, webhook_credentials_key=KEY, webhook_proxy=proxy.url())
        url = mtls.url("/ok", host="localhost")
        made = api.post("/v1/webhooks", json={"url": url, "events": ["developer.added"]}).json()
        assert made["test"]["ok"] is False and not mtls.requests  # through the tunnel too, no certificate: refused
        api.patch(f"/v1/webhooks/{made['id']}", json={"client_certificate": pki.pair("client")})
        running = RunningDispatcher(database)
        try:
            api.post("/v1/developers", json={"name": "Jane Doe", "email": "jane@example.com"})
            wait_for(lambda: mtls.requests, what="the delivery through the tunnel")
        finally:
            running.stop()
    finally:
        proxy.stop()
    assert mtls.requests[0].headers["X-GitProductivity-Event"] == "developer.added"
    assert mtls.subjects == ["gp-client"]
    tunnels = [e["target"] for e in proxy.entries() if e["method"] == "CONNECT"]
    assert tunnels == [f"localhost:{mtls.port}", f"localhost:{mtls.port}"]  # the test webhook's, then the event's
    assert not [e for e in proxy.entries() if e["method"] != "CONNECT"]  # the proxy saw no plaintext request


@pytest.mark.slow  # the real CLI as subprocesses
def test_the_cli_sets_and_removes_the_client_certificate(
    database: Database, database_url: str, pki: Pki, mtls: MtlsReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.webhooks.test_cli import run

    monkeypatch.setenv("GITPRODUCTIVITY_WEBHOOK_CREDENTIALS_KEY", KEY)  # SSL_CERT_FILE is set by `pki`
    run(database_url, "init", "--email", "boss@example.com")
    cert, key, other = (str(pki.root / n) for n in ("client.pem", "client-key.pem", "ca-key.pem"))
    url = mtls.url("/ok", host="localhost")
    added = run(database_url, "webhooks", "add", url, "--client-cert", cert, "--client-key", key, "--json")
    hook = json.loads(added.stdout)
    assert hook["last_test"]["ok"] is True and mtls.subjects == ["gp-client"]
    assert hook["client_certificate"]["fingerprint_sha256"] == pki.fingerprint("client")
    assert "PRIVATE KEY" not in added.stdout + added.stderr

    refused = run(
        database_url, "webhooks", "update", hook["id"], "--client-cert", cert, "--client-key", other, check=False
    )
    assert refused.returncode != 0 and "client_certificate.private_key" in refused.stderr + refused.stdout
    assert "does not belong to the certificate" in refused.stderr + refused.stdout
    alone = run(database_url, "webhooks", "update", hook["id"], "--client-cert", cert, check=False)
    assert alone.returncode != 0 and "--client-cert and --client-key go together" in alone.stderr + alone.stdout

    removed = json.loads(run(database_url, "webhooks", "update", hook["id"], "--client-cert", "none", "--json").stdout)
    assert removed["client_certificate"] is None
    assert "FAILED" in run(database_url, "webhooks", "test", hook["id"], check=False).stdout
    assert len(mtls.requests) == 1
