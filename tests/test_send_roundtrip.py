"""From a customer's mail to our reply and back, through the CLI, Dovecot and aiosmtpd.

A reply sent with `tickets reply` and `send` carries our signed Message-ID and the ticket
tag; the customer's answers sync back and thread as the mail-in rules say: by In-Reply-To
alone, by the subject tag alone from the requester, and never by the tag from a stranger.
Our own copy coming back (bcc_self) is a duplicate, not a ticket.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from supportdesk.mail.parse import parse_message
from supportdesk.store import Store
from supportdesk.store.models import Message, Ticket
from tests.imap_server import ImapAccount
from tests.smtp_server import SmtpServer, start_server
from tests.test_send import config_text
from tests.test_sync import sd


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = start_server()
    yield server
    server.stop()


def _answer(sender: str, to: str, subject: str, message_id: str, *, in_reply_to: str = "") -> bytes:
    lines = [
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        "Date: Mon, 02 Nov 2026 10:00:00 +0000",
        f"Message-ID: {message_id}",
    ]
    if in_reply_to:
        lines.append(f"In-Reply-To: {in_reply_to}")
    return ("\r\n".join(lines) + "\r\n\r\nThanks!\r\n").encode()


def test_reply_and_the_customers_answers_thread_back(
    store: Store, imap_account: ImapAccount, smtp: SmtpServer, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        config_text(
            imap_account,
            smtp.port,
            database_url=store.url,
            extra='default_queue = "general"\nsent_copy = true',
        )
    )
    support = imap_account.address
    imap_account.append(
        _answer("Jo Bloggs <jo@acme.example>", support, "Refund please", "<q1@acme.example>")
    )
    code, _out, err = sd(config, "sync")
    assert code == 0, err
    body = tmp_path / "reply.txt"
    body.write_text("Your refund is on its way.\n")
    code, out, err = sd(
        config, "tickets", "reply", "1", "--body-file", str(body), "--status", "pending",
        "--yes", "--json",
    )  # fmt: skip
    assert code == 0, err
    queued = json.loads(out)
    assert queued["status"] == "pending" and queued["recipients"] == ["jo@acme.example"]
    code, out, err = sd(config, "send", "--json")
    assert code == 0, err
    assert json.loads(out)["sent"] == [queued["outbox_id"]]
    (delivered,) = smtp.recorder.messages
    ours = parse_message(delivered.data)
    assert ours.message_id == queued["message_id"]
    assert ours.in_reply_to == "<q1@acme.example>"
    assert ours.subject == "Re: [#1] Refund please"

    imap_account.append(delivered.data)  # our own copy, as with bcc_self
    imap_account.append(
        _answer(
            "jo@acme.example", support, "Something else entirely", "<a1@acme.example>",
            in_reply_to=ours.message_id,
        )
    )  # fmt: skip
    imap_account.append(_answer("jo@acme.example", support, ours.subject, "<a2@acme.example>"))
    imap_account.append(
        _answer("Mallory <m@evil.example>", support, ours.subject, "<a3@evil.example>")
    )
    code, _out, err = sd(config, "sync")
    assert code == 0, err
    with store.session() as s:
        tickets = {t.number: t for t in s.scalars(select(Ticket))}
        where = {
            m.message_id: m.ticket_id
            for m in s.scalars(select(Message).where(col(Message.direction) == "in"))
        }
        out_count = len(list(s.scalars(select(Message).where(col(Message.direction) == "out"))))
    assert sorted(tickets) == [1, 2]
    assert where["<a1@acme.example>"] == where["<a2@acme.example>"] == tickets[1].id
    assert where["<a3@evil.example>"] == tickets[2].id
    assert out_count == 1  # our copy was recognised, not stored twice
    assert tickets[1].status == "open"  # the customer's answer woke the pending ticket
    sent_folder = imap_account.fetch_messages("Sent")
    assert [parse_message(r).message_id for r in sent_folder.values()] == [ours.message_id]


def test_sync_watch_sends_queued_replies(
    store: Store, imap_account: ImapAccount, smtp: SmtpServer, tmp_path: Path
) -> None:
    import signal
    import subprocess
    import sys
    import time

    from tests.test_send import queue_one, settings_for, state

    settings = settings_for(imap_account, smtp.port, extra='default_queue = "general"')
    item_id = queue_one(store, settings)
    config = tmp_path / "config.toml"
    config.write_text(
        config_text(
            imap_account,
            smtp.port,
            database_url=store.url,
            extra='default_queue = "general"\n[send]\npoll_seconds = 1',
        )
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "supportdesk", "--config", str(config), "sync", "--watch", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not smtp.recorder.messages and time.monotonic() < deadline:
            time.sleep(0.2)
        while state(store, item_id).copied_at is None and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
    assert len(smtp.recorder.messages) == 1
    assert state(store, item_id).state == "sent"
    events = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    assert any(e.get("event") == "outbox.sent" and e.get("id") == item_id for e in events)


def test_a_queue_acknowledges_new_tickets_from_sync_without_any_rule(
    store: Store, imap_account: ImapAccount, smtp: SmtpServer, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        config_text(
            imap_account, smtp.port, database_url=store.url, extra='default_queue = "general"'
        )
    )
    canned_file = tmp_path / "ack.toml"
    canned_file.write_text(
        '[[canned]]\nname = "ack"\nbody = "We got it: ticket #{ticket.number}."\n'
    )
    assert sd(config, "canned", "import", str(canned_file))[0] == 0
    sd(config, "queues", "add", "general")
    code, _out, err = sd(config, "queues", "acknowledge", "general", "ack")
    assert code == 0, err
    support = imap_account.address
    imap_account.append(_answer("jo@acme.example", support, "Help", "<h1@acme.example>"))
    imap_account.append(
        _answer("MAILER-DAEMON@acme.example", support, "Undeliverable", "<b1@acme.example>")
    )
    assert sd(config, "sync")[0] == 0
    code, _out, err = sd(config, "send", "--json")
    assert code == 0, err
    (ack,) = smtp.recorder.messages  # the bounce got nothing
    parsed = parse_message(ack.data)
    assert ack.rcpt_tos == ["jo@acme.example"]
    assert parsed.robot.auto_reply and parsed.text.startswith("We got it: ticket #1.")
