"""Sending the outbox against real servers: aiosmtpd for SMTP (plain, STARTTLS, TLS) and the
throwaway Dovecot for the Sent folder; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from supportdesk.config import Settings, parse_settings
from supportdesk.desk import outbox, replies
from supportdesk.desk.events import Change
from supportdesk.desk.outbox import Sender
from supportdesk.mail.parse import parse_message
from supportdesk.store import Store
from supportdesk.store.models import OutboxItem, utcnow
from tests.imap_server import DovecotServer, ImapAccount
from tests.replies_helpers import ALICE, customer_mail, make_desk, receive
from tests.smtp_server import PASSWORD, USER, SmtpServer, start_server


def config_text(
    account: ImapAccount,
    smtp_port: int,
    *,
    security: str = "none",
    login: bool = False,
    extra: str = "",
    password_file: Path | None = None,
    database_url: str | None = None,
) -> str:
    """A config with one mailbox: IMAP on the test Dovecot, SMTP on the test aiosmtpd."""
    auth = 'smtp_auth = "none"'
    if login:
        assert password_file is not None
        auth = f'smtp_username = "{USER}"\nsmtp_password_command = "cat {password_file}"'
    top = f'database_url = "{database_url}"\n' if database_url else ""
    return f"""{top}agent = "alice"
[[mailboxes]]
name = "support"
address = "{account.address}"
imap_host = "{account.host}"
imap_port = {account.tls_port}
ca_file = "{account.ca_file}"
password_command = "echo {account.password}"
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
smtp_security = "{security}"
from_name = "Desk Support"
{auth}
{extra}
"""


def settings_for(account: ImapAccount, smtp_port: int, **options: object) -> Settings:
    return parse_settings(
        config_text(account, smtp_port, **options),  # type: ignore[arg-type]
        Path("/tmp/test-config.toml"),
    )


def queue_one(store: Store, settings: Settings, body: str = "Refunded.", **spec: object) -> int:
    """A customer ticket from the mailbox and a reply to it in the outbox; its outbox id."""
    setup = replies.MailSetup.from_settings(settings)
    address = settings.mailboxes[0].address
    with store.session(write=True) as s:
        if s.exec(select(OutboxItem)).first() is None and not list(
            s.exec(select(replies.Agent))  # type: ignore[attr-defined]
        ):
            make_desk(s)
        number = receive(s, customer_mail(to=address, body="Where is my refund?"))
        draft = replies.open_draft(s, number, ALICE, setup)
        replies.save_draft(s, draft.id, ALICE, body=body, **spec)
        done = replies.send_draft(s, draft.id, ALICE, setup)
    assert done.outbox_id is not None
    return done.outbox_id


def state(store: Store, item_id: int) -> OutboxItem:
    with store.session() as s:
        item = s.get(OutboxItem, item_id)
        assert item is not None
        return item


class Clock:
    def __init__(self) -> None:
        self.at = utcnow()

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def smtp() -> SmtpServer:
    server = start_server()
    yield server  # type: ignore[misc]
    server.stop()


def test_a_reply_is_delivered_once_with_its_headers_and_copied_to_sent(
    store: Store, imap_account: ImapAccount, smtp: SmtpServer
) -> None:
    settings = settings_for(imap_account, smtp.port)
    item_id = queue_one(store, settings, body="こんにちは、返金しました。")
    report = Sender(store, settings).drain()
    assert report.sent == [item_id] and report.exit_code == 0
    assert len(smtp.recorder.messages) == 1
    received = smtp.recorder.messages[0]
    assert received.rcpt_tos == ["jo@acme.example"]
    assert received.mail_from == imap_account.address
    parsed = parse_message(received.data)
    item = state(store, item_id)
    assert parsed.message_id == item.message_id_header
    assert parsed.in_reply_to and parsed.subject.startswith("Re: [#")
    assert "こんにちは、返金しました。" in parsed.text
    assert item.state == "sent" and item.attempts == 1 and item.copied_at is not None
    copies = imap_account.fetch_messages("Sent")
    assert [parse_message(raw).message_id for raw in copies.values()] == [item.message_id_header]
    again = Sender(store, settings).drain()
    assert again.sent == [] and len(smtp.recorder.messages) == 1


def test_sent_copy_off_and_bcc_self(
    store: Store, imap_account: ImapAccount, smtp: SmtpServer
) -> None:
    settings = settings_for(imap_account, smtp.port, extra="sent_copy = false\nbcc_self = true")
    item_id = queue_one(store, settings)
    Sender(store, settings).drain()
    assert smtp.recorder.messages[0].rcpt_tos == ["jo@acme.example", imap_account.address]
    assert state(store, item_id).copied_at is None
    assert imap_account.fetch_messages("Sent") == {}


def test_starttls_with_verified_certificate_and_login(
    store: Store, imap_account: ImapAccount, dovecot: DovecotServer, tmp_path: Path
) -> None:
    password_file = tmp_path / "pw"
    password_file.write_text(PASSWORD)
    server = start_server(tls=dovecot.ssl_dir, require_auth=True)
    try:
        settings = settings_for(
            imap_account, server.port, security="starttls", login=True, password_file=password_file
        )
        item_id = queue_one(store, settings)
        report = Sender(store, settings).drain()
        assert report.sent == [item_id], report.errors
        assert len(server.recorder.messages) == 1
        # Without the CA the certificate is refused, and nothing is sent.
        bare = settings.model_copy(
            update={"mailboxes": [settings.mailboxes[0].model_copy(update={"ca_file": None})]}
        )
        second = queue_one(store, bare)
        report = Sender(store, bare).drain()
        assert report.deferred == [second]
        assert "certificate verification failed" in state(store, second).last_error
        assert len(server.recorder.messages) == 1
    finally:
        server.stop()


def test_implicit_tls(store: Store, imap_account: ImapAccount, dovecot: DovecotServer) -> None:
    server = start_server(tls=dovecot.ssl_dir, implicit_tls=True)
    try:
        settings = settings_for(imap_account, server.port, security="tls")
        item_id = queue_one(store, settings)
        assert Sender(store, settings).drain().sent == [item_id]
        assert len(server.recorder.messages) == 1
    finally:
        server.stop()


def test_server_down_queues_and_delivers_once_when_it_returns(
    store: Store, imap_account: ImapAccount
) -> None:
    from tests.imap_server import free_port

    port = free_port()
    settings = settings_for(imap_account, port)
    item_id = queue_one(store, settings)
    clock = Clock()
    report = Sender(store, settings, now=clock).drain()
    assert report.deferred == [item_id] and report.exit_code == outbox.EX_TEMPFAIL
    item = state(store, item_id)
    assert item.state == "queued" and "refused the connection" in item.last_error
    assert item.attempts == 0 and item.next_attempt_at > clock.at
    server = start_server(port=port)
    try:
        assert Sender(store, settings, now=clock).drain().sent == []  # not due yet
        clock.at += timedelta(hours=2)
        assert Sender(store, settings, now=clock).drain().sent == [item_id]
        Sender(store, settings, now=clock).drain()
        assert len(server.recorder.messages) == 1
    finally:
        server.stop()


def test_4xx_is_retried_and_5xx_is_permanent_with_the_servers_words(
    store: Store, imap_account: ImapAccount, smtp: SmtpServer
) -> None:
    settings = settings_for(imap_account, smtp.port, extra="sent_copy = false")
    first = queue_one(store, settings)
    second = queue_one(store, settings)
    smtp.recorder.data_replies.extend(["451 4.3.0 Try again later", "550 5.1.1 No such user"])
    clock = Clock()
    report = Sender(store, settings, now=clock).drain()
    assert report.deferred == [first] and report.failed == [second]
    assert report.exit_code == 1
    assert "451 4.3.0 Try again later" in state(store, first).last_error
    failed = state(store, second)
    assert failed.state == "failed" and "550 5.1.1 No such user" in failed.last_error
    clock.at += timedelta(hours=2)
    assert Sender(store, settings, now=clock).drain().sent == [first]
    assert len(smtp.recorder.messages) == 1
    with store.session() as s:
        listed = {v.id: v for v in outbox.list_items(s)}
    assert list(listed) == [second] and "refused" in listed[second].explanation
    with store.session(write=True) as s:
        outbox.retry(s, second, Change.by(ALICE))
    assert Sender(store, settings, now=clock).drain().sent == [second]
    assert len(smtp.recorder.messages) == 2


def test_cancel_gives_back_the_first_response_time(
    store: Store, imap_account: ImapAccount, smtp: SmtpServer
) -> None:
    settings = settings_for(imap_account, smtp.port)
    item_id = queue_one(store, settings)
    with store.session(write=True) as s:
        view = outbox.cancel(s, item_id, Change.by(ALICE))
        assert view.state == "cancelled"
        from supportdesk.store.models import Ticket

        ticket = s.get(Ticket, state(store, item_id).ticket_id)
        assert ticket is not None and ticket.first_response_at is None
    assert Sender(store, settings).drain().sent == []
    assert smtp.recorder.messages == []


def test_a_reply_that_cannot_go_out_for_days_is_failed_for_a_person(
    store: Store, imap_account: ImapAccount
) -> None:
    from tests.imap_server import free_port

    settings = settings_for(imap_account, free_port())
    item_id = queue_one(store, settings)
    clock = Clock()
    assert Sender(store, settings, now=clock).drain().deferred == [item_id]
    clock.at += timedelta(hours=settings.send.give_up_hours + 1)
    report = Sender(store, settings, now=clock).drain()
    assert report.failed == [item_id] and report.exit_code == 1
    item = state(store, item_id)
    assert item.state == "failed" and item.last_error.startswith("gave up retrying:")
