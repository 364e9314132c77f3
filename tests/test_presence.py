"""Presence: who else has a ticket open or is replying, expiring when a console stops beating."""

from __future__ import annotations

from datetime import timedelta

import pytest

from supportdesk.desk import directory, presence, tickets
from supportdesk.desk.events import Change
from supportdesk.desk.live import Changed, ChangeFeed
from supportdesk.desk.presence import Here
from supportdesk.errors import ValidationError
from supportdesk.store import Store, open_store
from supportdesk.store.models import utcnow
from tests.samples import HANG_SECONDS


def _tickets(store: Store, count: int) -> list[int]:
    with store.session(write=True) as s:
        directory.ensure_queue(s, "general")
        return [
            tickets.create_ticket(
                s,
                subject=f"t{i}",
                requester_email="jo@acme.example",
                queue="general",
                change=Change.by("agent:alice"),
            ).number
            for i in range(count)
        ]


def test_presence_appears_changes_and_expires(store: Store) -> None:
    first, second = _tickets(store, 2)
    now = utcnow()
    with store.session(write=True) as s:
        presence.beat(s, "c-alice", "agent:alice", first, now=now)
        presence.beat(s, "c-bob", "agent:bob", first, "replying", now=now)
        presence.beat(s, "c-bob-2", "agent:bob", first, now=now)  # bob's other console
        presence.beat(s, "c-carol", "agent:carol", second, now=now)
    with store.session() as s:
        seen = presence.others(s, [first, second], "c-alice", me="agent:alice", now=now)
        assert seen == {
            first: [Here("agent:bob", "replying")],
            second: [Here("agent:carol", "viewing")],
        }
        # bob's own consoles do not show bob to himself
        assert presence.others(s, [first], "c-bob", me="agent:bob", now=now) == {
            first: [Here("agent:alice", "viewing")]
        }
    later = now + timedelta(seconds=presence.EXPIRE_SECONDS + 1)
    with store.session(write=True) as s:
        presence.beat(s, "c-carol", "agent:carol", first, now=later)  # carol moved on
        presence.leave(s, "c-bob")
    with store.session() as s:
        # alice and bob-2 stopped beating (a crashed console): gone once expired
        assert presence.others(s, [first, second], "c-x", now=later) == {
            first: [Here("agent:carol", "viewing")]
        }


def test_presence_refuses_an_unknown_state(store: Store) -> None:
    (number,) = _tickets(store, 1)
    with pytest.raises(ValidationError, match="presence 'typing'"), store.session(write=True) as s:
        presence.beat(s, "c", "agent:alice", number, "typing")


@pytest.mark.postgres
def test_a_move_is_announced_and_a_heartbeat_is_not(pg_store: Store) -> None:
    first, second = _tickets(pg_store, 2)
    other = open_store(pg_store.url)
    feed = ChangeFeed(pg_store, poll_seconds=3600)
    try:
        assert feed.wait(0.01) == Changed(tickets=None)  # listening: read all once
        with other.session(write=True) as s:
            presence.beat(s, "c-bob", "agent:bob", first)
        changed = feed.wait(HANG_SECONDS)
        assert changed is not None and changed.presence_only
        assert changed.tickets is not None and len(changed.tickets) == 1
        with other.session(write=True) as s:
            presence.beat(s, "c-bob", "agent:bob", first)  # still here: no news
        assert feed.wait(0.3) is None
        with other.session(write=True) as s:
            presence.beat(s, "c-bob", "agent:bob", second, "replying")
        changed = feed.wait(HANG_SECONDS)
        assert changed is not None and changed.tickets is not None and len(changed.tickets) == 2
    finally:
        feed.close()
        other.dispose()


def test_a_console_on_no_ticket_is_present_and_shown_on_none(store: Store) -> None:
    """An agent whose console shows an empty queue is at the desk (the digest's "away" reads
    it), but appears on no ticket; closing the console leaves them on no ticket, and away only
    once `away_minutes` have passed since its last beat (as if it had crashed)."""
    (first,) = _tickets(store, 1)
    now = utcnow()
    with store.session(write=True) as s:
        presence.beat(s, "c-alice", "agent:alice", first, now=now)
        presence.beat(s, "c-alice", "agent:alice", None, "replying", now=now)
    with store.session() as s:
        assert presence.others(s, [first], "c-x", now=now) == {}
        assert list(s.execute(presence.present(now=now, minutes=1)).scalars()) == ["agent:alice"]
        later = now + timedelta(minutes=2)
        assert list(s.execute(presence.present(now=later, minutes=1)).scalars()) == []
    with store.session(write=True) as s:
        presence.beat(s, "c-alice", "agent:alice", first, "replying", now=now)
        presence.leave(s, "c-alice")
    with store.session() as s:
        assert presence.others(s, [first], "c-x", now=now) == {}
        assert list(s.execute(presence.present(now=now, minutes=1)).scalars()) == ["agent:alice"]
        assert list(s.execute(presence.present(now=later, minutes=1)).scalars()) == []
