"""Adding a message to a ticket: the message, its raw bytes and its index entry go in together."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from supportdesk.desk import events
from supportdesk.desk.sla import due
from supportdesk.desk.tickets import Change, write_ticket
from supportdesk.i18n import _
from supportdesk.mail.fingerprint import content_fingerprint
from supportdesk.store import search
from supportdesk.store.models import (
    Attachment,
    AttachmentBlob,
    Message,
    MessageRaw,
    Ticket,
    table_of,
)

INSERT_MESSAGE = table_of(Message).insert().returning(table_of(Message).c.id)
INSERT_RAW = table_of(MessageRaw).insert()
_INSERT_ATTACHMENT = table_of(Attachment).insert()


@dataclass
class NewAttachment:
    filename: str
    content_type: str
    content: bytes
    content_id: str = ""
    is_inline: bool = False


@dataclass
class NewMessage:
    """What the parser (or the demo, or a reply) knows about one message."""

    raw: bytes
    message_id: str
    direction: str = "in"
    from_name: str = ""
    from_address: str = ""
    to_addresses: str = ""
    cc_addresses: str = ""
    subject: str = ""
    sent_at: datetime | None = None
    body_text: str = ""
    body_html: str = ""
    in_reply_to: str = ""
    references: str = ""
    is_auto_reply: bool = False
    is_bounce: bool = False
    is_list: bool = False
    parse_problems: list[str] = field(default_factory=list)
    author_agent_id: int | None = None
    mailbox: str | None = None
    folder: str | None = None
    uidvalidity: int | None = None
    uid: int | None = None
    attachments: list[NewAttachment] = field(default_factory=list)
    content_hash: str = ""
    """The parser's fingerprint when it has one; otherwise computed from `raw` on insert."""


def add_message(
    session: Session,
    ticket: Ticket,
    new: NewMessage,
    change: Change,
    *,
    first_response: bool = True,
) -> Message:
    """Store `new` on `ticket`, bumping the ticket so open views see a change.

    An outgoing message sets the ticket's first response time unless `first_response` is
    False (forwards to a third party and automatic acknowledgements answer nobody)."""
    now = change.now()
    values = message_values(ticket.id, new, now)  # type: ignore[arg-type]
    message = Message(**values)
    # Prebuilt core statements: at a million messages the ORM is most of the cost.
    conn = session.connection()
    message.id = conn.execute(INSERT_MESSAGE, values).scalar_one()
    conn.execute(INSERT_RAW, {"message_id": message.id, "raw": new.raw})
    search.index_documents(conn, [(message.id, ticket.id, document_for(values))])  # type: ignore[list-item]
    store_attachments(conn, attachment_rows(message.id, new.attachments))
    if first_response and new.direction == "out":
        due.note_responses(session, [ticket.id], now)  # type: ignore[list-item]
    changes: dict[str, object] = {"message_count": ticket.message_count + 1}
    if first_response and answers(ticket.first_response_at, new):
        changes["first_response_at"] = now
    write_ticket(session, ticket, changes, ticket.version, change)
    events.record(
        session,
        ticket,
        f"message_{new.direction}",
        change,
        new=str(message.id),
    )
    return message


def answers(first_response_at: datetime | None, new: NewMessage) -> bool:
    """Whether storing `new` is the ticket's first response: the first outgoing message.

    Both ways a message is stored (one at a time here, in batches in desk.ingest) ask this;
    desk.outbox recomputes the time when a queued reply is cancelled."""
    return new.direction == "out" and first_response_at is None


def message_values(ticket_id: int, new: NewMessage, now: datetime) -> dict[str, Any]:
    """The `messages` row for `new` on ticket `ticket_id` (every column but the id)."""
    if new.direction not in ("in", "out"):
        raise ValueError(
            _("direction must be 'in' or 'out', not {direction!r}").format(direction=new.direction)
        )
    return {
        "ticket_id": ticket_id,
        "direction": new.direction,
        "message_id": new.message_id,
        "in_reply_to": new.in_reply_to,
        "references": new.references,
        "from_name": new.from_name,
        "from_address": new.from_address.lower(),
        "to_addresses": new.to_addresses,
        "cc_addresses": new.cc_addresses,
        "subject": new.subject,
        "sent_at": new.sent_at,
        "received_at": now,
        "body_text": new.body_text,
        "body_html": new.body_html,
        "size": len(new.raw),
        "sha256": hashlib.sha256(new.raw).hexdigest(),
        "content_hash": new.content_hash or content_fingerprint(new.raw),
        "is_auto_reply": new.is_auto_reply,
        "is_bounce": new.is_bounce,
        "is_list": new.is_list,
        "parse_problems": "\n".join(new.parse_problems),
        "author_agent_id": new.author_agent_id,
        "mailbox": new.mailbox,
        "folder": new.folder,
        "uidvalidity": new.uidvalidity,
        "uid": new.uid,
    }


def document_for(values: Mapping[str, Any]) -> str:
    """What a message contributes to the full-text index, from its `message_values`: what
    is stored, not what was parsed, so a merge can make the same document again."""
    return search.row_document(values)


@dataclass
class AttachmentRows:
    """Attachment contents (one per distinct hash) and per-message metadata, ready to insert."""

    blobs: dict[str, dict[str, object]] = field(default_factory=dict)
    rows: list[dict[str, object]] = field(default_factory=list)

    def add(self, message_id: int, attachment: NewAttachment) -> None:
        digest = hashlib.sha256(attachment.content).hexdigest()
        size = len(attachment.content)
        if digest not in self.blobs:
            self.blobs[digest] = {"sha256": digest, "size": size, "content": attachment.content}
        self.rows.append(
            {
                "message_id": message_id,
                "filename": attachment.filename[:255],
                "content_type": attachment.content_type[:255],
                "size": size,
                "sha256": digest,
                "content_id": attachment.content_id[:998],
                "is_inline": attachment.is_inline,
            }
        )


def attachment_rows(message_id: int, attachments: list[NewAttachment]) -> AttachmentRows:
    rows = AttachmentRows()
    for attachment in attachments:
        rows.add(message_id, attachment)
    return rows


def store_attachments(conn: Connection, rows: AttachmentRows) -> None:
    """Store contents once per distinct hash (whatever is already stored stays) and metadata."""
    if not rows.rows:
        return
    insert = sqlite_insert if conn.dialect.name == "sqlite" else postgresql_insert
    blobs = table_of(AttachmentBlob)
    conn.execute(
        insert(blobs).on_conflict_do_nothing(index_elements=["sha256"]),
        list(rows.blobs.values()),
    )
    conn.execute(_INSERT_ATTACHMENT, rows.rows)
