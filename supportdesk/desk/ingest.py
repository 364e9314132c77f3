"""Turning one received message into a ticket change: duplicate, follow-up, or a new ticket.

The order is the one help desks converge on (see MAIL-NOTES), made independent of the order
mail arrives in:

1. A Message-ID already stored with the same content (mail.fingerprint: the sender's headers
   and body, whitespace collapsed) is a duplicate. The same id with other content is another
   message reusing the id: it is stored, and the reuse noted on it.
2. In-Reply-To and References (the direct parent first), and for a bounce the bounced
   message's own ids, name a ticket when they are one of our signed ids, a stored message,
   or a ghost: an id some stored message referred to without it being stored (notmuch's
   ghosts). A message whose own id is a ghost joins the ticket of whoever referred to it, so
   an original arriving after its reply joins the reply's ticket. When one message names
   several open tickets they are one conversation: the newer are merged into the oldest.
3. A subject tag: our `[#N]` names ticket N, another help desk's tag (`[ACME #123]`, see
   desk.subject_tags) the one ticket whose outgoing mail carries it; either only when the
   sender belongs to that ticket (requester, CC, agent). A ticket opened by a tag nobody had
   sent yet is merged into the right one when the outgoing message carrying the tag arrives.
4. Otherwise a new ticket.

A satisfaction rating (a signed token in the subject, see desk.csat) is recorded on its
ticket and goes no further: it is not a message of the thread and changes no ticket.

Mail from an agent's address or one of our own mailbox addresses is outgoing (imported
history, the Sent folder): it never wakes a ticket, and a ticket it opens belongs to the
customer it was sent to. Robots (auto-replies, bounces, list mail) never open a ticket nor
merge any: they join the ticket they answer, even a closed one, or wait in the quarantine
queue, whose tickets a later message of their conversation takes in. A bounce that names a
message of ours marks the failed recipient on the customer.

Everything happens in the caller's transaction, so a sync can commit the message together
with its folder position.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import bindparam, delete, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, col

from supportdesk.desk import digest, directory, events, message_ids, notifications, tickets
from supportdesk.desk.csat import ratings
from supportdesk.desk.events import Change
from supportdesk.desk.messages import (
    INSERT_MESSAGE,
    INSERT_RAW,
    AttachmentRows,
    NewAttachment,
    NewMessage,
    answers,
    document_for,
    message_values,
    store_attachments,
)
from supportdesk.desk.sla import due
from supportdesk.desk.statuses import status_values, woken_by_customer
from supportdesk.desk.subject_tags import own_ticket_number, subject_tags
from supportdesk.errors import ConflictError, ValidationError
from supportdesk.i18n import N_, _
from supportdesk.mail.fingerprint import content_fingerprint
from supportdesk.store import search
from supportdesk.store.models import (
    Agent,
    Customer,
    IgnoredMail,
    Message,
    MessageGhost,
    MessageRaw,
    Organisation,
    OutboxItem,
    Queue,
    SubjectTag,
    Ticket,
    TicketCC,
    table_of,
    utcnow,
)
from supportdesk.store.prepared import Prepared

if TYPE_CHECKING:
    from supportdesk.mail.dsn import DeliveryReport
    from supportdesk.mail.parse import ParsedMessage

QUARANTINE_QUEUE = "quarantine"
INGEST_ACTOR = "system:ingest"
UNKNOWN_SENDER = "unknown-sender@invalid.invalid"
MAX_GHOSTS = 16
"""Ghosts one message may leave: References can be huge, the nearest ancestors matter most."""
_MAX_CANDIDATES = 32
_MAX_ID = 998

Outcome = Literal[
    "duplicate",
    "new_ticket",
    "follow_up",
    "reopened",
    "robot",
    "quarantined",
    "rating",
    "rating_ignored",
    "digest_reply",
]


@dataclass(frozen=True)
class Source:
    """Where a message came from, so a re-sync can recognise it."""

    mailbox: str | None = None
    folder: str | None = None
    uidvalidity: int | None = None
    uid: int | None = None


@dataclass(frozen=True)
class IngestResult:
    outcome: Outcome
    ticket_number: int | None
    message_id: int | None
    robot: bool = False


def ingest(
    session: Session,
    parsed: ParsedMessage,
    raw: bytes,
    *,
    default_queue: str,
    our_addresses: frozenset[str] = frozenset(),
    source: Source | None = None,
    change: Change | None = None,
) -> IngestResult:
    """Store one received message on the right ticket, creating the ticket if need be.

    Inside `IngestBatch` (what the pipeline uses) the writes wait for the batch's flush;
    alone, the message is a batch of one, written before this returns.
    """
    batch = session.info.get(_BATCH_KEY)
    if batch is not None:
        return batch.ingest(
            parsed,
            raw,
            default_queue=default_queue,
            our_addresses=our_addresses,
            source=source,
            change=change,
        )
    with IngestBatch(session) as alone:
        return alone.ingest(
            parsed,
            raw,
            default_queue=default_queue,
            our_addresses=our_addresses,
            source=source,
            change=change,
        )


_BATCH_KEY = "ingest_batch"
_TICKETS = table_of(Ticket)
_MESSAGES = table_of(Message)
_RAWS = table_of(MessageRaw)
_GHOSTS = table_of(MessageGhost)
_TAGS = table_of(SubjectTag)
_OUTBOX = table_of(OutboxItem)
_IGNORED = table_of(IgnoredMail)
_QUEUES = table_of(Queue)
_INSERT_TICKET = Prepared(_TICKETS.insert().returning(_TICKETS.c.id))
_INSERT_CC = table_of(TicketCC).insert()
_CUSTOMERS = table_of(Customer)
_INSERT_CUSTOMER = Prepared(_CUSTOMERS.insert().returning(_CUSTOMERS.c.id))
_INSERT_MESSAGE = Prepared(INSERT_MESSAGE)
_INSERT_RAWS = Prepared(INSERT_RAW)
_CUSTOMER_BY_EMAIL = select(_CUSTOMERS.c.id, _CUSTOMERS.c.name).where(
    _CUSTOMERS.c.email == bindparam("email")
)
_ORGANISATIONS = table_of(Organisation)
_INSERT_ORGANISATION = _ORGANISATIONS.insert().returning(_ORGANISATIONS.c.id)
_TICKET_COLUMNS = (
    _TICKETS.c.id,
    _TICKETS.c.number,
    _TICKETS.c.status,
    _TICKETS.c.queue_id,
    _TICKETS.c.requester_id,
    _TICKETS.c.merged_into_id,
    _TICKETS.c.message_count,
    _TICKETS.c.version,
    _TICKETS.c.first_response_at,
)
_UPDATE_TICKET = (
    update(_TICKETS)
    .where(_TICKETS.c.id == bindparam("t_id"), _TICKETS.c.version == bindparam("read_version"))
    .values(
        message_count=bindparam("message_count"),
        version=bindparam("version"),
        updated_at=bindparam("updated_at"),
        first_response_at=bindparam("first_response"),
    )
)
_SET_CONTENT_HASH = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("m_id"))
    .values(content_hash=bindparam("m_hash"))
)
_COUNTER = text("UPDATE counters SET value = value WHERE name = 'ticket_number' RETURNING value")
_SET_COUNTER = text("UPDATE counters SET value = :value WHERE name = 'ticket_number'")


@dataclass(eq=False)
class _Ticket:
    """What ingest needs of a ticket it touches, kept in memory for the whole batch."""

    id: int
    number: int
    status: str
    queue_id: int
    requester_id: int
    merged_into_id: int | None
    message_count: int
    version: int
    first_response_at: datetime | None
    stored_version: int  # the version the row holds until the batch writes it
    updated_at: datetime | None = None


@dataclass
class _Stored:
    """A stored message with a given Message-ID (several when senders reuse ids)."""

    row_id: int
    ticket_id: int
    content_hash: str


@dataclass(frozen=True)
class _TagRow:
    message_row: int
    ticket_id: int
    outgoing: bool
    sender: str


class IngestBatch:
    """One transaction's worth of ingest: lookups cached, most writes done together at the end.

    Per message only the ticket (when new) and the message row are inserted at once, since
    their ids are needed; raw bytes, index documents, attachments, CCs, ghosts, subject tags,
    events and the ticket counters are written in one statement per table by `flush`, in the
    order they happened. Use as a context manager (flushes on a clean exit) or call `flush`.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.conn = session.connection()
        # Message-ID -> the stored messages with it, for duplicates and references
        self.known: dict[str, list[_Stored]] = {}
        self.ghosts: dict[str, int] = {}  # ghost Message-ID -> ticket id
        self.looked_up: set[str] = set()
        self.tag_rows: dict[str, list[_TagRow]] = {}
        self.tags_looked_up: set[str] = set()
        self.tickets: dict[int, _Ticket] = {}
        self.numbers: dict[int, int | None] = {}
        self.emails: dict[int, str] = {}  # customer id -> email
        self.customers: dict[str, tuple[int, str]] = {}  # email -> (id, name)
        self.organisations: dict[str, int | None] = {}  # domain -> id
        # Looked up by `prefetch` and not stored (yet): no need to ask again.
        self.absent_customers: set[str] = set()
        self.absent_domains: set[str] = set()
        self.ccs: dict[int, set[str]] = {}
        self.queues: dict[str, tuple[int, str]] = {}  # name -> (id, name)
        self.quarantine_ids: set[int] | None = None
        self.next_number: int | None = None
        self.counter_dirty = False
        self.latest: datetime | None = None  # the newest change time, for SLA due times
        self.answered: set[int] = set()  # tickets we sent a message on in this batch
        self.raws: list[dict[str, object]] = []
        self.documents: list[tuple[int, int, str]] = []
        self.attachments = AttachmentRows()
        self.events: list[events.Row] = []
        self.customer_answers: list[tuple[int, int]] = []
        """(ticket id, message id) of the customers' answers waiting for `flush`."""
        self.new_ccs: list[dict[str, object]] = []
        self.new_ghosts: list[dict[str, object]] = []
        self.gone_ghosts: list[str] = []
        self.new_tags: list[dict[str, object]] = []
        self._previous: IngestBatch | None = None

    def __enter__(self) -> IngestBatch:
        self._previous = self.session.info.get(_BATCH_KEY)
        self.session.info[_BATCH_KEY] = self
        return self

    def __exit__(self, exc_type: object, *_exc: object) -> None:
        if self._previous is None:
            self.session.info.pop(_BATCH_KEY, None)
        else:
            self.session.info[_BATCH_KEY] = self._previous
        if exc_type is None:
            self.flush()

    # -- lookups, one query for the whole batch where possible

    def prefetch(self, batch: Sequence[ParsedMessage]) -> None:
        """Read every Message-ID, reference, tag and sender the batch names, in a few queries."""
        wanted: set[str] = set()
        tags: set[str] = set()
        senders: set[str] = set()
        for parsed in batch:
            wanted.add(parsed.message_id)
            wanted.update(_references(parsed))
            tags.update(subject_tags(parsed.subject))
            if parsed.from_ and parsed.from_.address:
                senders.add(_requester_address(parsed.from_.address))
        self._lookup(wanted)
        self._lookup_tags(tags)
        ticket_ids = {s.ticket_id for stored in self.known.values() for s in stored}
        ticket_ids.update(self.ghosts.values())
        ticket_ids.update(r.ticket_id for rows in self.tag_rows.values() for r in rows)
        for chunk in _chunks(sorted(ticket_ids - self.tickets.keys())):
            for row in self.conn.execute(select(*_TICKET_COLUMNS).where(_TICKETS.c.id.in_(chunk))):
                self._remember(row)
        missing = sorted(senders - self.customers.keys())
        for chunk in _chunks(missing):
            for id_, email, name in self.conn.execute(
                select(_CUSTOMERS.c.id, _CUSTOMERS.c.email, _CUSTOMERS.c.name).where(
                    _CUSTOMERS.c.email.in_(chunk)
                )
            ):
                self.customers[email] = (id_, name)
                self.emails[id_] = email
        self.absent_customers.update(e for e in missing if e not in self.customers)
        self._prefetch_organisations(self.absent_customers)
        self._prefetch_ccs()
        self._prefetch_requesters()

    def _prefetch_organisations(self, emails: Iterable[str]) -> None:
        """The organisations of new customers' domains, in one query (ingest would ask one
        by one, and again in every batch)."""
        domains = {e.rsplit("@", 1)[-1] for e in emails} - directory.PUBLIC_MAIL_DOMAINS
        missing = sorted(domains - self.organisations.keys() - self.absent_domains)
        for chunk in _chunks(missing):
            for id_, domain in self.conn.execute(
                select(_ORGANISATIONS.c.id, _ORGANISATIONS.c.domain).where(
                    _ORGANISATIONS.c.domain.in_(chunk)
                )
            ):
                self.organisations[domain] = id_
        self.absent_domains.update(d for d in missing if d not in self.organisations)

    def _prefetch_ccs(self) -> None:
        """The CCs of every ticket the batch has read, in one query rather than one each."""
        ticket_ids = sorted(self.tickets.keys() - self.ccs.keys())
        for start in range(0, len(ticket_ids), 500):
            chunk = ticket_ids[start : start + 500]
            for ticket_id in chunk:
                self.ccs[ticket_id] = set()
            ccs = table_of(TicketCC).c
            rows = self.conn.execute(
                select(ccs.ticket_id, ccs.email).where(ccs.ticket_id.in_(chunk))
            )
            for ticket_id, email in rows:
                self.ccs[ticket_id].add(email)

    def _prefetch_requesters(self) -> None:
        """The requesters' addresses of the tickets read, in one query rather than one each."""
        missing = sorted({t.requester_id for t in self.tickets.values()} - self.emails.keys())
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            for id_, email in self.conn.execute(
                select(_CUSTOMERS.c.id, _CUSTOMERS.c.email).where(_CUSTOMERS.c.id.in_(chunk))
            ):
                self.emails[id_] = email

    def _lookup(self, message_ids: Iterable[str]) -> None:
        missing = sorted(set(message_ids) - self.looked_up)
        if not missing:
            return
        self.looked_up.update(missing)
        unhashed: list[_Stored] = []
        for chunk in _chunks(missing):
            rows = self.conn.execute(
                select(
                    _MESSAGES.c.message_id,
                    _MESSAGES.c.id,
                    _MESSAGES.c.ticket_id,
                    _MESSAGES.c.content_hash,
                )
                .where(_MESSAGES.c.message_id.in_(chunk))
                .order_by(_MESSAGES.c.id)
            )
            for message_id, id_, ticket_id, content_hash in rows:
                stored = _Stored(id_, ticket_id, content_hash)
                self.known.setdefault(message_id, []).append(stored)
                if not content_hash:
                    unhashed.append(stored)
            ghosts = self.conn.execute(
                select(_GHOSTS.c.message_id, _MESSAGES.c.ticket_id)
                .join(_MESSAGES, _MESSAGES.c.id == _GHOSTS.c.source_id)
                .where(_GHOSTS.c.message_id.in_(chunk))
            )
            for message_id, ticket_id in ghosts:
                self.ghosts.setdefault(message_id, ticket_id)
        if unhashed:
            self._hash_stored(unhashed)

    def _hash_stored(self, rows: list[_Stored]) -> None:
        """Content hashes for messages stored before hashes were kept, from their raw bytes."""
        by_id = {row.row_id: row for row in rows}
        updates: list[dict[str, object]] = []
        for chunk in _chunks(sorted(by_id)):
            for row_id, raw in self.conn.execute(
                select(_RAWS.c.message_id, _RAWS.c.raw).where(_RAWS.c.message_id.in_(chunk))
            ):
                by_id[row_id].content_hash = content_fingerprint(bytes(raw))
                updates.append({"m_id": row_id, "m_hash": by_id[row_id].content_hash})
        if updates:
            self.conn.execute(_SET_CONTENT_HASH, updates)

    def _lookup_tags(self, tags: Iterable[str]) -> None:
        missing = sorted(set(tags) - self.tags_looked_up)
        if not missing:
            return
        self.tags_looked_up.update(missing)
        for chunk in _chunks(missing):
            rows = self.conn.execute(
                select(
                    _TAGS.c.tag,
                    _TAGS.c.message_id,
                    _MESSAGES.c.ticket_id,
                    _TAGS.c.outgoing,
                    _MESSAGES.c.from_address,
                )
                .join(_MESSAGES, _MESSAGES.c.id == _TAGS.c.message_id)
                .where(_TAGS.c.tag.in_(chunk))
                .order_by(_TAGS.c.message_id)
            )
            for tag, message_row, ticket_id, outgoing, sender in rows:
                self.tag_rows.setdefault(tag, []).append(
                    _TagRow(message_row, ticket_id, outgoing, sender)
                )

    def _ticket(self, ticket_id: int | None = None, number: int | None = None) -> _Ticket | None:
        if number is not None:
            if number not in self.numbers:
                row = self.conn.execute(
                    select(*_TICKET_COLUMNS).where(_TICKETS.c.number == number)
                ).first()
                self.numbers[number] = None if row is None else self._remember(row).id
            ticket_id = self.numbers[number]
        if ticket_id is None:
            return None
        if ticket_id not in self.tickets:
            row = self.conn.execute(
                select(*_TICKET_COLUMNS).where(_TICKETS.c.id == ticket_id)
            ).first()
            if row is None:
                return None
            self._remember(row)
        return self.tickets[ticket_id]

    def _remember(self, row: Any) -> _Ticket:
        # mypy cannot tell the row's length, so it fears `*row` reaches stored_version.
        ticket = _Ticket(*row, stored_version=row.version)  # type: ignore[misc]
        self.tickets[ticket.id] = ticket
        self.numbers[ticket.number] = ticket.id
        return ticket

    def _follow(self, ticket: _Ticket | None) -> _Ticket | None:
        """The ticket that `ticket` was merged into, through any chain of merges."""
        seen: set[int] = set()
        while ticket is not None and ticket.merged_into_id is not None and ticket.id not in seen:
            seen.add(ticket.id)
            target = self._ticket(ticket.merged_into_id)
            if target is None:
                break
            ticket = target
        return ticket

    def _requester_email(self, ticket: _Ticket) -> str | None:
        if ticket.requester_id not in self.emails:
            email = self.conn.execute(
                select(_CUSTOMERS.c.email).where(_CUSTOMERS.c.id == ticket.requester_id)
            ).scalar()
            if email is None:
                return None
            self.emails[ticket.requester_id] = email
        return self.emails[ticket.requester_id]

    def _ccs(self, ticket: _Ticket) -> set[str]:
        if ticket.id not in self.ccs:
            self.ccs[ticket.id] = set(
                self.session.execute(
                    select(col(TicketCC.email)).where(col(TicketCC.ticket_id) == ticket.id)
                ).scalars()
            )
        return self.ccs[ticket.id]

    def _belongs(self, ticket: _Ticket, sender: str, our_addresses: frozenset[str]) -> bool:
        """Whether `sender` may write into `ticket` by naming it in a subject tag.

        Anyone can type a tag; without this check a stranger could write into another
        customer's ticket.
        """
        if not sender:
            return False
        return (
            self._requester_email(ticket) == sender
            or sender in self._ccs(ticket)
            or _agent_id(self.session, sender) is not None
            or sender in our_addresses
        )

    def _queue_id(self, name: str, *, quarantine: bool = False) -> int:
        if name not in self.queues:
            if quarantine:
                # Stored, so in English whatever the language of the sync that made it.
                queue = directory.ensure_queue(
                    self.session, name, description=N_("Robots that answered nothing we know")
                )
                if not queue.is_quarantine:
                    queue.is_quarantine = True
                    self.session.add(queue)
                    self.session.flush()
                self._quarantined(None).add(queue.id)  # type: ignore[arg-type]
            else:
                queue = directory.get_queue(self.session, name)
            self.queues[name] = (queue.id, queue.name)  # type: ignore[assignment]
        return self.queues[name][0]

    def _quarantined(self, ticket: _Ticket | None) -> set[int]:
        """The quarantine queues' ids (read once per batch); with a ticket, {its queue} or {}."""
        if self.quarantine_ids is None:
            self.quarantine_ids = set(
                self.conn.execute(select(_QUEUES.c.id).where(_QUEUES.c.is_quarantine)).scalars()
            )
        if ticket is None:
            return self.quarantine_ids
        return {ticket.queue_id} & self.quarantine_ids

    def _customer(self, email: str, name: str) -> int:
        """The id of the customer with this address, created or given a name (as
        `directory.ensure_customer` does, without the ORM)."""
        name = name.strip()
        email = directory.normalise_email(email)
        if email not in self.customers and email not in self.absent_customers:
            row = self.conn.execute(_CUSTOMER_BY_EMAIL, {"email": email}).first()
            if row is not None:
                self.customers[email] = (row.id, row.name)
        known = self.customers.get(email)
        now = utcnow()
        if known is None:
            id_ = _INSERT_CUSTOMER.scalar(
                self.conn,
                {
                    "email": email,
                    "name": name,
                    "organisation_id": self._organisation(email),
                    "created_at": now,
                    "updated_at": now,
                    "bounced_at": None,
                    "bounce_reason": "",
                },
            )
            known = self.customers[email] = (id_, name)
        elif name and not known[1]:
            self.conn.execute(
                update(_CUSTOMERS)
                .where(_CUSTOMERS.c.id == known[0])
                .values(name=name, updated_at=now)
            )
            known = self.customers[email] = (known[0], name)
        self.emails[known[0]] = email
        return known[0]

    def _organisation(self, email: str) -> int | None:
        """The organisation of an address's domain, created on first sight; None for free mail."""
        domain = email.rsplit("@", 1)[-1]
        if domain in directory.PUBLIC_MAIL_DOMAINS:
            return None
        if domain not in self.organisations:
            id_ = None
            if domain not in self.absent_domains:
                id_ = self.conn.execute(
                    select(_ORGANISATIONS.c.id).where(_ORGANISATIONS.c.domain == domain)
                ).scalar()
            if id_ is None:
                id_ = self.conn.execute(
                    _INSERT_ORGANISATION,
                    {
                        "domain": domain,
                        "name": directory.organisation_name(domain),
                        "created_at": utcnow(),
                    },
                ).scalar_one()
            self.organisations[domain] = id_
        return self.organisations[domain]

    # -- one message

    def ingest(
        self,
        parsed: ParsedMessage,
        raw: bytes,
        *,
        default_queue: str,
        our_addresses: frozenset[str] = frozenset(),
        source: Source | None = None,
        change: Change | None = None,
    ) -> IngestResult:
        change = change or Change.by(INGEST_ACTOR)
        rating = ratings.rating_token(parsed)
        if rating is not None:  # a satisfaction rating: never a message of the thread
            done = ratings.record(
                self.session, parsed, raw, rating, change.now(), our_addresses=our_addresses
            )
            if done.reason == "duplicate":
                return IngestResult("duplicate", None, None)
            return IngestResult("rating" if done.recorded else "rating_ignored", None, None)
        if self._answers_a_digest(parsed):  # an agent's reply to their digest: no ticket
            return self._ignore(parsed, raw, change.now())
        own_id = parsed.message_id
        fingerprint = parsed.fingerprint or content_fingerprint(raw)
        self._lookup([own_id])
        same_id = self.known.get(own_id, [])
        for copy in same_id:
            if copy.content_hash == fingerprint:
                ticket = self._follow(self._ticket(copy.ticket_id))
                if ticket is None:
                    raise LookupError(
                        _("message names ticket id {ticket_id}, not stored").format(
                            ticket_id=copy.ticket_id
                        )
                    )
                return IngestResult("duplicate", ticket.number, copy.row_id)

        robot = parsed.robot.automatic
        sender = parsed.from_.address if parsed.from_ and parsed.from_.address else ""
        agent_id = _agent_id(self.session, sender)
        outgoing = _outgoing(self.session, parsed, sender, agent_id, our_addresses)
        new = _new_message(parsed, raw, source or Source(), fingerprint, outgoing)
        new.author_agent_id = agent_id
        if same_id:
            first = self._follow(self._ticket(same_id[0].ticket_id))
            new.parse_problems.append(
                f"The Message-ID {own_id[:200]} was already used by a different message"
                + (f" (on ticket #{first.number})" if first else "")
                + "; this one is kept as a message of its own."
            )
        report = parsed.delivery_report if parsed.robot.bounce else None
        named, unseen = self._named(_references(parsed, report))
        if not same_id and own_id in self.ghosts:
            # Something stored answers this message: its original arrived after the reply.
            self._name(named, self._ticket(self.ghosts.pop(own_id)), via_ghost=True)
            self.gone_ghosts.append(own_id)
        tags = subject_tags(parsed.subject)
        if robot:
            return self._ingest_robot(
                parsed, new, named, unseen, tags, report, sender, our_addresses, change
            )

        # A quarantined robot that answered this conversation before it arrived is taken in.
        strays = [t for t, via_ghost in named if via_ghost and self._quarantined(t)]
        tickets_named = [t for t, _ in named if t not in strays]
        found = tickets_named[0] if tickets_named else self._by_tags(tags, sender, our_addresses)
        related = None
        if found is not None and found.status == "closed":
            related, found = found, None  # closed is final: a new ticket, linked to it
        elif found is not None:
            found = self._join([found, *tickets_named], change)
        if found is None:
            requester, requester_name = _requester_of(
                self.session, parsed, sender, outgoing, our_addresses
            )
            ticket = self._create_ticket(
                subject=parsed.subject or "(no subject)",
                requester_email=_requester_address(requester),
                requester_name=requester_name,
                queue_id=self._queue_id(default_queue),
                related=related,
                change=change,
            )
            outcome: Outcome = "new_ticket"
        else:
            ticket = found
            outcome = "follow_up" if outgoing or agent_id else self._wake(ticket, change)
        message_id = self._add_message(ticket, new, change)
        if new.direction == "in" and not agent_id and outcome != "new_ticket":
            self.customer_answers.append((ticket.id, message_id))  # told at flush
        self._remember_ccs(ticket, parsed, our_addresses)
        self._leave_ghosts(unseen, ticket, message_id)
        if strays:
            ticket = self._join([ticket, *strays], change, into=ticket)
        if tags and (outgoing or outcome == "new_ticket"):
            ticket = self._index_tags(tags, ticket, message_id, sender, outgoing, change)
        return IngestResult(outcome, ticket.number, message_id)

    def _answers_a_digest(self, parsed: ParsedMessage) -> bool:
        """Whether `parsed` answers one of our notification digests (desk.digest): they go
        to agents about many tickets, so a reply to one belongs to none."""
        # Only ids made like a digest's are looked up, so ordinary mail costs no query.
        refs = [r for r in _references(parsed) if f".{digest.ID_MARK}@" in r]
        if not refs:
            return False
        return (
            self.conn.execute(
                select(_OUTBOX.c.id)
                .where(_OUTBOX.c.kind == digest.KIND, _OUTBOX.c.message_id_header.in_(refs))
                .limit(1)
            ).first()
            is not None
        )

    def _ignore(self, parsed: ParsedMessage, raw: bytes, now: datetime) -> IngestResult:
        """Keep a reply to a digest raw in `ignored_mail`, once per Message-ID."""
        reason = "digest_reply"
        message_id = parsed.message_id[:_MAX_ID]
        seen = self.conn.execute(
            select(_IGNORED.c.id).where(
                _IGNORED.c.message_id == message_id, _IGNORED.c.reason == reason
            )
        ).first()
        if seen is not None:
            return IngestResult("duplicate", None, None)
        sender = parsed.from_.address if parsed.from_ and parsed.from_.address else ""
        self.conn.execute(
            _IGNORED.insert(),
            {
                "received_at": min(parsed.date or now, now),
                "reason": reason,
                "sender": sender.strip().lower()[:320],
                "message_id": message_id,
                "raw": raw,
            },
        )
        return IngestResult("digest_reply", None, None)

    def _ingest_robot(
        self,
        parsed: ParsedMessage,
        new: NewMessage,
        named: list[tuple[_Ticket, bool]],
        unseen: list[str],
        tags: list[str],
        report: DeliveryReport | None,
        sender: str,
        our_addresses: frozenset[str],
        change: Change,
    ) -> IngestResult:
        """A robot joins the ticket it answers, closed or not, and wakes nothing; else it
        waits in quarantine, with ghosts so that what it answered can take it in later."""
        ticket = named[0][0] if named else self._by_tags(tags, sender, our_addresses)
        if ticket is not None:
            message_id = self._add_message(ticket, new, change)
            self._remember_ccs(ticket, parsed, our_addresses)
            self._leave_ghosts(unseen, ticket, message_id)
            if report is not None and not self._quarantined(ticket):
                self._bounced(ticket, report, parsed.date, change)
            return IngestResult("robot", ticket.number, message_id, robot=True)
        ticket = self._create_ticket(
            subject=parsed.subject or "(no subject)",
            requester_email=_requester_address(sender),
            requester_name=parsed.from_.name if parsed.from_ else "",
            queue_id=self._queue_id(QUARANTINE_QUEUE, quarantine=True),
            related=None,
            change=change,
        )
        message_id = self._add_message(ticket, new, change)
        self._remember_ccs(ticket, parsed, our_addresses)
        self._leave_ghosts(unseen, ticket, message_id)
        return IngestResult("quarantined", ticket.number, message_id, robot=True)

    def _name(
        self, named: list[tuple[_Ticket, bool]], ticket: _Ticket | None, via_ghost: bool
    ) -> None:
        """Add `ticket` (merges followed) to `named` once; a stored message outranks a ghost."""
        ticket = self._follow(ticket)
        if ticket is None:
            return
        for index, (other, other_via_ghost) in enumerate(named):
            if other is ticket:
                if other_via_ghost and not via_ghost:
                    named[index] = (other, False)
                return
        named.append((ticket, via_ghost))

    def _named(self, candidates: list[str]) -> tuple[list[tuple[_Ticket, bool]], list[str]]:
        """The tickets `candidates` name, in order, each with whether only a ghost named it;
        and the candidates nobody knows (future ghosts)."""
        named: list[tuple[_Ticket, bool]] = []
        unseen: list[str] = []
        if not candidates:
            return named, unseen
        key = self.session.info.get("threading_key")
        if key is None:
            key = self.session.info["threading_key"] = message_ids.threading_key(self.session)
        self._lookup(candidates)
        for candidate in candidates:
            number = message_ids.ticket_number_from(key, candidate)
            if number is not None:
                self._name(named, self._ticket(number=number), via_ghost=False)
            elif candidate in self.known:
                self._name(named, self._ticket(self.known[candidate][0].ticket_id), False)
            elif candidate in self.ghosts:
                self._name(named, self._ticket(self.ghosts[candidate]), via_ghost=True)
            else:
                unseen.append(candidate)
        return named, unseen

    def _by_tags(
        self, tags: list[str], sender: str, our_addresses: frozenset[str]
    ) -> _Ticket | None:
        """Our `[#N]` for people who belong to ticket N; else another desk's tag that the
        outgoing mail of exactly one ticket carries, for people who belong to that ticket."""
        for tag in tags:
            number = own_ticket_number(tag)
            if number is not None:
                ticket = self._follow(self._ticket(number=number))
                if ticket is not None and self._belongs(ticket, sender, our_addresses):
                    return ticket
        for tag in tags:
            owners = self._tag_owners(tag)
            if len(owners) == 1 and self._belongs(owners[0], sender, our_addresses):
                return owners[0]
        return None

    def _tag_owners(self, tag: str) -> list[_Ticket]:
        self._lookup_tags([tag])
        owners: list[_Ticket] = []
        for row in self.tag_rows.get(tag, ()):
            if row.outgoing:
                ticket = self._follow(self._ticket(row.ticket_id))
                if ticket is not None and ticket not in owners:
                    owners.append(ticket)
        return owners

    def _index_tags(
        self,
        tags: list[str],
        ticket: _Ticket,
        message_row: int,
        sender: str,
        outgoing: bool,
        change: Change,
    ) -> _Ticket:
        """Remember the tags of outgoing mail (what a tag stands for) and of mail that opened
        a ticket with them (a claim for the outgoing mail to settle when it arrives later).

        Outgoing mail is the other help desk speaking: two tickets whose outgoing mail
        carries one prefixed tag (`[ACME #123]`) are one of its tickets, and are merged. A
        bare `[#N]` never merges anything: every desk writes those, ours included. Returns
        the ticket the message is on afterwards.
        """
        group = [ticket]
        for tag in tags:
            self._lookup_tags([tag])
            if outgoing and own_ticket_number(tag) is None:
                group += [t for t in self._tag_owners(tag) if t not in group]
            self.tag_rows.setdefault(tag, []).append(
                _TagRow(message_row, ticket.id, outgoing, sender)
            )
            self.new_tags.append({"tag": tag, "message_id": message_row, "outgoing": outgoing})
        if len(group) > 1:
            ticket = self._join(group, change)
        if not outgoing:
            return ticket
        claims: list[_Ticket] = []
        for tag in tags:
            if self._tag_owners(tag) != [ticket]:
                continue
            for row in self.tag_rows[tag]:
                waiting = self._follow(self._ticket(row.ticket_id))
                if (
                    row.outgoing
                    or waiting is None
                    or waiting is ticket
                    or waiting in claims
                    or waiting.status == "closed"
                    or self._quarantined(waiting)
                ):
                    continue
                if self._belongs(ticket, row.sender, frozenset()):
                    claims.append(waiting)
        if not claims:
            return ticket
        return self._join([ticket, *claims], change)

    def _leave_ghosts(self, unseen: list[str], ticket: _Ticket, message_row: int) -> None:
        for ghost in unseen[:MAX_GHOSTS]:
            if ghost in self.ghosts or ghost in self.known:
                continue
            self.ghosts[ghost] = ticket.id
            self.new_ghosts.append({"message_id": ghost, "source_id": message_row})

    def _join(
        self, group: list[_Ticket], change: Change, *, into: _Ticket | None = None
    ) -> _Ticket:
        """Merge the open tickets of `group` into `into` (default: the oldest of them), as an
        agent would with `tickets merge`; closed tickets stay as they are."""
        members: list[_Ticket] = []
        for ticket in group:
            followed = self._follow(ticket)
            if followed is not None and followed.status != "closed" and followed not in members:
                members.append(followed)
        target = self._follow(into) if into is not None else None
        if target is None:  # the oldest, unless only quarantine would take the conversation
            target = (
                min(members, key=lambda t: (bool(self._quarantined(t)), t.number))
                if members
                else group[0]
            )
        others = [t for t in members if t is not target]
        if not others or target.status == "closed":
            return target
        self.flush()  # merge goes through the domain, in order with what came before
        for other in others:
            tickets.merge(self.session, other.number, target.number, change)
        self.session.flush()
        for row in self.conn.execute(
            select(*_TICKET_COLUMNS).where(_TICKETS.c.id.in_([t.id for t in (target, *others)]))
        ):
            ticket = self.tickets[row.id]
            (
                __,
                ticket.number,
                ticket.status,
                ticket.queue_id,
                ticket.requester_id,
                ticket.merged_into_id,
                ticket.message_count,
                ticket.version,
                ticket.first_response_at,
            ) = row
            ticket.stored_version = ticket.version
        self.ccs.pop(target.id, None)
        return target

    def _wake(self, ticket: _Ticket, change: Change) -> Outcome:
        """A customer wrote: a solved or pending ticket needs someone again."""
        woken = woken_by_customer(ticket.status)
        if woken is None:
            return "follow_up"
        reopened = ticket.status == "solved"
        self.flush()  # the status change goes through the ORM, in order with what came before
        row = tickets.set_status(self.session, ticket.number, woken, change)
        ticket.status = row.status
        ticket.version = ticket.stored_version = row.version
        ticket.message_count = row.message_count
        return "reopened" if reopened else "follow_up"

    def _bounced(
        self, ticket: _Ticket, report: DeliveryReport, date: datetime | None, change: Change
    ) -> None:
        """Mark the customers a placed bounce failed for; the ticket's history says so too."""
        failed = report.failed
        if not failed:
            return
        when = date if date is not None and date <= utcnow() else change.now()
        for recipient in failed:
            addresses = sorted({a for a in (recipient.address, recipient.original) if a})
            reason = " ".join(f"{recipient.status} {recipient.diagnostic}".split())
            self.conn.execute(
                update(_CUSTOMERS)
                .where(_CUSTOMERS.c.email.in_(addresses))
                .values(
                    bounced_at=when,
                    bounce_reason=(reason or "delivery failed")[:500],
                    updated_at=change.now(),
                )
            )
        summary = ", ".join(
            f"{r.original or r.address} ({r.status})" if r.status else (r.original or r.address)
            for r in failed
        )
        self._event(ticket, "bounce", change, new=summary[:1000])

    def _create_ticket(
        self,
        *,
        subject: str,
        requester_email: str,
        requester_name: str,
        queue_id: int,
        related: _Ticket | None,
        change: Change,
    ) -> _Ticket:
        requester_id = self._customer(requester_email, requester_name)
        if self.next_number is None:
            self.next_number = self.conn.execute(_COUNTER).scalar_one()
        self.next_number += 1
        self.counter_dirty = True
        now = change.now()
        # A reply to a closed ticket: the new ticket points back (a second write, version 2).
        version = 1 if related is None else 2
        ticket_id = _INSERT_TICKET.scalar(
            self.conn,
            {
                "number": self.next_number,
                "subject": subject.strip(),
                "priority": "normal",
                "queue_id": queue_id,
                "assignee_id": None,
                "requester_id": requester_id,
                "created_at": now,
                "updated_at": now,
                "first_response_at": None,
                **status_values("new", now, None),
                "merged_into_id": None,
                "related_ticket_id": related.id if related else None,
                "message_count": 0,
                "version": version,
            },
        )
        ticket = _Ticket(
            ticket_id,
            self.next_number,
            "new",
            queue_id,
            requester_id,
            None,
            0,
            version,
            None,
            version,
        )
        self.tickets[ticket_id] = ticket
        self.numbers[ticket.number] = ticket_id
        self.ccs[ticket_id] = set()
        queue_name = next(name for id_, name in self.queues.values() if id_ == queue_id)
        self._event(ticket, "create", change, version=1, new=f"{queue_name}/new/normal")
        return ticket

    def _add_message(self, ticket: _Ticket, new: NewMessage, change: Change) -> int:
        now = change.now()
        values = message_values(ticket.id, new, now)
        message_id = _INSERT_MESSAGE.scalar(self.conn, values)
        self.known.setdefault(new.message_id, []).append(
            _Stored(message_id, ticket.id, new.content_hash)
        )
        self.looked_up.add(new.message_id)
        self.raws.append({"message_id": message_id, "raw": new.raw})
        self.documents.append((message_id, ticket.id, document_for(values)))
        for attachment in new.attachments:
            self.attachments.add(message_id, attachment)
        ticket.message_count += 1
        ticket.version += 1
        ticket.updated_at = now
        self.latest = now if self.latest is None else max(self.latest, now)
        if new.direction == "out":
            self.answered.add(ticket.id)
        if answers(ticket.first_response_at, new):
            ticket.first_response_at = now
        self._event(ticket, f"message_{new.direction}", change, new=str(message_id))
        return message_id

    def _event(
        self,
        ticket: _Ticket,
        action: str,
        change: Change,
        *,
        version: int | None = None,
        new: str | None = None,
    ) -> None:
        self.events.append(
            events.row(
                ticket.id, ticket.version if version is None else version, action, change, new=new
            )
        )

    def _remember_ccs(
        self, ticket: _Ticket, parsed: ParsedMessage, our_addresses: frozenset[str]
    ) -> None:
        addresses = {a.address for a in (*parsed.to, *parsed.cc) if a.address}
        if not addresses:
            return
        requester = self._requester_email(ticket)
        addresses -= set(our_addresses) | ({requester} if requester else set())
        addresses -= _agents(self.session).keys()
        if not addresses:
            return
        known = self._ccs(ticket)
        for address in sorted(addresses - known):
            known.add(address)
            self.new_ccs.append({"ticket_id": ticket.id, "email": address})

    # -- writing what waited

    def flush(self) -> None:
        """Write everything the batch holds back, one statement per table."""
        conn = self.conn
        if self.counter_dirty:
            conn.execute(_SET_COUNTER, {"value": self.next_number})
            self.counter_dirty = False
        if self.raws:
            _INSERT_RAWS.many(conn, self.raws)
        search.index_documents(conn, self.documents)
        store_attachments(conn, self.attachments)
        if self.new_ccs:
            conn.execute(_INSERT_CC, self.new_ccs)
        insert = sqlite_insert if conn.dialect.name == "sqlite" else postgresql_insert
        if self.gone_ghosts:
            gone = set(self.gone_ghosts)
            for chunk in _chunks(sorted(gone)):
                conn.execute(delete(_GHOSTS).where(_GHOSTS.c.message_id.in_(chunk)))
            self.new_ghosts = [g for g in self.new_ghosts if g["message_id"] not in gone]
        if self.new_ghosts:
            # Another process may have left the same ghost meanwhile: the first one stays.
            conn.execute(insert(_GHOSTS).on_conflict_do_nothing(), self.new_ghosts)
        if self.new_tags:
            conn.execute(insert(_TAGS).on_conflict_do_nothing(), self.new_tags)
        changed = [t for t in self.tickets.values() if t.version != t.stored_version]
        if changed:
            result = conn.execute(
                _UPDATE_TICKET,
                [
                    {
                        "t_id": t.id,
                        "read_version": t.stored_version,
                        "message_count": t.message_count,
                        "version": t.version,
                        "updated_at": t.updated_at,
                        "first_response": t.first_response_at,
                    }
                    for t in changed
                ],
            )
            if result.rowcount not in (-1, len(changed)):
                raise ConflictError(
                    _(
                        "a ticket changed while mail was being added to it; nothing "
                        "was written: run the sync or import again"
                    )
                )
        if self.events:
            events.write(conn, self.events)
        if self.customer_answers:
            tickets_, messages = zip(*self.customer_answers, strict=True)
            notifications.replies(self.session, messages, tickets_)
        if changed and self.latest is not None:
            if self.answered and due.enabled(self.session):
                due.note_responses(self.session, sorted(self.answered), self.latest)
            for chunk in _chunks([t.id for t in changed]):
                due.refresh(self.session, _TICKETS.c.id.in_(chunk), self.latest)
        self.answered = set()
        for ticket in changed:
            ticket.stored_version = ticket.version
            stale = self.session.identity_map.get(identity_key(Ticket, ticket.id))
            if stale is not None:
                self.session.expire(stale)
        self.raws, self.documents, self.events, self.new_ccs = [], [], [], []
        self.customer_answers = []
        self.new_ghosts, self.gone_ghosts, self.new_tags = [], [], []
        self.attachments = AttachmentRows()


def _chunks(items: list[Any], size: int = 500) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _references(parsed: ParsedMessage, report: DeliveryReport | None = None) -> list[str]:
    """The ids a message answers, nearest first: for a bounce the bounced message's own ids,
    then In-Reply-To, then References from the right (the direct parent is the last)."""
    ids: list[str] = []
    if report is None and parsed.robot.bounce:
        report = parsed.delivery_report
    if report is not None:
        ids += [report.message_id, report.in_reply_to, *reversed(report.references)]
    ids += [parsed.in_reply_to, *reversed(parsed.references)]
    own = parsed.message_id
    found = [i for i in dict.fromkeys(ids) if i and i != own and len(i) <= _MAX_ID]
    return found[:_MAX_CANDIDATES]


def _outgoing(
    session: Session,
    parsed: ParsedMessage,
    sender: str,
    agent_id: int | None,
    our_addresses: frozenset[str],
) -> bool:
    """Mail we sent: from an agent or one of our addresses, to someone who is neither (an
    agent forwarding mail to the support address, or a web form writing from it, is not)."""
    if not sender or (agent_id is None and sender not in our_addresses):
        return False
    agents = _agents(session)
    return any(
        a.address and a.address not in our_addresses and a.address not in agents
        for a in (*parsed.to, *parsed.cc)
    )


def _requester_of(
    session: Session,
    parsed: ParsedMessage,
    sender: str,
    outgoing: bool,
    our_addresses: frozenset[str],
) -> tuple[str, str]:
    """Who a new ticket is for: the sender, or for outgoing mail the first customer it went to."""
    if outgoing:
        agents = _agents(session)
        for address in (*parsed.to, *parsed.cc):
            if address.address and not (
                address.address in our_addresses or address.address in agents
            ):
                return address.address, address.name
    return sender, parsed.from_.name if parsed.from_ else ""


def _new_message(
    parsed: ParsedMessage, raw: bytes, source: Source, fingerprint: str, outgoing: bool
) -> NewMessage:
    def addresses(items: list) -> str:
        return ", ".join(
            f"{a.name} <{a.address}>" if a.name else a.address for a in items if a.address
        )

    return NewMessage(
        raw=raw,
        message_id=parsed.message_id,
        direction="out" if outgoing else "in",
        from_name=parsed.from_.name if parsed.from_ else "",
        from_address=parsed.from_.address if parsed.from_ else "",
        to_addresses=addresses(parsed.to),
        cc_addresses=addresses(parsed.cc),
        subject=parsed.subject,
        sent_at=parsed.date,
        body_text=parsed.text,
        body_html=parsed.html,
        in_reply_to=parsed.in_reply_to,
        references=" ".join(parsed.references),
        is_auto_reply=parsed.robot.auto_reply,
        is_bounce=parsed.robot.bounce,
        is_list=parsed.robot.list_mail,
        parse_problems=list(parsed.problems),
        mailbox=source.mailbox,
        folder=source.folder,
        uidvalidity=source.uidvalidity,
        uid=source.uid,
        attachments=[
            NewAttachment(
                filename=a.filename,
                content_type=a.content_type,
                content=a.content,
                content_id=a.content_id,
                is_inline=a.is_inline,
            )
            for a in parsed.attachments
        ],
        content_hash=fingerprint,
    )


def _agents(session: Session) -> dict[str, int]:
    """Agent addresses, read once per transaction: a batch asks for every message."""
    agents = session.info.get("ingest_agents")
    if agents is None:
        agents = {
            email: id_ for email, id_ in session.execute(select(col(Agent.email), col(Agent.id)))
        }
        session.info["ingest_agents"] = agents
    return agents


def _agent_id(session: Session, address: str) -> int | None:
    return _agents(session).get(address) if address else None


def _requester_address(sender: str) -> str:
    try:
        return directory.normalise_email(sender)
    except ValidationError:
        return UNKNOWN_SENDER
