"""Turning one received message into a ticket change: duplicate, follow-up, or a new ticket.

The order is the one help desks converge on (see MAIL-NOTES): a Message-ID already stored is a
duplicate; a reference to one of our signed ids or to any stored message names the ticket; a
`[#N]` subject tag names ticket N only when the sender belongs to it; otherwise a new ticket.
Robots (auto-replies, bounces, list mail) never open a ticket: they join the ticket they
answer, or wait in the quarantine queue.

Everything happens in the caller's transaction, so a sync can commit the message together
with its folder position.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session

from supportdesk.desk import directory, message_ids, tickets
from supportdesk.desk.events import INSERT_EVENT, Change
from supportdesk.desk.messages import (
    INSERT_MESSAGE,
    INSERT_RAW,
    AttachmentRows,
    NewAttachment,
    NewMessage,
    document_for,
    message_values,
    store_attachments,
)
from supportdesk.errors import ConflictError, ValidationError
from supportdesk.store import search
from supportdesk.store.models import (
    Agent,
    Customer,
    Message,
    Organisation,
    Ticket,
    TicketCC,
    utcnow,
)
from supportdesk.store.prepared import Prepared

if TYPE_CHECKING:
    from supportdesk.mail.parse import ParsedMessage

QUARANTINE_QUEUE = "quarantine"
INGEST_ACTOR = "system:ingest"
UNKNOWN_SENDER = "unknown-sender@invalid.invalid"
_SUBJECT_TAG = re.compile(r"\[#(\d{1,18})\]")

Outcome = Literal["duplicate", "new_ticket", "follow_up", "reopened", "robot", "quarantined"]


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
_TICKETS = Ticket.__table__  # type: ignore[attr-defined]
_MESSAGES = Message.__table__  # type: ignore[attr-defined]
_INSERT_TICKET = Prepared(_TICKETS.insert().returning(_TICKETS.c.id))
_INSERT_CC = TicketCC.__table__.insert()  # type: ignore[attr-defined]
_CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]
_INSERT_CUSTOMER = Prepared(_CUSTOMERS.insert().returning(_CUSTOMERS.c.id))
_INSERT_MESSAGE = Prepared(INSERT_MESSAGE)
_INSERT_RAWS = Prepared(INSERT_RAW)
_INSERT_EVENTS = Prepared(INSERT_EVENT)
_CUSTOMER_BY_EMAIL = select(_CUSTOMERS.c.id, _CUSTOMERS.c.name).where(
    _CUSTOMERS.c.email == bindparam("email")
)
_ORGANISATIONS = Organisation.__table__  # type: ignore[attr-defined]
_INSERT_ORGANISATION = _ORGANISATIONS.insert().returning(_ORGANISATIONS.c.id)
_TICKET_COLUMNS = (
    _TICKETS.c.id,
    _TICKETS.c.number,
    _TICKETS.c.status,
    _TICKETS.c.requester_id,
    _TICKETS.c.merged_into_id,
    _TICKETS.c.message_count,
    _TICKETS.c.version,
)
_UPDATE_TICKET = (
    update(_TICKETS)
    .where(_TICKETS.c.id == bindparam("t_id"), _TICKETS.c.version == bindparam("read_version"))
    .values(
        message_count=bindparam("message_count"),
        version=bindparam("version"),
        updated_at=bindparam("updated_at"),
    )
)
_COUNTER = text("UPDATE counters SET value = value WHERE name = 'ticket_number' RETURNING value")
_SET_COUNTER = text("UPDATE counters SET value = :value WHERE name = 'ticket_number'")


@dataclass
class _Ticket:
    """What ingest needs of a ticket it touches, kept in memory for the whole batch."""

    id: int
    number: int
    status: str
    requester_id: int
    merged_into_id: int | None
    message_count: int
    version: int
    stored_version: int  # the version the row holds until the batch writes it
    updated_at: datetime | None = None


class IngestBatch:
    """One transaction's worth of ingest: lookups cached, most writes done together at the end.

    Per message only the ticket (when new) and the message row are inserted at once, since
    their ids are needed; raw bytes, index documents, attachments, CCs, events and the ticket
    counters are written in one statement per table by `flush`, in the order they happened.
    Use as a context manager (flushes on a clean exit) or call `flush` yourself.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.conn = session.connection()
        # message_id -> (message row id, ticket id), for duplicates and references
        self.known: dict[str, tuple[int, int]] = {}
        self.looked_up: set[str] = set()
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
        self.next_number: int | None = None
        self.counter_dirty = False
        self.raws: list[dict[str, object]] = []
        self.documents: list[tuple[int, str]] = []
        self.attachments = AttachmentRows()
        self.events: list[dict[str, object]] = []
        self.new_ccs: list[dict[str, object]] = []
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
        """Read every Message-ID, reference and sender the batch names, in a few queries."""
        wanted: set[str] = set()
        senders: set[str] = set()
        for parsed in batch:
            wanted.add(parsed.message_id)
            wanted.update(c for c in (parsed.in_reply_to, *parsed.references) if c)
            if parsed.from_ and parsed.from_.address:
                senders.add(_requester_address(parsed.from_.address))
        self._lookup(wanted)
        ticket_ids = sorted({t for _m, t in self.known.values()} - self.tickets.keys())
        for chunk in _chunks(ticket_ids):
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
            ccs = TicketCC.__table__.c  # type: ignore[attr-defined]
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
        self.looked_up.update(missing)
        for chunk in _chunks(missing):
            rows = self.conn.execute(
                select(_MESSAGES.c.message_id, _MESSAGES.c.id, _MESSAGES.c.ticket_id)
                .where(_MESSAGES.c.message_id.in_(chunk))
                .order_by(_MESSAGES.c.id)
            )
            for message_id, id_, ticket_id in rows:
                self.known.setdefault(message_id, (id_, ticket_id))

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
        ticket = _Ticket(*row, stored_version=row.version)
        self.tickets[ticket.id] = ticket
        self.numbers[ticket.number] = ticket.id
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
                    select(TicketCC.email).where(TicketCC.ticket_id == ticket.id)
                ).scalars()
            )
        return self.ccs[ticket.id]

    def _queue_id(self, name: str, *, quarantine: bool = False) -> int:
        if name not in self.queues:
            if quarantine:
                queue = directory.ensure_queue(
                    self.session, name, description="Robots that answered nothing we know"
                )
                if not queue.is_quarantine:
                    queue.is_quarantine = True
                    self.session.add(queue)
                    self.session.flush()
            else:
                queue = directory.get_queue(self.session, name)
            self.queues[name] = (queue.id, queue.name)  # type: ignore[assignment]
        return self.queues[name][0]

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
        self._lookup([parsed.message_id])
        existing = self.known.get(parsed.message_id)
        if existing is not None:
            number = self._number(existing[1])
            return IngestResult("duplicate", number, existing[0])

        robot = parsed.robot.auto_reply or parsed.robot.bounce or parsed.robot.list_mail
        sender = parsed.from_.address if parsed.from_ and parsed.from_.address else ""
        new = _new_message(parsed, raw, source or Source())
        new.author_agent_id = _agent_id(self.session, sender)
        ticket = self._ticket_for(parsed, sender)

        if ticket is not None and not (ticket.status == "closed" and not robot):
            outcome: Outcome = "robot" if robot else "follow_up"
            if not robot and new.author_agent_id is None:
                outcome = self._wake(ticket, change)
            message_id = self._add_message(ticket, new, change)
            self._remember_ccs(ticket, parsed, our_addresses)
            return IngestResult(outcome, ticket.number, message_id, robot)

        queue = QUARANTINE_QUEUE if robot else default_queue
        created = self._create_ticket(
            subject=parsed.subject or "(no subject)",
            requester_email=_requester_address(sender),
            requester_name=parsed.from_.name if parsed.from_ else "",
            queue_id=self._queue_id(queue, quarantine=robot),
            related=ticket,
            change=change,
        )
        message_id = self._add_message(created, new, change)
        self._remember_ccs(created, parsed, our_addresses)
        outcome = "quarantined" if robot else "new_ticket"
        return IngestResult(outcome, created.number, message_id, robot)

    def _number(self, ticket_id: int) -> int:
        ticket = self._ticket(ticket_id)
        if ticket is None:
            raise LookupError(f"message names ticket id {ticket_id}, which is not stored")
        return ticket.number

    def _ticket_for(self, parsed: ParsedMessage, sender: str) -> _Ticket | None:
        """The ticket this message answers, following merges; None when it answers nothing."""
        found = self._by_reference(parsed) or self._by_subject_tag(parsed.subject, sender)
        seen: set[int] = set()
        while found is not None and found.merged_into_id is not None and found.id not in seen:
            seen.add(found.id)
            found = self._ticket(found.merged_into_id)
        return found

    def _by_reference(self, parsed: ParsedMessage) -> _Ticket | None:
        # The direct parent first: In-Reply-To, then References from the right.
        candidates = [parsed.in_reply_to, *reversed(parsed.references)]
        candidates = list(dict.fromkeys(c for c in candidates if c))
        if not candidates:
            return None
        key = self.session.info.get("threading_key")
        if key is None:
            key = self.session.info["threading_key"] = message_ids.threading_key(self.session)
        for candidate in candidates:
            number = message_ids.ticket_number_from(key, candidate)
            if number is not None:
                ticket = self._ticket(number=number)
                if ticket is not None:
                    return ticket
        self._lookup(candidates)
        for candidate in candidates:
            if candidate in self.known:
                return self._ticket(self.known[candidate][1])
        return None

    def _by_subject_tag(self, subject: str, sender: str) -> _Ticket | None:
        """`[#N]` in the subject names ticket N, but only for people who belong to it.

        Anyone can type a tag; without this check a stranger could write into another
        customer's ticket.
        """
        match = _SUBJECT_TAG.search(subject or "")
        if match is None or not sender:
            return None
        ticket = self._ticket(number=int(match.group(1)))
        if ticket is None:
            return None
        if self._requester_email(ticket) == sender:
            return ticket
        if sender in self._ccs(ticket):
            return ticket
        if _agent_id(self.session, sender) is not None:
            return ticket
        return None

    def _wake(self, ticket: _Ticket, change: Change) -> Outcome:
        """A customer wrote: a solved or pending ticket needs someone again."""
        if ticket.status not in ("solved", "pending"):
            return "follow_up"
        reopened = ticket.status == "solved"
        self.flush()  # the status change goes through the ORM, in order with what came before
        row = tickets.set_status(self.session, ticket.number, "open", change)
        ticket.status = row.status
        ticket.version = ticket.stored_version = row.version
        ticket.message_count = row.message_count
        return "reopened" if reopened else "follow_up"

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
                "status": "new",
                "priority": "normal",
                "queue_id": queue_id,
                "assignee_id": None,
                "requester_id": requester_id,
                "created_at": now,
                "updated_at": now,
                "first_response_at": None,
                "solved_at": None,
                "closed_at": None,
                "merged_into_id": None,
                "related_ticket_id": related.id if related else None,
                "message_count": 0,
                "version": version,
            },
        )
        ticket = _Ticket(
            ticket_id, self.next_number, "new", requester_id, None, 0, version, version
        )
        self.tickets[ticket_id] = ticket
        self.numbers[ticket.number] = ticket_id
        self.ccs[ticket_id] = set()
        queue_name = next(name for id_, name in self.queues.values() if id_ == queue_id)
        self._event(ticket, "create", change, version=1, new=f"{queue_name}/new/normal")
        return ticket

    def _add_message(self, ticket: _Ticket, new: NewMessage, change: Change) -> int:
        now = change.now()
        message_id = _INSERT_MESSAGE.scalar(self.conn, message_values(ticket.id, new, now))
        self.known[new.message_id] = (message_id, ticket.id)
        self.looked_up.add(new.message_id)
        self.raws.append({"message_id": message_id, "raw": new.raw})
        self.documents.append((message_id, document_for(new)))
        for attachment in new.attachments:
            self.attachments.add(message_id, attachment)
        ticket.message_count += 1
        ticket.version += 1
        ticket.updated_at = change.now()
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
            {
                "ticket_id": ticket.id,
                "batch_id": change.batch_id,
                "actor": change.actor,
                "action": action,
                "old_value": None,
                "new_value": new,
                "version": ticket.version if version is None else version,
                "created_at": change.now(),
            }
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
                    }
                    for t in changed
                ],
            )
            if result.rowcount not in (-1, len(changed)):
                raise ConflictError(
                    "a ticket changed while mail was being added to it; nothing was "
                    "written: run the sync or import again"
                )
        if self.events:
            _INSERT_EVENTS.many(conn, self.events)
        for ticket in changed:
            ticket.stored_version = ticket.version
            stale = self.session.identity_map.get(identity_key(Ticket, ticket.id))
            if stale is not None:
                self.session.expire(stale)
        self.raws, self.documents, self.events, self.new_ccs = [], [], [], []
        self.attachments = AttachmentRows()


def _chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _new_message(parsed: ParsedMessage, raw: bytes, source: Source) -> NewMessage:
    def addresses(items: list) -> str:  # type: ignore[type-arg]
        return ", ".join(
            f"{a.name} <{a.address}>" if a.name else a.address for a in items if a.address
        )

    return NewMessage(
        raw=raw,
        message_id=parsed.message_id,
        direction="in",
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
    )


def _agents(session: Session) -> dict[str, int]:
    """Agent addresses, read once per transaction: a batch asks for every message."""
    agents = session.info.get("ingest_agents")
    if agents is None:
        agents = {email: id_ for email, id_ in session.execute(select(Agent.email, Agent.id))}
        session.info["ingest_agents"] = agents
    return agents


def _agent_id(session: Session, address: str) -> int | None:
    return _agents(session).get(address) if address else None


def _requester_address(sender: str) -> str:
    try:
        return directory.normalise_email(sender)
    except ValidationError:
        return UNKNOWN_SENDER
