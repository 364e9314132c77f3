"""Notifications in the console: the unread count in the header, a toast and a desktop
notification when another session tells the agent something, the list that opens a ticket and
marks it read, and `@` completion in the note editor."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlmodel import col, or_
from textual.widgets import OptionList, TextArea

from supportdesk import i18n
from supportdesk.demo.builder import build_demo
from supportdesk.desk import bulk, directory, notifications, tickets
from supportdesk.desk.events import Change
from supportdesk.keymap import GROUPS
from supportdesk.store import Store, open_store
from supportdesk.store.models import Ticket
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.commands import commands
from supportdesk.tui.screens.modals import NoteScreen
from supportdesk.tui.screens.notifications import NotificationsScreen
from tests.conftest import PgSchemas, pg_url
from tests.tui.conftest import SIZE, notes, open_ticket, ready, wait_until
from tests.tui.test_console_actions import first, pick

HOSTILE = "Printer \x1b]0;pwned\x07on \x1b[31mfire\x9b2J\x07 now;really"


def unread(store: Store, handle: str) -> int:
    with store.session() as session:
        return notifications.unread_count(session, handle)


def new_ticket_for(store: Store, handle: str, by: str) -> int:
    with store.session(write=True) as session:
        return tickets.create_ticket(
            session,
            subject=HOSTILE,
            requester_email="jo@acme.example",
            queue="billing",
            assignee=handle,
            change=Change.by(by),
        ).number


def unread_shown(app: SupportdeskApp) -> int:
    found = re.search(r"(\d+) unread notification", app.sub_title)
    return int(found.group(1)) if found else 0


async def test_another_sessions_assignment_shows_as_count_toast_and_desktop_notification(
    make_app: Callable[..., SupportdeskApp], demo_store: Store, other_session: Store
) -> None:
    sent: list[str] = []
    app = make_app(desktop_notify="osc777", desktop_write=sent.append)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        before = unread(demo_store, "alice")
        await wait_until(pilot, lambda: unread_shown(app) == before, what="the first count")
        number = new_ticket_for(other_session, "alice", "agent:bob")
        await wait_until(pilot, lambda: unread_shown(app) == before + 1, what="the new count")
        await wait_until(pilot, lambda: any("(by agent:bob)" in n for n in notes(app)))
        toast = next(n for n in notes(app) if "(by agent:bob)" in n)
        assert "\x1b" not in toast and "\x9b" not in toast and "\x07" not in toast
        assert sent, "no desktop notification"
        (sequence,) = sent
        assert sequence.startswith("\x1b]777;notify;") and sequence.endswith("\x07")
        inner = sequence[len("\x1b]777;notify;") : -1]
        assert not re.search(r"[\x00-\x1f\x7f-\x9f]", inner), inner
        title, body = inner.split(";")  # the subject's own ; cannot add a field
        assert title == f"#{number}: assigned to you"
        assert "Printer" in body and "fire" in body and "pwned" not in body

        # The list: the newest on top; Enter opens its ticket and marks it read.
        await pilot.press("b")
        await wait_until(pilot, lambda: isinstance(app.screen, NotificationsScreen))
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: app.desk.current is not None and app.desk.current.number == number,
            what="the notification's ticket",
        )
        await wait_until(pilot, lambda: unread_shown(app) == before, what="one read")
        assert unread(demo_store, "alice") == before


async def test_a_bulk_assignment_is_one_notification_that_opens_its_tickets(
    make_app: Callable[..., SupportdeskApp], demo_store: Store, other_session: Store
) -> None:
    """25 assigned at once are one notification: one toast saying how many, one line in the
    list, and Enter shows the batch's 25 tickets that are hers (`batch:<id> assignee:alice`)
    and marks it read."""
    with other_session.session(write=True) as session:
        alice = next(a.id for a in directory.list_agents(session) if a.handle == "alice")
        others = or_(col(Ticket.assignee_id).is_(None), col(Ticket.assignee_id) != alice)
        ids = bulk.ids_for(session, others, limit=25)
    assert len(ids) == 25
    sent: list[str] = []
    app = make_app(desktop_notify="osc777", desktop_write=sent.append)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        before = unread(demo_store, "alice")
        await wait_until(pilot, lambda: unread_shown(app) == before, what="the first count")
        with other_session.session(write=True) as session:
            result = bulk.assign(session, ids, "alice", Change.by("agent:bob"))
        assert result.changed == 25
        after = unread(demo_store, "alice")
        assert after >= before + 1  # older ones of these tickets hold again, too
        await wait_until(pilot, lambda: unread_shown(app) == after, what="the new count")
        told = f"bulk by bob, batch {result.batch_id[:8]}"
        await wait_until(pilot, lambda: any(told in n for n in notes(app)), what="the toast")
        assert sent == [f"\x1b]777;notify;assigned you 25 tickets;{told}\x07"]
        assert not [n for n in notes(app) if "(by agent:bob)" in n]  # no toast per ticket

        await pilot.press("b")
        await wait_until(pilot, lambda: isinstance(app.screen, NotificationsScreen))
        screen = app.screen
        assert isinstance(screen, NotificationsScreen)
        newest = screen.found[0]
        assert (newest.kind, newest.count, newest.batch) == ("assigned_batch", 25, result.batch_id)
        listed = screen.query_one("#notifications-list", OptionList).get_option_at_index(0)
        assert f"assigned you 25 tickets — {told}" in str(listed.prompt)
        await pilot.press("enter")
        shown = app.desk.ticket_list
        await wait_until(
            pilot,
            lambda: (
                shown.source is not None
                and shown.source.query == f"batch:{result.batch_id} assignee:alice"
                and shown.total == 25
            ),
            what="the batch's tickets",
        )
        await wait_until(pilot, lambda: unread_shown(app) == after - 1, what="it read")


async def test_the_notification_command_and_bindings_read_japanese(
    make_app: Callable[..., SupportdeskApp],
) -> None:
    """The palette entry is translated where it is made; the binding labels are marked
    message ids with Japanese in the catalogue (translated where they are shown)."""
    labels = {spec.id: spec.description for group in GROUPS.values() for spec in group}
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        before = i18n.current_language()
        try:
            i18n.set_language("ja")
            found = {name: help_text for name, _, help_text in commands(app, app.desk)}
            assert found["デスク: 通知"].startswith(
                "自分への割り当て、顧客の返信、メンション、SLA 期限間近"
            )
            shown = [
                i18n._(labels[key])
                for key in ("desk.notifications", "note.complete", "notifications.read_all")
            ]
            assert shown == ["通知", "@ハンドルを補完", "すべて既読"]
        finally:
            i18n.set_language(before)


async def test_no_toast_for_what_the_agent_did_themself(
    make_app: Callable[..., SupportdeskApp], demo_store: Store, other_session: Store
) -> None:
    sent: list[str] = []
    app = make_app(desktop_notify="bell", desktop_write=sent.append)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        before = unread(demo_store, "alice")
        new_ticket_for(other_session, "alice", "agent:alice")  # took it herself
        new_ticket_for(other_session, "bob", "agent:alice")  # gave it to bob
        await pilot.pause(0.5)
        told = new_ticket_for(other_session, "alice", "agent:bob")
        await wait_until(pilot, lambda: unread_shown(app) == before + 1, what="the count")
        await wait_until(pilot, lambda: sent == ["\x07"], what="one bell")
        assert [n for n in notes(app) if "(by agent:" in n] == [
            next(n for n in notes(app) if "(by agent:bob)" in n)
        ]
        assert unread(demo_store, "alice") == before + 1
        with demo_store.session() as session:
            assert notifications.listing(session, "alice", limit=1)[0].ticket == told


async def test_at_completes_agent_handles_in_the_note_editor(
    make_app: Callable[..., SupportdeskApp], demo_store: Store
) -> None:
    number = first(demo_store, "status:active")
    before = unread(demo_store, "bob")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, NoteScreen))
        area = app.screen.query_one("#note-text", TextArea)
        area.insert("ask @b")
        await wait_until(pilot, lambda: "bob" in app.screen.completions)  # type: ignore[attr-defined]
        await pilot.press("tab")
        await wait_until(pilot, lambda: area.text == "ask @bob ")
        area.insert("or mail bob@desk.example")
        await pilot.pause(0.1)
        assert app.screen.completions == []  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: unread(demo_store, "bob") == before + 1, what="told")


# -- two consoles on one PostgreSQL store


@pytest.fixture
def pg_demo(pg_schemas: PgSchemas) -> Iterator[str]:
    url = pg_url(pg_schemas.new())
    store = open_store(url, create=True)
    build_demo(store, tickets=30)
    store.dispose()
    yield url


@pytest.mark.postgres
async def test_an_assignment_in_one_console_is_counted_and_toasted_in_the_other(
    pg_demo: str, tmp_path: Path
) -> None:
    reader = open_store(pg_demo)
    number = first(reader, "status:active -assignee:alice")
    before = unread(reader, "alice")
    sent: list[str] = []
    alice = SupportdeskApp(
        open_store(pg_demo),
        me="alice",
        poll_seconds=3600,  # only the server's notice can carry it in time
        user_themes_dir=tmp_path / "none",
        desktop_write=sent.append,
    )
    bob = SupportdeskApp(
        open_store(pg_demo), me="bob", poll_seconds=3600, user_themes_dir=tmp_path / "none"
    )
    try:
        async with alice.run_test(size=SIZE) as at_alice, bob.run_test(size=SIZE) as at_bob:
            await ready(at_alice)
            await ready(at_bob)
            await wait_until(at_alice, lambda: unread_shown(alice) == before)
            await open_ticket(at_bob, number)
            await at_bob.press("A")
            await pick(at_bob, "alice")
            await wait_until(
                at_alice, lambda: unread_shown(alice) == before + 1, what="alice's count"
            )
            await wait_until(at_alice, lambda: len(sent) == 1, what="the desktop notification")
            assert sent[0].startswith(f"\x1b]9;#{number}: assigned to you: ")
            assert any("(by agent:bob)" in n.message for n in alice._notifications)
    finally:
        for app in (alice, bob):
            app.data.store.dispose()
        reader.dispose()


async def test_at_completes_in_a_composer_note_and_tab_moves_on_in_a_reply(
    make_app: Callable[..., SupportdeskApp], demo_store: Store
) -> None:
    from tests.tui.test_composer import closed, open_composer, send

    number = first(demo_store, "status:open")
    before = unread(demo_store, "bob")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        screen = await open_composer(pilot, "N")
        screen.body.insert("over to @bo")
        await wait_until(pilot, lambda: screen.offered is not None, what="the offer")
        assert "@bob" in str(screen.query_one("#composer-status").render())
        await pilot.press("tab")
        await wait_until(pilot, lambda: screen.body.text == "over to @bob ")
        await send(pilot, "keep")
        await closed(pilot)
        await wait_until(pilot, lambda: unread(demo_store, "bob") == before + 1, what="told")
        screen = await open_composer(pilot, "r")  # a reply: no offer, Tab leaves the body
        screen.body.insert("\n@bo")
        await pilot.pause(0.1)
        assert screen.offered is None
        await pilot.press("tab")
        await wait_until(pilot, lambda: not screen.body.has_focus, what="focus to move on")
