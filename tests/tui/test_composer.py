"""The composer from the keyboard, against a real store: reply, reply-all, forward and note,
drafts that save themselves and resume, $EDITOR, preview, collisions, attachments and canned
replies. The console only queues: each send is checked as an outbox row in the store."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlmodel import col
from textual.pilot import Pilot
from textual.widgets import Input

from supportdesk.desk import replies, tickets
from supportdesk.store import Store
from supportdesk.store.models import Draft, OutboxItem
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.screens.composer import (
    ComposerScreen,
)
from tests.replies_helpers import SETUP, SUPPORT
from tests.tui.conftest import SIZE, notes, open_ticket, ready, wait_until
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
    from supportdesk.tui.screens.modals import PickScreen

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
