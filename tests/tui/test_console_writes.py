"""The console's write layer without the screen: bulk statuses, tag undo, refusals."""

from __future__ import annotations

import contextlib

import pytest

from supportdesk.desk import tickets, views
from supportdesk.desk.events import Change
from supportdesk.errors import ConflictError, NotFoundError, SupportdeskError
from supportdesk.store import Store
from supportdesk.tui import actions
from supportdesk.tui.actions import AddNote, Assign, ChangeTags, SetPriority, SetStatus
from supportdesk.tui.data import DeskData, Source


def numbers(data: DeskData, query: str, limit: int) -> list[int]:
    source = Source("t", "t", query)
    return [r.number for r in data.page(source, 0, limit, None)]


def test_bulk_status_skips_tickets_that_cannot_move_and_undoes(demo_store: Store) -> None:
    data = DeskData(demo_store, "alice")
    chosen = numbers(data, "status:open", 2) + numbers(data, "status:closed", 1)
    done = actions.apply_many(data, SetStatus("pending"), chosen)
    assert "2 of 3 tickets changed, 1 skipped" in done.summary
    with demo_store.session() as session:
        states = [views.ticket_detail(session, n).row.status for n in chosen]
    assert states == ["pending", "pending", "closed"]
    undone = actions.undo_latest(data)
    assert undone.summary.startswith("undone: status on 2 tickets (#")
    assert set(undone.numbers) == set(chosen[:2])
    with demo_store.session() as session:
        assert [views.ticket_detail(session, n).row.status for n in chosen[:2]] == ["open"] * 2


def test_tag_changes_undo_exactly_what_they_did(demo_store: Store) -> None:
    data = DeskData(demo_store, "alice")
    number = numbers(data, "status:active", 1)[0]
    with demo_store.session(write=True) as session:
        tickets.add_tags(session, number, ["keep", "drop"], Change.by("agent:bob"))
    with demo_store.session() as session:
        seen = views.ticket_detail(session, number)
    done = actions.apply_one(
        data, ChangeTags(add=("new", "keep"), remove=("drop",)), seen.row, seen.tags
    )
    assert done.batch_id is not None
    undone = actions.undo_latest(data)
    assert undone.summary == (f"undone: #{number}: tag -drop, tag +new (batch {done.batch_id[:8]})")
    with demo_store.session() as session:
        assert views.ticket_detail(session, number).tags == seen.tags


def test_stale_versions_are_refused_and_notes_stay(demo_store: Store) -> None:
    data = DeskData(demo_store, "alice")
    number = numbers(data, "status:active", 1)[0]
    with demo_store.session() as session:
        seen = views.ticket_detail(session, number)
    with demo_store.session(write=True) as session:
        tickets.set_priority(session, number, "urgent", Change.by("agent:bob"))
    with pytest.raises(ConflictError):
        actions.apply_one(data, SetStatus("pending"), seen.row, seen.tags)
    with demo_store.session() as session:
        fresh = views.ticket_detail(session, number)
    actions.apply_one(data, AddNote("remember"), fresh.row, fresh.tags)
    with contextlib.suppress(SupportdeskError):  # nothing else of alice's to take back
        actions.undo_latest(data)
    with demo_store.session() as session:
        assert [n.body for n in views.ticket_detail(session, number).notes][-1] == "remember"


def test_undo_takes_back_the_latest_change_then_the_one_before(demo_store: Store) -> None:
    data = DeskData(demo_store, "alice")
    number = numbers(data, "status:active -priority:urgent -assignee:alice", 1)[0]
    with demo_store.session() as session:
        before = views.ticket_detail(session, number).row
    first = actions.apply_one(data, SetPriority("urgent"), before, [])
    with demo_store.session() as session:
        seen = views.ticket_detail(session, number).row
    actions.apply_one(data, Assign("alice"), seen, [])
    undone = actions.undo_latest(data)
    assert undone.summary.startswith(f"undone: #{number}: assign {before.assignee or '-'} → alice")
    undone = actions.undo_latest(data)
    assert undone.summary == (
        f"undone: #{number}: priority {before.priority} → urgent (batch {first.batch_id[:8]})"  # type: ignore[index]
    )
    with demo_store.session() as session:
        after = views.ticket_detail(session, number).row
    assert (after.priority, after.assignee) == (before.priority, before.assignee)
    with pytest.raises(NotFoundError, match="nothing to undo"):
        actions.undo_latest(DeskData(demo_store, "nobody-here"))
