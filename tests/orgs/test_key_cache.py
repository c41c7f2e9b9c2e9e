"""The memory of authenticated API keys (`orgs.keycache`): requests skip the lookup, revocations still hold."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import update

from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import Database
from gitproductivity.orgs import keycache, security
from gitproductivity.orgs import service as orgs
from gitproductivity.orgs.models import ApiKey
from tests.conftest import Tenant


def test_a_key_revoked_in_this_process_is_refused_on_the_next_request(client: TestClient, tenant: Tenant) -> None:
    created = client.post("/v1/api-keys", json={"name": "ci"}, headers=tenant.headers).json()
    headers = {"Authorization": f"Bearer {created['key']}"}
    assert client.get("/v1/developers", headers=headers).status_code == 200
    assert orgs.authenticated_key(created["key"]) is not None  # remembered: the next request skips the lookup
    assert client.get("/v1/events", headers=headers).status_code == 200

    assert client.delete(f"/v1/api-keys/{created['id']}", headers=tenant.headers).status_code == 200

    assert orgs.authenticated_key(created["key"]) is None
    assert client.get("/v1/developers", headers=headers).status_code == 401
    created_dev = client.post("/v1/developers", json={"name": "A", "email": "a@example.com"}, headers=headers)
    assert created_dev.status_code == 401


def test_a_key_revoked_by_another_process_is_refused_once_its_entry_runs_out(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    headers = tenant.headers
    assert client.get("/v1/developers", headers=headers).status_code == 200
    # Another server on the same database revokes it: this process's memory is not told.
    with database.session() as session:
        stmt = update(ApiKey).where(ApiKey.key_hash == security.hash_api_key(tenant.api_key))
        session.execute(stmt.values(revoked_at=utcnow()))
    revoked_at = time.monotonic()
    deadline = revoked_at + keycache.TTL_SECONDS + 5.0  # the bound, plus slack for a slow machine
    while client.get("/v1/developers", headers=headers).status_code == 200:
        assert time.monotonic() < deadline, "a revoked key was still accepted after its cache entry ran out"
        time.sleep(0.05)
    # Refused, and not remembered as good again.
    assert client.get("/v1/developers", headers=headers).status_code == 401
    assert orgs.authenticated_key(tenant.api_key) is None


def test_a_lookup_that_raced_a_revocation_is_not_remembered() -> None:
    cache: keycache.KeyCache[str] = keycache.KeyCache(ttl=60)
    before = cache.generation  # a lookup starts: it read "not revoked" ...
    cache.forget("hash-a")  # ... while a revocation committed
    cache.put("hash-a", "principal", before)  # the lookup's late `put` must not bring the key back
    assert cache.get("hash-a") is None
    cache.put("hash-a", "principal", cache.generation)
    assert cache.get("hash-a") == "principal"


def test_entries_run_out_and_memory_is_bounded() -> None:
    cache: keycache.KeyCache[int] = keycache.KeyCache(ttl=0.0, max_entries=10)
    cache.put("a", 1, cache.generation)
    assert cache.get("a") is None  # a TTL of 0: already out
    bounded: keycache.KeyCache[int] = keycache.KeyCache(ttl=60, max_entries=10)
    for i in range(25):
        bounded.put(f"k{i}", i, bounded.generation)
    assert len([i for i in range(25) if bounded.get(f"k{i}") is not None]) <= 10
    assert bounded.get("k24") == 24  # the newest stays
