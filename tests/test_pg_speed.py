"""Revision 0011 on both backends: on PostgreSQL a reassignment is heap-only updates (no
index holds the assignee, the tickets table keeps room on each page); SQLite keeps its
assignee indexes. See migrations/versions/0011_pg_speed.py."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from supportdesk.desk import bulk, directory, tickets, views
from supportdesk.desk.events import Change
from supportdesk.store import Store, make_engine, migrate
from tests.conftest import PgSchemas, pg_url

ASSIGNEE_INDEXES = {"ix_tickets_assignee_updated", "ix_tickets_queue_status_assignee"}


def seed(store: Store, count: int = 12) -> list[int]:
    change = Change.by("agent:seed")
    with store.session(write=True) as s:
        directory.ensure_queue(s, "billing")
        directory.add_agent(s, "alice", email="alice@desk.example")
        directory.add_agent(s, "bob", email="bob@desk.example")
        return [
            tickets.create_ticket(
                s,
                subject=f"Ticket {i}",
                requester_email=f"c{i}@acme.example",
                queue="billing",
                change=change,
                assignee="alice",
                status="open" if i % 3 else "closed",
            ).id
            or 0
            for i in range(count)
        ]


def test_reassignment_is_heap_only_on_postgresql(pg_store: Store) -> None:
    ids = seed(pg_store)
    with pg_store.session(write=True) as s:
        result = bulk.assign(s, ids, "bob", Change.by("agent:lead"))
        updated, hot = s.execute(
            text(
                "SELECT pg_stat_get_xact_tuples_updated('tickets'::regclass), "
                "pg_stat_get_xact_tuples_hot_updated('tickets'::regclass)"
            )
        ).one()
    assert result.changed == len(ids)
    assert (updated, hot) == (len(ids), len(ids))
    with pg_store.session() as s:
        assert views.overview(s, me="bob").mine == len([i for i in range(12) if i % 3])


def test_no_postgresql_tickets_index_holds_the_assignee(pg_store: Store) -> None:
    with pg_store.session() as s:
        indexed = s.execute(
            text(
                "SELECT i.indexrelid::regclass::text, a.attname FROM pg_index AS i "
                "JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                "WHERE i.indrelid = 'tickets'::regclass"
            )
        ).all()
        options = s.execute(
            text("SELECT reloptions FROM pg_class WHERE oid = 'tickets'::regclass")
        ).scalar_one()
    assert [name for name, column in indexed if column == "assignee_id"] == []
    assert "ix_tickets_queue_status" in {name for name, _ in indexed}
    assert options == ["fillfactor=50"]


def test_sqlite_keeps_its_assignee_indexes(sqlite_store: Store) -> None:
    with sqlite_store.session() as s:
        names = set(
            s.execute(
                text("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tickets'")
            ).scalars()
        )
    assert names >= ASSIGNEE_INDEXES
    assert "ix_tickets_queue_status" not in names


@pytest.mark.postgres
def test_0011_gives_up_on_a_lock_an_open_transaction_holds(pg_schemas: PgSchemas) -> None:
    """A transaction left open on the tickets makes the upgrade fail after the revision's
    lock timeout (10 s: this test takes that long), not wait for ever with every console
    queued behind it; the schema stays at 0010 and the upgrade runs once it is closed. The
    statement timeout only ends the test if the revision waited without one."""
    url = pg_url(pg_schemas.new()) + "%20-cstatement_timeout%3D60000"
    engine = make_engine(url)
    try:
        migrate.upgrade(engine, "0010")
        with engine.connect() as other:
            other.execute(text("SELECT count(*) FROM tickets"))
            with pytest.raises(DBAPIError, match="lock timeout"):
                migrate.upgrade(engine)
            other.rollback()
        assert migrate.current_revision(engine) == "0010"
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()
