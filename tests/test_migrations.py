"""Migrations from empty to head, on SQLite and on the machine's PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from supportdesk.errors import StoreError
from supportdesk.store import make_engine, migrate, open_store, quick
from tests.conftest import PgSchemas, pg_url


def _tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    schemas: PgSchemas = request.getfixturevalue("pg_schemas")
    return pg_url(schemas.new())


def test_empty_to_head_creates_every_table_and_the_search_index(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        assert migrate.current_revision(engine) is None
        before, after = migrate.upgrade(engine)
        assert (before, after) == (None, migrate.head_revision())
        tables = _tables(engine)
        assert set(SQLModel.metadata.tables) <= tables
        search_table = "message_fts" if engine.dialect.name == "sqlite" else "message_search"
        assert search_table in tables
        with engine.connect() as conn:
            counter = conn.exec_driver_sql(
                "SELECT value FROM counters WHERE name = 'ticket_number'"
            ).scalar_one()
        assert counter == 0
    finally:
        engine.dispose()


def test_the_quick_head_is_alembics_head() -> None:
    """store.quick reads the head from the revision files without Alembic: both must agree."""
    assert quick.code_head() == migrate.head_revision()


def test_downgrade_to_base_and_back(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        migrate.upgrade(engine)
        migrate.downgrade(engine, "base")
        assert not (set(SQLModel.metadata.tables) & _tables(engine))
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()


def test_every_revision_steps_down_and_up_with_tickets_in_the_store(empty_url: str) -> None:
    """Down one revision at a time to the first and back, with rows that other rows point at
    (queues, tickets, messages): SQLite changes a column by copying its table."""
    from alembic.script import ScriptDirectory

    from supportdesk.desk import directory, tickets
    from supportdesk.desk.events import Change

    revisions = [
        r.revision for r in ScriptDirectory.from_config(migrate._config()).walk_revisions()
    ]  # newest first
    store = open_store(empty_url, create=True)
    try:
        with store.session(write=True) as s:
            directory.ensure_queue(s, "billing")
            tickets.create_ticket(
                s,
                subject="kept",
                requester_email="jo@example.com",
                requester_name="Jo",
                queue="billing",
                change=Change.by("agent:test"),
            )
        for older in revisions[1:]:
            migrate.downgrade(store.engine, older)
            assert migrate.current_revision(store.engine) == older
        migrate.upgrade(store.engine)
        assert migrate.current_revision(store.engine) == migrate.head_revision()
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT subject FROM tickets").scalars().all() == ["kept"]
            assert conn.exec_driver_sql("SELECT name FROM queues").scalars().all() == ["billing"]
    finally:
        store.dispose()


@pytest.mark.postgres
def test_shared_store_is_never_upgraded_behind_the_teams_back(pg_schemas: PgSchemas) -> None:
    url = pg_url(pg_schemas.new())
    with pytest.raises(StoreError, match=r"has no supportdesk tables.*supportdesk db upgrade"):
        open_store(url)
    open_store(url, create=True).dispose()
    open_store(url).dispose()


def test_personal_store_refuses_a_missing_file_and_a_newer_schema(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="supportdesk init"):
        open_store(f"sqlite:///{tmp_path / 'missing.db'}")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    open_store(url, create=True).dispose()
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    engine.dispose()
    with pytest.raises(StoreError, match="newer supportdesk"):
        open_store(url)


def test_sqlite_store_runs_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}", create=True)
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    finally:
        store.dispose()


def test_bad_database_url_is_one_clear_error() -> None:
    with pytest.raises(StoreError, match="only sqlite:/// and postgresql://"):
        make_engine("mysql://x@y/z")
    with pytest.raises(StoreError, match="is not a database URL"):
        make_engine("not a url")


def test_models_and_migrations_agree(empty_url: str) -> None:
    """A model change without its Alembic revision fails here, on both backends."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(empty_url)
    try:
        migrate.upgrade(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "include_name": _only_model_tables,
                    "include_object": _made_on(conn.dialect.name),
                },
            )
            assert compare_metadata(context, SQLModel.metadata) == []
    finally:
        engine.dispose()


def _made_on(dialect: str) -> Callable[..., bool]:
    """Leave out of the comparison the indexes a model declares for the other backend only
    (`Index(...).ddl_if(dialect=...)`): Alembic compares them regardless."""

    def include(obj: object, _name: str | None, type_: str, reflected: bool, _to: object) -> bool:
        if type_ != "index" or reflected:
            return True
        wanted = getattr(obj, "_ddl_if", None)
        return wanted is None or wanted.dialect in (None, dialect)

    return include


def _only_model_tables(name: str | None, type_: str, _parents: object) -> bool:
    # The full-text index is created by hand (FTS5 / tsvector), not from the models.
    search_tables = name in {"message_fts", "message_search"} or (name or "").startswith(
        "message_fts_"
    )
    return not (type_ == "table" and search_tables)
