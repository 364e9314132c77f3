"""views.ticket_position: a ticket's row in a view, counted rather than scanned, on both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from supportdesk.desk import directory, tickets, views
from supportdesk.desk.events import Change
from supportdesk.desk.query import compile_query, parse
from supportdesk.store import Store

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def desk(store: Store) -> Store:
    """Twenty tickets; several share an update time, so ties are broken by id."""
    with store.session(write=True) as s:
        directory.ensure_queue(s, "billing")
        directory.ensure_queue(s, "tech")
        for i in range(20):
            tickets.create_ticket(
                s,
                subject=f"Ticket {i}",
                requester_email=f"c{i}@acme.example",
                queue="billing" if i % 3 else "tech",
                priority=("low", "normal", "high", "urgent")[i % 4],
                status="open" if i % 5 else "solved",
                change=Change.by("agent:seed", at=START + timedelta(minutes=i // 3)),
            )
    return store


QUERIES = [
    "",
    "status:open",
    "queue:billing sort:priority",
    "sort:-priority,created",
    "sort:number",
    "sort:-number",
    "status:open sort:updated",
]


@pytest.mark.parametrize("query", QUERIES)
def test_position_is_the_row_in_the_listed_order(desk: Store, query: str) -> None:
    with desk.session() as s:
        compiled = compile_query(parse(query), s.connection(), me=None, now=START, whole_set=True)
        order = views.ticket_numbers(s, compiled.where, compiled.order_by)
        assert len(order) > 3
        for row, number in enumerate(order):
            assert views.ticket_position(s, number, compiled.where, compiled.order_by) == row


def test_a_ticket_outside_the_view_has_no_position(desk: Store) -> None:
    with desk.session() as s:
        compiled = compile_query(parse("status:open"), s.connection(), me=None, now=START)
        assert views.ticket_position(s, 1, compiled.where, compiled.order_by) is None  # solved
        assert views.ticket_position(s, 999, compiled.where, compiled.order_by) is None


def test_position_follows_a_change_that_reorders(desk: Store) -> None:
    with desk.session() as s:
        assert views.ticket_position(s, 2) == 18  # default order: newest update first
    with desk.session(write=True) as s:
        tickets.set_priority(s, 2, "urgent", Change.by("agent:alice", at=START + timedelta(1)))
    with desk.session() as s:
        assert views.ticket_position(s, 2) == 0
        assert views.ticket_numbers(s)[0] == 2
