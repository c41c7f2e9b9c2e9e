"""`gitproductivity webhooks …` and `notifications list`, run as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitproductivity.core.db import Database
from tests.webhooks.conftest import Receiver

pytestmark = pytest.mark.slow  # the real CLI as subprocesses: seconds per test

EXE = str(Path(sys.executable).with_name("gitproductivity"))


def run(database_url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GITPRODUCTIVITY_DATABASE_URL": database_url,
        "GITPRODUCTIVITY_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "GITPRODUCTIVITY_WEBHOOK_TIMEOUT": "1",
        "COLUMNS": "200",
    }
    proc = subprocess.run([EXE, *args], capture_output=True, text=True, env=env, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_webhooks_cli_round_trip(database: Database, database_url: str, receiver: Receiver) -> None:
    run(database_url, "init", "--email", "boss@example.com")
    hook = json.loads(
        run(
            database_url,
            "webhooks",
            "add",
            receiver.url("/ok"),
            "--events",
            "developer.added,metrics.updated",
            "--json",
        ).stdout
    )
    assert hook["secret"].startswith("whsec_") and hook["last_test"]["ok"] is True
    assert hook["events"] == ["developer.added", "metrics.updated"]
    assert len(receiver.on("/ok")) == 1
    assert hook["id"] in run(database_url, "webhooks", "list").stdout
    assert json.loads(run(database_url, "webhooks", "show", hook["id"]).stdout)["secret"] == hook["secret"]

    out = run(database_url, "webhooks", "test", hook["id"], "--event", "metrics.updated").stdout
    assert "OK" in out
    sent = json.loads(receiver.on("/ok")[-1].body)
    assert sent["type"] == "metrics.updated" and sent["data"]["test"] is True

    rotated = run(database_url, "webhooks", "rotate-secret", hook["id"]).stdout
    assert "new secret  whsec_" in rotated and hook["secret"] not in rotated
    assert "disabled" in run(database_url, "webhooks", "disable", hook["id"]).stdout
    assert "enabled" in run(database_url, "webhooks", "enable", hook["id"]).stdout

    listed = json.loads(run(database_url, "webhooks", "deliveries", hook["id"], "--json").stdout)
    assert [d["status"] for d in listed] == ["succeeded", "succeeded"]
    queued = run(database_url, "webhooks", "redeliver", listed[0]["id"]).stdout
    assert queued.startswith("queued dlv_")
    pending = json.loads(
        run(database_url, "webhooks", "deliveries", hook["id"], "--status", "pending", "--json").stdout
    )
    assert len(pending) == 1 and pending[0]["event_id"] == listed[0]["event_id"]

    assert json.loads(run(database_url, "notifications", "list", "--json").stdout) == []
    assert run(database_url, "webhooks", "remove", hook["id"]).stdout.startswith("removed")
    assert "[]" in run(database_url, "webhooks", "list", "--json").stdout


def test_webhooks_cli_errors_are_one_line(database: Database, database_url: str, receiver: Receiver) -> None:
    run(database_url, "init", "--email", "boss@example.com")
    for args, message in [
        (["webhooks", "add", receiver.url("/ok"), "--events", "bogus"], "unknown event type"),
        (["webhooks", "add", "file:///etc/passwd"], "only http and https"),
        (["webhooks", "show", "wh_nope"], "webhook wh_nope not found"),
        (["webhooks", "redeliver", "dlv_nope"], "delivery dlv_nope not found"),
        (["webhooks", "deliveries", "wh_nope", "--status", "weird"], "--status must be one of"),
    ]:
        proc = run(database_url, *args, check=False)
        assert proc.returncode == 1, args
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "Traceback" not in proc.stderr + proc.stdout
    failed = run(database_url, "webhooks", "add", receiver.url("/fail"), "--json")
    hook_id = json.loads(failed.stdout)["id"]
    proc = run(database_url, "webhooks", "test", hook_id, check=False)
    assert proc.returncode == 1 and "FAILED" in proc.stdout and "HTTP 500" in proc.stdout
