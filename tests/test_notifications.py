"""Notifications on SQLite and on the machine's PostgreSQL: each cause makes exactly one, for
the right agent, in the transaction of the change (a rolled-back change leaves none)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from supportdesk.desk import bulk, directory, ingest, notifications, team, tickets
from supportdesk.desk.events import Change
from supportdesk.desk.rules import engine
from supportdesk.desk.sla import storage
from supportdesk.errors import NotFoundError
from supportdesk.mail.parse import parse_message
from supportdesk.store import Store
from supportdesk.store.models import Agent, Notification, Ticket
from tests.conftest import PgSchemas
from tests.team_helpers import TeamStore, team_store
from tests.test_bulk_cli import run
from tests.test_ingest import mail, take

POLICY = """\
[[sla]]
queue = "support"
timezone = "UTC"
first_response = "4h"
"""


@pytest.fixture
def desk(store: Store) -> Store:
    with store.session(write=True) as s:
        directory.ensure_queue(s, "general")
        directory.ensure_queue(s, "support")
        for handle in ("alice", "bob", "carol"):
            directory.add_agent(s, handle, email=f"{handle}@desk.example")
    return store


def new_ticket(store: Store, *, queue: str = "general", at: datetime | None = None) -> int:
    with store.session(write=True) as s:
        return tickets.create_ticket(
            s,
            subject="Refund please",
            requester_email="jo@acme.example",
            queue=queue,
            change=Change.by("agent:alice", at=at),
        ).number


def told(store: Store) -> list[tuple[str, int, str, str]]:
    """Every notification about one ticket as (agent handle, ticket number, kind, actor),
    oldest first."""
    with store.session() as s:
        rows = s.exec(
            select(Notification, Ticket.number)
            .join(Ticket, col(Ticket.id) == Notification.ticket_id)
            .order_by(col(Notification.id))
        ).all()
        handles = {a.id: a.handle for a in directory.list_agents(s)}
        return [(handles[n.agent_id], number, n.kind, n.actor) for n, number in rows]


def told_of_batches(store: Store) -> list[tuple[str, str | None, int | None, str]]:
    """Every notification about a batch as (agent handle, batch id, count, actor)."""
    with store.session() as s:
        rows = s.exec(
            select(Notification)
            .where(col(Notification.ticket_id).is_(None))
            .order_by(col(Notification.id))
        ).all()
        handles = {a.id: a.handle for a in directory.list_agents(s)}
        return [(handles[n.agent_id], n.batch_id, n.ticket_count, n.actor) for n in rows]


def test_mentions_are_handles_after_an_at_sign_not_addresses() -> None:
    text = "@Bob please call a@b.c, cc @carol. Not @, not x@alice, again @bob and (@dave)"
    assert notifications.mentioned(text) == ["bob", "carol", "dave"]
    assert notifications.mentioned("mail bob@desk.example or @@bob") == []
    assert notifications.mentioned("@ops-team: see @x_y.") == ["ops-team", "x_y"]


def test_assigning_tells_the_assignee_once_and_not_when_they_take_it_themself(
    desk: Store,
) -> None:
    first, second = new_ticket(desk), new_ticket(desk)
    with desk.session(write=True) as s:
        tickets.assign(s, first, "bob", Change.by("agent:alice"))
        tickets.assign(s, first, "bob", Change.by("agent:alice"))  # no change, no event
        tickets.assign(s, second, "carol", Change.by("agent:carol"))  # took it themself
        tickets.assign(s, second, "bob", Change.by("rule:vip"))
    assert told(desk) == [
        ("bob", first, "assigned", "agent:alice"),
        ("bob", second, "assigned", "rule:vip"),
    ]


def test_a_ticket_created_assigned_tells_the_assignee(desk: Store) -> None:
    with desk.session(write=True) as s:
        number = tickets.create_ticket(
            s,
            subject="Hi",
            requester_email="jo@acme.example",
            queue="general",
            assignee="carol",
            change=Change.by("agent:alice"),
        ).number
    assert told(desk) == [("carol", number, "assigned", "agent:alice")]


def test_a_rolled_back_change_leaves_no_notification(desk: Store) -> None:
    number = new_ticket(desk)
    with pytest.raises(RuntimeError), desk.session(write=True) as s:
        tickets.assign(s, number, "bob", Change.by("agent:alice"))
        tickets.add_note(s, number, "@carol have a look", Change.by("agent:alice"))
        with s.no_autoflush:
            assert len(s.exec(select(Notification)).all()) == 2  # written, inside
        raise RuntimeError("the agent's command failed after the change")
    assert told(desk) == []
    with desk.session() as s:
        assert s.exec(select(Ticket).where(Ticket.number == number)).one().assignee_id is None


def test_bulk_assignment_tells_each_agent_once_per_batch(desk: Store) -> None:
    numbers = [new_ticket(desk) for _ in range(5)]
    with desk.session(write=True) as s:
        tickets.assign(s, numbers[0], "bob", Change.by("agent:alice"))
    with desk.session(write=True) as s:
        ids = bulk.ids_for_numbers(s, numbers)
        result = bulk.assign(s, ids, "bob", Change.by("agent:carol"))
    assert result.changed == 4
    assert told(desk) == [("bob", numbers[0], "assigned", "agent:alice")]
    assert told_of_batches(desk) == [("bob", result.batch_id, 4, "agent:carol")]
    with desk.session() as s:
        assert notifications.unread_count(s, "bob") == 2  # the batch counts once
        [batch, single] = notifications.listing(s, "bob")
    assert (batch.kind, batch.ticket, batch.count, batch.batch) == (
        "assigned_batch",
        None,
        4,
        result.batch_id,
    )
    # Enter on it lists the batch's tickets that are bob's, not all it changed.
    with desk.session() as s:
        assert notifications.query_of(s, "bob", batch.id) == (
            f"batch:{result.batch_id} assignee:bob"
        )
        assert notifications.query_of(s, "bob", single.id) == f"#{numbers[0]}"
    assert notifications.describe(batch) == "assigned you 4 tickets"
    assert notifications.batch_words(batch) == f"bulk by carol, batch {result.batch_id[:8]}"
    with desk.session(write=True) as s:
        bulk.assign(s, bulk.ids_for_numbers(s, numbers), "carol", Change.by("agent:carol"))
        bulk.unassign(s, bulk.ids_for_numbers(s, numbers), Change.by("agent:alice"))
    assert len(told(desk)) + len(told_of_batches(desk)) == 2  # carol took them; unassigning
    # A bulk command that assigns one ticket tells of that ticket, as assigning it would.
    with desk.session(write=True) as s:
        bulk.assign(s, bulk.ids_for_numbers(s, numbers[1:2]), "bob", Change.by("agent:alice"))
    assert told(desk)[-1] == ("bob", numbers[1], "assigned", "agent:alice")
    assert len(told_of_batches(desk)) == 1


def test_two_bulk_assignments_in_one_batch_each_tell_their_own(desk: Store) -> None:
    numbers = [new_ticket(desk) for _ in range(4)]
    change = Change.by("agent:alice")
    with desk.session(write=True) as s:
        bulk.assign(s, bulk.ids_for_numbers(s, numbers[:2]), "bob", change)
        bulk.assign(s, bulk.ids_for_numbers(s, numbers[:3]), "carol", change)
        # The same batch assigning bob again: his one notification for it stands.
        bulk.assign(s, bulk.ids_for_numbers(s, numbers[2:]), "bob", change)
    assert told(desk) == []
    batch = change.batch_id
    assert told_of_batches(desk) == [
        ("bob", batch, 2, "agent:alice"),
        ("carol", batch, 3, "agent:alice"),
    ]
    # Each one's Enter lists what the batch left them, not the four tickets it changed.
    from supportdesk.desk.query import Matching

    with desk.session() as s:
        for handle, theirs in (("carol", numbers[:2]), ("bob", numbers[2:])):
            [told_them] = notifications.listing(s, handle)
            query = notifications.query_of(s, handle, told_them.id)
            found = Matching(s, query, me=None, now=datetime.now(UTC)).ids()
            assert sorted(found) == bulk.ids_for_numbers(s, theirs), query
        assert len(Matching(s, f"batch:{batch}", me=None, now=datetime.now(UTC)).ids()) == 4


def test_a_batch_that_assigns_one_ticket_then_more_tells_once(desk: Store) -> None:
    """The session remembers whom it told of a batch whatever the first change's size: one
    ticket first (told as `assigned`), then three more, is one notification."""
    numbers = [new_ticket(desk) for _ in range(4)]
    change = Change.by("agent:alice")
    with desk.session(write=True) as s:
        bulk.assign(s, bulk.ids_for_numbers(s, numbers[:1]), "bob", change)
        bulk.assign(s, bulk.ids_for_numbers(s, numbers[1:]), "bob", change)
    assert told(desk) == [("bob", numbers[0], "assigned", "agent:alice")]
    assert told_of_batches(desk) == []
    with desk.session() as s:
        assert notifications.unread_count(s, "bob") == 1


SHAPED = (
    "INSERT INTO notifications (agent_id, kind, ticket_id, once, actor, created_at, batch_id,"
    " ticket_count) VALUES (:agent, :kind, :ticket, :once, 'agent:alice', :now, :batch, :count)"
)


def test_a_notifications_shape_follows_its_kind(desk: Store) -> None:
    """On both backends a CHECK refuses a row whose ticket, batch and count do not fit its
    kind, whoever writes it (row security aside): only `assigned_batch` has no ticket, a
    batch and a count above zero."""
    numbers = [new_ticket(desk)]
    with desk.session() as s:
        [ticket] = bulk.ids_for_numbers(s, numbers)
        bob = s.exec(select(Agent.id).where(Agent.handle == "bob")).one()
    base = {"agent": bob, "now": datetime.now(UTC), "batch": None, "count": None}
    junk = "\x1b]0;pwned\x07 zz"
    for i, row in enumerate(
        (
            {"kind": "assigned", "ticket": ticket, "batch": junk, "count": 5},
            {"kind": "assigned", "ticket": ticket, "batch": junk},
            {"kind": "mention", "ticket": ticket, "count": 5},
            {"kind": "assigned", "ticket": None},
            {"kind": "assigned", "ticket": None, "batch": "b1", "count": 5},
            {"kind": "assigned_batch", "ticket": ticket, "batch": "b1", "count": 5},
            {"kind": "assigned_batch", "ticket": None, "batch": "b1", "count": 0},
            {"kind": "assigned_batch", "ticket": None, "batch": "b1"},
            {"kind": "assigned_batch", "ticket": None, "count": 5},
        )
    ):
        with pytest.raises(sa.exc.IntegrityError), desk.engine.begin() as conn:
            conn.execute(sa.text(SHAPED), {**base, "once": f"x{i}", **row})
    good = {"kind": "assigned_batch", "ticket": None, "batch": "b1", "count": 5, "once": "ok"}
    with desk.engine.begin() as conn:
        conn.execute(sa.text(SHAPED), {**base, **good})
        conn.execute(sa.text(SHAPED), {**base, "kind": "assigned", "ticket": ticket, "once": "o"})


def test_every_face_filters_a_batch_id_like_mail_text(config: Path, desk: Store) -> None:
    """A batch id is text another role wrote: the CLI, the console's list and toast and
    Enter never hand its control characters to a terminal or run it as a query."""
    from supportdesk.tui.screens.notifications import line, toast_text

    junk = "\x1b]0;pwned\x07 zz"
    with desk.session() as s:
        bob = s.exec(select(Agent.id).where(Agent.handle == "bob")).one()
    row = {"agent": bob, "now": datetime.now(UTC), "ticket": None, "once": "j"}
    with desk.engine.begin() as conn:
        conn.execute(
            sa.text(SHAPED),
            {**row, "kind": "assigned_batch", "batch": junk, "count": 5},
        )
        conn.execute(sa.text("UPDATE notifications SET actor = :a"), {"a": "\x1b[2Jrule\x07"})
    code, out, _ = run(config, "notifications")
    assert code == 0 and "assigned you 5 tickets" in out
    code, as_json, _ = run(config, "notifications", "--json")
    with desk.session() as s:
        [found] = notifications.listing(s, "bob")
        with pytest.raises(NotFoundError):
            notifications.query_of(s, "bob", found.id)
    assert found.batch == junk and json.loads(as_json)["notifications"][0]["batch_id"] == junk
    shown = [out, *toast_text(found), line(found, datetime.now(UTC)).plain]
    for text in shown:
        assert "\x1b" not in text and "\x07" not in text, repr(text)


def test_one_notification_per_agent_and_batch_is_the_tables(desk: Store) -> None:
    numbers = [new_ticket(desk) for _ in range(2)]
    with desk.session(write=True) as s:
        result = bulk.assign(s, bulk.ids_for_numbers(s, numbers), "bob", Change.by("agent:al"))
    with desk.session() as s:
        row = s.exec(select(Notification)).one()
    again = {
        "agent_id": row.agent_id,
        "kind": "assigned_batch",
        "event_id": row.event_id,
        "once": "again",
        "actor": row.actor,
        "batch_id": result.batch_id,
        "ticket_count": 1,
    }
    with pytest.raises(sa.exc.IntegrityError), desk.session(write=True) as s:
        s.connection().execute(sa.insert(Notification), again)
    about_nothing = {**again, "batch_id": None}  # neither a ticket nor a batch
    with pytest.raises(sa.exc.IntegrityError), desk.session(write=True) as s:
        s.connection().execute(sa.insert(Notification), about_nothing)


def test_a_note_tells_the_agents_it_mentions_but_not_its_author(desk: Store) -> None:
    number = new_ticket(desk)
    with desk.session(write=True) as s:
        tickets.add_note(
            s,
            number,
            "@bob @nobody please mail jo@carol.example, and @alice (me) @bob again",
            Change.by("agent:alice"),
        )
    assert told(desk) == [("bob", number, "mention", "agent:alice")]


def test_editing_a_note_tells_only_the_agents_it_mentions_anew(desk: Store) -> None:
    from supportdesk.desk import notes

    number = new_ticket(desk)
    with desk.session(write=True) as s:
        note = tickets.add_note(s, number, "@bob have a look", Change.by("agent:alice"))
    with desk.session(write=True) as s:
        notes.edit_note(s, note.id, "@bob and @carol have a look", Change.by("agent:alice"))  # type: ignore[arg-type]
    assert told(desk) == [
        ("bob", number, "mention", "agent:alice"),
        ("carol", number, "mention", "agent:alice"),
    ]


def test_a_customer_answer_tells_the_tickets_agent(desk: Store) -> None:
    first = take(desk, mail("Broken", message_id="<m1@acme.example>"))
    unassigned = take(desk, mail("Other", message_id="<m2@acme.example>"))
    with desk.session(write=True) as s:
        tickets.assign(s, first.ticket_number, "bob", Change.by("agent:alice"))
    answer = mail("Re: Broken", message_id="<m3@acme.example>", in_reply_to="<m1@acme.example>")
    assert take(desk, answer).ticket_number == first.ticket_number
    take(
        desk,
        mail("Re: Other", message_id="<m4@acme.example>", in_reply_to="<m2@acme.example>"),
    )
    take(desk, answer)  # the same message again is a duplicate: nobody hears twice
    bob = [t for t in told(desk) if t[2] == "reply"]
    assert bob == [("bob", first.ticket_number, "reply", "system:ingest")]
    assert unassigned.ticket_number not in [t[1] for t in told(desk)]


def test_an_agents_own_mail_on_the_ticket_is_no_answer(desk: Store) -> None:
    first = take(desk, mail("Broken", message_id="<m1@acme.example>"))
    with desk.session(write=True) as s:
        tickets.assign(s, first.ticket_number, "bob", Change.by("agent:alice"))
    take(
        desk,
        mail(
            "Re: Broken",
            sender="Carol <carol@desk.example>",
            message_id="<m5@desk.example>",
            in_reply_to="<m1@acme.example>",
        ),
    )
    assert [t[2] for t in told(desk)] == ["assigned"]


def test_a_ticket_about_to_breach_warns_its_agent_once_per_due_time(desk: Store) -> None:
    start = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
    with desk.session(write=True) as s:
        storage.set_policies(s, POLICY, at=start)
    number = new_ticket(desk, queue="support", at=start)
    other = new_ticket(desk, queue="support", at=start + timedelta(hours=2))
    with desk.session(write=True) as s:
        tickets.assign(s, number, "carol", Change.by("agent:carol", at=start))
        tickets.assign(s, other, "carol", Change.by("agent:carol", at=start))
        due = s.exec(select(Ticket).where(Ticket.number == number)).one().sla_due
    assert due is not None
    due_at = datetime.fromtimestamp(due, UTC)
    for minutes in (45, 20, 10, 1):  # 45: not yet; then once, however often it runs
        with desk.session(write=True) as s:
            engine.run_time_rules(s, due_at - timedelta(minutes=minutes))
    with desk.session(write=True) as s:
        engine.run_time_rules(s, due_at + timedelta(minutes=5))  # breached: too late to warn
    assert told(desk) == [("carol", number, "sla", "system:sla")]


def test_listing_counting_and_marking_read(desk: Store) -> None:
    numbers = [new_ticket(desk) for _ in range(3)]
    with desk.session(write=True) as s:
        for number in numbers:
            tickets.assign(s, number, "bob", Change.by("agent:alice"))
        tickets.assign(s, numbers[0], "carol", Change.by("agent:alice"))
    with desk.session(write=True) as s:
        listed = notifications.listing(s, "bob")  # numbers[0] is carol's now: not bob's news
        assert [n.ticket for n in listed] == numbers[:0:-1]
        assert notifications.unread_count(s, "bob") == 2
        assert notifications.mark_read(s, "bob", [listed[0].id]) == 1
        assert notifications.mark_read(s, "bob", [listed[0].id]) == 0
        assert notifications.unread_count(s, "bob") == 1
        carols = notifications.listing(s, "carol")[0].id
        with pytest.raises(NotFoundError, match=f"no notification {carols} for bob"):
            notifications.mark_read(s, "bob", [carols])
        assert notifications.query_of(s, "carol", carols) == f"#{numbers[0]}"
        assert [n.ticket for n in notifications.listing(s, "bob", unread_only=True)] == [numbers[1]]
        assert notifications.mark_read(s, "bob", None) == 1
        assert notifications.unread_count(s, "bob") == 0
        assert notifications.unread_count(s, "carol") == 1


# -- a team store: each agent reads and marks only their own


@pytest.fixture
def crew(pg_schemas: PgSchemas) -> Iterator[TeamStore]:
    with team_store(pg_schemas) as made:
        with made.owner.session(write=True) as s:
            directory.ensure_queue(s, "general")
        yield made


def _count(store: Store, statement: str) -> int:
    with store.engine.begin() as conn:
        return int(conn.exec_driver_sql(statement).scalar_one())


@pytest.mark.postgres
def test_an_agent_role_reads_and_marks_only_their_own(crew: TeamStore) -> None:
    alice = crew.open_as(crew.add_agent("alice"))
    bob = crew.open_as(crew.add_agent("bob"))
    sync = crew.open_as(team.add_service(crew.owner, "sync", role=crew.role("sync")).role)
    try:
        numbers = [new_ticket(alice) for _ in range(2)]
        with alice.session(write=True) as s:  # alice tells bob: her insert is allowed
            tickets.assign(s, numbers[0], "bob", Change.by("agent:alice"))
            tickets.add_note(s, numbers[1], "@bob look", Change.by("agent:alice"))
        with bob.session(write=True) as s:
            tickets.assign(s, numbers[1], "alice", Change.by("agent:bob"))
        assert _count(alice, "SELECT count(*) FROM notifications") == 1
        assert _count(bob, "SELECT count(*) FROM notifications") == 2
        assert _count(sync, "SELECT count(*) FROM notifications") == 3  # the digest reads all
        with alice.session() as s:
            assert notifications.listing(s, "bob") == []
            assert [n.kind for n in notifications.listing(s, "alice")] == ["assigned"]
        with bob.session() as s:
            bobs = [n.id for n in notifications.listing(s, "bob")]
        with alice.session(write=True) as s, pytest.raises(NotFoundError):
            notifications.mark_read(s, "bob", bobs)
        # Behind the domain's back: row security hides bob's rows from alice's UPDATE.
        assert _updated(alice, "UPDATE notifications SET read_at = now()") == 1
        with bob.session() as s:
            assert notifications.unread_count(s, "bob") == 2
        _permission_denied(bob, "DELETE FROM notifications")
        _permission_denied(bob, "UPDATE notifications SET kind = 'sla'")
        _permission_denied(bob, "UPDATE notifications SET agent_id = agent_id")
        with bob.session(write=True) as s:
            assert notifications.mark_read(s, "bob", None) == 2
    finally:
        for store in (alice, bob, sync):
            store.dispose()


@pytest.mark.postgres
def test_a_bulk_assignment_tells_each_agent_once_and_only_they_read_it(crew: TeamStore) -> None:
    """A lead's bulk command, through row security: one row per agent and batch, which only
    that agent's role reads, counts and marks."""
    lead = crew.open_as(crew.add_agent("alice"))
    bob = crew.open_as(crew.add_agent("bob"))
    carol = crew.open_as(crew.add_agent("carol"))
    try:
        numbers = [new_ticket(lead) for _ in range(5)]
        change = Change.by("agent:alice")
        with lead.session(write=True) as s:
            to_bob = bulk.assign(s, bulk.ids_for_numbers(s, numbers[:3]), "bob", change)
            bulk.assign(s, bulk.ids_for_numbers(s, numbers[3:]), "carol", change)
        assert told(crew.owner) == []
        assert told_of_batches(crew.owner) == [
            ("bob", to_bob.batch_id, 3, "agent:alice"),
            ("carol", to_bob.batch_id, 2, "agent:alice"),
        ]
        assert _count(lead, "SELECT count(*) FROM notifications") == 0
        assert _count(bob, "SELECT count(*) FROM notifications") == 1
        with bob.session() as s:
            [mine] = notifications.listing(s, "bob")
            assert (mine.count, mine.batch) == (3, to_bob.batch_id)
            assert notifications.unread_count(s, "bob") == 1
            assert (
                notifications.query_of(s, "bob", mine.id) == f"batch:{to_bob.batch_id} assignee:bob"
            )
        with carol.session() as s:
            assert [n.count for n in notifications.listing(s, "carol")] == [2]
            assert notifications.listing(s, "bob") == []
        assert _updated(carol, "UPDATE notifications SET read_at = now()") == 1  # hers only
        with bob.session(write=True) as s:
            assert notifications.mark_read(s, "bob", None) == 1
    finally:
        for store in (lead, bob, carol):
            store.dispose()


def _updated(store: Store, statement: str) -> int:
    with store.engine.begin() as conn:
        return int(conn.exec_driver_sql(statement).rowcount)


def _permission_denied(store: Store, statement: str) -> None:
    with pytest.raises(sa.exc.ProgrammingError) as caught, store.engine.begin() as conn:
        conn.exec_driver_sql(statement)
    assert caught.value.orig is not None
    assert caught.value.orig.sqlstate == "42501", caught.value.orig  # type: ignore[attr-defined]


# -- the CLI, on both backends


@pytest.fixture
def config(tmp_path: Path, desk: Store) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'database_url = "{desk.url}"\nagent = "bob"\n', encoding="utf-8")
    return path


def test_the_cli_lists_and_marks(config: Path, desk: Store) -> None:
    numbers = [new_ticket(desk) for _ in range(3)]
    assert run(config, "notifications")[:2] == (0, "no notifications for bob\n")
    code, out, _ = run(config, "tickets", "assign", "bob", "all", "--yes", "--json")
    assert code == 0, out  # bob assigned them to himself: nothing to tell
    assert json.loads(run(config, "notifications", "--json")[1])["notifications"] == []
    with desk.session(write=True) as s:
        ids = bulk.ids_for_numbers(s, numbers)
        bulk.unassign(s, ids, Change.by("agent:alice"))
        for number in numbers:
            tickets.assign(s, number, "bob", Change.by("agent:alice"))
    code, out, _ = run(config, "notifications", "--json")
    listed = json.loads(out)
    assert code == 0 and listed["unread"] == 3
    assert sorted(n["ticket"] for n in listed["notifications"]) == numbers
    assert {n["kind"] for n in listed["notifications"]} == {"assigned"}
    first = listed["notifications"][0]["id"]
    code, out, _ = run(config, "notifications", "read", str(first), "--json")
    assert (code, json.loads(out)) == (0, {"agent": "bob", "marked": 1, "unread": 2})
    code, out, _ = run(config, "notifications", "--unread")
    assert code == 0 and "2 unread for bob" in out and f"#{numbers[0]}" not in out.split("\n")[3]
    assert run(config, "notifications", "read", "999")[0] == 1
    code, _, err = run(config, "notifications", "read")
    assert code == 1 and "name notification ids or --all" in err and "Traceback" not in err
    code, out, _ = run(config, "notifications", "read", "--all")
    assert code == 0 and out.startswith("2 marked read; 0 unread for bob")
    code, out, _ = run(config, "notifications", "list", "--agent", "carol", "--json")
    assert code == 0 and json.loads(out)["agent"] == "carol"
    code, _, err = run(config, "notifications", "--agent", "zed")
    assert code != 0 and "no agent 'zed'" in err


def test_the_cli_lists_a_bulk_assignment_once_with_its_count_and_batch(
    config: Path, desk: Store
) -> None:
    numbers = [new_ticket(desk) for _ in range(3)]
    with desk.session(write=True) as s:
        result = bulk.assign(s, bulk.ids_for_numbers(s, numbers), "bob", Change.by("agent:al"))
    code, out, _ = run(config, "notifications", "--json")
    listed = json.loads(out)
    assert code == 0 and listed["unread"] == 1
    [batch] = listed["notifications"]
    assert {k: batch[k] for k in ("kind", "ticket", "subject", "batch_id", "count", "actor")} == {
        "kind": "assigned_batch",
        "ticket": None,
        "subject": "",
        "batch_id": result.batch_id,
        "count": 3,
        "actor": "agent:al",
    }
    code, out, _ = run(config, "notifications")
    assert code == 0 and "assigned you 3 tickets" in out
    assert f"batch:{result.batch_id[:8]}" in out and "1 unread for bob" in out
    # What it names lists those tickets, by the whole id or its start.
    for shown in (result.batch_id, result.batch_id[:8]):
        code, out, _ = run(config, "tickets", "list", f"batch:{shown}", "--ids")
        assert (code, sorted(int(n) for n in out.split())) == (0, numbers)


def test_the_warning_window_is_the_configs(desk: Store, tmp_path: Path) -> None:
    """`[sla] warn_minutes = 60` warns 45 minutes ahead, where the default 30 does not, and
    `rules run` reads it from the config."""
    days = "".join(
        f'{day} = "00:00-23:59"\n' for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    )
    number, due_at = _sla_ticket(
        desk, "carol", start=datetime.now(UTC) - timedelta(hours=3), hours=days
    )
    with desk.session(write=True) as s:
        engine.run_time_rules(s, due_at - timedelta(minutes=45))
    assert told(desk) == []
    config = tmp_path / "config.toml"
    config.write_text(f'database_url = "{desk.url}"\n[sla]\nwarn_minutes = 30\n')
    assert run(config, "rules", "run", "--json")[0] == 0  # due in an hour: not yet
    assert told(desk) == []
    config.write_text(f'database_url = "{desk.url}"\n[sla]\nwarn_minutes = 70\n')
    assert run(config, "rules", "run", "--json")[0] == 0
    assert told(desk) == [("carol", number, "sla", "system:sla")]


def _sla_ticket(
    store: Store,
    handle: str,
    *,
    start: datetime = datetime(2026, 11, 16, 8, 0, tzinfo=UTC),
    hours: str = "",
) -> tuple[int, datetime]:
    """A ticket of `handle`'s under a 4-hour first response (from `start`, in `hours`, the
    policy's [sla.hours] lines: default Monday to Friday 9 to 17), its due time."""
    with store.session(write=True) as s:
        policy = POLICY + (f"[sla.hours]\n{hours}" if hours else "")
        storage.set_policies(s, policy, at=start)
    number = new_ticket(store, queue="support", at=start)
    with store.session(write=True) as s:
        tickets.assign(s, number, handle, Change.by(f"agent:{handle}", at=start))
        due = s.exec(select(Ticket).where(Ticket.number == number)).one().sla_due
    assert due is not None
    return number, datetime.fromtimestamp(due, UTC)


def test_no_cause_tells_anyone_when_its_transaction_rolls_back(desk: Store) -> None:
    """Each of the four causes, rolled back after it wrote: nothing is left; committed, one."""
    number = new_ticket(desk)
    _, due_at = _sla_ticket(desk, "carol")
    first = take(desk, mail("Broken", message_id="<r1@acme.example>"))
    with desk.session(write=True) as s:
        tickets.assign(s, first.ticket_number, "bob", Change.by("agent:bob"))
    answer = mail("Re: Broken", message_id="<r2@acme.example>", in_reply_to="<r1@acme.example>")
    causes: dict[str, Callable[[Session], object]] = {
        "assigned": lambda s: tickets.assign(s, number, "bob", Change.by("agent:alice")),
        "mention": lambda s: tickets.add_note(s, number, "@bob", Change.by("agent:alice")),
        "sla": lambda s: engine.run_time_rules(s, due_at - timedelta(minutes=5)),
        "reply": lambda s: ingest.ingest(s, parse_message(answer), answer, default_queue="general"),
    }
    for kind, cause in causes.items():
        with pytest.raises(RuntimeError), desk.session(write=True) as s:
            cause(s)
            s.flush()
            assert [n.kind for n in s.exec(select(Notification)).all()] == [kind]
            raise RuntimeError("rolled back")
        assert told(desk) == [], kind
    for cause in causes.values():
        with desk.session(write=True) as s:
            cause(s)
    assert sorted((who, kind) for who, _, kind, _ in told(desk)) == [
        ("bob", "assigned"),
        ("bob", "mention"),
        ("bob", "reply"),
        ("carol", "sla"),
    ]


@pytest.mark.postgres
def test_sync_and_an_agents_rule_run_tell_through_row_security(crew: TeamStore) -> None:
    """The sync role tells bob of an answer; a time-rule run by the feeder's role warns carol
    of her ticket once (alice's run warns nobody), and alice cannot read the warning."""
    bob = crew.open_as(crew.add_agent("bob"))
    crew.add_agent("carol")
    alice = crew.open_as(crew.add_agent("alice"))
    sync = crew.open_as(team.add_service(crew.owner, "sync", role=crew.role("sync")).role)
    feeder = crew.open_as(team.add_service(crew.owner, "feeder", role=crew.role("feeder")).role)
    try:
        with crew.owner.session(write=True) as s:
            directory.ensure_queue(s, "support")
        first = take(sync, mail("Broken", message_id="<t1@acme.example>"))
        with alice.session(write=True) as s:
            tickets.assign(s, first.ticket_number, "bob", Change.by("agent:alice"))
        answer = mail("Re: Broken", message_id="<t2@acme.example>", in_reply_to="<t1@acme.example>")
        take(sync, answer)
        sla_number, due_at = _sla_ticket(crew.owner, "carol")
        with alice.session(write=True) as s:  # an agent's run warns nobody: only a service may
            engine.run_time_rules(s, due_at - timedelta(minutes=6))
        assert [k for _, _, k, _ in told(crew.owner)] == ["assigned", "reply"]
        for _ in range(2):
            with feeder.session(write=True) as s:
                engine.run_time_rules(s, due_at - timedelta(minutes=5))
        assert sorted((who, n, kind) for who, n, kind, _ in told(crew.owner)) == sorted(
            [
                ("bob", first.ticket_number, "assigned"),
                ("bob", first.ticket_number, "reply"),
                ("carol", sla_number, "sla"),
            ]
        )
        with alice.session() as s:
            assert notifications.listing(s, "carol") == []
        with bob.session() as s:
            assert [n.kind for n in notifications.listing(s, "bob")] == ["reply", "assigned"]
    finally:
        for store in (alice, sync, bob, feeder):
            store.dispose()


def _forged(store: Store, statement: str, params: dict[str, object]) -> None:
    with pytest.raises(sa.exc.ProgrammingError) as caught, store.engine.begin() as conn:
        conn.execute(sa.text(statement), params)
    assert caught.value.orig is not None
    assert caught.value.orig.sqlstate == "42501", caught.value.orig  # type: ignore[attr-defined]


FORGE = (
    "INSERT INTO notifications (agent_id, kind, ticket_id, event_id, once, actor, created_at)"
    " VALUES (:agent, :kind, :ticket, :event, :once, :actor, now())"
)


@pytest.mark.postgres
def test_an_agent_cannot_forge_a_notification(crew: TeamStore) -> None:
    """Row security lets a role insert only what an event it wrote caused, in that event's
    name and on its ticket; a warning without an event only from a service. The domain's own
    paths (single and bulk assignment, a mention, sync's answer) still tell."""
    alice = crew.open_as(crew.add_agent("alice"))
    bob = crew.open_as(crew.add_agent("bob"))
    crew.add_agent("carol")
    sync = crew.open_as(team.add_service(crew.owner, "sync", role=crew.role("sync")).role)
    try:
        with crew.owner.session() as s:
            ids = {a.handle: a.id for a in directory.list_agents(s)}
        numbers = [new_ticket(alice) for _ in range(3)]
        with crew.owner.session() as s:
            ticket_ids = bulk.ids_for_numbers(s, numbers)
            bobs_event = s.execute(
                sa.text("SELECT max(id) FROM events WHERE role = :r"), {"r": crew.role("bob")}
            ).scalar_one_or_none()
        alices_event = _count(crew.owner, "SELECT max(id) FROM events")
        row = {
            "agent": ids["bob"],
            "kind": "assigned",
            "ticket": ticket_ids[0],
            "once": "forged",
            "actor": "agent:lead",
        }
        # No event, an event alice wrote under another name, one on another ticket, one of
        # bob's (none yet, then the owner's), an agent that does not exist: all refused.
        for event, changes in (
            (None, {}),
            (alices_event, {}),
            (alices_event, {"actor": "agent:alice", "ticket": ticket_ids[1]}),
            (bobs_event, {"actor": "agent:alice"}),
            (None, {"agent": 999999, "kind": "sla", "actor": "system:sla"}),
        ):
            _forged(alice, FORGE, {**row, "event": event, **changes})
        with crew.owner.session(write=True) as s:
            tickets.add_note(s, numbers[2], "by the owner", Change.by("system:owner"))
            owners = s.execute(sa.text("SELECT max(id) FROM events")).scalar_one()
        _forged(alice, FORGE, {**row, "event": owners, "ticket": ticket_ids[2]})
        # Her own events, in her own name, but not what they say: a note is no assignment,
        # an assignment of carol tells no bob, a mention tells no one who is not an agent.
        with alice.session(write=True) as s:
            tickets.add_note(s, numbers[1], "no mention", Change.by("agent:alice"))
            tickets.assign(s, numbers[2], "carol", Change.by("agent:alice"))
        note, assign = (
            _count(crew.owner, f"SELECT max(id) FROM events WHERE action = '{action}'")
            for action in ("note", "assign")
        )
        mine = {**row, "actor": "agent:alice"}
        _forged(alice, FORGE, {**mine, "event": note, "ticket": ticket_ids[1]})
        _forged(alice, FORGE, {**mine, "event": assign, "ticket": ticket_ids[2]})
        for kind in ("mention", "reply", "sla"):
            _forged(alice, FORGE, {**mine, "kind": kind, "event": assign, "ticket": ticket_ids[2]})
        _forged(
            alice,
            FORGE,
            {**mine, "kind": "mention", "event": note, "ticket": ticket_ids[1], "agent": 999999},
        )
        assert told(crew.owner) == [("carol", numbers[2], "assigned", "agent:alice")]
        # What carol's own assignment may tell her, but carrying a batch or a count: a
        # batch id is shown to her and run on Enter, so only the batch kind has one.
        shaped = (
            "INSERT INTO notifications (agent_id, kind, ticket_id, event_id, once, actor,"
            " created_at, batch_id, ticket_count) VALUES (:agent, :kind, :ticket, :event,"
            " :once, :actor, now(), :batch, :count)"
        )
        carols_own = {**mine, "agent": ids["carol"], "event": assign, "ticket": ticket_ids[2]}
        for batch_id, count in (("\x1b]0;pwned\x07 zz", 5), ("\x1b]0;pwned\x07 zz", None)):
            _forged(alice, shaped, {**carols_own, "batch": batch_id, "count": count})

        with alice.session(write=True) as s:
            tickets.assign(s, numbers[0], "bob", Change.by("agent:alice"))
            tickets.add_note(s, numbers[0], "@bob look", Change.by("agent:alice"))
        with alice.session(write=True) as s:
            result = bulk.assign(s, ticket_ids[1:], "bob", Change.by("agent:alice"))
        assert told_of_batches(crew.owner) == [("bob", result.batch_id, 2, "agent:alice")]
        # A batch notification must name an assign event of hers, of that batch, for that
        # agent: not one of another batch, not one assigning carol, not in another's name.
        with alice.session(write=True) as s:
            other = bulk.assign(s, ticket_ids[:2], "carol", Change.by("agent:alice"))
        batch_event, carols = (
            _count(
                crew.owner,
                f"SELECT min(id) FROM events WHERE batch_id = '{b}' AND action = 'assign'",
            )
            for b in (result.batch_id, other.batch_id)
        )
        forged = (
            "INSERT INTO notifications (agent_id, kind, event_id, once, actor, created_at,"
            " batch_id, ticket_count) VALUES (:agent, 'assigned_batch', :event, 'forged',"
            " :actor, now(), :batch, 100000)"
        )
        mine_batch = {"agent": ids["bob"], "actor": "agent:alice"}
        for event, batch, changes in (
            (carols, result.batch_id, {}),  # another batch's event
            (carols, other.batch_id, {}),  # it assigned carol, not bob
            (batch_event, result.batch_id, {"actor": "agent:lead"}),
        ):
            _forged(alice, forged, {**mine_batch, **changes, "event": event, "batch": batch})
        # Her own batch's event for bob, but more tickets than her batch gave him, or none.
        counted = forged.replace("100000)", ":count)")
        for count in (3, 0, -1):
            mine_count = {**mine_batch, "event": batch_event, "batch": result.batch_id}
            _forged(alice, counted, {**mine_count, "count": count})
        first = take(sync, mail("Broken", message_id="<f1@acme.example>"))
        with alice.session(write=True) as s:
            tickets.assign(s, first.ticket_number, "bob", Change.by("agent:alice"))
        answer = mail("Re: Broken", message_id="<f2@acme.example>", in_reply_to="<f1@acme.example>")
        take(sync, answer)
        assert sorted((who, n, kind) for who, n, kind, _ in told(crew.owner)) == sorted(
            [
                ("bob", numbers[0], "assigned"),
                ("carol", numbers[2], "assigned"),
                ("bob", numbers[0], "mention"),
                ("bob", first.ticket_number, "assigned"),
                ("bob", first.ticket_number, "reply"),
            ]
        )
    finally:
        for store in (alice, bob, sync):
            store.dispose()


def test_undoing_a_bulk_reassignment_retracts_its_assigned_notifications(desk: Store) -> None:
    from supportdesk.desk import undo

    numbers = [new_ticket(desk) for _ in range(3)]
    with desk.session(write=True) as s:
        tickets.assign(s, numbers[0], "carol", Change.by("agent:alice"))
        tickets.add_note(s, numbers[0], "@bob see", Change.by("agent:alice"))
    with desk.session(write=True) as s:
        bulk.assign(s, bulk.ids_for_numbers(s, numbers), "bob", Change.by("agent:alice"))
    with desk.session() as s:
        assert notifications.unread_count(s, "bob") == 2  # the mention, the batch of 3
        assert notifications.unread_count(s, "carol") == 0  # no longer hers
    with desk.session(write=True) as s:
        undo.undo_latest(s, "agent:alice")
    with desk.session(write=True) as s:
        assert [n.kind for n in notifications.listing(s, "bob")] == ["mention"]
        assert notifications.unread_count(s, "bob") == 1
        assert notifications.unread_count(s, "carol") == 1  # hers again
        assert [n.ticket for n in notifications.listing(s, "carol")] == [numbers[0]]
        assert notifications.mark_read(s, "bob", None) == 1


def test_a_deactivated_agent_is_not_told_of_a_mention(desk: Store) -> None:
    number = new_ticket(desk)
    with desk.session(write=True) as s:
        carol = s.exec(select(Agent).where(Agent.handle == "carol")).one()
        carol.active = False
        s.add(carol)
    with desk.session(write=True) as s:
        tickets.add_note(s, number, "@carol @bob have a look", Change.by("agent:alice"))
    assert told(desk) == [("bob", number, "mention", "agent:alice")]


def test_an_auto_reply_or_a_bounce_is_no_customer_answer(desk: Store) -> None:
    from tests.test_threading import dsn

    first = take(desk, mail("Broken", message_id="<a1@acme.example>"))
    with desk.session(write=True) as s:
        tickets.assign(s, first.ticket_number, "bob", Change.by("agent:alice"))
    away = mail(
        "Out of office: Re: Broken",
        message_id="<a2@acme.example>",
        in_reply_to="<a1@acme.example>",
        headers={"Auto-Submitted": "auto-replied"},
    )
    assert take(desk, away).ticket_number == first.ticket_number
    original = "Message-ID: <a1@acme.example>\r\nSubject: Broken\r\n"
    bounce = take(desk, dsn("<a4@mx.desk.example>", original))
    assert bounce.ticket_number == first.ticket_number
    assert [k for _, _, k, _ in told(desk)] == ["assigned"]
    take(desk, mail("Re: Broken", message_id="<a5@acme.example>", in_reply_to="<a1@acme.example>"))
    assert [k for _, _, k, _ in told(desk)] == ["assigned", "reply"]


def test_an_agents_newest_and_listing_have_an_index(desk: Store) -> None:
    """(agent_id, id): the newest id a console polls and the listing's ORDER BY id DESC."""
    with desk.engine.connect() as conn:
        indexes = sa.inspect(conn).get_indexes("notifications")
    assert {"name": "ix_notifications_agent_id", "columns": ["agent_id", "id"]} in [
        {"name": i["name"], "columns": i["column_names"]} for i in indexes
    ]


@pytest.mark.postgres
def test_the_feeders_digest_goes_through_row_security(crew: TeamStore) -> None:
    """The feeder's service role gathers and marks every away agent's notifications and
    queues their digests; an agent's role queues none, and may mark only their own mailed."""
    from supportdesk.config import parse_settings
    from supportdesk.desk import digest

    config = parse_settings(
        "[notifications]\ndigest_minutes = 5\n[[mailboxes]]\nname = 'support'\n"
        "address = 'support@desk.example'\nimap_host = '127.0.0.1'\nsmtp_host = '127.0.0.1'\n",
        Path("/tmp/test-config.toml"),
    )
    alice = crew.open_as(crew.add_agent("alice"))
    bob = crew.open_as(crew.add_agent("bob"))
    feeder = crew.open_as(team.add_service(crew.owner, "feeder", role=crew.role("feeder")).role)
    try:
        numbers = [new_ticket(alice) for _ in range(2)]
        with alice.session(write=True) as s:
            tickets.assign(s, numbers[0], "bob", Change.by("agent:alice"))
        with bob.session(write=True) as s:
            tickets.assign(s, numbers[1], "alice", Change.by("agent:bob"))
        now = datetime.now(UTC)
        with alice.session(write=True) as s:  # an agent's drain queues no one's digest
            assert digest.queue_due(s, config, now) == digest.Due([], [])
        _permission_denied(alice, "UPDATE notifications SET kind = 'mention'")
        assert _updated(alice, "UPDATE notifications SET mailed_at = now()") == 1  # hers only
        with feeder.session(write=True) as s:
            queued = digest.queue_due(s, config, now).queued
        assert [(q.handle, q.count) for q in queued] == [("bob", 1)]  # alice's was marked
        assert _count(feeder, "SELECT count(*) FROM notifications WHERE mailed_at IS NULL") == 0
        assert _count(alice, "SELECT count(*) FROM outbox WHERE kind = 'digest'") == 1
    finally:
        for store in (alice, bob, feeder):
            store.dispose()
