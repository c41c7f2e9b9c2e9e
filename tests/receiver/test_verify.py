"""`receiver.verify` against signatures made here from the wire contract, by `standardwebhooks`, and checked by
the spec page's own Node `verifyWebhook`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError as SWError

from gitproductivity import receiver
from gitproductivity.receiver import Event, WebhookVerificationError, verify
from tests.conftest import require_program

HERE = Path(__file__).parent
SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
OTHER = "whsec_" + base64.b64encode(b"\x07" * 32).decode()
BODY = (
    '{"id":"evt_01jd4x2k3m5n6p7q8r9s0t1v2w","type":"developer.added","created_at":"2026-03-19T10:30:00Z",'
    '"data":{"developer_id":"dev_456","name":"Zoë Ñúñez 🚀","email":"zoe@example.com"}}'
).encode()
EVENT_ID = "evt_01jd4x2k3m5n6p7q8r9s0t1v2w"


def contract_headers(
    body: bytes, secrets: list[str], *, ts: int | None = None, msg_id: str = EVENT_ID
) -> dict[str, str]:
    """Written from the wire contract in the brief, independently of `receiver.sign`."""
    ts = int(time.time()) if ts is None else ts
    hex_sig = hmac.new(secrets[0].encode(), body, hashlib.sha256).hexdigest()
    v1 = []
    for s in secrets:
        key = base64.b64decode(s.removeprefix("whsec_"))
        digest = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
        v1.append("v1," + base64.b64encode(digest).decode())
    return {
        "Content-Type": "application/json",
        "X-GitProductivity-Signature": f"sha256={hex_sig}",
        "X-GitProductivity-Event": "developer.added",
        "X-GitProductivity-Delivery": "dlv_01jd4x2k3m5n6p7q8r9s0t1v2x",
        "X-GitProductivity-Timestamp": str(ts),
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": " ".join(v1),
    }


def legacy_only(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if not k.startswith("webhook-")}


def rejected(body: Any, headers: Any, secret: Any, code: str, **kw: Any) -> str:
    with pytest.raises(WebhookVerificationError) as info:
        verify(body, headers, secret, **kw)
    assert info.value.code == code, str(info.value)
    for s in (SECRET, OTHER):
        assert s not in str(info.value)
        assert s.removeprefix("whsec_") not in str(info.value)
    return str(info.value)


def test_contract_signatures_verify_and_event_is_parsed() -> None:
    headers = contract_headers(BODY, [SECRET])
    event = verify(BODY, headers, SECRET)
    assert event == Event(
        id=EVENT_ID,
        type="developer.added",
        created_at=datetime(2026, 3, 19, 10, 30, tzinfo=UTC),
        data={"developer_id": "dev_456", "name": "Zoë Ñúñez 🚀", "email": "zoe@example.com"},
        raw=BODY,
    )
    assert not event.is_test
    # Without the Standard Webhooks headers the X-GitProductivity-Signature is checked only when asked for.
    assert verify(BODY, legacy_only(headers), SECRET, allow_legacy_signature=True).id == EVENT_ID
    rejected(BODY, legacy_only(headers), SECRET, "missing_header")
    # A str body (already decoded raw text) and bytearray/memoryview work too.
    assert verify(BODY.decode(), headers, SECRET).id == EVENT_ID
    assert verify(memoryview(bytearray(BODY)), headers, SECRET).id == EVENT_ID


class CaseInsensitive(Mapping[str, str]):
    """Like Django's/Starlette's header objects: a Mapping that is not a dict, with its own casing."""

    def __init__(self, values: dict[str, str]) -> None:
        self._values = {k.title(): v for k, v in values.items()}

    def __getitem__(self, key: str) -> str:
        return self._values[key.title()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def test_header_containers_and_case() -> None:
    headers = contract_headers(BODY, [SECRET])
    upper = {k.upper(): v for k, v in headers.items()}
    pairs = list(headers.items())
    asgi = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    for container in (upper, pairs, asgi, CaseInsensitive(headers)):
        assert verify(BODY, container, SECRET).id == EVENT_ID
    rejected(BODY, 42, SECRET, "invalid_header")
    rejected(BODY, ["not a pair"], SECRET, "invalid_header")


def test_our_signer_matches_the_contract_and_standardwebhooks() -> None:
    ts = int(time.time())
    ours = receiver.sign(BODY, [SECRET, OTHER], event_id=EVENT_ID, timestamp=ts, event_type="developer.added")
    expected = contract_headers(BODY, [SECRET, OTHER], ts=ts)
    for name in ("X-GitProductivity-Signature", "webhook-id", "webhook-timestamp", "webhook-signature"):
        assert ours[name] == expected[name]
    # The independent Standard Webhooks implementation accepts the contract's headers with either secret...
    for secret in (SECRET, OTHER):
        assert Webhook(secret).verify(BODY, expected) == json.loads(BODY)
    # ...and refuses a wrong one.
    with pytest.raises(SWError):
        Webhook("whsec_" + base64.b64encode(b"\x09" * 32).decode()).verify(BODY, expected)


def test_signatures_made_by_standardwebhooks_verify() -> None:
    ts = datetime.now(UTC)
    signature = Webhook(SECRET).sign(EVENT_ID, ts, BODY.decode())
    headers = {"webhook-id": EVENT_ID, "webhook-timestamp": str(int(ts.timestamp())), "webhook-signature": signature}
    assert verify(BODY, headers, SECRET).type == "developer.added"
    rejected(BODY, headers, OTHER, "invalid_signature")


def run_spec_verify(cases: list[dict[str, str]]) -> list[str]:
    out = subprocess.run(
        [require_program("node", "nodejs"), str(HERE / "verify_webhook.mjs")],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    result: list[str] = json.loads(out.stdout)
    return result


def test_spec_page_node_verify_accepts_our_signature() -> None:
    ours = receiver.sign(BODY, [SECRET, OTHER], event_id=EVENT_ID)["X-GitProductivity-Signature"]
    contract = contract_headers(BODY, [SECRET])["X-GitProductivity-Signature"]
    payload = BODY.decode()
    tampered = payload.replace("zoe@", "eve@")
    results = run_spec_verify(
        [
            {"payload": payload, "signature": ours, "secret": SECRET},
            {"payload": payload, "signature": contract, "secret": SECRET},
            {"payload": tampered, "signature": ours, "secret": SECRET},
            {"payload": payload, "signature": ours, "secret": OTHER},
            {"payload": payload, "signature": ours[:-2], "secret": SECRET},
        ]
    )
    assert results[:4] == ["true", "true", "false", "false"]
    # The spec's timingSafeEqual throws on a length mismatch; ours answers with a clear rejection instead.
    assert results[4].startswith("threw:")
    rejected(BODY, {"X-GitProductivity-Signature": ours[:-2]}, SECRET, "invalid_signature", allow_legacy_signature=True)


def test_tampered_body_wrong_secret_and_truncated_signatures_are_rejected() -> None:
    headers = contract_headers(BODY, [SECRET])
    tampered = BODY.replace(b"zoe@", b"eve@")
    rejected(tampered, headers, SECRET, "invalid_signature")
    rejected(tampered, legacy_only(headers), SECRET, "invalid_signature", allow_legacy_signature=True)
    rejected(BODY, headers, OTHER, "invalid_signature")
    rejected(BODY, legacy_only(headers), OTHER, "invalid_signature", allow_legacy_signature=True)
    for cut in (1, 10, 43):
        short = {**headers, "webhook-signature": headers["webhook-signature"][:-cut]}
        rejected(BODY, short, SECRET, "invalid_signature")
        legacy = legacy_only(headers)
        legacy["X-GitProductivity-Signature"] = legacy["X-GitProductivity-Signature"][:-cut]
        rejected(BODY, legacy, SECRET, "invalid_signature", allow_legacy_signature=True)
    # A signature for another event id (the Standard Webhooks id is signed too) does not carry over.
    rejected(BODY, {**headers, "webhook-id": "evt_other"}, SECRET, "invalid_signature")
    # Other versions and garbage entries are ignored, and a good v1 next to them still counts.
    noisy = {**headers, "webhook-signature": "v2,abc v1,!!notbase64 v1 " + headers["webhook-signature"]}
    assert verify(BODY, noisy, SECRET).id == EVENT_ID
    rejected(BODY, {**headers, "webhook-signature": "v2,abc v1,!!!"}, SECRET, "invalid_signature")
    for bad in ("md5=abc", "sha256=ü" * 40):
        rejected(
            BODY,
            {**legacy_only(headers), "X-GitProductivity-Signature": bad},
            SECRET,
            "invalid_header",
            allow_legacy_signature=True,
        )


def test_replayed_stale_and_future_timestamps_are_rejected() -> None:
    now = int(time.time())
    rejected(BODY, contract_headers(BODY, [SECRET], ts=now - 301), SECRET, "stale_timestamp")
    rejected(BODY, contract_headers(BODY, [SECRET], ts=now + 400), SECRET, "stale_timestamp")
    assert verify(BODY, contract_headers(BODY, [SECRET], ts=now - 250), SECRET).id == EVENT_ID
    # A captured delivery replayed later: same headers, still correctly signed, but too old.
    captured = contract_headers(BODY, [SECRET], ts=now - 90)
    assert verify(BODY, captured, SECRET, tolerance=120).id == EVENT_ID
    rejected(BODY, captured, SECRET, "stale_timestamp", tolerance=60)
    # Moving the timestamp forward breaks the signature, which covers it.
    rejected(BODY, {**captured, "webhook-timestamp": str(now)}, SECRET, "invalid_signature")
    for bad in ("soon", "-5", "1e9", "17000000000000", " "):
        code = "missing_header" if not bad.strip() else "invalid_header"
        rejected(BODY, {**captured, "webhook-timestamp": bad}, SECRET, code)


def test_missing_headers() -> None:
    headers = contract_headers(BODY, [SECRET])
    assert "webhook-id, webhook-timestamp, webhook-signature" in rejected(BODY, {}, SECRET, "missing_header")
    assert "neither" in rejected(BODY, {}, SECRET, "missing_header", allow_legacy_signature=True)
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        partial = {k: v for k, v in headers.items() if k != name}
        assert name in rejected(BODY, partial, SECRET, "missing_header")


@pytest.mark.parametrize(
    "secret",
    [
        "",
        [],
        None,
        b"whsec_abc",
        "abc",
        SECRET.removeprefix("whsec_"),
        "whsec_not*base64!",
        "whsec_" + base64.b64encode(b"short").decode(),
        [SECRET, "whsec_%%%"],
    ],
)
def test_malformed_secrets_are_reported_not_crashed(secret: Any) -> None:
    rejected(BODY, contract_headers(BODY, [SECRET]), secret, "invalid_secret")


def test_rotation_accepts_old_and_new() -> None:
    during = contract_headers(BODY, [SECRET, OTHER])  # the server during the overlap: new first, then old
    only_old = contract_headers(BODY, [OTHER])
    for headers in (during, only_old):
        assert verify(BODY, headers, [SECRET, OTHER]).id == EVENT_ID
    assert verify(BODY, during, OTHER).id == EVENT_ID  # a receiver not yet updated keeps working
    assert (
        verify(BODY, legacy_only(during), [OTHER, SECRET], allow_legacy_signature=True).id == EVENT_ID
    )  # legacy: new secret only
    rejected(BODY, legacy_only(during), [OTHER], "invalid_signature", allow_legacy_signature=True)


def test_correctly_signed_garbage_is_rejected_as_body() -> None:
    for body in (b"not json", b"[1,2]", b'{"id":"evt_1","type":"x"}', b'{"id":1,"type":"x","data":{}}', b"\xff\xfe"):
        rejected(body, contract_headers(body, [SECRET]), SECRET, "invalid_body")
    bad_time = b'{"id":"evt_1","type":"x","created_at":"yesterday","data":{}}'
    rejected(bad_time, contract_headers(bad_time, [SECRET]), SECRET, "invalid_body")
    rejected({"id": "evt_1"}, contract_headers(BODY, [SECRET]), SECRET, "invalid_body")  # parsed JSON is not raw


@settings(max_examples=60, deadline=None)
@given(position=st.integers(min_value=0, max_value=len(BODY) - 1), flip=st.integers(min_value=1, max_value=255))
def test_any_single_byte_change_is_rejected(position: int, flip: int) -> None:
    headers = contract_headers(BODY, [SECRET])
    changed = bytearray(BODY)
    changed[position] ^= flip
    for h in (headers, legacy_only(headers)):
        with pytest.raises(WebhookVerificationError):
            verify(bytes(changed), h, SECRET, allow_legacy_signature=True)


def test_generate_secret_has_the_server_form() -> None:
    secret = receiver.generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert secret != receiver.generate_secret()
    assert verify(BODY, receiver.sign(BODY, secret, event_id=EVENT_ID), secret).id == EVENT_ID


def test_importable_with_the_standard_library_only(tmp_path: Path) -> None:
    """In a fresh venv with no packages (not even this project's deps), as a package and as a copied file."""
    import venv

    env_dir = tmp_path / "bare"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    src = Path(receiver.__file__).parents[1]
    (tmp_path / "copied").mkdir()
    (tmp_path / "copied" / "receiver.py").write_bytes(Path(receiver.__file__).read_bytes())
    headers = receiver.sign(BODY, SECRET, event_id=EVENT_ID)
    script = f"""
import importlib.util, json, sys
for name in ("fastapi", "flask", "django", "pydantic", "sqlalchemy"):
    assert importlib.util.find_spec(name) is None, name + " should not be importable here"
sys.path.insert(0, sys.argv[1])
mod = __import__(sys.argv[2], fromlist=["verify"])
event = mod.verify({BODY!r}, json.loads(sys.argv[3]), {SECRET!r})
try:
    mod.verify({BODY!r} + b" ", json.loads(sys.argv[3]), {SECRET!r})
except mod.WebhookVerificationError as exc:
    print(event.id, exc.code)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("fastapi", "flask", "django", "starlette"))
print(loaded)
"""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    for where, module in ((src, "gitproductivity.receiver"), (tmp_path / "copied", "receiver")):
        out = subprocess.run(
            [str(python), "-c", script, str(where), module, json.dumps(headers)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.split("\n")[:2] == [f"{EVENT_ID} invalid_signature", "[]"]
