"""A big generated team for browser tests: 2,200 authors over 20 years, analysed for real, built once per backend.

`benchmarks/gen_repo.py` writes the history (3,000 commits, every one of the 2,200 authors with at least one, a
few very active people and a long tail, spread over the 20 years up to today, with no commits at all from about
7.3 to 5.1 months ago: `BigTeam.quiet`), and the real analysis (`analysis.run.run_now`) reads it into an
organisation. That is done once per backend and test session (a SQLite file; a PostgreSQL database used as a
template); each test then gets its own copy, so tests may change what they see.

Use it in a test module by taking its fixtures, then ask for `big_team` (and the usual `ui`, `server`...):

    from tests.web.bigteam import BigTeam, use_big_team

    database_url, database, big_team = use_big_team()

    def test_something(ui: UI, big_team: BigTeam) -> None:
        ui.sign_in(big_team.tenant)
        ...

`big_team.tenant` signs in (e-mail and password) and calls the API (`tenant.headers`: its owner API key);
`repository_id` is the analysed repository; `developer_ids` are every (non-bot) developer, most commits first;
`team_id` is a team ("Platform", `team_member_ids`: 300 of them, every seventh developer by that order).
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import PG_ADMIN_URL, Tenant, make_tenant

ROOT = Path(__file__).resolve().parents[2]
AUTHORS = 2_200
COMMITS = 3_000
YEARS = 20
TEAM_SIZE = 300
TEAM_NAME = "Platform"
#: The stretch with no commits, as fractions of the 20 years (the last 12 months are 0.95 to 1).
QUIET = (0.97, 0.98)


@dataclass(frozen=True)
class BigTeam:
    tenant: Tenant
    repository_id: str
    developer_ids: list[str]  # every person (no bots), most commits first
    team_id: str
    team_member_ids: list[str]
    names: dict[str, str] = field(repr=False)  # developer id -> name
    quiet: tuple[date, date]  # the first and last day of the stretch without commits
    today: date  # the day the history ends (when it was built)


@dataclass
class _Built:
    team: BigTeam
    source: str  # a SQLite file to copy, or the PostgreSQL database to use as a template


_BUILT: dict[str, _Built] = {}  # per backend, for the whole test session
_WORK: list[Path] = []


def _work_dir() -> Path:
    if not _WORK:
        _WORK.append(Path(tempfile.mkdtemp(prefix="gp-bigteam-")))
    return _WORK[0]


def _history(today: date) -> Path:
    """The generated repository (once per session, shared by both backends)."""
    path = _work_dir() / "bigteam.git"
    if not path.exists():
        spec = importlib.util.spec_from_file_location("gen_repo", ROOT / "benchmarks" / "gen_repo.py")
        assert spec is not None and spec.loader is not None
        gen_repo = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(gen_repo)
        end = int(datetime(today.year, today.month, today.day, tzinfo=UTC).timestamp())
        gen_repo.generate(
            path, commits=COMMITS, authors=AUTHORS, files=200, years=YEARS, every_author=True, end=end, quiet=QUIET
        )
    return path


def _populate(url: str, today: date) -> BigTeam:
    """Bootstrap an organisation on the database at `url`, connect and analyse the history, make the team."""
    from sqlalchemy import func, select

    from gitproductivity.analysis import run
    from gitproductivity.core import settings
    from gitproductivity.core.db import Database, set_database
    from gitproductivity.developers.models import Developer
    from gitproductivity.metrics.models import DailyRollup
    from gitproductivity.repositories import flows
    from gitproductivity.teams import service as teams

    repo_path = _history(today)
    # Change categories off: their blame per commit would take minutes on 2,000 authors (docs/benchmarks.md).
    settings.configure(database_url=url, data_dir=_work_dir() / "data", log_level="WARNING", change_categories=False)
    db = Database(url)
    set_database(db)
    try:
        tenant = make_tenant(db, "owner@bigteam.example")
        with db.session() as session:
            repo_id = flows.connect(
                session, organization_id=tenant.organization_id, url=str(repo_path), name="bigteam"
            ).id
        run.run_now(organization_id=tenant.organization_id, repository_id=repo_id, full=True)
        with db.session() as session:
            commits = func.sum(DailyRollup.commits)
            rows = session.execute(
                select(Developer.id, Developer.name, commits)
                .join(DailyRollup, DailyRollup.developer_id == Developer.id)
                .where(Developer.organization_id == tenant.organization_id, Developer.is_bot.is_(False))
                .group_by(Developer.id, Developer.name)
                .order_by(commits.desc(), Developer.id)
            ).all()
            ids = [row[0] for row in rows]
            members = ids[::7][:TEAM_SIZE]
            team = teams.create(session, organization_id=tenant.organization_id, name=TEAM_NAME)
            for dev in members:
                teams.add_member(session, organization_id=tenant.organization_id, team_id=team.id, developer_id=dev)
            team_id = team.id
        # Fresh statistics, as autovacuum would have them a minute after a big analysis: without them PostgreSQL
        # plans the per-developer sums of a brand-new database badly (seconds instead of a tenth of one).
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
        span = timedelta(days=YEARS * 365.25)
        start = datetime(today.year, today.month, today.day, tzinfo=UTC) - span
        # A commit's time is jittered by up to a few days after its place: keep clear of both edges.
        quiet = (
            (start + span * QUIET[0]).date() + timedelta(days=4),
            (start + span * QUIET[1]).date() - timedelta(days=1),
        )
        return BigTeam(tenant, repo_id, ids, team_id, members, {r[0]: r[1] for r in rows}, quiet, today)
    finally:
        set_database(None)
        db.dispose()
        settings.configure()


def _build(backend: str, request: pytest.FixtureRequest) -> _Built:
    if backend in _BUILT:
        return _BUILT[backend]
    today = datetime.now(UTC).date()
    if backend == "postgresql":
        from gitproductivity.core import migrate
        from gitproductivity.core.db import Database

        request.getfixturevalue("postgres_url")  # PostgreSQL is reachable (or the test is skipped)
        name = f"gp_bigteam_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        db = Database(url, pool_size=1)
        migrate.upgrade(db.engine)
        db.dispose()
        team = _populate(url, today)
        request.session.config.add_cleanup(lambda: _drop(name))
        built = _Built(team, name)
    else:
        template: Path = request.getfixturevalue("sqlite_template")
        target = _work_dir() / "bigteam.db"
        shutil.copyfile(template, target)
        team = _populate(f"sqlite:///{target}", today)
        built = _Built(team, str(target))
    _BUILT[backend] = built
    if len(_BUILT) == 1:
        request.session.config.add_cleanup(lambda: shutil.rmtree(_work_dir(), ignore_errors=True))
    return built


def _drop(name: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def use_big_team() -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
    """The fixtures of a module whose tests see the big team: `database_url` and `database` (a copy of the built
    database for each test, in place of the empty one) and `big_team` (what is in it)."""

    @pytest.fixture(name="database_url")
    def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
        built = _build(backend, request)
        if backend == "postgresql":
            name = f"gp_bigcopy_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{built.source}"')
            yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
            _drop(name)
        else:
            target = tmp_path / "gitproductivity.db"
            shutil.copyfile(built.source, target)
            yield f"sqlite:///{target}"

    @pytest.fixture(name="database")
    def database(database_url: str, tmp_path: Path) -> Iterator[Any]:
        from gitproductivity.core import settings
        from gitproductivity.core.db import Database, set_database

        settings.configure(database_url=database_url, data_dir=tmp_path / "data")
        db = Database(database_url)
        set_database(db)
        yield db
        set_database(None)
        db.dispose()
        settings.configure()

    @pytest.fixture(name="big_team")
    def big_team(backend: str, database: Any) -> BigTeam:
        return _BUILT[backend].team

    return database_url, database, big_team
