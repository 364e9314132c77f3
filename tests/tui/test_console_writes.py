"""The console's write layer without the screen: bulk statuses, tag undo, refusals."""

from __future__ import annotations

import pytest

from supportdesk.desk import tickets, views
from supportdesk.desk.events import Change
from supportdesk.errors import ConflictError, ValidationError
from supportdesk.store import Store
from supportdesk.tui import actions
from supportdesk.tui.actions import AddNote, ChangeTags, SetStatus
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
    assert actions.undo(data, done).startswith("undone")
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
    actions.undo(data, done)
    with demo_store.session() as session:
        assert views.ticket_detail(session, number).tags == seen.tags


def test_stale_versions_and_notes_are_refused(demo_store: Store) -> None:
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
    done = actions.apply_one(data, AddNote("remember"), fresh.row, fresh.tags)
    with pytest.raises(ValidationError, match="cannot undo"):
        actions.undo(data, done)
