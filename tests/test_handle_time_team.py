"""Handle time on a team store (the machine's PostgreSQL): every agent reads everyone's time,
but writes only their own, as the server maps their login role, and deletes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from supportdesk.desk import directory, handle_time, tickets
from supportdesk.desk.events import Change
from supportdesk.errors import StoreError
from supportdesk.store import Store
from tests.conftest import PgSchemas
from tests.team_helpers import TeamStore, team_store

pytestmark = pytest.mark.postgres

DAY = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


@pytest.fixture
def crew(pg_schemas: PgSchemas) -> Iterator[TeamStore]:
    with team_store(pg_schemas) as made:
        with made.owner.session(write=True) as s:
            directory.ensure_queue(s, "billing")
        yield made


def _ticket(store: Store) -> int:
    with store.session(write=True) as s:
        return tickets.create_ticket(
            s,
            subject="Refund please",
            requester_email="jo@acme.example",
            queue="billing",
            change=Change.by("system:test"),
        ).number


def _times(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT a.handle, h.seconds FROM handle_time h "
                "JOIN agents a ON a.id = h.agent_id ORDER BY a.handle"
            )
        ).all()
    return {handle: seconds for handle, seconds in rows}


def _refused(store: Store, statement: str) -> str:
    with pytest.raises(sa.exc.ProgrammingError) as caught, store.engine.begin() as conn:
        conn.exec_driver_sql(statement)
    assert caught.value.orig is not None
    assert caught.value.orig.sqlstate == "42501", caught.value.orig  # type: ignore[attr-defined]
    return str(caught.value.orig)


def _changed(store: Store, statement: str) -> int:
    with store.engine.begin() as conn:
        return conn.exec_driver_sql(statement).rowcount


def test_an_agent_writes_only_their_own_handle_time(crew: TeamStore) -> None:
    bob = crew.open_as(crew.add_agent("bob"))
    alice = crew.open_as(crew.add_agent("alice"))
    number = _ticket(crew.owner)
    try:
        with bob.session(write=True) as s:
            assert handle_time.record(s, "bob", {number: 60}, at=DAY) == 1
        with alice.session(write=True) as s:  # her own, twice: the day's row grows
            handle_time.record(s, "alice", {number: 30}, at=DAY)
        with alice.session(write=True) as s:
            handle_time.record(s, "alice", {number: 10}, at=DAY)
        # As bob: onto bob's row of that day, and a new row of the next.
        for day in (DAY, datetime(2026, 11, 17, tzinfo=UTC)):
            with (
                pytest.raises(StoreError, match="row-level security"),
                alice.session(write=True) as s,
            ):
                handle_time.record(s, "bob", {number: 1000}, at=day)
        # Bob's rows are not hers to change: the update finds nothing to change.
        bobs = "(SELECT id FROM agents WHERE handle = 'bob')"
        alices = "(SELECT id FROM agents WHERE handle = 'alice')"
        assert _changed(alice, f"UPDATE handle_time SET seconds = 0 WHERE agent_id = {bobs}") == 0
        assert (
            _changed(alice, f"UPDATE handle_time SET agent_id = {alices} WHERE agent_id = {bobs}")
            == 0
        )
        # Nor can she hand her own time to bob.
        message = _refused(
            alice, f"UPDATE handle_time SET agent_id = {bobs} WHERE agent_id = {alices}"
        )
        assert "row-level security" in message
        _refused(alice, "DELETE FROM handle_time")
        _refused(alice, f"DELETE FROM handle_time WHERE agent_id = {alices}")
        # Everyone reads everyone's time.
        with alice.session() as s:
            assert handle_time.of_ticket(s, number, "alice") == handle_time.TicketHandleTime(
                mine=40, total=100
            )
    finally:
        alice.dispose()
        bob.dispose()
    assert _times(crew.owner) == {"alice": 40, "bob": 60}


def test_the_team_group_may_not_delete_handle_time(crew: TeamStore) -> None:
    with crew.owner.engine.connect() as conn:
        privileges = conn.execute(
            sa.text(
                "SELECT has_table_privilege(:g, 'handle_time', 'DELETE'), "
                "has_table_privilege(:g, 'handle_time', 'UPDATE'), "
                "has_table_privilege(:g, 'handle_time', 'INSERT')"
            ),
            {"g": crew.group},
        ).one()
    assert tuple(privileges) == (False, True, True)


def test_a_team_store_upgraded_to_handle_time_gets_the_same_limits(crew: TeamStore) -> None:
    """A store in team mode before handle_time existed: the default privileges hand the team
    DELETE on the new table, and the revision takes it back."""
    from supportdesk.store import migrate

    migrate.downgrade(crew.owner.engine, "0008")
    migrate.upgrade(crew.owner.engine)
    test_the_team_group_may_not_delete_handle_time(crew)
    bob = crew.open_as(crew.add_agent("bob"))
    alice = crew.open_as(crew.add_agent("alice"))
    number = _ticket(crew.owner)
    try:
        with pytest.raises(StoreError, match="row-level security"), alice.session(write=True) as s:
            handle_time.record(s, "bob", {number: 5}, at=DAY)
    finally:
        alice.dispose()
        bob.dispose()
