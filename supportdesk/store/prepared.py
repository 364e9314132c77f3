"""Prebuilt statements run straight on the driver's cursor, for those that run per message.

A first sync of 10,000 messages inserts a row per message, ticket and customer, each needing its
id back at once. Through `Connection.execute` each such insert spends about twice as long in
SQLAlchemy's execution machinery (context, parameter processing, result objects) as in the
database. `Prepared` compiles a Core statement once per dialect and set of columns, applies the
same bind processors SQLAlchemy would (so a datetime is stored exactly as it would be), and runs
it on the connection's DBAPI cursor, inside the connection's transaction; `many` does the same
for an executemany of rows (raw bytes, index documents, events). A statement that
needs more than that (Python-side column defaults, post-compile parameters) goes through
`Connection.execute` as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import Executable

from supportdesk.i18n import _


class _Compiled:
    def __init__(self, compiled: SQLCompiler, conn: Connection) -> None:
        self.sql = compiled.string
        binds = compiled.binds
        dialect = conn.dialect
        self.names: list[str] = (
            list(compiled.positiontup or ()) if compiled.positional else list(binds)
        )
        self.positional = compiled.positional
        self.processors: dict[str, Callable[[Any], Any]] = {}
        for name in self.names:
            processor = binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.processors[name] = processor
        self.keys = {name: binds[name].key for name in self.names}


class Prepared:
    """One Core statement, compiled once per set of parameter names, run on the raw cursor."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, ...], _Compiled | None] = {}

    def scalar(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Execute with `params` and return the first column of the first row (RETURNING)."""
        compiled = self._compile(conn, params)
        if compiled is None:
            return conn.execute(self.statement, dict(params)).scalar_one()
        cursor = conn.connection.cursor()
        try:
            cursor.execute(compiled.sql, self._values(compiled, params))
            row = cursor.fetchone()
        finally:
            cursor.close()
        if row is None:
            raise LookupError(_("the statement returned no row"))
        return row[0]

    def many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Execute once per row (DBAPI executemany): rows must all name the same columns."""
        if not rows:
            return
        compiled = self._compile(conn, rows[0])
        if compiled is None or len(rows[0]) != len(compiled.names):
            conn.execute(self.statement, [dict(row) for row in rows])
            return
        values = [self._values(compiled, row) for row in rows]
        cursor = conn.connection.cursor()
        try:
            cursor.executemany(compiled.sql, values)
        finally:
            cursor.close()

    def _values(self, compiled: _Compiled, params: Mapping[str, Any]) -> Any:
        processors = compiled.processors
        keys = compiled.keys
        if compiled.positional:
            return [
                processors[name](params[keys[name]]) if name in processors else params[keys[name]]
                for name in compiled.names
            ]
        return {
            name: processors[name](params[keys[name]]) if name in processors else params[keys[name]]
            for name in compiled.names
        }

    def direct(self, conn: Connection, params: Mapping[str, Any]) -> bool:
        """Whether `params` run on the cursor (True) or through `Connection.execute`."""
        return self._compile(conn, params) is not None

    def _compile(self, conn: Connection, params: Mapping[str, Any]) -> _Compiled | None:
        key = (conn.dialect.name, *params)
        if key not in self._compiled:
            compiled = self.statement.compile(  # type: ignore[attr-defined]
                dialect=conn.dialect, column_keys=list(params)
            )
            usable = (
                isinstance(compiled, SQLCompiler)
                and not getattr(compiled, "insert_prefetch", None)
                and not getattr(compiled, "update_prefetch", None)
                and not getattr(compiled, "literal_execute_params", None)
                and not getattr(compiled, "post_compile_params", None)
                and not getattr(compiled, "escaped_bind_names", None)
                and all(bind.key in params for bind in compiled.binds.values())
            )
            self._compiled[key] = _Compiled(compiled, conn) if usable else None
        return self._compiled[key]
