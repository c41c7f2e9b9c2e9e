"""Statements compiled once and run on the driver connection of the session's transaction: the few statements
every API write sends, and the `BEGIN` of every unit of work on SQLite.

SQLAlchemy's execution of a Core statement costs about 25 us more than the driver's own `execute` of the same
SQL (the compiled-cache lookup, the execution context, the result wrapper; docs/benchmarks.md, "Seventh pass"),
and `POST /v1/developers` sends four. A `Prepared` statement is compiled once per dialect; each run binds its
values through the same type processors SQLAlchemy uses, executes on the connection of the session's
transaction (it is part of the unit of work like any other statement), and returns its rows through the result
columns' processors. Only the compiled cache, the execution context and statement logging (`echo`) are
skipped: cursor observers (`before_cursor_execute`, `after_cursor_execute`) are still told, without an
execution context; driver errors are raised as SQLAlchemy's own exceptions (`IntegrityError`, `DataError`, ...)
with the parameters hidden; and a connection the database dropped is invalidated, as SQLAlchemy does.

Not for statements with expanding (`IN`) parameters or Python-side column defaults: those need SQLAlchemy's
execution, and `Prepared` refuses them when it compiles.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Dialect, Executable, exc
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any] | None


class _Form:
    """A statement compiled for one dialect: its SQL, the order (or names) of its parameters with their
    processors, and the processors of its result columns."""

    def __init__(self, statement: Any, dialect: Dialect, keys: Sequence[str] | None) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys) if keys is not None else None)
        assert isinstance(compiled, SQLCompiler)
        if getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch", None):
            raise ValueError("a Prepared statement cannot run Python-side column defaults: give every value")
        if any(bind.expanding for bind in compiled.binds.values()):
            raise ValueError("a Prepared statement cannot take expanding (IN) parameters")
        self.sql = compiled.string
        self.positional = bool(compiled.positional)
        # Positional: the order of the marks (a name may come twice); named: each name the SQL uses, once.
        names = (compiled.positiontup or []) if self.positional else dict.fromkeys(compiled.bind_names.values())
        escaped = compiled.escaped_bind_names
        #: (the value's name, its name in the SQL, processor, whether the statement gives a value, that value)
        self.params: list[tuple[str, str, Processor, bool, Any]] = []
        for name in names:
            bind = compiled.binds[name]
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            has_value = bind.value is not None or bind.callable is not None or not bind.required
            default = bind.effective_value if has_value else None
            self.params.append((name, escaped.get(name, name), processor, has_value, default))
        columns = statement.exported_columns if getattr(statement, "exported_columns", None) is not None else []
        self.results: list[Processor] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        ]
        self.processed_results = any(p is not None for p in self.results)

    def bind(self, values: Mapping[str, Any]) -> Any:
        bound = []
        for name, _sql_name, processor, has_value, default in self.params:
            if name in values:
                value = values[name]
            elif has_value:
                value = default
            else:
                raise exc.ArgumentError(f"a value is required for bind parameter {name!r}")
            bound.append(value if processor is None or value is None else processor(value))
        if self.positional:
            return bound
        return {sql_name: value for (_name, sql_name, *_), value in zip(self.params, bound, strict=True)}

    def rows(self, raw: list[Any]) -> list[tuple[Any, ...]]:
        if not self.processed_results:
            return raw
        processors = self.results
        return [
            tuple(value if p is None or value is None else p(value) for p, value in zip(processors, row, strict=False))
            for row in raw
        ]


class Prepared:
    """A Core statement (built once, at import) run on the session's driver connection (module docstring).

    `keys`: for an `INSERT` without `.values()`, the columns its parameters give (as `Connection.execute` would
    take them from the first parameter set)."""

    def __init__(self, statement: Executable, *, keys: Sequence[str] | None = None) -> None:
        self.statement = statement
        self.keys = keys
        self._forms: dict[str, _Form] = {}

    def _form(self, dialect: Dialect) -> _Form:
        form = self._forms.get(dialect.name)
        if form is None:
            form = self._forms[dialect.name] = _Form(self.statement, dialect, self.keys)
        return form

    def rows(self, session: Session, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run the statement once in the session's transaction; the rows it returns (none for a plain write)."""
        connection = session.connection()
        form = self._form(connection.dialect)
        return form.rows(driver_execute(connection, form.sql, form.bind(values)))

    def run(self, session: Session, values: Mapping[str, Any]) -> None:
        """Run a statement that returns nothing (or whose rows are not wanted)."""
        self.rows(session, values)


def driver_execute(connection: Connection, sql: str, params: Any = ()) -> list[Any]:
    """`sql` (the driver's own SQL and parameter style) on the connection's driver connection, in its transaction:
    the rows as the driver returns them. Cursor observers are told; a driver error is raised as SQLAlchemy's
    exception (parameters hidden), and a connection the database dropped is invalidated."""
    dialect = connection.dialect
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None
    cursor = dbapi_connection.cursor()
    events = connection.dispatch
    try:
        if events.before_cursor_execute:  # observers (tracing, tests counting statements) still see it
            events.before_cursor_execute(connection, cursor, sql, params, None, False)
        cursor.execute(sql, params)
        if events.after_cursor_execute:
            events.after_cursor_execute(connection, cursor, sql, params, None, False)
        return list(cursor.fetchall()) if cursor.description is not None else []
    except dialect.loaded_dbapi.Error as err:
        dropped = dialect.is_disconnect(err, dbapi_connection, cursor)
        if dropped:
            connection.invalidate(err)
        raise exc.DBAPIError.instance(
            sql,
            params,
            err,
            dialect.loaded_dbapi.Error,
            hide_parameters=True,
            connection_invalidated=dropped,
            dialect=dialect,
        ) from err
    finally:
        cursor.close()
