"""Every path that changes a status leaves the same timestamps (desk.statuses.status_values).

Single change, bulk, a rule's status action, a reply sent with "set solved" and a customer's
answer reopening a ticket: each path moves tickets through the same statuses and the
tickets' (status, solved_at, closed_at) are compared, each time told relative to the event
that made the change. Runs on SQLite and PostgreSQL (the `store` fixture).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from supportdesk.desk import bulk, replies, tickets
from supportdesk.desk.events import COLUMNS, Change
from supportdesk.desk.rules import engine, storage
from supportdesk.desk.statuses import status_values
from supportdesk.store import Store
from supportdesk.store.models import Event, Ticket
from tests.replies_helpers import ALICE, SETUP, customer_mail, make_desk, receive

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
Move = Callable[[Store, int, str, datetime], None]


def _single(store: Store, number: int, status: str, at: datetime) -> None:
    with store.session(write=True) as s:
        tickets.set_status(s, number, status, Change.by(ALICE, at=at))


def _bulk(store: Store, number: int, status: str, at: datetime) -> None:
    with store.session(write=True) as s:
        ids = bulk.ids_for_numbers(s, [number])
        assert bulk.set_status(s, ids, status, Change.by(ALICE, at=at)).changed == 1


def _rule(store: Store, number: int, status: str, at: datetime) -> None:
    tag = f"to-{status}"
    with store.session(write=True) as s:
        tickets.add_tags(s, number, [tag], Change.by(ALICE, at=at - timedelta(minutes=1)))
        fired = engine.run_time_rules(s, at)
    assert [(f.rule, f.ticket) for f in fired] == [(tag, number)]


def _reply(store: Store, number: int, status: str, at: datetime) -> None:
    with store.session(write=True) as s:
        draft = replies.open_draft(s, number, ALICE, SETUP)
        replies.save_draft(s, draft.id, ALICE, body="Done.", status_after=status)
        assert replies.send_draft(s, draft.id, ALICE, SETUP, now=at).status == status


PATHS: dict[str, Move] = {"single": _single, "bulk": _bulk, "rule": _rule, "reply": _reply}


@pytest.fixture
def desk(store: Store) -> Store:
    with store.session(write=True) as s:
        make_desk(s)
        storage.add_rules(
            s,
            "\n".join(
                f'[[rules]]\nname = "to-{status}"\ntrigger = "time"\n'
                f'when = {{ query = "tag:to-{status} status:{before}" }}\n'
                f'actions = [{{ status = "{status}" }}]\n'
                for status, before in (("solved", "new"), ("closed", "solved"), ("open", "solved"))
            ),
        )
    return store


def _state(store: Store, number: int) -> tuple[str, str | None, str | None]:
    """Status, then solved_at and closed_at told as which status event set them."""
    with store.session() as s:
        ticket = tickets.get_ticket(s, number)
        moves = list(
            s.execute(
                select(col(Event.new_value), col(Event.created_at))
                .where(col(Event.ticket_id) == ticket.id, col(Event.action) == "status")
                .order_by(col(Event.id))
            )
        )

    def told(stamp: datetime | None) -> str | None:
        if stamp is None:
            return None
        which = [f"when {status}" for status, at in moves if at == stamp]
        assert which, f"{stamp} is no status event's time: {moves}"
        return which[-1]

    return ticket.status, told(ticket.solved_at), told(ticket.closed_at)


def _ticket(store: Store) -> int:
    with store.session(write=True) as s:
        return receive(s, customer_mail())


@pytest.mark.parametrize("path", PATHS)
def test_solve_then_close_stamps_the_same_times_on_every_path(desk: Store, path: str) -> None:
    move = PATHS[path]
    number = _ticket(desk)
    move(desk, number, "solved", T0)
    assert _state(desk, number) == ("solved", "when solved", None)
    move(desk, number, "closed", T0 + timedelta(hours=1))
    # Closing keeps the time it was solved.
    assert _state(desk, number) == ("closed", "when solved", "when closed")


@pytest.mark.parametrize("path", [*PATHS, "customer"])
def test_reopening_clears_solved_at_on_every_path(desk: Store, path: str) -> None:
    number = _ticket(desk)
    _single(desk, number, "solved", T0)
    if path == "customer":
        with desk.session(write=True) as s:
            receive(s, customer_mail(subject=f"Re: [#{number}] Refund please", body="Still no."))
    else:
        PATHS[path](desk, number, "open", T0 + timedelta(hours=1))
    assert _state(desk, number) == ("open", None, None)


def test_a_ticket_created_closed_was_solved_when_it_closed(desk: Store) -> None:
    """It used to get closed_at but no solved_at, unlike any ticket closed afterwards."""
    with desk.session(write=True) as s:
        made = tickets.create_ticket(
            s,
            subject="Done already",
            requester_email="jo@acme.example",
            queue="general",
            status="closed",
            change=Change.by(ALICE, at=T0),
        )
        assert (made.solved_at, made.closed_at) == (T0, T0)


def test_status_values_per_ticket_and_in_sql_agree(desk: Store) -> None:
    """The one rule gives the same columns as Python values and as an UPDATE's SET."""
    earlier = T0 - timedelta(days=1)
    for status in ("new", "open", "pending", "on-hold", "solved", "closed"):
        for solved in (None, earlier):
            with desk.session(write=True) as s:
                number = receive(s, customer_mail(subject=f"{status} {solved}"))
                ticket = tickets.get_ticket(s, number)
                s.execute(
                    Ticket.__table__.update()  # type: ignore[attr-defined]
                    .where(col(Ticket.id) == ticket.id)
                    .values(solved_at=solved)
                )
                s.execute(
                    Ticket.__table__.update()  # type: ignore[attr-defined]
                    .where(col(Ticket.id) == ticket.id)
                    .values(status_values(status, T0, Ticket.solved_at))
                )
                row = s.execute(
                    select(col(Ticket.status), col(Ticket.solved_at), col(Ticket.closed_at)).where(
                        col(Ticket.id) == ticket.id
                    )
                ).one()
            expected = status_values(status, T0, solved)
            assert tuple(row) == (status, expected["solved_at"], expected["closed_at"])
            assert expected["solved_at"] == {"solved": T0, "closed": solved or T0}.get(status)
            assert expected["closed_at"] == (T0 if status == "closed" else None)


def test_the_event_columns_are_the_table_s(store: Store) -> None:
    """`events.Row` is the one definition of an event row: it names every column but id and
    role, which the server sets (on PostgreSQL the session's login role; see store/team.py)."""
    table = Event.__table__  # type: ignore[attr-defined]
    assert set(COLUMNS) == {c.name for c in table.columns} - {"id", "role"}
