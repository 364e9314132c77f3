"""Mail content is hostile: nothing in it may reach the terminal as a control sequence."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.widgets import Input

from supportdesk.desk import tickets
from supportdesk.desk.events import Change
from supportdesk.desk.messages import NewAttachment, NewMessage, add_message
from supportdesk.store import Store
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.screens.modals import AskScreen
from tests.tui.conftest import SIZE, notes, open_ticket, ready, screen_text, wait_until

SUBJECT = "Invoice \x1b[31mRED\x1b[0m \x1b]0;pwned\x07 [bold]not bold[/bold] \x07bell"
NAME = "Mallory \x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\ \u202eevil"
BODY = (
    "Hello\x1b[2J\x1b[H cleared?\n"
    "[link=http://evil.example]markup[/link] [@click=app.quit]quit[/]\n"
    "<b>html</b> <script>alert(1)</script>\n"
    "\x9b31mC1 CSI\x9b0m and a DEL\x7f\n"
    "> quoted \x1b[5mblink\n"
)
FORBIDDEN = ("\x1b", "\x07", "\x08", "\x7f", "\x9b", "\x9d", "\u202e")


def hostile_ticket(store: Store) -> int:
    change = Change.by("mail:mallory@evil.example")
    with store.session(write=True) as session:
        ticket = tickets.create_ticket(
            session,
            subject=SUBJECT,
            requester_email="mallory@evil.example",
            requester_name=NAME,
            queue="billing",
            change=change,
        )
        add_message(
            session,
            ticket,
            NewMessage(
                raw=b"From: mallory@evil.example\r\n\r\nhostile",
                message_id="<hostile@evil.example>",
                from_name=NAME,
                from_address="mallory@evil.example",
                to_addresses="support\x1b[8m@desk.example",
                subject=SUBJECT,
                body_text=BODY,
                body_html="<script>alert(1)</script>",
            ),
            change,
        )
        return ticket.number


async def test_hostile_subject_name_and_body_are_shown_inert(
    make_app: Callable[..., SupportdeskApp], demo_store: Store
) -> None:
    number = hostile_ticket(demo_store)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.desk.current.number == number  # type: ignore[union-attr]
        await pilot.press("x")  # unfold the quoted line too
        await wait_until(pilot, lambda: "blink" in screen_text(app), what="the quote")
        text = screen_text(app)
        for char in FORBIDDEN:
            assert char not in text, f"{char!r} reached the screen"
        assert "[bold]not bold[/bold]" in text  # markup shown as typed, not applied
        assert "[@click=app.quit]quit[/]" in text
        assert "<script>alert(1)</script>" in text  # HTML is text
        assert "␇bell" in text  # a control character is made visible, not obeyed
        assert "Mallory" in text and "evil" in text
        assert app.is_running  # the [@click] markup did not quit it


def attachment_ticket(store: Store) -> int:
    """A ticket whose stored attachment names try to climb out of any folder."""
    change = Change.by("mail:mallory@evil.example")
    with store.session(write=True) as session:
        ticket = tickets.create_ticket(
            session,
            subject="files",
            requester_email="mallory@evil.example",
            queue="billing",
            change=change,
        )
        add_message(
            session,
            ticket,
            NewMessage(
                raw=b"From: mallory@evil.example\r\n\r\nfiles",
                message_id="<files@evil.example>",
                body_text="see attached",
                attachments=[
                    NewAttachment("../../escape.txt", "text/plain", b"one"),
                    NewAttachment("/etc/passwd", "text/plain", b"two"),
                    NewAttachment("..\\..\\win.txt", "text/plain", b"three"),
                    NewAttachment("../../escape.txt", "text/plain", b"four"),
                ],
            ),
            change,
        )
        return ticket.number


async def test_saving_attachments_never_writes_outside_the_chosen_folder(
    make_app: Callable[..., SupportdeskApp], demo_store: Store, tmp_path: Path
) -> None:
    number = attachment_ticket(demo_store)
    sandbox = tmp_path / "sandbox"
    target = sandbox / "inbox" / "deep"
    target.mkdir(parents=True)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        await pilot.press("S")
        await wait_until(pilot, lambda: isinstance(app.screen, AskScreen), what="the folder prompt")
        app.screen.query_one(Input).value = str(target)
        await pilot.press("enter")
        await wait_until(pilot, lambda: any("saved into" in n for n in notes(app)), what="saving")
    written = sorted(p for p in sandbox.rglob("*") if p.is_file())
    assert all(p.parent == target for p in written), written
    assert sorted(p.read_bytes() for p in written) == [b"four", b"one", b"three", b"two"]
    assert {p.name for p in written} >= {"escape.txt", "passwd"}
