"""The destination guard against real connections: every spelling of a refused address, through the real sender.

Addresses that reach this machine are aimed at a real receiver on 127.0.0.1 (by its port): a guard that let one
through would show up as a request there. The others would hang or fail differently if a connection were tried.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gitproductivity.core.db import Database
from gitproductivity.core.settings import Settings
from gitproductivity.webhooks.client import Addresses, HttpClient, Lookup
from gitproductivity.webhooks.guard import Guard, literal_address
from gitproductivity.webhooks.sender import HttpSender, Outcome
from tests.conftest import run_async
from tests.netutil import ConnectionCounter
from tests.webhooks.conftest import Receiver, configure

#: Hosts that reach this machine's loopback when connected to.
LOOPBACK = [
    "127.0.0.1",
    "127.1",  # short form
    "127.0.0.1.",  # trailing dot
    "0x7f000001",  # hexadecimal
    "0x7f.1",
    "2130706433",  # decimal
    "0177.0.0.1",  # octal
    "0.0.0.0",  # Linux connects this to loopback
    "0",
    "[::1]",
    "[::ffff:127.0.0.1]",  # IPv4-mapped
    "[::ffff:7f00:1]",
    "[0:0:0:0:0:ffff:7f00:1]",
    "[::]",
    "localhost",  # a name that resolves to loopback
    "LOCALHOST",
]

#: Hosts refused for what they are (private, link-local, metadata, CGNAT, multicast, reserved).
PRIVATE = [
    "10.0.0.1",
    "10.255.255.254",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "0xa9fea9fe",  # …in hexadecimal
    "2852039166",  # …in decimal
    "0251.0376.0251.0376",  # …in octal
    "100.64.0.1",  # CGNAT
    "100.127.255.254",
    "198.18.0.1",  # benchmarking
    "224.0.0.1",  # multicast
    "239.255.255.250",
    "255.255.255.255",
    "240.0.0.1",  # reserved
    "[fe80::1]",  # link-local
    "[fc00::1]",  # unique local
    "[fd00:ec2::254]",  # AWS metadata over IPv6
    "[ff02::1]",  # multicast
    "[::ffff:a9fe:a9fe]",  # metadata, IPv4-mapped
    "[::ffff:10.0.0.1]",
    "[64:ff9b::a9fe:a9fe]",  # metadata through NAT64
    "[2002:a9fe:a9fe::1]",  # metadata through 6to4
    "[2002:7f00:1::1]",  # loopback through 6to4
]


def _post(settings: Settings, url: str, lookup: Lookup | None = None) -> Outcome:
    async def go() -> Outcome:
        sender = HttpSender(settings)
        if lookup is not None:
            sender.client.lookup = lookup
        try:
            return await sender.post(url, b"{}", {"Content-Type": "application/json"})
        finally:
            await sender.close()

    return run_async(go)


@pytest.mark.parametrize("host", LOOPBACK)
def test_every_spelling_of_loopback_is_refused_at_connect_time(host: str) -> None:
    """Refused before any connection is tried: a listener on 127.0.0.1 that counts connections sees none."""
    counter = ConnectionCounter()
    try:
        outcome = _post(Settings(webhook_timeout=2), f"http://{host}:{counter.port}/ok")
    finally:
        counter.close()
    assert outcome.error_kind == "refused_destination", outcome
    assert outcome.status_code is None
    assert counter.connections == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1", "0x7f000001", "2130706433", "0177.0.0.1", "localhost"])
def test_loopback_is_reached_once_allowed(receiver: Receiver, host: str) -> None:
    """The same URLs do reach the receiver when loopback is allowed: the refusals above are the guard's."""
    outcome = _post(Settings(webhook_timeout=2, webhook_allowed_networks="127.0.0.0/8"), receiver.url("/ok", host))
    assert outcome.ok, outcome
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("host", PRIVATE)
def test_private_link_local_metadata_and_multicast_are_refused(host: str) -> None:
    outcome = _post(Settings(webhook_timeout=2), f"http://{host}:80/hook")
    # The address is judged before connecting (a connection tried would end as a timeout or connection error);
    # that no connection is tried at all is proven on loopback, with a listener that counts them (above).
    assert outcome.error_kind == "refused_destination", outcome
    assert outcome.status_code is None


@pytest.mark.parametrize("host", ["93.184.216.34", "[2606:2800:220:1::]", "8.8.8.8", "0x5db8d822"])
def test_public_addresses_pass_the_guard(host: str) -> None:
    ip = literal_address(host)
    assert ip is not None and Guard().allows(ip)


def _zone(addresses: list[str]) -> Lookup:
    """A DNS zone we control: `rebind.test` resolves to `addresses`. The real sender resolves through it, and the
    guard judges what it answers."""

    async def lookup(host: str, port: int) -> Addresses:
        assert host == "rebind.test"
        return [(socket.AF_INET, a) for a in addresses]

    return lookup


def test_a_name_resolving_to_a_private_address_is_refused(receiver: Receiver) -> None:
    url = f"http://rebind.test:{receiver.port}/ok"
    outcome = _post(Settings(webhook_timeout=2), url, _zone(["127.0.0.1"]))
    assert outcome.error_kind == "refused_destination" and "rebind.test" in (outcome.error or "")
    assert receiver.requests == []
    # Allowed, the same name connects: the zone is really used by the real sender.
    allowed = Settings(webhook_timeout=2, webhook_allowed_networks="127.0.0.0/8")
    assert _post(allowed, url, _zone(["127.0.0.1"])).ok
    assert len(receiver.requests) == 1


def test_refused_addresses_among_a_names_answers_are_dropped() -> None:
    async def go() -> Addresses:
        client = HttpClient(guard=Guard(), timeout=2, lookup=_zone(["127.0.0.1", "169.254.169.254", "93.184.216.34"]))
        return await client._resolve("rebind.test", 80)

    assert run_async(go) == [(socket.AF_INET, "93.184.216.34")]


def test_api_refuses_every_form_and_records_refused_destination(
    api: TestClient, receiver: Receiver, database: Database, database_url: str, tmp_path: Path
) -> None:
    """Through the API with default settings: an IP literal (in any spelling) and the names that always mean this
    host (`localhost`, in any case) are refused when saved (422), in words that name the setting allowing them.
    Nothing reaches the receiver. (A name that resolves to loopback only at send time: test_delivery.)"""
    from gitproductivity.core import settings

    settings.configure(database_url=database_url, data_dir=tmp_path / "data", webhook_timeout=1)
    for host in LOOPBACK:
        resp = api.post("/v1/webhooks", json={"url": f"http://{host}:{receiver.port}/ok", "events": ["*"]})
        assert resp.status_code == 422, (host, resp.text)
        error = resp.json()["error"]
        assert error["code"] == "validation_error"
        assert "private or reserved" in error["message"], (host, error)
        assert "GITPRODUCTIVITY_WEBHOOK_ALLOW_PRIVATE_DESTINATIONS=true" in error["message"], (host, error)
        assert error["details"] == [{"field": "url", "message": error["message"].removeprefix("url: ")}]
    assert api.get("/v1/webhooks").json()["data"] == []
    assert receiver.requests == []


def test_redirect_to_metadata_is_not_followed(
    api: TestClient, receiver: Receiver, database: Database, database_url: str, tmp_path: Path
) -> None:
    configure(database_url, tmp_path)  # loopback allowed, so the receiver itself can be reached
    resp = api.post("/v1/webhooks", json={"url": receiver.url("/redirect-metadata"), "events": ["*"]})
    hook = resp.json()
    assert hook["test"]["ok"] is False and hook["test"]["status_code"] == 302
    [attempt] = api.get(f"/v1/deliveries/{hook['test']['delivery_id']}").json()["attempt_log"]
    assert attempt["error_kind"] == "redirect" and attempt["response_status"] == 302
    assert attempt["response_headers"]["Location"].startswith("http://169.254.169.254/")
    assert [r.path for r in receiver.requests] == ["/redirect-metadata"]
