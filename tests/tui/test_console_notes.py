"""Editing and deleting one's own notes from the console (e, D); other agents' notes are refused."""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import Input

from supportdesk.desk import tickets
from supportdesk.desk.events import Change
from supportdesk.store import Store
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.commands import commands
from supportdesk.tui.screens.modals import ConfirmScreen, NoteScreen, PickScreen
from supportdesk.tui.widgets.thread import ThreadView
from tests.tui.conftest import SIZE, notes, open_ticket, ready, wait_until
from tests.tui.test_console_actions import detail, first


def add_note(store: Store, number: int, body: str, actor: str) -> int:
    with store.session(write=True) as session:
        return tickets.add_note(session, number, body, Change.by(actor)).id  # type: ignore[return-value]


def thread_text(app: SupportdeskApp) -> str:
    view = app.desk.query_one(ThreadView)
    return "\n".join(line.plain for _, line in view._lines if line is not None)


async def test_edit_own_note_keeps_the_old_text_in_history(
    make_app: Callable[..., SupportdeskApp], demo_store: Store
) -> None:
    number = first(demo_store, "status:active")
    add_note(demo_store, number, "Bob's thoughts", "agent:bob")
    mine = add_note(demo_store, number, "Waiting for the bank", "agent:alice")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        names = [name for name, _, _ in commands(app, app.desk)]
        assert "ticket: edit my note…" in names and "ticket: delete my note…" in names
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, NoteScreen), what="the editor")
        assert app.screen.text == "Waiting for the bank"  # type: ignore[attr-defined]
        await pilot.press(*" (called them)", "ctrl+s")
        edited = "Waiting for the bank (called them)"
        await wait_until(
            pilot, lambda: [n.body for n in detail(demo_store, number).notes][-1] == edited
        )
        events = detail(demo_store, number).events
        assert (events[-1].action, events[-1].old_value, events[-1].new_value) == (
            "note_edited",
            "Waiting for the bank",
            edited,
        )
        assert [n.body for n in detail(demo_store, number).notes] == ["Bob's thoughts", edited]
        await wait_until(pilot, lambda: edited in thread_text(app), what="the thread")
        assert "agent:alice: edited a note" in thread_text(app)
        assert f"#{number}: edit note {mine}" in notes(app)


async def test_delete_own_note_asks_then_it_leaves_the_thread(
    make_app: Callable[..., SupportdeskApp], demo_store: Store
) -> None:
    number = first(demo_store, "status:active")
    add_note(demo_store, number, "First of mine", "agent:alice")
    add_note(demo_store, number, "Second of mine, pasted wrongly", "agent:alice")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        await wait_until(pilot, lambda: "pasted wrongly" in thread_text(app), what="the note")
        await pilot.press("D")
        await wait_until(pilot, lambda: isinstance(app.screen, PickScreen), what="which note")
        app.screen.query_one(Input).value = "pasted"
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        assert "Second of mine" in app.screen.question  # type: ignore[attr-defined]
        await pilot.press("y")
        await wait_until(
            pilot, lambda: [n.body for n in detail(demo_store, number).notes] == ["First of mine"]
        )
        await wait_until(pilot, lambda: "pasted wrongly" not in thread_text(app), what="gone")
        assert "deleted a note" in thread_text(app)
        deleted = detail(demo_store, number).events[-1]
        assert (deleted.action, deleted.old_value) == (
            "note_deleted",
            "Second of mine, pasted wrongly",
        )


async def test_another_agents_note_cannot_be_edited_or_deleted(
    make_app: Callable[..., SupportdeskApp], demo_store: Store
) -> None:
    number = first(demo_store, "status:active")
    add_note(demo_store, number, "Bob's only", "agent:bob")
    version = detail(demo_store, number).row.version
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        names = [name for name, _, _ in commands(app, app.desk)]
        assert "ticket: edit my note…" not in names and "ticket: delete my note…" not in names
        for key, verb in (("e", "edit"), ("D", "delete")):
            await pilot.press(key)
            refusal = f"the notes on #{number} are by agent:bob: only a note's author can {verb} it"
            await wait_until(pilot, lambda refusal=refusal: refusal in notes(app))
            assert app.screen is app.desk
    after = detail(demo_store, number)
    assert [n.body for n in after.notes] == ["Bob's only"] and after.row.version == version
