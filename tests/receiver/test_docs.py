"""docs/webhooks.md stays true: its Node verifier works on our signatures, its payloads are what we emit."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from gitproductivity import receiver
from tests.conftest import require_program
from tests.receiver.test_verify import BODY, EVENT_ID, OTHER, SECRET

DOC = (Path(__file__).parents[2] / "docs" / "webhooks.md").read_text()


def test_the_documented_node_verifier_accepts_ours_and_never_throws(tmp_path: Path) -> None:
    match = re.search(r"^function verifySignature\(.*?^}$", DOC, re.S | re.M)
    assert match, "docs/webhooks.md lost its verifySignature example"
    script = tmp_path / "verify.mjs"
    script.write_text(
        "import crypto from 'crypto';\n"
        + match.group(0)
        + "\nconst cases = JSON.parse(process.argv[2]);\n"
        + "console.log(JSON.stringify(cases.map(([body, sig, secret]) => {\n"
        + "  try { return String(verifySignature(Buffer.from(body, 'utf8'), sig, secret)); }\n"
        + "  catch (err) { return 'threw: ' + err.message; }\n"
        + "})));\n"
    )
    good = receiver.sign(BODY, SECRET, event_id=EVENT_ID)["X-GitProductivity-Signature"]
    body = BODY.decode()
    cases = [
        [body, good, SECRET],
        [body.replace("zoe@", "eve@"), good, SECRET],
        [body, good, OTHER],
        [body, good[:-3], SECRET],  # truncated: the spec's version throws here
        [body, None, SECRET],  # header missing
    ]
    out = subprocess.run(
        [require_program("node", "nodejs"), str(script), json.dumps(cases)], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == ["true", "false", "false", "false", "false"]


def documented_envelopes() -> list[dict[str, Any]]:
    """The page's event examples: every ```json block must be JSON (```jsonc may carry comments), and those with
    a `type` and `data` are envelopes; other blocks are request and response bodies."""
    blocks = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", DOC, re.S)]
    return [b for b in blocks if isinstance(b, dict) and {"type", "data"} <= set(b)]


def test_documented_payloads_validate_against_the_models_we_emit() -> None:
    """Every example envelope in the page is a valid event of its type: same fields, types and timestamp form."""
    from gitproductivity.events.payloads import EVENT_PAYLOADS, envelope_model

    envelopes = documented_envelopes()
    assert len(envelopes) >= len(EVENT_PAYLOADS) - 1
    for envelope in envelopes:
        assert list(envelope) == ["id", "type", "created_at", "data"]
        parsed = envelope_model(envelope["type"]).model_validate(envelope)  # its `data` against its model
        assert parsed.model_dump(mode="json") == envelope  # nothing documented that we would not send as shown
    table = [t.strip("`") for t in re.findall(r"^\| (`[a-z]+(?:\.[a-z]+)+`) \|", DOC, re.M)]
    assert table == list(EVENT_PAYLOADS)  # the events table is the catalogue, in its order
    # Each type has an example, except the one the page says has the same data as its pair.
    assert set(EVENT_PAYLOADS) - {"repository.disconnected"} <= {e["type"] for e in envelopes}


def keys(value: object) -> object:
    """The shape of a payload: its keys, recursively (values differ from run to run)."""
    return {k: keys(v) for k, v in value.items()} if isinstance(value, dict) else None


def test_documented_analysis_payloads_match_a_real_analysis(api: TestClient, git_repo: Path) -> None:
    from tests.analysis.gitrepo import drain

    examples = {e["type"]: e["data"] for e in documented_envelopes()}
    api.post("/v1/repositories", json={"url": str(git_repo)})
    drain()
    for type_ in ("analysis.complete", "metrics.updated", "developer.added"):
        [event] = api.get("/v1/events", params={"type": type_}).json()["data"]
        documented = examples.get(type_, examples["developer.removed"])
        assert keys(event["data"]) == keys(documented), type_


def test_the_documented_legacy_opt_in_is_what_the_library_does() -> None:
    """The page says the body-only signature is accepted only on request; the library and its helpers agree."""
    import inspect

    assert "allow_legacy_signature=True" in DOC and "without replay protection" in DOC
    for helper in (receiver.verify, receiver.fastapi_webhook, receiver.flask_webhook, receiver.django_webhook):
        option = inspect.signature(helper).parameters["allow_legacy_signature"]
        assert option.default is False, helper.__name__
    signed = receiver.sign(BODY, SECRET, event_id=EVENT_ID)
    body_only = {k: v for k, v in signed.items() if not k.startswith("webhook-")}
    try:
        receiver.verify(BODY, body_only, SECRET)
    except receiver.WebhookVerificationError as exc:
        assert exc.code == "missing_header"
    else:
        raise AssertionError("the body-only signature verified without the opt-in")
    assert receiver.verify(BODY, body_only, SECRET, allow_legacy_signature=True).id == EVENT_ID
    codes = re.search(r"with a `code`: (.*?)\) and never", DOC, re.S)
    assert codes is not None
    documented = set(re.findall(r"`([a-z_]+)`", codes.group(1)))
    assert documented == set(re.findall(r"`([a-z_]+)`", receiver.WebhookVerificationError.__doc__ or "")) - {"code"}
