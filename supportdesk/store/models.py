"""The store's tables, as SQLModel classes.

Every timestamp is an aware UTC datetime (see `utcnow`); SQLModel stores it as UTC on both
backends and refuses naive values, so local time can never leak in. Enumerations are plain strings
checked by the domain layer, so a new status never needs a table rebuild on SQLite.

Raw RFC 822 bytes and attachment contents live in their own tables so that the hot tables
(tickets, messages) stay narrow and scans over them stay fast.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    LargeBinary,
    Table,
    Text,
    UniqueConstraint,
    true,
)
from sqlmodel import Field, SQLModel

from supportdesk.clock import utcnow as utcnow


def table_of(model: type[SQLModel]) -> Table:
    """The Core table behind `model`, for statements written against the table itself.

    SQLModel sets `__table__` on every table class but leaves it out of its type hints; this is
    the one place that reads it untyped.
    """
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


class Counter(SQLModel, table=True):
    """Named monotonic counters (ticket numbers), bumped atomically with UPDATE ... RETURNING."""

    __tablename__ = "counters"

    name: str = Field(primary_key=True, max_length=64)
    value: int = Field(default=0, sa_type=BigInteger)


class StoreMeta(SQLModel, table=True):
    """Facts about the store itself, such as the key that signs our outgoing Message-IDs.

    That key is no credential: it only stops a forged reference from threading mail into
    another customer's ticket, and every agent sharing the store needs it.
    """

    __tablename__ = "store_meta"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(sa_type=Text)


class Queue(SQLModel, table=True):
    __tablename__ = "queues"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=100)
    description: str = Field(default="", sa_type=Text)
    first_response_minutes: int | None = Field(default=None)
    is_quarantine: bool = Field(default=False)
    acknowledge_with: str | None = Field(default=None, max_length=100)
    """A canned reply's name: new tickets in this queue get it by mail (never robots)."""
    created_at: datetime = Field(default_factory=utcnow)


class Agent(SQLModel, table=True):
    __tablename__ = "agents"

    id: int | None = Field(default=None, primary_key=True)
    handle: str = Field(index=True, unique=True, max_length=64)
    name: str = Field(default="", max_length=200)
    email: str = Field(index=True, unique=True, max_length=320)
    signature: str = Field(default="", sa_type=Text)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow)
    digest: bool = Field(default=True, sa_column_kwargs={"server_default": true()})
    """Whether the agent gets the notification digest by mail when away (desk.digest), when
    the team has it on (`[notifications] digest_minutes`)."""


class QueueMember(SQLModel, table=True):
    """Which agents work which queue (round-robin and least-loaded assignment pick from here)."""

    __tablename__ = "queue_members"

    queue_id: int = Field(foreign_key="queues.id", primary_key=True, ondelete="CASCADE")
    agent_id: int = Field(foreign_key="agents.id", primary_key=True, ondelete="CASCADE")


class Organisation(SQLModel, table=True):
    __tablename__ = "organisations"

    id: int | None = Field(default=None, primary_key=True)
    domain: str = Field(index=True, unique=True, max_length=255)
    name: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)


class Customer(SQLModel, table=True):
    __tablename__ = "customers"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(index=True, unique=True, max_length=320)
    name: str = Field(default="", max_length=200)
    organisation_id: int | None = Field(default=None, foreign_key="organisations.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    bounced_at: datetime | None = Field(default=None)
    """When mail to this address last failed for good (a bounce we could place); else None."""
    bounce_reason: str = Field(default="", max_length=500)


class Ticket(SQLModel, table=True):
    """One ticket.

    On PostgreSQL no index holds `assignee_id` (migration 0011): an UPDATE that changes only
    unindexed columns and finds room on its page (the table's fillfactor leaves half of each
    page free) is a heap-only tuple update, which writes no index entry. Reassigning 100,000
    tickets then writes 100,000 tuples instead of a million index entries. SQLite updates
    only the indexes holding a changed column, so it keeps the assignee in two of them.
    """

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_updated", "updated_at", "id"),
        Index("ix_tickets_queue_updated", "queue_id", "updated_at", "id"),
        Index("ix_tickets_status_updated", "status", "updated_at", "id"),
        Index("ix_tickets_assignee_updated", "assignee_id", "updated_at", "id").ddl_if(
            dialect="sqlite"
        ),
        Index("ix_tickets_queue_status_assignee", "queue_id", "status", "assignee_id").ddl_if(
            dialect="sqlite"
        ),
        Index("ix_tickets_queue_status", "queue_id", "status").ddl_if(dialect="postgresql"),
        Index("ix_tickets_requester", "requester_id", "updated_at"),
        Index("ix_tickets_created", "created_at"),
        Index("ix_tickets_status_solved", "status", "solved_at"),
        Index("ix_tickets_sla_due", "sla_due", "id"),
        # "Breaching soon" and "Breached" among active tickets, read from the index alone
        # (migration 0015).
        Index("ix_tickets_status_sla", "status", "sla_breached", "sla_due"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: int = Field(unique=True, sa_type=BigInteger)
    subject: str = Field(default="", sa_type=Text)
    status: str = Field(default="new", max_length=16)
    priority: str = Field(default="normal", max_length=16)
    queue_id: int = Field(foreign_key="queues.id")
    assignee_id: int | None = Field(default=None, foreign_key="agents.id")
    requester_id: int = Field(foreign_key="customers.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    first_response_at: datetime | None = Field(default=None)
    solved_at: datetime | None = Field(default=None)
    closed_at: datetime | None = Field(default=None)
    merged_into_id: int | None = Field(default=None, foreign_key="tickets.id")
    related_ticket_id: int | None = Field(default=None, foreign_key="tickets.id")
    message_count: int = Field(default=0)
    version: int = Field(default=1)
    sla_due: int | None = Field(default=None, sa_type=BigInteger)
    """The next SLA target's due time, Unix seconds (None: no target running). Integer, not a
    datetime, because desk.sla computes it set-based in SQL on both backends, where integer
    arithmetic is the one kind of time arithmetic they share."""
    sla_breached: bool = Field(default=False)
    """A target was missed (settled, or overdue when last computed; see desk.sla)."""
    sla_paused_since: int | None = Field(default=None, sa_type=BigInteger)
    """Unix seconds since which the SLA clock stands still (waiting on the customer)."""
    sla_paused_seconds: int = Field(default=0, sa_type=BigInteger)
    """Business seconds the resolution clock stood still in earlier pauses."""
    sla_late_responses: int = Field(default=0)
    """Our messages sent while the ticket was overdue: a missed next response stays missed
    once answered (see desk.sla.due)."""


class TicketCC(SQLModel, table=True):
    """Addresses copied on a ticket: they may reply into it by subject tag."""

    __tablename__ = "ticket_ccs"

    ticket_id: int = Field(foreign_key="tickets.id", primary_key=True, ondelete="CASCADE")
    email: str = Field(primary_key=True, max_length=320)


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_ticket", "ticket_id", "id"),
        Index("ix_messages_source", "mailbox", "folder", "uidvalidity", "uid"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="tickets.id")
    direction: str = Field(default="in", max_length=8)
    message_id: str = Field(index=True, max_length=998)
    in_reply_to: str = Field(default="", sa_type=Text)
    references: str = Field(default="", sa_type=Text)
    from_name: str = Field(default="", max_length=200)
    from_address: str = Field(default="", index=True, max_length=320)
    to_addresses: str = Field(default="", sa_type=Text)
    cc_addresses: str = Field(default="", sa_type=Text)
    subject: str = Field(default="", sa_type=Text)
    sent_at: datetime | None = Field(default=None)
    received_at: datetime = Field(default_factory=utcnow)
    body_text: str = Field(default="", sa_type=Text)
    body_html: str = Field(default="", sa_type=Text)
    size: int = Field(default=0)
    sha256: str = Field(default="", index=True, max_length=64)
    content_hash: str = Field(default="", max_length=64)
    """mail.fingerprint of the raw bytes: a Message-ID seen again with another content
    hash is a different message reusing the id, not a duplicate ("" until first compared,
    for rows stored before the column existed)."""
    is_auto_reply: bool = Field(default=False)
    is_bounce: bool = Field(default=False)
    is_list: bool = Field(default=False)
    parse_problems: str = Field(default="", sa_type=Text)
    author_agent_id: int | None = Field(default=None, foreign_key="agents.id")
    mailbox: str | None = Field(default=None, max_length=200)
    folder: str | None = Field(default=None, max_length=500)
    uidvalidity: int | None = Field(default=None, sa_type=BigInteger)
    uid: int | None = Field(default=None, sa_type=BigInteger)


class MessageGhost(SQLModel, table=True):
    """A Message-ID that stored mail refers to but that is not stored itself (notmuch's
    "ghost"): it belongs to the conversation of the message that named it, so a message
    arriving later with that id, or naming it too, joins that ticket whatever the order.

    It points at the message that named it, not at a ticket, so it follows merges.
    """

    __tablename__ = "message_ghosts"

    message_id: str = Field(primary_key=True, max_length=998)
    source_id: int = Field(foreign_key="messages.id", index=True, ondelete="CASCADE")


class SubjectTag(SQLModel, table=True):
    """Ticket tags (`[#1975]`, `[Ticket#2024…]`, `[ACME #123]`) seen in subjects, normalised.

    Outgoing messages' tags say which ticket a tag stands for (an earlier help desk's tags
    in imported history); an incoming message that opened a ticket with a tag nobody had
    sent yet waits here, so the outgoing message that arrives later can claim it.
    """

    __tablename__ = "subject_tags"

    tag: str = Field(primary_key=True, max_length=100)
    message_id: int = Field(
        foreign_key="messages.id", primary_key=True, index=True, ondelete="CASCADE"
    )
    outgoing: bool = Field(default=False)


class MessageRaw(SQLModel, table=True):
    """The exact bytes received, so nothing is lost and a better parser can re-read them."""

    __tablename__ = "message_raw"

    message_id: int = Field(foreign_key="messages.id", primary_key=True, ondelete="CASCADE")
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class AttachmentBlob(SQLModel, table=True):
    """Attachment contents, stored once per distinct content hash."""

    __tablename__ = "attachment_blobs"

    sha256: str = Field(primary_key=True, max_length=64)
    size: int = Field(default=0)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class Attachment(SQLModel, table=True):
    __tablename__ = "attachments"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="messages.id", index=True, ondelete="CASCADE")
    filename: str = Field(default="", max_length=255)
    content_type: str = Field(default="application/octet-stream", max_length=255)
    size: int = Field(default=0)
    sha256: str = Field(foreign_key="attachment_blobs.sha256", index=True, max_length=64)
    content_id: str = Field(default="", max_length=998)
    is_inline: bool = Field(default=False)


class Note(SQLModel, table=True):
    """Internal notes: seen by agents only, never mailed."""

    __tablename__ = "notes"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="tickets.id", index=True)
    author: str = Field(max_length=200)
    body: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)


class Tag(SQLModel, table=True):
    __tablename__ = "tags"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=100)


class TicketTag(SQLModel, table=True):
    __tablename__ = "ticket_tags"
    __table_args__ = (Index("ix_ticket_tags_tag", "tag_id", "ticket_id"),)

    ticket_id: int = Field(foreign_key="tickets.id", primary_key=True, ondelete="CASCADE")
    tag_id: int = Field(foreign_key="tags.id", primary_key=True, ondelete="CASCADE")


class CannedReply(SQLModel, table=True):
    """A reply template. `definition` is its `[[canned]]` TOML text exactly as written (the
    language variants and macro live there); name, title and body mirror it for listing."""

    __tablename__ = "canned_replies"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=100)
    title: str = Field(default="", max_length=200)
    body: str = Field(sa_type=Text)
    definition: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Rule(SQLModel, table=True):
    """A routing / automation rule; its definition is validated TOML text."""

    __tablename__ = "rules"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=200)
    position: int = Field(index=True)
    enabled: bool = Field(default=True)
    trigger: str = Field(max_length=32)
    definition: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class SlaPolicy(SQLModel, table=True):
    """A queue's service levels and calendar; `definition` is its `[[sla]]` TOML text."""

    __tablename__ = "sla_policies"

    queue_id: int = Field(foreign_key="queues.id", primary_key=True, ondelete="CASCADE")
    definition: str = Field(sa_type=Text)
    updated_at: datetime = Field(default_factory=utcnow)


class SlaTarget(SQLModel, table=True):
    """One queue and priority's targets in business seconds, expanded from its policy so SQL
    finds them with one lookup (None: no such target)."""

    __tablename__ = "sla_targets"

    queue_id: int = Field(foreign_key="queues.id", primary_key=True, ondelete="CASCADE")
    priority: str = Field(primary_key=True, max_length=16)
    first_response: int | None = Field(default=None)
    next_response: int | None = Field(default=None)
    resolution: int | None = Field(default=None)


class SlaHours(SQLModel, table=True):
    """A queue's working intervals in Unix seconds, each with the business seconds counted
    before it (`start_business`) from the calendar's first interval: business time between
    two instants is the difference of those counts, in plain SQL."""

    __tablename__ = "sla_hours"
    __table_args__ = (Index("ix_sla_hours_business", "queue_id", "end_business"),)

    queue_id: int = Field(foreign_key="queues.id", primary_key=True, ondelete="CASCADE")
    start: int = Field(primary_key=True, sa_type=BigInteger)
    end: int = Field(sa_type=BigInteger)
    start_business: int = Field(sa_type=BigInteger)
    end_business: int = Field(sa_type=BigInteger)


class Event(SQLModel, table=True):
    """One change to one ticket: history, audit log and what undo reads.

    `version` is the ticket's version after this change, so undo can tell whether anything
    touched the ticket since.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_ticket", "ticket_id", "id"),
        Index("ix_events_batch", "batch_id"),
        Index("ix_events_action_created", "action", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int | None = Field(default=None, foreign_key="tickets.id")
    batch_id: str = Field(max_length=36)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=32)
    old_value: str | None = Field(default=None, sa_type=Text)
    new_value: str | None = Field(default=None, sa_type=Text)
    version: int | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow)
    old_updated_at: datetime | None = Field(default=None)
    """The ticket's update time this change replaced: what undo puts back (None: unknown)."""
    role: str | None = Field(default=None, max_length=63)
    """On PostgreSQL, the login role of the session that wrote the row (the column defaults to
    session_user, and a team store's agents may not set it; see store/team.py): the part
    of the audit trail no client can choose. None on SQLite."""


class TeamRole(SQLModel, table=True):
    """Which database login role is which actor on a team store (PostgreSQL).

    The events trigger reads it to check every event's actor against the session's role;
    empty on SQLite and on a PostgreSQL store not prepared with `supportdesk team init`.
    """

    __tablename__ = "team_roles"

    role: str = Field(primary_key=True, max_length=63)
    actor: str = Field(unique=True, max_length=200)
    kind: str = Field(max_length=16)
    """"agent" (a person; actor `agent:<handle>`) or "service" (sync, rules, the sender)."""
    created_at: datetime = Field(default_factory=utcnow)


class Presence(SQLModel, table=True):
    """Who has a ticket open in a console right now, and whether they are replying to it.

    One row per running console, refreshed by its heartbeat; a row whose `seen_at` is older
    than desk.presence.EXPIRE_SECONDS is a console that died, and counts for nothing. Never
    a lock: it only tells the others.
    """

    __tablename__ = "presence"

    console_id: str = Field(primary_key=True, max_length=36)
    actor: str = Field(max_length=200)
    ticket_id: int | None = Field(
        default=None, foreign_key="tickets.id", index=True, ondelete="CASCADE"
    )
    """None: the console shows no ticket, but its agent is at it (not away, desk.digest)."""
    doing: str = Field(max_length=16)
    """"viewing" or "replying"."""
    seen_at: datetime = Field(default_factory=utcnow)


class HandleTime(SQLModel, table=True):
    """Seconds an agent spent with a ticket open in a focused, not idle console, per UTC day.

    A measurement, not an action: no event, nothing to undo. The console adds to its row
    when it flushes what it counted (desk.handle_time), so a day's work on a ticket is one
    row however often it flushed; the day lets reports total the time spent in a period.
    """

    __tablename__ = "handle_time"
    __table_args__ = (Index("ix_handle_time_day", "day"),)

    agent_id: int = Field(foreign_key="agents.id", primary_key=True, ondelete="CASCADE")
    ticket_id: int = Field(
        foreign_key="tickets.id", primary_key=True, index=True, ondelete="CASCADE"
    )
    day: datetime = Field(primary_key=True)
    """Midnight UTC of the day the time was spent."""
    seconds: int = Field(default=0)


NOTIFICATION_TICKET_OR_BATCH = (
    "(kind = 'assigned_batch') = (ticket_id IS NULL)"
    " AND (ticket_id IS NULL) = (batch_id IS NOT NULL)"
    " AND (ticket_count IS NULL) = (batch_id IS NULL)"
    " AND (ticket_count IS NULL OR ticket_count > 0)"
)
"""A notification is about one ticket, or (`assigned_batch`, only that kind) a batch's many,
counted; no other row carries a batch or a count."""


class Notification(SQLModel, table=True):
    """Something an agent should hear of: a ticket assigned to them, a customer's answer on
    one of theirs, one of theirs about to breach its SLA, a note mentioning them.

    Written in the transaction of the change that caused it (see desk.notifications), once
    per event and agent, an SLA warning (which no event caused) once per due time: `once`
    says which, and `uq_notifications_once` holds it. On a team store each agent reads and
    marks only their own (row security, migration 0010).
    """

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_agent_id", "agent_id", "id"),
        Index("ix_notifications_agent_unread", "agent_id", "read_at", "id"),
        UniqueConstraint("ticket_id", "agent_id", "once", name="uq_notifications_once"),
        Index("uq_notifications_batch", "agent_id", "batch_id", unique=True),
        CheckConstraint(NOTIFICATION_TICKET_OR_BATCH, name="ck_notifications_ticket_or_batch"),
    )

    id: int | None = Field(default=None, primary_key=True)
    agent_id: int
    """The agent told (agents.id). No foreign key: agents are deactivated, never deleted, and
    its per-row check took a large, noisy share (measured 5-45%) of the INSERT that tells an
    agent of a 100,000-ticket reassignment."""
    kind: str = Field(max_length=16)
    """"assigned", "assigned_batch", "reply", "sla" or "mention"."""
    ticket_id: int | None = Field(default=None, foreign_key="tickets.id", ondelete="CASCADE")
    """The ticket it is about; None for `assigned_batch`, which is about a batch's tickets."""
    event_id: int | None = Field(default=None)
    """The event that caused it (None for an SLA warning, which no change caused); for
    `assigned_batch` the batch's first `assign` event naming the agent."""
    once: str = Field(max_length=40)
    """"e<event id>", or for an SLA warning "sla<due time in Unix seconds>": one per window."""
    actor: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    read_at: datetime | None = Field(default=None)
    mailed_at: datetime | None = Field(default=None)
    """When a digest mail to the agent included it (None: not mailed)."""
    batch_id: str | None = Field(default=None, max_length=36)
    """`assigned_batch`: the bulk command's batch (events.batch_id). One per agent and batch
    (`uq_notifications_batch`; NULL, every other kind, is never a duplicate)."""
    ticket_count: int | None = Field(default=None)
    """`assigned_batch`: how many tickets the batch assigned the agent."""


OUTBOX_TICKET_OR_DIGEST = "ticket_id IS NOT NULL OR (kind = 'digest' AND agent_id IS NOT NULL)"
"""Only a digest, for its agent, is outbox mail about no ticket (desk.digest)."""


class OutboxItem(SQLModel, table=True):
    """Mail waiting to be sent: written first, sent after, never sent twice.

    States (see desk.outbox): queued -> sending -> sent; a temporary failure goes back to
    queued; a permanent one is failed; an attempt that handed the message over without
    hearing the answer is checking (its Message-ID is looked for in Sent) and then sent, or
    uncertain (held for a person). cancelled is final. `handed_over_at` is committed just
    before the message's bytes go to the server: it is what tells a crash before the
    handover (safe to send again) from one after it (never resent blindly).
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_state", "state", "next_attempt_at"),
        CheckConstraint(OUTBOX_TICKET_OR_DIGEST, name="ck_outbox_ticket_or_digest"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int | None = Field(default=None, foreign_key="tickets.id", index=True)
    """None: mail about no one ticket (an agent's notification digest)."""
    message_id: int | None = Field(default=None, foreign_key="messages.id", index=True)
    """Indexed: the SLA's rule for what answers the customer looks its message up here."""
    mailbox: str = Field(default="", max_length=200)
    recipients: str = Field(sa_type=Text)
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    state: str = Field(default="queued", max_length=16)
    attempts: int = Field(default=0)
    last_error: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)
    next_attempt_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = Field(default=None)
    kind: str = Field(default="reply", max_length=16)
    envelope_from: str = Field(default="", max_length=320)
    message_id_header: str = Field(default="", index=True, max_length=998)
    claimed_by: str | None = Field(default=None, max_length=200)
    claimed_at: datetime | None = Field(default=None)
    handed_over_at: datetime | None = Field(default=None)
    copied_at: datetime | None = Field(default=None)
    """When the copy in the mailbox's Sent folder was made or found (None: not yet/not wanted)."""
    agent_id: int | None = Field(default=None, index=True)
    """The agent a digest is for (agents.id): the sender sends it to their address only.
    Indexed: when each agent's last digest went is looked up here on every digest run."""


class Draft(SQLModel, table=True):
    """An agent's unsent reply, forward or note on one ticket, saved as they type.

    One per ticket and author: reopening the composer resumes it. `base_version` is the
    ticket version the agent last saw; whatever arrived after it stops the send.
    """

    __tablename__ = "drafts"
    __table_args__ = (UniqueConstraint("ticket_id", "author", name="uq_drafts_ticket_author"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="tickets.id", index=True, ondelete="CASCADE")
    author: str = Field(max_length=200)
    kind: str = Field(default="reply", max_length=16)
    to_addresses: str = Field(default="", sa_type=Text)
    cc_addresses: str = Field(default="", sa_type=Text)
    bcc_addresses: str = Field(default="", sa_type=Text)
    subject: str = Field(default="", sa_type=Text)
    body: str = Field(default="", sa_type=Text)
    quote_original: bool = Field(default=False)
    attach_original: bool = Field(default=True)
    in_reply_to_id: int | None = Field(default=None, foreign_key="messages.id")
    canned: str | None = Field(default=None, max_length=100)
    language: str | None = Field(default=None, max_length=16)
    status_after: str | None = Field(default=None, max_length=16)
    base_version: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class DraftAttachment(SQLModel, table=True):
    """A file attached to a draft, its bytes kept in the store: the draft survives a crash,
    and what is sent is what was attached even if the file on disk changes or goes."""

    __tablename__ = "draft_attachments"

    id: int | None = Field(default=None, primary_key=True)
    draft_id: int = Field(foreign_key="drafts.id", index=True, ondelete="CASCADE")
    filename: str = Field(max_length=255)
    content_type: str = Field(default="application/octet-stream", max_length=255)
    size: int = Field(default=0)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class SyncState(SQLModel, table=True):
    """Where the last sync of one IMAP folder stopped; committed with the messages it covers."""

    __tablename__ = "sync_state"
    __table_args__ = (UniqueConstraint("mailbox", "folder", name="uq_sync_state_folder"),)

    id: int | None = Field(default=None, primary_key=True)
    mailbox: str = Field(max_length=200)
    folder: str = Field(max_length=500)
    uidvalidity: int = Field(default=0, sa_type=BigInteger)
    last_uid: int = Field(default=0, sa_type=BigInteger)
    uidnext: int | None = Field(default=None, sa_type=BigInteger)
    highestmodseq: int | None = Field(default=None, sa_type=BigInteger)
    updated_at: datetime = Field(default_factory=utcnow)


class CsatRequest(SQLModel, table=True):
    """A satisfaction rating request mailed for one solve of a ticket (see desk.csat).

    One row per (ticket, solve): what makes "at most once per solve" hold across senders.
    The nonce is what every token of the request signs, so a rating names its request.
    """

    __tablename__ = "csat_requests"
    __table_args__ = (UniqueConstraint("ticket_id", "solved_at", name="uq_csat_requests_solve"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="tickets.id", index=True, ondelete="CASCADE")
    solved_at: datetime
    nonce: str = Field(max_length=32, unique=True)
    issued_at: datetime = Field(default_factory=utcnow)
    outbox_id: int | None = Field(default=None)
    language: str = Field(default="", max_length=16)
    skipped: str = Field(default="", max_length=16)
    """Why no mail went out for this solve ("robot", "no_reply", "bounced", "template"), or ""."""


class CsatRating(SQLModel, table=True):
    """A customer's score (1-5) and comment, one per request: the first one counts."""

    __tablename__ = "csat_ratings"
    __table_args__ = (Index("ix_csat_ratings_received", "received_at", "ticket_id"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="csat_requests.id", unique=True, ondelete="CASCADE")
    ticket_id: int = Field(foreign_key="tickets.id", index=True, ondelete="CASCADE")
    score: int
    comment: str = Field(default="", sa_type=Text)
    received_at: datetime = Field(default_factory=utcnow)
    """When the mail arrived (its Date:, bounded by the request's issue time and ingest)."""
    sender: str = Field(default="", max_length=320)
    message_id: str = Field(default="", index=True, max_length=998)
    raw: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))
    """The rating mail as received: it is not a message of the thread, so it is kept here."""


class CsatRejection(SQLModel, table=True):
    """A rating mail that was ignored (forged, replayed, expired...), kept to be counted and
    with its raw bytes so nothing a customer sent is lost. A `no_key` row waits: it is
    evaluated again once the key can be read (desk.csat.ratings.retry_waiting)."""

    __tablename__ = "csat_rejections"

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = Field(default_factory=utcnow)
    reason: str = Field(max_length=16, index=True)
    ticket_number: int | None = Field(default=None)
    sender: str = Field(default="", max_length=320)
    message_id: str = Field(default="", index=True, max_length=998)
    raw: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))
    note_id: int | None = Field(default=None)
    """The note that shows the mail's text to agents on the ticket it names, if one was made."""


class IgnoredMail(SQLModel, table=True):
    """Received mail that makes no ticket nor message by design (an agent's reply to their
    notification digest: `reason` "digest_reply"), kept raw and counted so nothing received
    is lost."""

    __tablename__ = "ignored_mail"

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = Field(default_factory=utcnow)
    reason: str = Field(max_length=16, index=True)
    sender: str = Field(default="", max_length=320)
    message_id: str = Field(default="", index=True, max_length=998)
    raw: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))


STATUSES = ("new", "open", "pending", "on-hold", "solved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
