"""Bulk, undo and "last updated", on SQLite and PostgreSQL (docs/QUERY.md, "Last updated").

A bulk change leaves update times alone and undo puts back what a single change replaced,
so "Recently solved" (by solved time) and every `updated:` query read the same after a
bulk change and its undo as before it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from supportdesk.desk import bulk, directory, history, tickets, views
from supportdesk.desk.events import Change
from supportdesk.desk.query import Matching
from supportdesk.desk.undo import undo_batch
from supportdesk.store import Store
from supportdesk.store.models import Event, Ticket, utcnow

NOW = utcnow().replace(microsecond=0)
DAY = timedelta(days=1)


def day(n: int) -> datetime:
    """`n` days before NOW."""
    return NOW - n * DAY


def build(store: Store) -> None:
    """Twelve tickets of different ages: #1-#4 solved 2 days ago (recently), #5-#6 solved
    20 days ago but touched by a note 3 days ago (not recently solved), the rest open."""
    with store.session(write=True) as s:
        directory.ensure_queue(s, "support")
        for handle in ("alice", "bob", "carol"):
            directory.add_agent(s, handle, email=f"{handle}@desk.example")
    for n in range(1, 13):
        with store.session(write=True) as s:
            tickets.create_ticket(
                s,
                subject=f"ticket {n}",
                requester_email=f"c{n}@acme.example",
                queue="support",
                assignee="alice" if n % 2 else "bob",
                change=Change.by("agent:seed", at=day(30 - n)),
            )
            if n <= 4:
                tickets.set_status(s, n, "solved", Change.by("agent:seed", at=day(2)))
            elif n <= 6:
                tickets.set_status(s, n, "solved", Change.by("agent:seed", at=day(20)))
                tickets.add_note(s, n, "follow-up", Change.by("agent:seed", at=day(3)))


def updated(store: Store) -> dict[int, datetime]:
    with store.session() as s:
        return {t.number: t.updated_at for t in s.exec(select(Ticket))}


def holders(store: Store) -> dict[int, int | None]:
    with store.session() as s:
        return {t.number: t.assignee_id for t in s.exec(select(Ticket))}


def recently_solved(store: Store) -> tuple[int, int, int]:
    """The sidebar's count, the view's own count, and what `updated:<7d` would have said."""
    with store.session() as s:
        sidebar = views.overview(s, now=NOW).recently_solved
        view = Matching(s, views.RECENTLY_SOLVED_QUERY, me=None, now=NOW).count()
        by_update = Matching(s, "status:solved updated:<7d", me=None, now=NOW).count()
    return sidebar, view, by_update


def test_recently_solved_counts_by_the_solved_time(store: Store) -> None:
    build(store)
    # #5 and #6 were solved long ago; a note since moved their update time, not their solving
    assert recently_solved(store) == (4, 4, 6)


def test_bulk_then_undo_leaves_update_times_and_recently_solved(store: Store) -> None:
    build(store)
    times, owners, solved = updated(store), holders(store), recently_solved(store)
    change = Change.by("agent:lead")
    with store.session(write=True) as s:
        ids = bulk.ids_for(s, Ticket.number > 0)
        result = bulk.assign(s, ids, "carol", change)
    assert result.changed == 12
    assert updated(store) == times  # a bulk change is no activity on the ticket
    assert recently_solved(store) == solved
    with store.session(write=True) as s:
        undone = undo_batch(s, change.batch_id)
    assert (undone.tickets, undone.events) == (12, 12)
    assert holders(store) == owners
    assert updated(store) == times
    assert recently_solved(store) == solved


def test_a_bulks_events_are_all_there(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """One event per changed ticket, with the old holder, the new one and the version the
    ticket has now, across several statements (a chunk of 5 ids each here)."""
    monkeypatch.setattr(bulk, "CHUNK", 5)
    build(store)
    owners = updated(store)
    change = Change.by("agent:lead")
    with store.session(write=True) as s:
        ids = bulk.ids_for(s, Ticket.number > 0)
        result = bulk.assign(s, ids, "bob", change)
    changed = {n for n in owners if n % 2}  # alice's: the odd ones
    assert result.changed == len(changed) == 6
    with store.session() as s:
        rows = history.events(s, batch=change.batch_id, limit=None)
        versions = {t.number: t.version for t in s.exec(select(Ticket))}
        stamps = s.exec(select(Event.old_updated_at).where(Event.batch_id == change.batch_id))
        assert set(stamps) == {None}  # a bulk change replaces no update time
    assert sorted(r.ticket for r in rows if r.ticket is not None) == sorted(changed)
    assert {(r.action, r.old_value, r.new_value) for r in rows} == {("assign", "alice", "bob")}
    assert all(r.version == versions[r.ticket] for r in rows if r.ticket is not None)


def test_undo_puts_back_the_update_time_a_change_replaced(store: Store) -> None:
    """Undo of a change to one ticket puts "last updated" back where it was, unless the
    ticket saw activity since (a note): then that later time stays."""
    build(store)
    times = updated(store)
    change = Change.by("agent:alice", at=day(1))
    with store.session(write=True) as s:
        tickets.assign(s, 7, "carol", change)
        tickets.set_priority(s, 7, "high", change)
        tickets.add_tags(s, 8, ["vip"], change)
        tickets.assign(s, 9, "carol", change)
    with store.session(write=True) as s:
        tickets.add_note(s, 9, "called the customer", Change.by("agent:bob", at=day(0)))
    moved = updated(store)
    assert (moved[7], moved[8], moved[9]) == (day(1), day(1), day(0))
    with store.session(write=True) as s:
        undone = undo_batch(s, change.batch_id)
    assert undone.tickets == 3
    after = updated(store)
    assert (after[7], after[8]) == (times[7], times[8])
    assert after[9] == day(0)  # the note after the change is still the latest activity
    assert {n: t for n, t in after.items() if n not in (7, 8, 9)} == {
        n: t for n, t in times.items() if n not in (7, 8, 9)
    }
