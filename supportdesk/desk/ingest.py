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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sqlalchemy import select
from sqlmodel import Session, col

from supportdesk.desk import directory, message_ids, tickets
from supportdesk.desk.events import Change
from supportdesk.desk.messages import NewAttachment, NewMessage, add_message
from supportdesk.errors import ValidationError
from supportdesk.store.models import Agent, Customer, Message, Ticket, TicketCC

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
    """Store one received message on the right ticket, creating the ticket if need be."""
    change = change or Change.by(INGEST_ACTOR)
    existing = session.execute(
        select(Message.id, Message.ticket_id).where(Message.message_id == parsed.message_id)
    ).first()
    if existing is not None:
        number = session.execute(
            select(Ticket.number).where(Ticket.id == existing.ticket_id)
        ).scalar_one()
        return IngestResult("duplicate", number, existing.id)

    robot = parsed.robot.auto_reply or parsed.robot.bounce or parsed.robot.list_mail
    sender = parsed.from_.address if parsed.from_ and parsed.from_.address else ""
    new = _new_message(parsed, raw, source or Source())
    new.author_agent_id = _agent_id(session, sender)
    ticket = _ticket_for(session, parsed, sender)

    if ticket is not None and not (ticket.status == "closed" and not robot):
        outcome: Outcome = "robot" if robot else "follow_up"
        if not robot and new.author_agent_id is None:
            outcome = _wake(session, ticket, change)
        message = add_message(session, ticket, new, change)
        _remember_ccs(session, ticket, parsed, our_addresses)
        return IngestResult(outcome, ticket.number, message.id, robot)

    queue = QUARANTINE_QUEUE if robot else default_queue
    if robot:
        quarantine = directory.ensure_queue(
            session, QUARANTINE_QUEUE, description="Robots that answered nothing we know"
        )
        if not quarantine.is_quarantine:
            quarantine.is_quarantine = True
            session.add(quarantine)
    created = tickets.create_ticket(
        session,
        subject=parsed.subject or "(no subject)",
        requester_email=_requester_address(sender),
        requester_name=parsed.from_.name if parsed.from_ else "",
        queue=queue,
        change=change,
    )
    if ticket is not None:  # a reply to a closed ticket: a new ticket that points back
        tickets.write_ticket(
            session, created, {"related_ticket_id": ticket.id}, created.version, change
        )
    message = add_message(session, created, new, change)
    _remember_ccs(session, created, parsed, our_addresses)
    outcome = "quarantined" if robot else "new_ticket"
    return IngestResult(outcome, created.number, message.id, robot)


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


def _ticket_for(session: Session, parsed: ParsedMessage, sender: str) -> Ticket | None:
    """The ticket this message answers, following merges; None when it answers nothing known."""
    found = _by_reference(session, parsed) or _by_subject_tag(session, parsed.subject, sender)
    seen: set[int] = set()
    while found is not None and found.merged_into_id is not None and found.id not in seen:
        seen.add(found.id)  # type: ignore[arg-type]
        found = session.get(Ticket, found.merged_into_id)
    return found


def _by_reference(session: Session, parsed: ParsedMessage) -> Ticket | None:
    # The direct parent first: In-Reply-To, then References from the right.
    candidates = [parsed.in_reply_to, *reversed(parsed.references)]
    candidates = list(dict.fromkeys(c for c in candidates if c))
    if not candidates:
        return None
    key = session.info.get("threading_key")
    if key is None:
        key = session.info["threading_key"] = message_ids.threading_key(session)
    for candidate in candidates:
        number = message_ids.ticket_number_from(key, candidate)
        if number is not None:
            ticket = (
                session.exec(
                    select(Ticket).where(Ticket.number == number)  # type: ignore[call-overload]
                )
                .scalars()
                .first()
            )
            if ticket is not None:
                return ticket
    rows = session.execute(
        select(Message.message_id, Message.ticket_id).where(col(Message.message_id).in_(candidates))
    ).all()
    by_id = {message_id: ticket_id for message_id, ticket_id in rows}
    for candidate in candidates:
        if candidate in by_id:
            return session.get(Ticket, by_id[candidate])
    return None


def _by_subject_tag(session: Session, subject: str, sender: str) -> Ticket | None:
    """`[#N]` in the subject names ticket N, but only for people who belong to it.

    Anyone can type a tag; without this check a stranger could write into another
    customer's ticket.
    """
    match = _SUBJECT_TAG.search(subject or "")
    if match is None or not sender:
        return None
    ticket = (
        session.exec(
            select(Ticket).where(Ticket.number == int(match.group(1)))  # type: ignore[call-overload]
        )
        .scalars()
        .first()
    )
    if ticket is None:
        return None
    requester = session.get(Customer, ticket.requester_id)
    if requester is not None and requester.email == sender:
        return ticket
    if session.get(TicketCC, (ticket.id, sender)) is not None:
        return ticket
    if _agent_id(session, sender) is not None:
        return ticket
    return None


def _wake(session: Session, ticket: Ticket, change: Change) -> Outcome:
    """A customer wrote: a solved or pending ticket needs someone again."""
    if ticket.status in ("solved", "pending"):
        reopened = ticket.status == "solved"
        tickets.set_status(session, ticket.number, "open", change)
        session.refresh(ticket)
        return "reopened" if reopened else "follow_up"
    return "follow_up"


def _remember_ccs(
    session: Session, ticket: Ticket, parsed: ParsedMessage, our_addresses: frozenset[str]
) -> None:
    addresses = {a.address for a in (*parsed.to, *parsed.cc) if a.address}
    requester = session.get(Customer, ticket.requester_id)
    addresses -= set(our_addresses) | ({requester.email} if requester else set())
    addresses -= _agents(session).keys()
    if not addresses:
        return
    known = set(
        session.execute(
            select(TicketCC.email).where(
                TicketCC.ticket_id == ticket.id, col(TicketCC.email).in_(addresses)
            )
        ).scalars()
    )
    for address in sorted(addresses - known):
        session.add(TicketCC(ticket_id=ticket.id, email=address))  # type: ignore[arg-type]
    session.flush()


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
