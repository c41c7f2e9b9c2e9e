"""Engine, sessions and the unit of work.

One transaction per unit of work (`Database.session()`): it commits on success, rolls back on error, and only
after a successful commit runs the callbacks registered with `after_commit` (waking the dispatcher, say), so
nothing acts on work that did not commit.

SQLite runs in WAL mode and every transaction starts with `BEGIN IMMEDIATE`: writers queue on the busy timeout
instead of failing when a read transaction later tries to write. A unit of work that only reads can say so
(`session(read_only=True)`): on SQLite it then begins `DEFERRED`, reads a WAL snapshot and never waits for (or
holds up) a writer; on PostgreSQL nothing changes.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from json.encoder import encode_basestring_ascii as _json_string
from pathlib import Path
from time import monotonic
from typing import Any, TypeVar, cast

from sqlalchemy import JSON, Dialect, Engine, MetaData, Table, create_engine, event, exc, make_url, select
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import QueuePool

from gitproductivity.core.errors import NotFound
from gitproductivity.core.prepared import driver_execute
from gitproductivity.core.types import UTCDateTime, naive_utc

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def normalize_url(url: str) -> str:
    """Accept the usual `postgresql://` / `postgres://` spellings and use psycopg 3 for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """`hide_parameters`: database errors are logged, and their bound values may hold secrets or signatures."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            return _sqlite_file_engine(Path(parsed.database).expanduser(), pool_size=pool_size)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=20,
            hide_parameters=True,
        )
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"unsupported database URL scheme: {parsed.drivername} (use sqlite:// or postgresql://)")
    engine = create_engine(url, pool_size=pool_size, max_overflow=20, hide_parameters=True)
    _ping_when_idle(engine)
    return engine


#: A pooled PostgreSQL connection idle longer than this (seconds since it went back to the pool) is pinged before
#: it is handed out. One back within this time was working a moment ago and is used without the round trip
#: (SQLAlchemy's `pool_pre_ping` pinged on every checkout: one round trip more for every unit of work).
PING_AFTER_IDLE_SECONDS = 1.0
_CHECKED_IN = "gitproductivity_checked_in"


def _ping_when_idle(engine: Engine) -> None:
    """`pool_pre_ping`, for idle connections only. A connection the server dropped while it sat in the pool (a
    restart, a failover, an idle timeout) is found by the ping and replaced, with every connection opened before it
    (`InvalidatePoolError`, as `pool_pre_ping` does). A connection dropped within the last second is not pinged:
    the statement that meets it fails (that unit of work raises), and SQLAlchemy's disconnect handling then
    replaces it and every connection older than it. A connection whose driver already knows it is broken
    (`closed`) is replaced without a ping. docs/benchmarks.md, "Third pass"."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_CHECKED_IN] = monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if getattr(dbapi_connection, "closed", False):
            raise exc.InvalidatePoolError("the connection was closed")
        checked_in = record.info.get(_CHECKED_IN)
        if checked_in is None or monotonic() - checked_in <= PING_AFTER_IDLE_SECONDS:
            return  # a new connection, or one that worked a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as err:
            if dialect.is_disconnect(err, dbapi_connection, None):
                raise exc.InvalidatePoolError(
                    f"the connection was idle and no longer answers: {type(err).__name__}"
                ) from err
            raise


def _sqlite_file_engine(path: Path, *, pool_size: int) -> Engine:
    """An engine on a database file that is created here, once, and never again behind the server's back.

    Connections open the file read-write without creating it (`mode=rw`), and a pooled connection is handed out
    only while the path still names the file it was opened on (same inode). So a database file deleted or
    replaced under a running server makes every request fail (and `/healthz` answer 503) instead of silently
    writing to an unlinked file or to a new, empty database.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    sqlite3.connect(path).close()  # create it if it is missing (the first start)
    target = path.resolve()
    inode = os.stat(target).st_ino

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(f"{target.as_uri()}?mode=rw", uri=True, check_same_thread=False, timeout=30)

    engine = create_engine(
        "sqlite://", creator=connect, poolclass=QueuePool, pool_size=pool_size, max_overflow=20, hide_parameters=True
    )
    _configure_sqlite(engine)

    @event.listens_for(engine, "checkout")
    def _still_there(_dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        try:
            same = os.stat(target).st_ino == inode
        except OSError:
            same = False
        if not same:
            raise exc.DisconnectionError(f"the database file {target} was deleted or replaced")

    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=30000",
            "PRAGMA temp_store=MEMORY",
            "PRAGMA cache_size=-32000",
        ):
            cur.execute(pragma)
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # On the driver connection: `exec_driver_sql`'s execution context cost more than the statement (every
        # unit of work begins; docs/benchmarks.md, "Seventh pass").
        driver_execute(conn, "BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


#: Execution option of a read-only unit of work (`Database.session(read_only=True)`).
READ_ONLY = "gitproductivity_read_only"


def bulk_insert(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows in the session's transaction: `COPY` on PostgreSQL, the driver's `executemany` on SQLite.

    Every value goes through its column's own bind processor, so what is stored is what an ORM insert would
    store; only SQLAlchemy's per-row statement machinery is skipped (for the webhook attempt log that was
    70 us a row on PostgreSQL against 29 us with COPY). JSON columns get `json.dumps` text directly (the
    psycopg wrapper that the processor returns cost more than the rest of the row); None is SQL NULL. Rows
    must all have the same keys, and no defaults run.
    """
    if not rows:
        return
    names = list(rows[0])
    bulk_write(session, table, names, bind_values(session.get_bind().dialect, table, names, rows))


def bind_values(dialect: Dialect, table: Table, names: Sequence[str], rows: Iterable[Iterable[Any]]) -> list[list[Any]]:
    """The half of `bulk_insert` that needs no database: each row's values (dicts: their values, in `names`
    order) through their columns' bind processors. A caller that holds a lock while it writes prepares its rows
    with this first, and writes them with `bulk_write` once it holds the lock."""
    width = len(names)
    # Only the columns that have a processor are visited (three of the webhook attempt log's fourteen): each row is
    # copied as it is, then those values replaced. tests/core/test_bulk_insert.py compares with the plain loop.
    processed = [
        (i, proc)
        for i, proc in enumerate(_bind_processor(dialect, table.c[name].type) for name in names)
        if proc is not None
    ]
    bound = []
    for row in rows:
        values = list(row.values() if isinstance(row, dict) else row)
        if len(values) != width:
            raise ValueError(f"a row has {len(values)} values for {width} columns")
        for i, proc in processed:
            value = values[i]
            if value is not None:
                values[i] = proc(value)
        bound.append(values)
    return bound


def _bind_processor(dialect: Dialect, column_type: Any) -> Callable[[Any], Any] | None:
    if isinstance(column_type, JSON):
        return _json_text
    if isinstance(column_type, UTCDateTime) and dialect.name == "sqlite":
        return _sqlite_utc_text
    return column_type._cached_bind_processor(dialect)  # type: ignore[no-any-return]


def _json_text(value: Any) -> str:
    """`json.dumps(value)`, the same text; a dict of strings to strings (HTTP headers, two per webhook attempt) by
    one C call per string, without building a JSON encoder for each document."""
    if type(value) is dict:
        try:
            return "{" + ", ".join([_json_string(k) + ": " + _json_string(v) for k, v in value.items()]) + "}"
        except TypeError:  # a key or value that is not a string: json.dumps says what it makes of it
            pass
    return json.dumps(value)


def _sqlite_utc_text(value: datetime) -> str:
    """What `UTCDateTime`'s processor, then SQLite's DATETIME, store (`2026-12-03 14:05:00.000000`, naive UTC,
    always 6 digits of microseconds), by `isoformat` in one C call instead of a `%`-format of a dict of parts:
    the webhook attempt log writes one per attempt. tests/core/test_bulk_insert.py compares the two."""
    return naive_utc(value).isoformat(" ", "microseconds")


def bulk_write(session: Session, table: Table, names: Sequence[str], values: Sequence[Sequence[Any]]) -> None:
    """The other half: rows already through `bind_values`, written with COPY or executemany."""
    if not values:
        return
    connection = session.connection()
    dialect = connection.dialect
    driver = connection.connection.driver_connection
    assert driver is not None
    # Names come from the Table (an unknown key raised KeyError above), quoted by the dialect: no user input.
    quote = dialect.identifier_preparer
    into = f"{quote.format_table(table)} ({', '.join(quote.quote(name) for name in names)})"
    if dialect.name == "postgresql":
        with driver.cursor() as cursor, cursor.copy(f"COPY {into} FROM STDIN") as copy:
            for row_values in values:
                copy.write_row(row_values)
    else:
        marks = ", ".join("?" for _ in names)
        driver.executemany(f"INSERT INTO {into} VALUES ({marks})", values)  # noqa: S608 (see above)


ModelT = TypeVar("ModelT", bound=Base)


def contains(text: str) -> str:
    """A LIKE pattern (escape character `!`) for values containing `text`, lower-cased, its wildcards literal."""
    escaped = text.lower().replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"


def get_owned(session: Session, model: type[ModelT], *, organization_id: str, id: str, what: str) -> ModelT:
    """The organisation's row with this id, or NotFound ("<what> <id> not found"): one rule for every domain,
    so another organisation's row is exactly as absent as one that does not exist."""
    columns = cast(Any, model)
    row = session.scalar(select(model).where(columns.id == id, columns.organization_id == organization_id))
    if row is None:
        raise NotFound(f"{what} {id} not found")
    return row


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run `callback` once this session's transaction has committed (never if it rolls back)."""
    session.info.setdefault("after_commit", []).append(callback)


class Database:
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(self.url, pool_size=pool_size)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.read_only_sessionmaker = sessionmaker(
            self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self, *, read_only: bool = False) -> Iterator[Session]:
        """One transaction. `read_only`: the block only reads (module docstring); a write in it is not refused,
        but on SQLite it may fail with "database is locked" when another writer got there first."""
        session = (self.read_only_sessionmaker if read_only else self.sessionmaker)()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            session.info.pop("after_commit", None)
            raise
        finally:
            callbacks = session.info.pop("after_commit", [])
            session.close()
        for callback in callbacks:
            try:
                callback()
            except Exception:  # an after-commit hook must never undo or hide a committed change
                log.exception("after-commit callback failed")

    def ping(self) -> None:
        """One `SELECT 1` outside any transaction (raises when the database does not answer).

        Not through a session: on SQLite every transaction begins IMMEDIATE, i.e. takes the write lock, so a
        health check would queue behind a long write (an analysis storing tens of thousands of rollups) and
        report a healthy server as hung. A plain statement in autocommit mode reads without any lock (WAL).
        """
        dialect = self.engine.dialect
        for attempt in (1, 2):
            raw = self.engine.raw_connection()
            try:
                cursor = raw.cursor()
                try:
                    cursor.execute("SELECT 1")
                    cursor.fetchall()
                finally:
                    cursor.close()
                return
            except dialect.loaded_dbapi.Error as err:
                # A raw connection bypasses SQLAlchemy's disconnect handling: never pool one that failed. One the
                # server dropped while it was pooled (within `PING_AFTER_IDLE_SECONDS`, so not pinged) says
                # nothing about the database now: ask once more, on a new connection.
                dropped = dialect.is_disconnect(err, raw.dbapi_connection, None)
                raw.invalidate()
                if attempt == 2 or not dropped:
                    raise
            finally:
                raw.close()

    def dispose(self) -> None:
        self.engine.dispose()


_database: Database | None = None


def get_database() -> Database:
    """The process-wide database for the configured URL (created on first use)."""
    global _database
    from gitproductivity.core.settings import get_settings

    url = normalize_url(get_settings().database_url)
    if _database is None or _database.url != url:
        if _database is not None:
            _database.dispose()
        _database = Database(url)
    return _database


def set_database(database: Database | None) -> None:
    global _database
    _database = database
