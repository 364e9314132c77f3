"""Team mode on the machine's PostgreSQL: roles, privileges and an actor no client can forge.

Each test gets a throwaway schema and throwaway roles (tests/team_helpers.py), dropped after.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from supportdesk.desk import directory, team, tickets
from supportdesk.desk.events import Change
from supportdesk.errors import StoreError, ValidationError
from supportdesk.store import Store
from supportdesk.store.models import Event
from tests.conftest import PgSchemas
from tests.team_helpers import TeamStore, team_store

pytestmark = pytest.mark.postgres


@pytest.fixture
def crew(pg_schemas: PgSchemas) -> Iterator[TeamStore]:
    with team_store(pg_schemas) as made:
        with made.owner.session(write=True) as s:
            directory.ensure_queue(s, "billing")
        yield made


def _new_ticket(store: Store, actor: str) -> int:
    with store.session(write=True) as s:
        return tickets.create_ticket(
            s,
            subject="Refund please",
            requester_email="jo@acme.example",
            queue="billing",
            change=Change.by(actor),
        ).number


def _events(store: Store) -> list[tuple[str, str, str | None]]:
    with store.session() as s:
        rows = s.exec(select(Event).order_by(col(Event.id))).all()
        return [(e.action, e.actor, e.role) for e in rows]


def _permission_denied(store: Store, statement: str) -> str:
    with pytest.raises(sa.exc.ProgrammingError) as caught, store.engine.begin() as conn:
        conn.exec_driver_sql(statement)
    assert caught.value.orig is not None
    assert caught.value.orig.sqlstate == "42501", caught.value.orig  # type: ignore[attr-defined]
    return str(caught.value.orig)


def test_the_event_names_the_role_that_made_the_change(crew: TeamStore) -> None:
    alice_role = crew.add_agent("alice")
    alice = crew.open_as(alice_role)
    try:
        assert team.session_actor(alice) == "agent:alice"
        number = _new_ticket(alice, "agent:alice")
        with alice.session(write=True) as s:
            tickets.add_note(s, number, "called the customer", Change.by("agent:alice"))
    finally:
        alice.dispose()
    assert _events(crew.owner) == [
        ("create", "agent:alice", alice_role),
        ("note", "agent:alice", alice_role),
    ]


def test_an_agent_cannot_record_another_actor(crew: TeamStore) -> None:
    crew.add_agent("bob")
    alice = crew.open_as(crew.add_agent("alice"))
    try:
        with pytest.raises(
            StoreError, match=r"refused this: role .* records changes as agent:alice"
        ):
            _new_ticket(alice, "agent:bob")
        message = _permission_denied(
            alice,
            "INSERT INTO events (batch_id, actor, action, created_at) "
            "VALUES ('b', 'console:someone', 'note', now())",
        )
        assert "not as console:someone" in message
    finally:
        alice.dispose()
    assert _events(crew.owner) == []


def test_an_agents_own_temporary_tables_do_not_change_the_check(crew: TeamStore) -> None:
    """A session's temporary tables come first on its search path unless the path says
    otherwise: the check must read the store's team_roles, not one the agent made."""
    crew.add_agent("bob")
    alice = crew.open_as(crew.add_agent("alice"))
    try:
        with pytest.raises(sa.exc.ProgrammingError) as caught, alice.engine.begin() as conn:
            conn.exec_driver_sql("CREATE TEMP TABLE team_roles (role text, actor text)")
            conn.exec_driver_sql("INSERT INTO team_roles SELECT session_user::text, 'agent:bob'")
            conn.exec_driver_sql(
                "INSERT INTO events (batch_id, actor, action, created_at) "
                "VALUES ('b', 'agent:bob', 'note', now())"
            )
        assert "not as agent:bob" in str(caught.value.orig)
    finally:
        alice.dispose()
    assert _events(crew.owner) == []


def test_the_role_column_is_the_servers_not_the_clients(crew: TeamStore) -> None:
    alice_role = crew.add_agent("alice")
    bob_role = crew.add_agent("bob")
    alice = crew.open_as(alice_role)
    try:
        _permission_denied(
            alice,
            "INSERT INTO events (batch_id, actor, action, created_at, role) "
            f"VALUES ('b', 'agent:alice', 'note', now(), '{bob_role}')",
        )
        with alice.engine.begin() as conn:
            # SET ROLE changes current_user, not the session's login role.
            conn.exec_driver_sql(f'SET ROLE "{crew.group}"')
            conn.exec_driver_sql(
                "INSERT INTO events (batch_id, actor, action, created_at) "
                "VALUES ('b', 'agent:alice', 'note', now())"
            )
    finally:
        alice.dispose()
    assert [role for _, _, role in _events(crew.owner)] == [alice_role]


def test_a_bulk_insert_is_checked_as_a_whole(crew: TeamStore) -> None:
    alice = crew.open_as(crew.add_agent("alice"))
    try:
        message = _permission_denied(
            alice,
            "INSERT INTO events (batch_id, actor, action, created_at) "
            "SELECT 'b', CASE WHEN i = 500 THEN 'agent:bob' ELSE 'agent:alice' END, 'note', "
            "now() FROM generate_series(1, 1000) AS i",
        )
        assert "not as agent:bob" in message
    finally:
        alice.dispose()
    assert _events(crew.owner) == []


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET actor = 'agent:bob'",
        "DELETE FROM events",
        "TRUNCATE events",
        "CREATE TABLE sneaky (id int)",
        "DROP TABLE tickets",
        "ALTER TABLE events DISABLE TRIGGER events_actor",
        "INSERT INTO team_roles (role, actor, kind, created_at) "
        "VALUES ('x', 'agent:x', 'agent', now())",
        "UPDATE team_roles SET actor = 'agent:bob'",
        "UPDATE store_meta SET value = 'x'",
    ],
)
def test_an_agent_role_cannot_rewrite_history_or_the_schema(
    crew: TeamStore, statement: str
) -> None:
    alice = crew.open_as(crew.add_agent("alice"))
    try:
        number = _new_ticket(alice, "agent:alice")
        _permission_denied(alice, statement)
        with alice.session() as s:  # and the ordinary work still goes on
            assert tickets.get_ticket(s, number).status == "new"
    finally:
        alice.dispose()
    assert _events(crew.owner)[0][:2] == ("create", "agent:alice")


def test_a_service_records_automatic_actors_only(crew: TeamStore) -> None:
    added = team.add_service(crew.owner, "sync", role=crew.role("sync"))
    assert added.actor == "system:sync"
    sync = crew.open_as(added.role)
    try:
        _new_ticket(sync, "system:ingest")
        with pytest.raises(StoreError, match="not as agent:alice"):
            _new_ticket(sync, "agent:alice")
    finally:
        sync.dispose()
    assert _events(crew.owner) == [("create", "system:ingest", added.role)]


def test_a_team_member_without_an_actor_cannot_write_events(
    crew: TeamStore, pg_schemas: PgSchemas
) -> None:
    stray = crew.role("stray")
    with pg_schemas.admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE ROLE "{stray}" LOGIN IN ROLE "{crew.group}"')
    store = crew.open_as(stray)
    try:
        with pytest.raises(StoreError, match="is in the team but is no agent"):
            _new_ticket(store, "agent:alice")
    finally:
        store.dispose()


def test_add_agent_is_one_transaction_and_keeps_the_password_as_a_scram_verifier(
    crew: TeamStore, pg_schemas: PgSchemas
) -> None:
    role = crew.role("carol")
    team.add_agent(crew.owner, "carol", email="carol@example.com", role=role, password="s3cret")
    with pytest.raises(ValidationError, match="already exists"):
        team.add_agent(crew.owner, "dave", email="carol@example.com", role=crew.role("dave"))
    with pg_schemas.admin.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT rolname, rolpassword FROM pg_authid WHERE rolname LIKE :p"),
            {"p": f"{crew.prefix}%"},
        ).all()
    assert [
        (name, password.startswith("SCRAM-SHA-256$")) for name, password in stored if password
    ] == [(role, True)]
    assert "s3cret" not in str(stored)
    assert {name for name, _ in stored} == {crew.group, role}  # no role left by the failed add
    assert [(m.role, m.actor, m.kind, m.exists) for m in team.members(crew.owner)] == [
        (role, "agent:carol", "agent", True)
    ]


def test_init_refuses_a_group_that_would_hand_agents_more_power(crew: TeamStore) -> None:
    with crew.owner.engine.connect() as conn:
        owner = conn.execute(sa.text("SELECT current_user")).scalar_one()
    for strong in (owner, "postgres"):
        with pytest.raises(ValidationError, match=f"role '{strong}' cannot be the team's group"):
            team.init(crew.owner, strong)
    login = crew.role("login")
    with crew.owner.engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE ROLE "{login}" LOGIN')
    with pytest.raises(ValidationError, match="cannot be the team's group"):
        team.init(crew.owner, login)
    assert team.init(crew.owner, crew.group) == crew.group  # its own group again: fine


def test_one_actor_one_role_and_roles_follow_the_directorys_handle(crew: TeamStore) -> None:
    first = team.add_service(crew.owner, "sync", role=crew.role("sync"))
    with pytest.raises(
        ValidationError, match=f"system:sync already has the database role '{first.role}'"
    ):
        team.add_service(crew.owner, "sync", role=crew.role("sync2"))
    handle = crew.prefix.upper() + "Carol"
    crew.roles.append(handle.lower())
    added = team.add_agent(crew.owner, handle, email="carol@example.com")
    assert added.role == handle.lower() and added.actor == f"agent:{handle.lower()}"
    assert {m.role for m in team.members(crew.owner)} == {first.role, handle.lower()}


def test_team_mode_refuses_sqlite(sqlite_store: Store) -> None:
    with pytest.raises(ValidationError, match="needs a PostgreSQL store"):
        team.init(sqlite_store)
    assert team.session_actor(sqlite_store) is None


def test_an_agent_role_can_do_a_days_work(crew: TeamStore) -> None:
    from supportdesk.desk import replies, undo
    from tests.replies_helpers import SETUP, customer_mail, receive

    sync = team.add_service(crew.owner, "sync", role=crew.role("sync"))
    with crew.owner.session(write=True) as s:
        directory.ensure_queue(s, "general")
    feeder = crew.open_as(sync.role)
    alice = crew.open_as(crew.add_agent("alice"))
    try:
        with feeder.session(write=True) as s:
            number = receive(s, customer_mail())
        with alice.session(write=True) as s:
            tickets.assign(s, number, "alice", Change.by("agent:alice"))
            tickets.add_tags(s, number, ["refund"], Change.by("agent:alice"))
        with alice.session(write=True) as s:
            undone = undo.undo_latest(s, "agent:alice")
        assert undone.batch_id
        with alice.session(write=True) as s:
            draft = replies.open_draft(s, number, "agent:alice", SETUP)
            replies.save_draft(s, draft.id, "agent:alice", body="A refund is on its way.")
        with alice.session(write=True) as s:
            queued = replies.send_draft(s, draft.id, "agent:alice", SETUP)
        assert queued is not None
    finally:
        feeder.dispose()
        alice.dispose()
    actors = {(actor, role) for _, actor, role in _events(crew.owner)}
    assert {role for _, role in actors} == {sync.role, f"{crew.prefix}alice"}
    assert {actor for actor, role in actors if role == sync.role} <= {"system:ingest"}
