"""`/healthz` answers 503 while the database is down and 200 again once it is back (README: load balancers and
orchestrators read it). The outage is real: the server's PostgreSQL database refuses new connections and every
connection it had is terminated (what a restart or failover does to a running server); on SQLite the database's
directory goes away (an unmounted or detached volume) and the pool's connections with it."""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from gitproductivity.core import settings
from gitproductivity.core.db import Database, set_database
from tests.conftest import PG_ADMIN_URL


@pytest.fixture
def scratch() -> Iterator[tuple[str, str]]:
    """A database of its own (the suite's shared one is never cut): its name and URL; dropped afterwards."""
    name = f"gp_health_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield name, PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def cut(name: str, *, allow: bool) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allow).lower()}')
        if not allow:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))


@pytest.mark.parametrize("backend", ["postgresql"])  # SQLite is a file the process has open: nothing to lose
def test_healthz_is_503_while_the_database_is_down_and_200_when_it_is_back(
    client: TestClient,
    database: Database,
    scratch: tuple[str, str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    name, url = scratch
    settings.configure(database_url=url, data_dir=tmp_path / "data")  # the server's database is the scratch one
    server_db = Database(url, pool_size=2)
    set_database(server_db)
    try:
        assert (client.get("/healthz").status_code, client.get("/healthz").json()) == (
            200,
            {"status": "ok", "database": "ok"},
        )
        cut(name, allow=False)
        try:
            with caplog.at_level(logging.WARNING, logger="gitproductivity.app"):
                down = client.get("/healthz")
            assert (down.status_code, down.json()) == (503, {"status": "error", "database": "unreachable"})
            assert "health check failed: OperationalError" in caplog.text
            assert name not in caplog.text  # the reason is named, not the connection details
        finally:
            cut(name, allow=True)
        back = client.get("/healthz")
        assert (back.status_code, back.json()) == (200, {"status": "ok", "database": "ok"})
    finally:
        settings.configure(database_url=database.url, data_dir=tmp_path / "data")
        set_database(database)
        server_db.dispose()


@pytest.fixture
def sqlite_server(database: Database, sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[Path, Database]]:
    """The server's own SQLite database in a directory of its own (`volume/server.db`), restored afterwards."""
    volume = tmp_path / "volume"
    volume.mkdir()
    shutil.copyfile(sqlite_template, volume / "server.db")
    url = f"sqlite:///{volume / 'server.db'}"
    settings.configure(database_url=url, data_dir=tmp_path / "data")
    server_db = Database(url, pool_size=2)
    set_database(server_db)
    try:
        yield volume, server_db
    finally:
        settings.configure(database_url=database.url, data_dir=tmp_path / "data")
        set_database(database)
        server_db.dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_healthz_is_503_while_the_sqlite_database_is_gone_and_200_when_it_is_back(
    client: TestClient, sqlite_server: tuple[Path, Database], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    volume, server_db = sqlite_server
    assert (client.get("/healthz").status_code, client.get("/healthz").json()) == (
        200,
        {"status": "ok", "database": "ok"},
    )
    volume.rename(tmp_path / "detached")  # the volume is gone ...
    server_db.engine.dispose()  # ... and so are the connections that had the file open
    try:
        with caplog.at_level(logging.WARNING, logger="gitproductivity.app"):
            down = client.get("/healthz")
        assert (down.status_code, down.json()) == (503, {"status": "error", "database": "unreachable"})
        assert "health check failed: OperationalError" in caplog.text
        assert not volume.exists()  # nothing recreated it, empty, in its place
    finally:
        (tmp_path / "detached").rename(volume)
    back = client.get("/healthz")
    assert (back.status_code, back.json()) == (200, {"status": "ok", "database": "ok"})


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_deleted_sqlite_file_is_an_outage_not_a_new_empty_database(
    client: TestClient, sqlite_server: tuple[Path, Database], tmp_path: Path
) -> None:
    """Only the file goes (its directory stays) while the pool still holds connections to it: nothing may write
    to the unlinked file or create an empty database in its place; the server says it is down until it is back."""
    volume, server_db = sqlite_server
    assert client.get("/healthz").status_code == 200  # a pooled connection now has the file open
    (volume / "server.db").rename(tmp_path / "aside.db")
    down = client.get("/healthz")
    assert (down.status_code, down.json()) == (503, {"status": "error", "database": "unreachable"})
    with pytest.raises(Exception, match="unable to open database file"), server_db.session() as session:
        session.execute(text("SELECT 1"))
    assert not (volume / "server.db").exists()  # nothing recreated it, empty, in its place
    (tmp_path / "aside.db").rename(volume / "server.db")
    back = client.get("/healthz")
    assert (back.status_code, back.json()) == (200, {"status": "ok", "database": "ok"})
