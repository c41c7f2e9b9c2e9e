from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gitproductivity.receiver import Event, Idempotency, IdempotencyStore, MemoryStore, SQLiteStore
from tests.receiver.test_verify import BODY, SECRET, contract_headers


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> IdempotencyStore:
    return MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "seen.db")


def test_each_event_is_handled_once_and_a_failure_releases_it(store: IdempotencyStore) -> None:
    from gitproductivity.receiver import verify

    seen = Idempotency(store)
    handled: list[str] = []
    event = verify(BODY, contract_headers(BODY, [SECRET]), SECRET)
    assert seen.handle(event, lambda e: handled.append(e.id)) is True
    # The same event delivered again (a retry after a lost 2xx, a redelivery) is skipped.
    again = verify(BODY, contract_headers(BODY, [SECRET]), SECRET)
    assert seen.handle(again, lambda e: handled.append(e.id)) is False
    assert handled == [event.id]

    other = Event(id="evt_other", type="x", created_at=event.created_at, data={}, raw=b"")

    def boom(_: Event) -> None:
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError):
        seen.handle(other, boom)
    # The handler failed, so the retry of that delivery must be processed.
    assert seen.handle(other, lambda e: handled.append(e.id)) is True
    assert handled == [event.id, "evt_other"]


def test_memory_store_forgets_the_least_recently_seen() -> None:
    store = MemoryStore(max_size=3)
    for key in "abc":
        assert store.claim(key)
    assert not store.claim("a")  # touching "a" makes "b" the oldest
    assert store.claim("d")
    assert store.claim("b")  # evicted, so claimable again
    assert not store.claim("a")


def test_concurrent_deliveries_of_one_event_run_one_handler(store: IdempotencyStore) -> None:
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def claim(s: IdempotencyStore = store) -> None:
        barrier.wait()
        wins.append(s.claim("evt_same"))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_sqlite_store_is_shared_across_processes_and_restarts(tmp_path: Path) -> None:
    path = tmp_path / "seen.db"
    first = SQLiteStore(path)
    assert first.claim("evt_1")
    first.close()
    script = (
        "import sys; from gitproductivity.receiver import SQLiteStore; s = SQLiteStore(sys.argv[1]); "
        "print(s.claim('evt_1'), s.claim('evt_2'))"
    )
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
    reopened = SQLiteStore(path)
    assert not reopened.claim("evt_2")
    reopened.release("evt_2")
    assert reopened.claim("evt_2")
    reopened.close()


def test_sqlite_store_forgets_ids_older_than_max_age(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "seen.db", max_age=-1)  # everything is "old": the next prune forgets it all
    assert store.claim("evt_old")
    for i in range(998):
        store.claim(f"evt_{i}")
    assert not store.claim("evt_old")  # the 1000th claim: still known, then pruned with the rest
    assert store.claim("evt_old")
    store.close()
