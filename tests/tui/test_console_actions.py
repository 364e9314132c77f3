"""Every ticket action from the console's keys, checked in the store afterwards."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from textual.pilot import Pilot
from textual.widgets import Input

from supportdesk.desk import tickets, views
from supportdesk.desk.events import Change
from supportdesk.desk.query import compile_query, parse
from supportdesk.desk.views import TicketDetail
from supportdesk.store import Store
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.screens.modals import ConfirmScreen, NoteScreen, PickScreen
from tests.tui.conftest import SIZE, notes, open_ticket, ready, screen_text, wait_until


def first(store: Store, query: str) -> int:
    """The newest-updated ticket matching `query`."""
    with store.session() as session:
        compiled = compile_query(
            parse(query), session.connection(), me="alice", now=datetime.now().astimezone()
        )
        return views.list_tickets(session, compiled.where, compiled.order_by, limit=1)[0].number


def detail(store: Store, number: int) -> TicketDetail:
    with store.session() as session:
        return views.ticket_detail(session, number)


async def test_assign_to_me(make_app: Callable[..., SupportdeskApp], demo_store: Store) -> None:
    number = first(demo_store, "status:active -assignee:alice -assignee:none")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        await pilot.press("a")
        await wait_until(pilot, lambda: detail(demo_store, number).row.assignee == "alice")
        await wait_until(pilot, lambda: app.desk.detail.row.assignee == "alice", what="refresh")
        assert f"#{number}: assign to alice" in notes(app)


async def pick(pilot: Pilot, text: str) -> None:
    """Wait for a picker, narrow it to `text` and take the first match."""
    app: SupportdeskApp = pilot.app  # type: ignore[assignment]
    await wait_until(pilot, lambda: isinstance(app.screen, PickScreen), what="the picker")
    app.screen.query_one(Input).value = text
    await pilot.press("enter")
    await wait_until(pilot, lambda: app.screen is app.desk, what="the picker to close")


async def test_agent_picker_assigns_and_unassigns(
    make_app: Callable[..., SupportdeskApp], demo_store: Store
) -> None:
    number = first(demo_store, "status:active -assignee:bob")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        await pilot.press("A")
        await wait_until(pilot, lambda: isinstance(app.screen, PickScreen), what="the picker")
        await pilot.press("b", "o", "enter")  # typing narrows the list
        await wait_until(pilot, lambda: detail(demo_store, number).row.assignee == "bob")
        await wait_until(pilot, lambda: app.desk.detail.row.assignee == "bob", what="refresh")
        await pilot.press("A")
        await pick(pilot, "nobody")
        await wait_until(pilot, lambda: detail(demo_store, number).row.assignee is None)


async def test_status_priority_and_queue_pickers(
    make_app: Callable[..., SupportdeskApp], demo_store: Store
) -> None:
    number = first(demo_store, "status:pending -priority:urgent -queue:billing")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        await pilot.press("s")
        await pick(pilot, "solved")
        await wait_until(pilot, lambda: detail(demo_store, number).row.status == "solved")
        await wait_until(pilot, lambda: app.desk.detail.row.status == "solved", what="refresh")
        await pilot.press("p")
        await pick(pilot, "urgent")
        await wait_until(pilot, lambda: detail(demo_store, number).row.priority == "urgent")
        await wait_until(pilot, lambda: app.desk.detail.row.priority == "urgent", what="refresh")
        await pilot.press("m")
        await pick(pilot, "billing")
        await wait_until(pilot, lambda: detail(demo_store, number).row.queue == "billing")
        events = [e.action for e in detail(demo_store, number).events]
        assert events[-3:] == ["status", "priority", "queue"]


async def test_tags_add_and_remove(
    make_app: Callable[..., SupportdeskApp], demo_store: Store
) -> None:
    number = first(demo_store, "status:active")
    with demo_store.session(write=True) as session:
        tickets.add_tags(session, number, ["old-tag"], Change.by("agent:bob"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        await pilot.press("t")
        await wait_until(pilot, lambda: app.screen is not app.desk, what="the tag dialog")
        await pilot.press(*"vip -old-tag", "enter")
        await wait_until(
            pilot,
            lambda: (
                "vip" in detail(demo_store, number).tags
                and "old-tag" not in detail(demo_store, number).tags
            ),
        )


async def test_internal_note_and_its_draft(
    make_app: Callable[..., SupportdeskApp], demo_store: Store
) -> None:
    number = first(demo_store, "status:active")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, NoteScreen), what="the editor")
        await pilot.press(*"Half a thought")
        await pilot.press("escape")  # given up: kept as a draft
        await wait_until(pilot, lambda: app.screen is app.desk)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, NoteScreen), what="the editor")
        assert app.screen.text == "Half a thought"  # type: ignore[attr-defined]
        await pilot.press(*", finished.", "ctrl+s")
        await wait_until(
            pilot,
            lambda: any(
                n.body == "Half a thought, finished." for n in detail(demo_store, number).notes
            ),
        )
        await wait_until(
            pilot,
            lambda: bool(
                app.desk.detail
                and app.desk.detail.notes
                and app.desk.detail.notes[-1].author == "agent:alice"
            ),
        )
        assert number not in app.desk.drafts


async def test_merge_asks_for_the_target_and_confirms(
    make_app: Callable[..., SupportdeskApp], demo_store: Store
) -> None:
    source = first(demo_store, "status:active")
    target = first(demo_store, f"status:active -#{source}")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, source)
        await pilot.press("M")
        await wait_until(pilot, lambda: app.screen is not app.desk, what="the number dialog")
        await pilot.press(*str(target), "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        await pilot.press("y")
        await wait_until(pilot, lambda: detail(demo_store, source).merged_into == target)


async def test_reply_without_a_sending_mailbox_keeps_the_draft_and_says_why(
    make_app: Callable[..., SupportdeskApp],
) -> None:
    """No [[mailboxes]] entry can send: the composer still opens and keeps what is typed, and
    sending says what to configure (tests/tui/test_composer.py covers the sending)."""
    from supportdesk.tui.screens.composer import ComposerScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("r")
        await wait_until(
            pilot, lambda: isinstance(app.screen, ComposerScreen), what=f"composer {notes(app)}"
        )
        assert "no mailbox can send" in screen_text(app)
        await pilot.press("H", "i", "ctrl+r")
        await wait_until(pilot, lambda: any("no mailbox can send" in n for n in notes(app)))
        assert isinstance(app.screen, ComposerScreen)


async def test_undo_reverts_the_last_change(
    make_app: Callable[..., SupportdeskApp], demo_store: Store
) -> None:
    number = first(demo_store, "status:active -priority:urgent")
    before = detail(demo_store, number).row.priority
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        await pilot.press("p")
        await pick(pilot, "urgent")
        await wait_until(pilot, lambda: detail(demo_store, number).row.priority == "urgent")
        await wait_until(pilot, lambda: app.desk.detail.row.priority == "urgent", what="refresh")
        await pilot.press("u")
        await wait_until(pilot, lambda: detail(demo_store, number).row.priority == before)
        said = f"undone: #{number}: priority {before} → urgent (batch "
        await wait_until(pilot, lambda: any(n.startswith(said) for n in notes(app)))


async def test_undo_again_goes_further_back_through_the_agents_own_changes(
    make_app: Callable[..., SupportdeskApp], demo_store: Store
) -> None:
    number = first(demo_store, "status:active -priority:urgent -assignee:alice")
    before = detail(demo_store, number).row
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        await pilot.press("p")
        await pick(pilot, "urgent")
        await wait_until(pilot, lambda: app.desk.detail.row.priority == "urgent", what="refresh")
        await pilot.press("a")
        await wait_until(pilot, lambda: app.desk.detail.row.assignee == "alice", what="refresh")
        await pilot.press("u")
        taken = f"undone: #{number}: assign {before.assignee or '-'} → alice"
        await wait_until(pilot, lambda: any(n.startswith(taken) for n in notes(app)))
        await wait_until(pilot, lambda: app.desk.detail.row.assignee == before.assignee)
        await pilot.press("u")
        taken = f"undone: #{number}: priority {before.priority} → urgent"
        await wait_until(pilot, lambda: any(n.startswith(taken) for n in notes(app)))
        after = detail(demo_store, number).row
        assert (after.priority, after.assignee) == (before.priority, before.assignee)


async def test_undo_refuses_when_someone_changed_the_ticket_since(
    make_app: Callable[..., SupportdeskApp], demo_store: Store, other_session: Store
) -> None:
    number = first(demo_store, "status:active -assignee:alice")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        await pilot.press("a")
        await wait_until(pilot, lambda: detail(demo_store, number).row.assignee == "alice")
        with other_session.session(write=True) as session:
            tickets.set_priority(session, number, "urgent", Change.by("agent:bob"))
        await pilot.press("u")
        await wait_until(pilot, lambda: any(n.startswith("cannot undo") for n in notes(app)))
        after = detail(demo_store, number).row
        assert (after.assignee, after.priority) == ("alice", "urgent")


async def test_a_change_made_meanwhile_is_a_conflict_and_the_ticket_reloads(
    make_app: Callable[..., SupportdeskApp], demo_store: Store, other_session: Store
) -> None:
    number = first(demo_store, "status:active -assignee:alice")
    app = make_app(poll_seconds=60)  # the console has not noticed the other change
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        seen = app.desk.detail.row.version
        with other_session.session(write=True) as session:
            tickets.set_priority(session, number, "urgent", Change.by("agent:bob"))
        await pilot.press("a")
        await wait_until(pilot, lambda: any("changed since" in n for n in notes(app)))
        assert detail(demo_store, number).row.assignee != "alice"
        await wait_until(pilot, lambda: app.desk.detail.row.version > seen, what="a reload")
        assert app.desk.detail.row.priority == "urgent"


async def test_bulk_change_shows_the_count_asks_then_runs_and_undoes(
    make_app: Callable[..., SupportdeskApp], demo_store: Store
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("space", "space", "space")
        chosen = sorted(app.desk.ticket_list.marked)
        assert len(chosen) == 3
        before = {n: detail(demo_store, n).row.priority for n in chosen}
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PickScreen), what="the picker")
        app.screen.query_one(Input).value = "urgent"
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        assert "3 selected tickets" in app.screen.question  # type: ignore[attr-defined]
        await pilot.press("y")
        await wait_until(
            pilot, lambda: all(detail(demo_store, n).row.priority == "urgent" for n in chosen)
        )
        await wait_until(pilot, lambda: not app.desk.ticket_list.marked, what="marks cleared")
        await pilot.press("u")
        await wait_until(
            pilot,
            lambda: {n: detail(demo_store, n).row.priority for n in chosen} == before,
            what="the bulk undo",
        )


async def test_bulk_change_can_be_declined(
    make_app: Callable[..., SupportdeskApp], demo_store: Store
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("space", "space")
        chosen = sorted(app.desk.ticket_list.marked)
        before = {n: detail(demo_store, n).row.version for n in chosen}
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is app.desk)
        await pilot.pause(0.3)
        assert {n: detail(demo_store, n).row.version for n in chosen} == before
        assert sorted(app.desk.ticket_list.marked) == chosen


async def test_next_previous_first_last(make_app: Callable[..., SupportdeskApp]) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        tl = app.desk.ticket_list
        order = [tl.row_at(i).number for i in range(4)]  # type: ignore[union-attr]
        await pilot.press("j")
        await ready(pilot)
        assert app.desk.current.number == order[1]  # type: ignore[union-attr]
        await pilot.press("down", "down")
        await ready(pilot)
        assert app.desk.detail.row.number == order[3]  # type: ignore[union-attr]
        await pilot.press("k", "up")
        await ready(pilot)
        assert app.desk.current.number == order[1]  # type: ignore[union-attr]
        await pilot.press("G")
        await ready(pilot)
        assert tl.cursor == tl.total - 1  # type: ignore[operator]
        await pilot.press("g")
        await ready(pilot)
        assert app.desk.current.number == order[0]  # type: ignore[union-attr]
        app.desk.thread.focus()
        await pilot.press("j")  # from the thread too
        await ready(pilot)
        assert app.desk.current.number == order[1]  # type: ignore[union-attr]
