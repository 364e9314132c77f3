"""Shared pieces of the reply tests: a desk with one mailbox that sends, and customer mail."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlmodel import Session

from supportdesk.desk import directory, ingest
from supportdesk.desk.replies import Identity, MailSetup
from supportdesk.mail.parse import parse_message
from supportdesk.store.models import utcnow

SUPPORT = "support@desk.example"
SETUP = MailSetup(
    identities=(
        Identity(
            mailbox="support",
            address=SUPPORT,
            name="Desk Support",
            aliases=frozenset({SUPPORT, "help@desk.example"}),
        ),
    ),
    signature="Alice\nDesk Support",
)
ALICE = "agent:alice"


def customer_mail(
    subject: str = "Refund please",
    sender: str = "Jo Bloggs <jo@acme.example>",
    body: str = "I would like a refund.",
    *,
    to: str = SUPPORT,
    cc: str | None = None,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    headers: dict[str, str] | None = None,
    charset: str | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = message_id or make_msgid(domain="mail.example")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body, charset=charset) if charset else msg.set_content(body)
    return msg.as_bytes()


def receive(session: Session, raw: bytes, mailbox: str | None = "support") -> int:
    """Ingest one message as if synced from `mailbox`; returns the ticket number."""
    result = ingest.ingest(
        session,
        parse_message(raw),
        raw,
        default_queue="general",
        our_addresses=frozenset({SUPPORT}),
        source=ingest.Source(mailbox=mailbox, folder="INBOX"),
    )
    assert result.ticket_number is not None
    return result.ticket_number


def make_desk(session: Session) -> None:
    directory.ensure_queue(session, "general")
    directory.add_agent(
        session, "alice", email="alice@desk.example", name="Alice Archer", signature="-- Alice"
    )
    directory.add_agent(session, "bob", email="bob@desk.example", name="Bob")
