"""Engines and sessions for SQLite and PostgreSQL, set up so several processes share one store.

SQLite gets WAL (readers never block the writer), foreign keys and a busy timeout on every
connection: sync, console and CLI run at once without "database is locked" reaching a person.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlmodel import Session

from supportdesk.errors import StoreError

BUSY_TIMEOUT_MS = 10_000


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA cache_size = -65536")
    cursor.execute("PRAGMA temp_store = MEMORY")
    cursor.close()


def _on_sqlite_begin(conn: Any) -> None:
    # pysqlite's implicit transactions defer BEGIN until the first write, which breaks
    # read-then-write isolation; IMMEDIATE is taken only for sessions opened as writers.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("writer") else "BEGIN")


def make_engine(url: str) -> Engine:
    """An engine for `url`, with the per-backend settings the store relies on."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"database_url {url!r} is not a database URL: {exc}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed, connect_args={"check_same_thread": False, "isolation_level": None}
        )
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            # No server-side prepared statements: a generic plan cannot see how rare a
            # search term is, and a rare-word search then reads every match.
            return create_engine(
                parsed, pool_pre_ping=True, connect_args={"prepare_threshold": None}
            )
        except ModuleNotFoundError as exc:
            raise StoreError(f"PostgreSQL driver missing ({exc.name}); install psycopg") from None
    raise StoreError(f"database_url {url!r}: only sqlite:/// and postgresql:// are supported")


@dataclass
class Store:
    """An open store: one engine, and sessions that know whether they will write."""

    engine: Engine
    url: str
    info: dict[str, Any] = field(default_factory=dict)
    """Facts every session of this store carries in `session.info`, e.g. how replies are
    sent (`mail_setup`), for domain code that runs deep inside ingest (rules' replies)."""

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error.

        Writers on SQLite take the write lock up front (BEGIN IMMEDIATE), so a read followed
        by a write in the same transaction can never be overtaken by another process.
        """
        with self.engine.connect() as conn:
            conn.info["writer"] = write
            session = Session(bind=conn, expire_on_commit=False)
            session.info.update(self.info)
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()
                conn.info["writer"] = False

    def dispose(self) -> None:
        self.engine.dispose()
