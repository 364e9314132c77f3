"""Each outgoing reply in the console's thread says where it is: queued, sent (when), failed
with the server's words, queued again after a temporary refusal, cancelled, uncertain.

Replies are queued through the domain (as the CLI queues them) and sent by the real sender
to a real aiosmtpd that refuses what the test tells it to.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from supportdesk.config import Settings, parse_settings
from supportdesk.desk import directory, outbox, replies
from supportdesk.desk.events import Change
from supportdesk.desk.outbox import ItemView, Sender
from supportdesk.desk.replies import ReplySpec
from supportdesk.store import Store
from supportdesk.store.models import utcnow
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.format import when
from supportdesk.tui.widgets.thread import ThreadView, delivery_text
from tests.replies_helpers import SUPPORT, customer_mail, receive
from tests.smtp_server import SmtpServer, start_server
from tests.tui.conftest import SIZE, open_ticket, ready, wait_until

ALICE = "agent:alice"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = start_server()
    yield server
    server.stop()


def settings_for(port: int) -> Settings:
    """One mailbox that sends to the test's aiosmtpd and keeps no copy in Sent (no IMAP)."""
    text = f"""agent = "alice"
[[mailboxes]]
name = "support"
address = "{SUPPORT}"
imap_host = "127.0.0.1"
password_command = "echo unused"
smtp_host = "127.0.0.1"
smtp_port = {port}
smtp_security = "none"
smtp_auth = "none"
sent_copy = false
from_name = "Desk Support"
"""
    return parse_settings(text, Path("/tmp/test-config.toml"))


def queue(store: Store, number: int, body: str, settings: Settings) -> int:
    """A reply queued the way `supportdesk tickets reply` queues one; its outbox id."""
    setup = replies.MailSetup.from_settings(settings)
    with store.session(write=True) as s:
        done = replies.queue_reply(
            s,
            number,
            ReplySpec(kind="reply", body=body, to="Jo Bloggs <jo@acme.example>"),
            setup,
            Change.by(ALICE),
        )
    assert done.outbox_id is not None
    return done.outbox_id


def thread_text(app: SupportdeskApp) -> str:
    """The open thread's text, unwrapped."""
    view = app.desk.query_one(ThreadView)
    return "\n".join(block.text.plain for block in view._blocks)


class Clock:
    def __init__(self) -> None:
        self.at = utcnow()

    def __call__(self) -> datetime:
        return self.at


async def test_thread_shows_each_replys_outbox_state_from_queued_to_refused(
    make_app: Callable[..., SupportdeskApp],
    demo_store: Store,
    other_session: Store,
    smtp: SmtpServer,
) -> None:
    settings = settings_for(smtp.port)
    with demo_store.session(write=True) as s:
        directory.ensure_queue(s, "general")
        number = receive(s, customer_mail(body="Where is my refund?"))
    soon = queue(demo_store, number, "Your refund left today.", settings)
    later = queue(demo_store, number, "A second thought about your refund.", settings)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        # Queued from outside the console, before any sending: shown as queued, not as sent.
        await wait_until(
            pilot,
            lambda: thread_text(app).count("queued, not sent yet") == 2,
            what="both replies queued",
        )
        assert "Your refund left today." in thread_text(app)

        smtp.recorder.data_replies.extend(
            ["451 4.3.0 Try again later", "550 5.1.1 <jo@acme.example>: \x1b[31mno such user"]
        )
        clock = Clock()
        report = await asyncio.to_thread(Sender(other_session, settings, now=clock).drain)
        assert report.deferred == [soon] and report.failed == [later]
        await wait_until(
            pilot,
            lambda: (
                "refused the message: 550 5.1.1 <jo@acme.example>: no such user" in thread_text(app)
            ),
            what="the server's refusal, inert",
        )
        text = thread_text(app)
        assert "\x1b" not in text and "⚠ failed: mailbox 'support'" in text
        assert f"supportdesk outbox retry {later}" in text
        assert "queued, retry at" in text and "(try 1 failed: mailbox 'support'" in text
        assert "451 4.3.0 Try again later)" in text
        assert f"outbox item {later} refused by the server" in text

        clock.at += timedelta(hours=2)
        report = await asyncio.to_thread(Sender(other_session, settings, now=clock).drain)
        assert report.sent == [soon] and len(smtp.recorder.messages) == 1
        with other_session.session(write=True) as s:
            outbox.cancel(s, later, Change.by(ALICE))
        await wait_until(
            pilot, lambda: "cancelled, never sent" in thread_text(app), what="the cancel"
        )
        text = thread_text(app)
        sent_at = outbox_item(demo_store, soon).sent_at
        assert sent_at is not None
        assert f"sent {when(sent_at)}" in text
        assert "queued, not sent yet" not in text and "failed:" not in text


def outbox_item(store: Store, item_id: int) -> ItemView:
    with store.session() as s:
        return outbox.get_item(s, item_id)


def test_the_states_a_person_must_act_on_say_what_to_do() -> None:
    """Uncertain and checking come only from a sender dying mid-DATA (tests/test_send_crash.py
    makes them for real); here only their words in the thread."""
    now = utcnow()
    base = ItemView(
        id=7,
        ticket_number=1,
        state="uncertain",
        kind="reply",
        mailbox="support",
        recipients=["jo@acme.example"],
        subject="Re: refund",
        attempts=1,
        last_error="connection lost after the handover",
        created_at=now,
        next_attempt_at=now,
        sent_at=None,
        message_id="<x@desk.example>",
        message_row_id=3,
        copied=False,
    )
    uncertain = delivery_text(base).plain
    assert "delivery uncertain, held for a person" in uncertain
    assert "outbox retry --force 7" in uncertain and "outbox cancel 7" in uncertain
    checking = delivery_text(ItemView(**{**base.__dict__, "state": "checking"})).plain
    assert "delivery uncertain: looking for it in Sent" in checking
    assert delivery_text(ItemView(**{**base.__dict__, "state": "sending"})).plain == "sending now"
    assert delivery_text(None).plain == "sent"


def test_times_from_the_store_are_utc_shown_in_local_time() -> None:
    """The store hands back naive UTC times; a Tokyo agent sees them nine hours on."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    try:
        assert when(datetime(2026, 1, 2, 3, 4)) == "2026-01-02 12:04"
        assert when(datetime(2026, 1, 2, 3, 4, tzinfo=UTC)) == "2026-01-02 12:04"
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()
