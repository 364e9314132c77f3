"""Migrations from empty to head, on SQLite and on the machine's PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel, select

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


def test_0012_keys_the_search_index_by_ticket_and_back(empty_url: str) -> None:
    """Down to 0011 SQLite's index is keyed by message id again, up to 0012 by ticket (see
    search.TICKET_SHIFT); every plan finds the same tickets after each step, and the index
    stays whole. PostgreSQL's index is left as it is both ways."""
    from supportdesk.desk import directory, tickets
    from supportdesk.desk.events import Change
    from supportdesk.desk.messages import NewMessage, add_message
    from supportdesk.store import search
    from supportdesk.store.models import Ticket

    store = open_store(empty_url, create=True)
    change = Change.by("agent:test")
    sqlite = store.dialect == "sqlite"
    try:
        numbers = []
        with store.session(write=True) as s:
            directory.ensure_queue(s, "billing")
            for i, body in enumerate(["refund please", "where is my parcel", "返金 and refund"]):
                ticket = tickets.create_ticket(
                    s,
                    subject=f"t{i}",
                    requester_email="jo@example.com",
                    queue="billing",
                    change=change,
                )
                numbers.append(ticket.number)
                for copy in range(2):
                    new = NewMessage(
                        raw=b"Subject: s\r\n\r\nx",
                        message_id=f"<{i}.{copy}@x>",
                        direction="in",
                        from_address="jo@example.com",
                        subject=f"t{i}",
                        body_text=body,
                    )
                    add_message(s, ticket, new, change)

        def found(term: str) -> dict[str, list[int]]:
            with store.session() as s:
                plans: list[search.Plan] = ["page", "whole", "per_ticket"]
                return {
                    plan: sorted(
                        s.exec(
                            select(Ticket.number).where(
                                search.ticket_matches(s.connection(), [term], name="q", plan=plan)
                            )
                        )
                    )
                    for plan in plans
                }

        def check() -> None:
            assert set(map(tuple, found("refund").values())) == {(numbers[0], numbers[2])}
            assert set(map(tuple, found("返金").values())) == {(numbers[2],)}
            if sqlite:
                with store.engine.begin() as conn:
                    conn.exec_driver_sql(
                        "INSERT INTO message_fts(message_fts, rank) VALUES ('integrity-check', 0)"
                    )

        check()
        migrate.downgrade(store.engine, "0011")
        if sqlite:  # keyed by message id: every key is one
            with store.engine.connect() as conn:
                keys = conn.exec_driver_sql(
                    "SELECT rowid FROM message_fts WHERE message_fts MATCH 'refund' ORDER BY rowid"
                ).scalars()
                ids = conn.exec_driver_sql(
                    "SELECT m.id FROM messages AS m JOIN tickets AS t ON t.id = m.ticket_id "
                    "WHERE t.subject IN ('t0', 't2') ORDER BY m.id"
                ).scalars()
                assert list(keys) == list(ids)
        migrate.upgrade(store.engine)
        check()
    finally:
        store.dispose()


def test_0012_does_what_it_did_whatever_search_becomes() -> None:
    """0012 copies the code that makes its keys and documents: importing them from
    supportdesk.store.search would let a later change there change what 0012 writes."""
    import ast

    [path] = (Path(migrate.__file__).parent / "migrations" / "versions").glob("0012_*.py")
    imported = [
        node.module or "" if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    assert imported and not [name for name in imported if name.startswith("supportdesk")]


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


def test_a_file_that_is_not_a_store_is_one_clear_error_and_stays_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"shopping list: milk, eggs\n")
    with pytest.raises(StoreError, match="file is not a database"):
        open_store(f"sqlite:///{path}")
    assert path.read_bytes() == b"shopping list: milk, eggs\n"


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
    engine = make_engine(empty_url)
    try:
        migrate.upgrade(engine)
        with engine.connect() as conn:
            assert _model_differences(conn) == []
    finally:
        engine.dispose()


OTHER_BACKENDS_INDEX = {
    "postgresql": ("ix_tickets_assignee_updated", "assignee_id, updated_at, id"),
    "sqlite": ("ix_tickets_queue_status", "queue_id, status"),
}


def test_an_index_made_for_the_other_backend_only_is_a_difference(empty_url: str) -> None:
    """A revision that leaves (or makes) on this backend an index the models declare for the
    other one only is caught: Alembic pairs indexes by name before it asks which to compare."""
    engine = make_engine(empty_url)
    try:
        migrate.upgrade(engine)
        with engine.begin() as conn:
            name, columns = OTHER_BACKENDS_INDEX[conn.dialect.name]
            conn.exec_driver_sql(f"CREATE INDEX {name} ON tickets ({columns})")
        with engine.connect() as conn:
            differences = _model_differences(conn)
        assert [(d[0], d[1].name) for d in differences] == [("remove_index", name)]
    finally:
        engine.dispose()


def _model_differences(conn: sa.Connection) -> list[Any]:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(
        conn, opts={"compare_type": True, "include_name": _only_model_tables}
    )
    return list(compare_metadata(context, _models_on(conn.dialect.name)))


def _models_on(dialect: str) -> sa.MetaData:
    """The models' tables as this backend gets them: without the indexes a model declares
    for the other backend only (`Index(...).ddl_if(dialect=...)`).

    Leaving those out through `include_object` is not enough: Alembic pairs a reflected
    index with the model's of the same name first, so one left over (or made) on the wrong
    backend would never be reported.
    """
    copy = sa.MetaData()
    for table in SQLModel.metadata.sorted_tables:
        copied = table.to_metadata(copy)
        other = {
            index.name
            for index in table.indexes
            if (wanted := index._ddl_if) is not None and wanted.dialect not in (None, dialect)
        }
        copied.indexes.difference_update({i for i in copied.indexes if i.name in other})
    return copy


def _only_model_tables(name: str | None, type_: str, _parents: object) -> bool:
    # The full-text index is created by hand (FTS5 / tsvector), not from the models.
    search_tables = name in {"message_fts", "message_search"} or (name or "").startswith(
        "message_fts_"
    )
    return not (type_ == "table" and search_tables)


def test_a_migration_runs_with_the_collector_on_and_leaves_it_as_it_was(tmp_path: Path) -> None:
    """The console's start turns the collector off; an upgrade it runs must not grow unbounded."""
    import gc

    from alembic import command

    seen: list[bool] = []
    real = command.upgrade

    def spy(*args: object, **kwargs: object) -> None:
        seen.append(gc.isenabled())
        real(*args, **kwargs)  # type: ignore[arg-type]

    engine = make_engine(f"sqlite:///{tmp_path / 'gc.sqlite'}")
    gc.disable()
    try:
        command.upgrade = spy  # type: ignore[assignment]
        migrate.upgrade(engine)
        assert not gc.isenabled()
    finally:
        command.upgrade = real  # type: ignore[assignment]
        gc.enable()
        engine.dispose()
    assert seen == [True]


def test_0014_batch_notifications_up_and_down_with_notifications_in_the_store(
    empty_url: str,
) -> None:
    """0014 keeps 0013's per-ticket notifications as they were; down again it drops the batch
    ones (the old table cannot hold a notification about no ticket) and keeps the rest."""
    from supportdesk.desk import bulk, directory, notifications, tickets
    from supportdesk.desk.events import Change

    store = open_store(empty_url, create=True)
    try:
        with store.session(write=True) as s:
            directory.ensure_queue(s, "general")
            directory.add_agent(s, "bob", email="bob@desk.example")
        with store.session(write=True) as s:
            numbers = [
                tickets.create_ticket(
                    s,
                    subject=f"t{i}",
                    requester_email="jo@example.com",
                    queue="general",
                    change=Change.by("agent:al"),
                ).number
                for i in range(3)
            ]
            tickets.assign(s, numbers[0], "bob", Change.by("agent:al"))
        migrate.downgrade(store.engine, "0013")  # a per-ticket row in 0013's table
        migrate.upgrade(store.engine)
        with store.session() as s:
            [kept] = notifications.listing(s, "bob")
        assert (kept.kind, kept.ticket, kept.batch, kept.count) == (
            "assigned",
            numbers[0],
            None,
            None,
        )
        with store.session(write=True) as s:
            done = bulk.assign(
                s, bulk.ids_for_numbers(s, numbers[1:]), "bob", Change.by("agent:al")
            )
        with store.session() as s:
            assert [(n.kind, n.batch, n.count) for n in notifications.listing(s, "bob")] == [
                ("assigned_batch", done.batch_id, 2),
                ("assigned", None, None),
            ]
        migrate.downgrade(store.engine, "0013")
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT kind FROM notifications").scalars().all() == [
                "assigned"
            ]
        migrate.upgrade(store.engine)
        assert migrate.current_revision(store.engine) == migrate.head_revision()
        with store.session() as s:
            assert directory.get_agent(s, "bob").handle == "bob"
            assert [n.kind for n in notifications.listing(s, "bob")] == ["assigned"]
    finally:
        store.dispose()


def test_0015_indexes_the_sla_views_up_and_down_with_tickets_in_the_store(
    empty_url: str,
) -> None:
    """0015 adds `ix_tickets_status_sla` over the tickets already stored, and down again
    drops it alone: the tickets and their due times stay as they were."""
    from supportdesk.desk import directory, tickets
    from supportdesk.desk.events import Change

    def sla_index(engine: sa.Engine) -> list[list[str | None]]:
        return [
            index["column_names"]
            for index in sa.inspect(engine).get_indexes("tickets")
            if index["name"] == "ix_tickets_status_sla"
        ]

    def stored(engine: sa.Engine) -> list[tuple[Any, ...]]:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT number, status, sla_due, sla_breached FROM tickets ORDER BY number"
            )
            return [tuple(row) for row in rows]

    store = open_store(empty_url, create=True)
    try:
        with store.session(write=True) as s:
            directory.ensure_queue(s, "general")
            for i, state in enumerate(("open", "pending", "solved")):
                tickets.create_ticket(
                    s,
                    subject=f"t{i}",
                    requester_email="jo@example.com",
                    queue="general",
                    status=state,
                    change=Change.by("agent:al"),
                )
        with store.engine.begin() as conn:
            conn.exec_driver_sql(
                "UPDATE tickets SET sla_due = 1800000000 + number, sla_breached = (number = 2)"
            )
        before = stored(store.engine)
        assert sla_index(store.engine) == [["status", "sla_breached", "sla_due"]]
        migrate.downgrade(store.engine, "0014")
        assert sla_index(store.engine) == []
        assert stored(store.engine) == before
        migrate.upgrade(store.engine)
        assert migrate.current_revision(store.engine) == migrate.head_revision()
        assert sla_index(store.engine) == [["status", "sla_breached", "sla_due"]]
        assert stored(store.engine) == before
        assert [row[3] for row in before] == [False, True, False]
    finally:
        store.dispose()
