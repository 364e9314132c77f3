"""The composer from the keyboard, against a real store: reply, reply-all, forward and note,
drafts that save themselves and resume, $EDITOR, preview, collisions, attachments and canned
replies. The console only queues: each send is checked as an outbox row in the store."""

from __future__ import annotations

import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import col
from textual.pilot import Pilot
from textual.widgets import Input

from supportdesk.desk import directory, replies, tickets
from supportdesk.desk.events import Change
from supportdesk.store import Store
from supportdesk.store.models import Draft, OutboxItem
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.screens.composer import (
    AttachmentList,
    CollisionScreen,
    ComposerScreen,
    PreviewScreen,
)
from supportdesk.tui.screens.modals import PickScreen
from tests.replies_helpers import SETUP, SUPPORT, customer_mail, receive
from tests.tui.conftest import SIZE, notes, open_ticket, ready, screen_text, wait_until
from tests.tui.test_console_actions import detail, first

ALICE = "agent:alice"


@pytest.fixture
def store(demo_store: Store) -> Store:
    """The demo store with one mailbox that sends, as `supportdesk console` opens it."""
    demo_store.info[replies.MAIL_SETUP] = SETUP
    return demo_store


def outbox(store: Store, number: int) -> list[OutboxItem]:
    with store.session() as session:
        ticket = tickets.get_ticket(session, number)
        return list(
            session.scalars(
                select(OutboxItem)
                .where(col(OutboxItem.ticket_id) == ticket.id)
                .order_by(col(OutboxItem.id))
            )
        )


def stored_draft(store: Store, number: int) -> Draft | None:
    with store.session() as session:
        ticket = tickets.get_ticket(session, number)
        return session.scalars(
            select(Draft).where(col(Draft.ticket_id) == ticket.id, col(Draft.author) == ALICE)
        ).first()


def composer(app: SupportdeskApp) -> ComposerScreen:
    screen = app.screen
    assert isinstance(screen, ComposerScreen), type(screen).__name__
    return screen


async def open_composer(pilot: Pilot, key: str) -> ComposerScreen:
    app: SupportdeskApp = pilot.app  # type: ignore[assignment]
    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(app.screen, ComposerScreen), what="the composer")
    await pilot.pause()
    return composer(app)


async def type_text(pilot: Pilot, text: str) -> None:
    await pilot.press(*["enter" if c == "\n" else "space" if c == " " else c for c in text])


async def closed(pilot: Pilot) -> None:
    app: SupportdeskApp = pilot.app  # type: ignore[assignment]
    await wait_until(pilot, lambda: app.screen is app.desk, what="the composer to close")


async def pick_in(pilot: Pilot, text: str) -> None:
    """Narrow the picker on top to `text` and take the first match."""
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, PickScreen), what="the picker")
    picker = app.screen
    picker.query_one(Input).value = text
    await pilot.pause()
    await pilot.press("enter")
    await wait_until(pilot, lambda: app.screen is not picker, what="the picker to close")


async def send(pilot: Pilot, status: str) -> None:
    """ctrl+s, then the status picked with the send ("keep": as it is)."""
    await pilot.press("ctrl+s")
    await pick_in(pilot, "status stays" if status == "keep" else f"set {status}")


async def test_reply_is_queued_with_the_status_chosen(
    make_app: Callable[..., SupportdeskApp], store: Store
) -> None:
    number = first(store, "status:open")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        screen = await open_composer(pilot, "r")
        to = screen.query_one("#composer-to", Input).value
        requester = detail(store, number).row.requester_email
        assert requester in to
        assert f"[#{number}]" in screen.query_one("#composer-subject", Input).value
        await type_text(pilot, "Your refund is on its way.")
        await send(pilot, "pending")
        await closed(pilot)
        items = outbox(store, number)
        assert [(i.state, i.recipients) for i in items] == [("queued", requester)]
        raw = items[0].raw.decode("utf-8", "replace")
        assert "Your refund is on its way." in raw and "Alice" in raw  # the signature
        assert f"From: Desk Support <{SUPPORT}>" in raw
        assert detail(store, number).row.status == "pending"
        assert stored_draft(store, number) is None
        assert any("queued to" in n and "status pending" in n for n in notes(app))


async def test_draft_saves_itself_and_resumes_after_the_console_is_gone(
    make_app: Callable[..., SupportdeskApp], store: Store
) -> None:
    number = first(store, "status:open")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        await open_composer(pilot, "r")
        await type_text(pilot, "Half a thought")
        await wait_until(
            pilot,
            lambda: getattr(stored_draft(store, number), "body", None) == "Half a thought",
            what="the draft to save itself while the composer is open",
        )
        app.exit()  # no escape, no save on the way out: the autosave is all there is
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        assert number in app.desk.ticket_list.drafted
        assert f"✎{number:>7}" in screen_text(app).replace("│", "")
        screen = await open_composer(pilot, "r")
        assert screen.body.text == "Half a thought"
        await type_text(pilot, ", finished.")
        await pilot.press("escape")
        await closed(pilot)
        assert getattr(stored_draft(store, number), "body", None) == "Half a thought, finished."
        assert any("draft kept" in n for n in notes(app))


def ticket_with_ccs(store: Store) -> int:
    with store.session(write=True) as session:
        directory.ensure_queue(session, "general")
        return receive(
            session,
            customer_mail(
                subject="Invoice copy",
                sender="Jo Bloggs <jo@acme.example>",
                cc="Pat Lee <pat@acme.example>, help@desk.example",
                body="Please send the invoice to both of us.",
            ),
        )


async def test_reply_all_keeps_ccs_but_not_ours_then_forward_keeps_the_text(
    make_app: Callable[..., SupportdeskApp], store: Store
) -> None:
    number = ticket_with_ccs(store)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        screen = await open_composer(pilot, "R")
        cc = screen.query_one("#composer-cc", Input).value
        assert "pat@acme.example" in cc
        assert "desk.example" not in cc
        assert "jo@acme.example" in screen.query_one("#composer-to", Input).value
        await type_text(pilot, "See below.")
        await pilot.press("ctrl+n")
        await pick_in(pilot, "Forward")
        await wait_until(pilot, lambda: screen.draft.kind == "forward", what="the switch")
        assert screen.body.text == "See below."
        assert screen.query_one("#composer-to", Input).value == ""
        assert "Fwd" in screen.query_one("#composer-subject", Input).value
        screen.query_one("#composer-to", Input).value = "Accounts <accounts@partner.example>"
        await send(pilot, "keep")
        await closed(pilot)
        [item] = outbox(store, number)
        assert item.recipients == "accounts@partner.example"
        raw = item.raw.decode("utf-8", "replace")
        assert "See below." in raw and "message/rfc822" in raw


async def test_note_through_the_composer_is_added_not_mailed(
    make_app: Callable[..., SupportdeskApp], store: Store
) -> None:
    number = first(store, "status:open")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        screen = await open_composer(pilot, "N")
        assert screen.draft.kind == "note"
        assert not screen.query_one("#row-to").display
        await type_text(pilot, "Customer is a VIP")
        await send(pilot, "on-hold")
        await closed(pilot)
        found = detail(store, number)
        assert [n.body for n in found.notes][-1] == "Customer is a VIP"
        assert found.row.status == "on-hold"
        assert outbox(store, number) == []


@pytest.fixture
def fake_editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An editor that appends a line to the file it is given, as a person would."""
    script = tmp_path / "fake-editor"
    script.write_text(
        f"#!{sys.executable}\nimport sys\n"
        "with open(sys.argv[1], 'a', encoding='utf-8') as f:\n"
        "    f.write('\\nWritten in the editor: 日本語も\\n')\n",
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("VISUAL", str(script))
    yield script


async def test_editor_key_runs_visual_and_takes_its_text(
    make_app: Callable[..., SupportdeskApp], store: Store, fake_editor: Path
) -> None:
    number = first(store, "status:open")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        screen = await open_composer(pilot, "r")
        await type_text(pilot, "Typed here.")
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: "Written in the editor" in screen.body.text)
        assert screen.body.text.startswith("Typed here.\nWritten in the editor: 日本語も")
        await wait_until(
            pilot,
            lambda: "日本語も" in getattr(stored_draft(store, number), "body", ""),
            what="the editor's text to be saved",
        )


async def test_a_failing_editor_leaves_the_text_and_says_why(
    make_app: Callable[..., SupportdeskApp], store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VISUAL", "false")
    number = first(store, "status:open")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        screen = await open_composer(pilot, "r")
        await type_text(pilot, "Keep me")
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: any("exited with 1" in n for n in notes(app)))
        assert screen.body.text == "Keep me"


async def test_preview_shows_the_exact_mail(
    make_app: Callable[..., SupportdeskApp], store: Store
) -> None:
    number = first(store, "status:open")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        await open_composer(pilot, "r")
        await type_text(pilot, "Previewed words")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: isinstance(app.screen, PreviewScreen), what="preview")
        await pilot.pause()
        shown = screen_text(app)
        assert "Previewed words" in shown
        assert f"From: Desk Support <{SUPPORT}>" in shown
        assert f"[#{number}]" in shown and "Message-ID:" in shown
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ComposerScreen))


async def test_collision_shows_what_arrived_and_send_anyway_queues_once(
    make_app: Callable[..., SupportdeskApp], store: Store
) -> None:
    number = first(store, "status:open")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        await open_composer(pilot, "r")
        await type_text(pilot, "Answer")
        with store.session(write=True) as session:
            tickets.add_note(session, number, "Customer called: refunded", Change.by("agent:bob"))
        await send(pilot, "keep")
        await wait_until(pilot, lambda: isinstance(app.screen, CollisionScreen), what="collision")
        await pilot.pause()
        assert "Customer called: refunded" in screen_text(app)
        assert outbox(store, number) == []
        await pilot.press("s")
        await closed(pilot)
        assert [i.state for i in outbox(store, number)] == ["queued"]


async def test_collision_revise_keeps_the_draft_and_the_next_send_goes(
    make_app: Callable[..., SupportdeskApp], store: Store
) -> None:
    number = first(store, "status:open")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        screen = await open_composer(pilot, "r")
        await type_text(pilot, "First go")
        requester = detail(store, number).row.requester_email
        with store.session(write=True) as session:
            directory.ensure_queue(session, "general")
            answer = customer_mail(
                subject=f"Re: [#{number}] still waiting",
                sender=requester,
                body="Wait, check the bank first",
            )
            assert receive(session, answer) == number  # mail in, threaded by the tag
        await send(pilot, "keep")
        await wait_until(pilot, lambda: isinstance(app.screen, CollisionScreen), what="collision")
        await pilot.pause()
        assert "Wait, check the bank first" in screen_text(app)
        await pilot.press("r")
        await wait_until(pilot, lambda: app.screen is screen, what="back in the composer")
        await wait_until(pilot, lambda: "revise" in screen._status, what="the rebase")
        assert getattr(stored_draft(store, number), "body", None) == "First go"
        await type_text(pilot, " (checked)")
        await send(pilot, "keep")
        await closed(pilot)
        [item] = outbox(store, number)
        assert b"First go (checked)" in item.raw


async def test_attachments_are_listed_with_sizes_and_removable(
    make_app: Callable[..., SupportdeskApp], store: Store, tmp_path: Path
) -> None:
    number = first(store, "status:open")
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.4 " + b"x" * 3000)
    extra = tmp_path / "notes.txt"
    extra.write_text("extra", encoding="utf-8")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        screen = await open_composer(pilot, "r")
        await type_text(pilot, "Files attached")
        screen.attach(report)
        screen.attach(extra)
        await wait_until(pilot, lambda: len(screen.draft.attachments) == 2, what="attaching")
        await pilot.pause()
        shown = screen_text(app)
        assert "report.pdf" in shown and "2 KB" in shown and "notes.txt" in shown
        listing = screen.query_one(AttachmentList)
        listing.focus()
        listing.highlighted = 1
        await pilot.press("delete")
        await wait_until(pilot, lambda: len(screen.draft.attachments) == 1, what="removal")
        assert [a.filename for a in screen.draft.attachments] == ["report.pdf"]
        await send(pilot, "keep")
        await closed(pilot)
        [item] = outbox(store, number)
        assert b"report.pdf" in item.raw and b"notes.txt" not in item.raw


async def test_mail_text_in_the_composer_is_inert(
    make_app: Callable[..., SupportdeskApp], store: Store
) -> None:
    with store.session(write=True) as session:
        directory.ensure_queue(session, "general")
        number = receive(
            session,
            customer_mail(subject="Hi \x1b]0;owned\x07there", body="evil \x1b[31mred\x1b[0m text"),
        )
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        screen = await open_composer(pilot, "r")
        await pilot.press("ctrl+o", "ctrl+b")
        await pilot.pause()
        shown = screen_text(app)
        assert "\x1b" not in shown and "evil red text" in shown.replace("> ", "")
        assert "\x1b" not in screen.query_one("#composer-subject", Input).value


async def test_quitting_with_the_composer_open_keeps_what_the_timer_had_not_saved(
    make_app: Callable[..., SupportdeskApp], store: Store
) -> None:
    number = first(store, "status:open")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        screen = await open_composer(pilot, "r")
        screen.body.load_text("Typed just before quitting")  # no timer has fired for it
        await pilot.press("ctrl+q")
    assert getattr(stored_draft(store, number), "body", None) == "Typed just before quitting"


async def test_canned_reply_in_the_customers_language_or_switched_with_its_macro(
    make_app: Callable[..., SupportdeskApp], store: Store
) -> None:
    from supportdesk.desk import canned, directory
    from supportdesk.tui.screens.canned_picker import CannedPickerScreen
    from tests.replies_helpers import customer_mail, receive

    with store.session(write=True) as session:
        directory.ensure_queue(session, "general")
        number = receive(
            session,
            customer_mail(sender="Jo Bloggs <jo@acme.example>", body="お世話になっております。"),
        )
        canned.add_canned_text(
            session,
            '[[canned]]\nname = "refund-ok"\ntitle = "Refund approved"\n'
            'body = """\nHello {customer.first_name|there}, your refund for #{ticket.number} '
            'is on its way."""\nstatus = "solved"\ntags = ["refund"]\n\n'
            '[canned.variants.ja]\nbody = """\n{customer.name|お客}様、#{ticket.number} '
            'の返金を手配しました。"""\n',
        )
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        screen = await open_composer(pilot, "r")
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: isinstance(app.screen, CannedPickerScreen), what="picker")
        app.screen.query_one("#canned-filter", Input).value = "refund-ok"
        await wait_until(pilot, lambda: "返金を手配しました" in screen_text(app), what="ja preview")
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: "your refund for" in screen_text(app), what="en preview")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "Hello Jo, your refund" in screen.body.text, what="insert")
        assert screen.draft.canned == "refund-ok" and screen.draft.language == "en"
        await send(pilot, "keep")
        await closed(pilot)
    found = detail(store, number)
    assert found.row.status == "solved" and "refund" in found.tags
    [item] = outbox(store, number)
    assert b"Hello Jo, your refund" in item.raw


async def test_attach_key_opens_the_path_picker_and_attaches_the_file(
    make_app: Callable[..., SupportdeskApp], store: Store, tmp_path: Path
) -> None:
    from supportdesk.tui.screens.attach import AttachScreen

    number = first(store, "status:open")
    report = tmp_path / "quarterly-report.pdf"
    report.write_bytes(b"%PDF-1.4 " + b"y" * 5000)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        screen = await open_composer(pilot, "r")
        await pilot.press("ctrl+f")
        await wait_until(pilot, lambda: isinstance(app.screen, AttachScreen), what="the picker")
        app.screen.query_one("#attach-path", Input).value = str(report)
        await pilot.pause()
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(screen.draft.attachments) == 1, what="attaching")
        await pilot.pause()
        assert "quarterly-report.pdf" in screen_text(app) and "4 KB" in screen_text(app)
