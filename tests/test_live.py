"""Change notices: a commit in one session reaches a waiting one (PostgreSQL LISTEN/NOTIFY,
with the change-mark poll as the fallback and SQLite's only way)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from supportdesk.desk import directory, tickets
from supportdesk.desk.events import Change
from supportdesk.desk.live import Changed, ChangeFeed
from supportdesk.store import Store, open_store
from supportdesk.store.listen import Listener
from tests.conftest import PgSchemas, pg_url
from tests.samples import HANG_SECONDS

ALICE = Change.by("agent:alice")


def _ticket(store: Store) -> tuple[int, int]:
    """A new ticket's (number, id)."""
    with store.session(write=True) as s:
        directory.ensure_queue(s, "billing")
        ticket = tickets.create_ticket(
            s, subject="Refund", requester_email="jo@acme.example", queue="billing", change=ALICE
        )
        assert ticket.id is not None
        return ticket.number, ticket.id


def _wait_for(feed: ChangeFeed) -> Changed:
    changed = feed.wait(HANG_SECONDS)
    assert changed is not None, "no change announced"
    return changed


@pytest.fixture
def other(pg_store: Store) -> Iterator[Store]:
    """A second session on the same PostgreSQL store, as another agent's console has."""
    second = open_store(pg_store.url)
    yield second
    second.dispose()


@pytest.mark.postgres
def test_a_commit_in_one_session_reaches_a_waiting_one(pg_store: Store, other: Store) -> None:
    feed = ChangeFeed(pg_store, poll_seconds=3600)
    try:
        assert feed.wait(0.01) == Changed(tickets=None) and feed.live  # read all once
        number, ticket_id = _ticket(other)
        assert _wait_for(feed) == Changed(tickets=frozenset({ticket_id}))
        with other.session(write=True) as s:
            tickets.add_note(s, number, "called back", ALICE)
        assert _wait_for(feed).touches(ticket_id)
        assert feed.wait(0.05) is None  # each change is heard once
    finally:
        feed.close()


@pytest.mark.postgres
def test_an_uncommitted_change_is_not_announced(pg_store: Store, other: Store) -> None:
    feed = ChangeFeed(pg_store, poll_seconds=3600)
    try:
        assert feed.wait(0.01) == Changed(tickets=None)  # listening: read all once
        with pytest.raises(RuntimeError), other.session(write=True) as s:
            directory.ensure_queue(s, "billing")
            tickets.create_ticket(
                s, subject="x", requester_email="jo@acme.example", queue="billing", change=ALICE
            )
            raise RuntimeError("rolled back")
        assert feed.wait(0.3) is None
    finally:
        feed.close()


@pytest.mark.postgres
def test_notices_carry_ticket_ids_only(pg_store: Store, other: Store) -> None:
    listener = Listener(pg_store.engine)
    try:
        number, _ = _ticket(other)
        with other.session(write=True) as s:
            tickets.add_note(s, number, "secret customer detail", ALICE)
        payloads = listener.wait(HANG_SECONDS)
        assert payloads
        assert all(re.fullmatch(r"\*|\d+(,\d+)*", p) for p in payloads), payloads
    finally:
        listener.close()


@pytest.mark.postgres
def test_another_schemas_store_is_not_heard(pg_store: Store, pg_schemas: PgSchemas) -> None:
    elsewhere = open_store(pg_url(pg_schemas.new()), create=True)
    feed = ChangeFeed(pg_store, poll_seconds=3600)
    try:
        assert feed.wait(0.01) == Changed(tickets=None)  # listening: read all once
        _ticket(elsewhere)
        assert feed.wait(0.3) is None
    finally:
        feed.close()
        elsewhere.dispose()


@pytest.mark.postgres
def test_a_dropped_listen_connection_falls_back_to_polling_and_comes_back(
    pg_store: Store, other: Store
) -> None:
    feed = ChangeFeed(pg_store, poll_seconds=0.05, retry_seconds=3600)
    try:
        assert feed.wait(0.01) == Changed(tickets=None) and feed.live  # read all once
        assert feed._listener is not None
        with other.engine.begin() as conn:
            killed = conn.execute(
                sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": feed._listener.backend_pid}
            ).scalar_one()
        assert killed
        # Lost: read everything once, since notices in flight went with the connection.
        assert _wait_for(feed) == Changed(tickets=None)
        assert not feed.live
        assert feed.wait(0.2) is None  # polling now, and nothing moved
        _ticket(other)
        assert _wait_for(feed) == Changed(tickets=None)  # the poll saw the mark move
        feed.retry_seconds = 0.0
        feed._next_try = 0.0  # the retry is due: listening again, and one full read
        assert _wait_for(feed) == Changed(tickets=None)
        assert feed.live
        _, ticket_id = _ticket(other)
        assert _wait_for(feed).tickets == frozenset({ticket_id})
    finally:
        feed.close()


def test_sqlite_waits_by_polling_the_change_mark(sqlite_store: Store) -> None:
    feed = ChangeFeed(sqlite_store, poll_seconds=0.02)
    try:
        assert feed.wait(0.1) is None and not feed.live
        writer = threading.Thread(target=_ticket, args=(sqlite_store,))
        writer.start()
        writer.join()
        assert _wait_for(feed) == Changed(tickets=None)
    finally:
        feed.close()
