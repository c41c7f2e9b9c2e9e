"""docs/webhooks.md stays true: its Node verifier works on our signatures, its payloads match what we emit."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from fastapi.testclient import TestClient

from gitproductivity import receiver
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
    out = subprocess.run(["node", str(script), json.dumps(cases)], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == ["true", "false", "false", "false", "false"]


def test_documented_payloads_have_the_fields_we_emit() -> None:
    from gitproductivity.developers.service import event_data as developer_data
    from gitproductivity.repositories.service import event_data as repository_data
    from gitproductivity.webhooks.testing import sample_data

    examples: dict[str, dict[str, object]] = {}
    for block in re.findall(r"```json\n(.*?)```", DOC, re.S):
        envelope = json.loads(block)
        assert set(envelope) == {"id", "type", "created_at", "data"}
        examples[envelope["type"]] = envelope["data"]

    class Row:
        id, name, email, display_url, kind = "x", "n", "e", "u", "k"

    assert set(examples["developer.removed"]) == set(developer_data(Row()))  # type: ignore[arg-type]
    assert set(examples["repository.connected"]) == set(repository_data(Row()))  # type: ignore[arg-type]
    assert set(examples["webhook.test"]) == set(sample_data("webhook.test", webhook_id="wh_x"))
    documented = {t.strip("`") for t in re.findall(r"^\| (`[a-z]+\.[a-z]+`) \|", DOC, re.M)}
    from gitproductivity.events.types import EVENT_TYPES, WEBHOOK_TEST

    assert documented == {*EVENT_TYPES, WEBHOOK_TEST}
    assert {*EVENT_TYPES, WEBHOOK_TEST} - {"developer.added", "repository.disconnected"} <= set(examples)


def keys(value: object) -> object:
    """The shape of a payload: its keys, recursively (values differ from run to run)."""
    return {k: keys(v) for k, v in value.items()} if isinstance(value, dict) else None


def test_documented_analysis_payloads_match_a_real_analysis(api: TestClient, git_repo: Path) -> None:
    from tests.analysis.gitrepo import drain

    examples = {json.loads(b)["type"]: json.loads(b)["data"] for b in re.findall(r"```json\n(.*?)```", DOC, re.S)}
    api.post("/v1/repositories", json={"url": str(git_repo)})
    drain()
    for type_ in ("analysis.complete", "metrics.updated", "developer.added"):
        [event] = api.get("/v1/events", params={"type": type_}).json()["data"]
        documented = examples.get(type_, examples["developer.removed"])
        assert keys(event["data"]) == keys(documented), type_
