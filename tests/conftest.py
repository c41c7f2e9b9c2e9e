"""Shared fixtures: every database test runs on real SQLite AND real PostgreSQL.

PostgreSQL: one fresh database per test run (created here, dropped at the end), migrated once, truncated
before each test. SQLite: one migrated template file per run, copied for each test. In CI (`CI=true`) an
unreachable PostgreSQL fails the run instead of skipping.

`GP_TEST_BACKENDS=sqlite` (comma-separated; unset or empty means all) deselects the tests of the other
backends, including tests parametrised over `backend` by hand (the PostgreSQL-only ones): `make test-fast` uses
it. CI refuses it, so a stray variable can never drop the PostgreSQL half of the suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

for _name in list(os.environ):
    if _name.startswith("GITPRODUCTIVITY_"):
        del os.environ[_name]
# Change categories (on by default) stay on whatever the environment says: the tests' small histories check them
# on every analysis (co-authors are counted either way: tests/analysis/test_coauthors.py turns categories off).
# Big generated histories turn them off.
os.environ["GITPRODUCTIVITY_CHANGE_CATEGORIES"] = "true"
# Without the commit-graph shadow (an optimisation for long histories; tests/analysis/test_categories.py turns it
# on where it checks it): writing one for a hostile test repository took minutes of CPU.
os.environ["GITPRODUCTIVITY_CATEGORIES_COMMIT_GRAPH"] = "false"


def inherited_env() -> dict[str, str]:
    """The environment of a child process a test starts (a server, a worker): no GITPRODUCTIVITY_ setting this
    process may have picked up, but the suite's own (change categories on, as in-process analyses have them)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITPRODUCTIVITY_")}
    env["GITPRODUCTIVITY_CHANGE_CATEGORIES"] = "true"
    env["GITPRODUCTIVITY_CATEGORIES_COMMIT_GRAPH"] = "false"
    return env


from gitproductivity import startup  # noqa: E402
from gitproductivity.core import migrate, settings  # noqa: E402
from gitproductivity.core.db import Base, Database, set_database  # noqa: E402

startup.install()  # as every entry point does: webhooks hears every event

PG_ADMIN_URL = os.environ.get("GP_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["sqlite", "postgresql"]


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_program(name: str, package: str) -> str:
    """The path of a program some tests run (node, openssl): skipped locally with the reason when it is missing,
    a failure in CI (`.ci/run` installs it)."""
    found = shutil.which(name)
    if found is None:
        reason = f"`{name}` not found on PATH (apt-get install {package})"
        if _in_ci():
            pytest.fail(reason + "; CI never skips these tests: .ci/run installs it")
        pytest.skip(reason)
    return found


def _selected_backends() -> list[str]:
    wanted = [b.strip() for b in os.environ.get("GP_TEST_BACKENDS", "").split(",") if b.strip()]
    unknown = sorted(set(wanted) - set(BACKENDS))
    if unknown:
        raise pytest.UsageError(
            f"GP_TEST_BACKENDS: unknown backend(s) {', '.join(unknown)}; known: {', '.join(BACKENDS)}"
        )
    if wanted and set(wanted) != set(BACKENDS) and _in_ci():
        raise pytest.UsageError(f"GP_TEST_BACKENDS={','.join(wanted)} with CI=true: CI runs every backend")
    return wanted or list(BACKENDS)


def pytest_report_header(config: pytest.Config) -> str:
    return f"database backends: {', '.join(_selected_backends())}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect (not skip) the tests of backends left out by GP_TEST_BACKENDS."""
    selected = _selected_backends()
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("backend") if callspec is not None else None
        (keep if backend is None or backend in selected else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session", autouse=True)
def cheapest_password_hashing() -> Iterator[None]:
    """argon2id at its cheapest cost (argon2's own profile for tests) for the passwords made in this process.

    Every tenant's bootstrap hashes a password, and at the production cost (~0.3 s a hash on two busy cores) that
    was about half of `make test-fast`. The hash is still real argon2id and carries its parameters, so it
    verifies anywhere; the processes tests start (`serve`, `worker`, the CLI) keep the production cost.
    """
    from argon2 import PasswordHasher, profiles

    from gitproductivity.orgs import security

    patch = pytest.MonkeyPatch()
    patch.setattr(security, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
    yield
    patch.undo()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test run."""
    name = f"gp_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}"
        if _in_ci():
            pytest.fail(message + " (CI never skips PostgreSQL tests)")
        pytest.skip(message)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    db = Database(url, pool_size=2)
    migrate.upgrade(db.engine)
    db.dispose()
    yield url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}", pool_size=1)
    migrate.upgrade(db.engine)
    db.dispose()  # the last connection to close checkpoints the WAL into the file we copy
    assert not path.with_name(path.name + "-wal").exists()
    return path


def _truncate_all(db: Database) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE TABLE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    template: Path = request.getfixturevalue("sqlite_template")
    target = tmp_path / "gitproductivity.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


@contextlib.contextmanager
def restoring_settings() -> Iterator[Callable[..., settings.Settings]]:
    """`settings.configure`, with whatever was configured before in force again on leaving, even on an error.
    The settings are rebuilt when next read (after monkeypatch has undone its env)."""
    before = dict(settings._overrides)
    try:
        yield settings.configure
    finally:
        settings._overrides.clear()
        settings._overrides.update(before)
        settings.get_settings.cache_clear()


@pytest.fixture
def configured() -> Iterator[Callable[..., settings.Settings]]:
    """`settings.configure` for one test: whatever was configured before the test is in force again after it, even
    when the test fails midway (`restoring_settings`)."""
    with restoring_settings() as configure:
        yield configure


@pytest.fixture
def database(database_url: str, tmp_path: Path) -> Iterator[Database]:
    """The process-wide database for this test, configured exactly as the app and CLI will find it."""
    settings.configure(database_url=database_url, data_dir=tmp_path / "data")
    db = Database(database_url)
    if db.engine.dialect.name == "postgresql":
        _truncate_all(db)
    set_database(db)
    yield db
    set_database(None)
    db.dispose()
    settings.configure()


@dataclass
class Tenant:
    organization_id: str
    email: str
    password: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def make_tenant(db: Database, email: str) -> Tenant:
    from gitproductivity.orgs import service as orgs

    with db.session() as session:
        created = orgs.bootstrap(session, email=email, org_name=email.split("@")[0])
    return Tenant(created.organization.id, created.user.email, created.password, created.api_key)


@pytest.fixture
def tenant(database: Database) -> Tenant:
    return make_tenant(database, "owner@example.com")


@pytest.fixture
def other_tenant(database: Database) -> Tenant:
    return make_tenant(database, "other-owner@example.org")


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    from gitproductivity.app import create_app

    with TestClient(create_app(run_workers=False), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def api(client: TestClient, tenant: Tenant) -> TestClient:
    """A client authenticated as `tenant`."""
    client.headers.update(tenant.headers)
    return client


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A real git repository with one commit, made by the git binary."""
    import subprocess

    path = tmp_path / "sample-repo"
    path.mkdir()
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Jane Doe",
        "GIT_AUTHOR_EMAIL": "jane@example.com",
        "GIT_COMMITTER_NAME": "Jane Doe",
        "GIT_COMMITTER_EMAIL": "jane@example.com",
    }
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=env)
    (path / "README.md").write_text("hello\n")
    subprocess.run(["git", "-C", str(path), "add", "."], check=True, env=env)
    subprocess.run(["git", "-C", str(path), "commit", "-q", "-m", "first"], check=True, env=env)
    return path


def wait_until_serving(
    url: str, proc: subprocess.Popen[str], *, timeout: float = 60.0, describe: Callable[[], str] = lambda: ""
) -> None:
    """Wait for `gitproductivity serve` at `url` to answer `/healthz`; fail at once if it exits, or after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:  # refused, reset, or a read timeout while it starts (URLError is an OSError)
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError("server did not start\n" + describe())
        time.sleep(0.1)


T = TypeVar("T")


def run_async(make: Callable[[], Coroutine[Any, Any, T]], *, timeout: float = 120.0) -> T:
    """Run a coroutine on a fresh event loop in a thread of its own and return its result.

    Tests never call `asyncio.run` in the main thread: the UI tests' Playwright (sync API) keeps an event loop
    running there, and `asyncio.run` refuses to start under it. Ruff bans the bare call in tests (TID251).
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result(timeout=timeout)  # noqa: TID251
