"""The per-connection settings a PostgreSQL store sends are a speed preference: a server
that refuses one still gives a working connection, with its own default."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from supportdesk.store import engine as engine_module
from supportdesk.store import make_engine
from tests.conftest import PgSchemas, pg_url


@pytest.mark.postgres
def test_sessions_run_without_parallel_workers(pg_schemas: PgSchemas) -> None:
    engine = make_engine(pg_url(pg_schemas.new()))
    try:
        with engine.connect() as conn:
            setting = conn.execute(text("SHOW max_parallel_workers_per_gather")).scalar_one()
        assert setting == str(engine_module.PARALLEL_WORKERS)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_refused_setting_leaves_the_connection_usable(
    pg_schemas: PgSchemas, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server rejects a negative worker count, as it would a setting it does not allow.
    monkeypatch.setattr(engine_module, "PARALLEL_WORKERS", -1)
    engine = make_engine(pg_url(pg_schemas.new()))
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x int)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT x FROM t")).scalar_one() == 1
            server_default = conn.execute(
                text("SELECT reset_val FROM pg_settings WHERE name = :name"),
                {"name": "max_parallel_workers_per_gather"},
            ).scalar_one()
            setting = conn.execute(text("SHOW max_parallel_workers_per_gather")).scalar_one()
        assert setting == server_default
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_the_setting_leaves_the_connection_in_transactions(pg_schemas: PgSchemas) -> None:
    """Sent in autocommit (one round trip), then back to transactions: a rollback still
    undoes what the session wrote, and keeps the setting."""
    engine = make_engine(pg_url(pg_schemas.new()))
    try:
        with engine.connect() as conn:
            assert conn.connection.dbapi_connection.autocommit is False  # type: ignore[union-attr]
            conn.execute(text("CREATE TABLE t (x int)"))
            conn.rollback()
            setting = conn.execute(text("SHOW max_parallel_workers_per_gather")).scalar_one()
            missing = conn.execute(text("SELECT to_regclass('t')")).scalar_one()
        assert setting == str(engine_module.PARALLEL_WORKERS)
        assert missing is None
    finally:
        engine.dispose()
