"""Every change to one ticket, each recording its event in the same transaction.

Concurrency is optimistic: each change updates the row only `WHERE version = <the version
read>` and bumps the version. If another writer got there first the update touches nothing
and the caller gets a ConflictError instead of silently overwriting the other change. A UI
that showed a ticket passes the version it showed as `expected_version`, so a change made
while the agent was reading is caught too.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from supportdesk.desk import directory, events, notifications
from supportdesk.desk.events import Change
from supportdesk.desk.sla import due
from supportdesk.desk.statuses import (
    check_priority,
    check_status,
    check_transition,
    status_values,
)
from supportdesk.desk.tags import normalise_tag
from supportdesk.errors import ConflictError, NotFoundError, ValidationError
from supportdesk.i18n import _
from supportdesk.store import search
from supportdesk.store.models import (
    Agent,
    Draft,
    Message,
    Note,
    OutboxItem,
    Queue,
    Tag,
    Ticket,
    TicketCC,
    TicketTag,
    table_of,
)


def next_ticket_numbers(session: Session, count: int = 1) -> range:
    """Reserve `count` consecutive ticket numbers atomically (safe across processes)."""
    from sqlalchemy import text

    top = session.execute(
        text("UPDATE counters SET value = value + :n WHERE name = 'ticket_number' RETURNING value"),
        params={"n": count},
    ).scalar_one()
    return range(top - count + 1, top + 1)


def get_ticket(session: Session, number: int) -> Ticket:
    ticket = session.exec(select(Ticket).where(Ticket.number == number)).first()
    if ticket is None:
        raise NotFoundError(_("no ticket #{number}").format(number=number))
    return ticket


def create_ticket(
    session: Session,
    *,
    subject: str,
    requester_email: str,
    requester_name: str = "",
    queue: str,
    change: Change,
    priority: str = "normal",
    status: str = "new",
    tags: Iterable[str] = (),
    assignee: str | None = None,
) -> Ticket:
    """Open a ticket; messages are added separately (see desk.messages)."""
    check_status(status)
    check_priority(priority)
    queue_row = directory.get_queue(session, queue)
    requester = directory.ensure_customer(session, requester_email, requester_name)
    agent = directory.get_agent(session, assignee) if assignee else None
    now = change.now()
    ticket = Ticket(
        number=next_ticket_numbers(session)[0],
        subject=subject.strip(),
        priority=priority,
        queue_id=queue_row.id,  # type: ignore[arg-type]
        assignee_id=agent.id if agent else None,
        requester_id=requester.id,  # type: ignore[arg-type]
        created_at=now,
        updated_at=now,
        **status_values(status, now, None),
    )
    session.add(ticket)
    session.flush()
    keep_due(session, ticket, now)
    events.record(
        session,
        ticket,
        "create",
        change,
        new=f"{queue_row.name}/{status}/{priority}",
    )
    if agent is not None:
        event_id = events.record(session, ticket, "assign", change, new=agent.handle)
        notifications.assigned(session, ticket.id, agent, event_id, change)  # type: ignore[arg-type]
    for tag in tags:
        _add_tag(session, ticket, tag, change)
    return ticket


_TICKETS = table_of(Ticket)
# Core and built once: every change to a ticket runs it, a reply twice, and the ORM's bulk
# UPDATE machinery cost more than the statement itself. The SET clause is the parameters'.
_WRITE_TICKET = _TICKETS.update().where(
    _TICKETS.c.id == bindparam("where_id"), _TICKETS.c.version == bindparam("where_version")
)


def write_ticket(
    session: Session,
    ticket: Ticket,
    values: dict[str, Any],
    read_version: int,
    change: Change,
) -> datetime:
    """Write `values` only if nobody changed the ticket since `read_version`.

    Returns the update time it replaced, for the change's event (undo puts it back).
    """
    before = ticket.updated_at
    values = {**values, "version": read_version + 1, "updated_at": change.now()}
    unknown = values.keys() - _TICKETS.c.keys()
    if unknown:
        raise ValueError(
            _("tickets has no column {unknown}").format(unknown=", ".join(sorted(unknown)))
        )
    session.flush()  # what the ORM's UPDATE did first: pending changes go before this one
    result = session.connection().execute(
        _WRITE_TICKET, {**values, "where_id": ticket.id, "where_version": read_version}
    )
    if result.rowcount != 1:
        raise ConflictError(
            _(
                "ticket #{number} was changed by someone else while you "
                "worked on it; nothing was overwritten: reload it and try "
                "again"
            ).format(number=ticket.number)
        )
    for key, value in values.items():
        set_committed_value(ticket, key, value)  # already written: not a pending change
    if values.keys() & due.DEPENDS_ON:
        keep_due(session, ticket, change.now())
    return before


def keep_due(session: Session, ticket: Ticket, at: datetime) -> None:
    """Recompute the ticket's SLA due time after a change it depends on (see desk.sla.due)."""
    if due.refresh_one(session, ticket.id, at):  # type: ignore[arg-type]
        session.expire(ticket, list(due.COLUMNS))


def _load(session: Session, number: int, expected_version: int | None) -> Ticket:
    ticket = session.exec(
        select(Ticket).where(Ticket.number == number).execution_options(populate_existing=True)
    ).first()
    if ticket is None:
        raise NotFoundError(_("no ticket #{number}").format(number=number))
    if expected_version is not None and ticket.version != expected_version:
        raise ConflictError(
            _(
                "ticket #{number} changed since you opened it (version "
                "{expected_version}, now {version}); nothing was "
                "overwritten: reload it and try again"
            ).format(number=number, expected_version=expected_version, version=ticket.version)
        )
    return ticket


def assign(
    session: Session,
    number: int,
    agent_handle: str | None,
    change: Change,
    *,
    expected_version: int | None = None,
) -> Ticket:
    """Assign to an agent, or unassign with None. No change, no event."""
    ticket = _load(session, number, expected_version)
    agent = directory.get_agent(session, agent_handle) if agent_handle else None
    new_id = agent.id if agent else None
    if ticket.assignee_id == new_id:
        return ticket
    old = session.get(Agent, ticket.assignee_id) if ticket.assignee_id else None
    before = write_ticket(session, ticket, {"assignee_id": new_id}, ticket.version, change)
    event_id = events.record(
        session,
        ticket,
        "assign" if agent else "unassign",
        change,
        old=old.handle if old else None,
        new=agent.handle if agent else None,
        before=before,
    )
    if agent is not None:
        notifications.assigned(session, ticket.id, agent, event_id, change)  # type: ignore[arg-type]
    return ticket


def set_status(
    session: Session,
    number: int,
    status: str,
    change: Change,
    *,
    expected_version: int | None = None,
) -> Ticket:
    return change_status(session, _load(session, number, expected_version), status, change)


def change_status(session: Session, ticket: Ticket, status: str, change: Change) -> Ticket:
    """set_status on a ticket this transaction already holds current (read with
    populate_existing, then changed only through write_ticket), saving the send path a
    second read; write_ticket's version check still refuses a stale one."""
    check_transition(ticket.number, ticket.status, status)
    if ticket.status == status:
        return ticket
    change = change.pinned()  # the timestamps, updated_at and the event tell one time
    values = status_values(status, change.now(), ticket.solved_at)
    old = ticket.status
    before = write_ticket(session, ticket, values, ticket.version, change)
    events.record(session, ticket, "status", change, old=old, new=status, before=before)
    return ticket


def set_priority(
    session: Session,
    number: int,
    priority: str,
    change: Change,
    *,
    expected_version: int | None = None,
) -> Ticket:
    check_priority(priority)
    ticket = _load(session, number, expected_version)
    if ticket.priority == priority:
        return ticket
    old = ticket.priority
    before = write_ticket(session, ticket, {"priority": priority}, ticket.version, change)
    events.record(session, ticket, "priority", change, old=old, new=priority, before=before)
    return ticket


def move_queue(
    session: Session,
    number: int,
    queue: str,
    change: Change,
    *,
    expected_version: int | None = None,
) -> Ticket:
    ticket = _load(session, number, expected_version)
    target = directory.get_queue(session, queue)
    if ticket.queue_id == target.id:
        return ticket
    old = session.get(Queue, ticket.queue_id)
    before = write_ticket(session, ticket, {"queue_id": target.id}, ticket.version, change)
    events.record(
        session,
        ticket,
        "queue",
        change,
        old=old.name if old else None,
        new=target.name,
        before=before,
    )
    return ticket


def _tag_id(session: Session, name: str) -> int:
    tag = session.exec(select(Tag).where(Tag.name == name)).first()
    if tag is None:
        tag = Tag(name=name)
        session.add(tag)
        session.flush()
    return tag.id  # type: ignore[return-value]


def _add_tag(
    session: Session, ticket: Ticket, tag: str, change: Change, before: datetime | None = None
) -> bool:
    name = normalise_tag(tag)
    tag_id = _tag_id(session, name)
    if session.get(TicketTag, (ticket.id, tag_id)) is not None:
        return False
    session.add(TicketTag(ticket_id=ticket.id, tag_id=tag_id))  # type: ignore[arg-type]
    events.record(session, ticket, "tag", change, new=name, before=before)
    return True


def add_tags(
    session: Session,
    number: int,
    tags: Iterable[str],
    change: Change,
    *,
    expected_version: int | None = None,
) -> Ticket:
    ticket = _load(session, number, expected_version)
    present = set(ticket_tags(session, ticket.id))  # type: ignore[arg-type]
    new = [name for name in dict.fromkeys(normalise_tag(t) for t in tags) if name not in present]
    if new:
        before = write_ticket(session, ticket, {}, ticket.version, change)
        for name in new:
            _add_tag(session, ticket, name, change, before)
    return ticket


def remove_tags(
    session: Session,
    number: int,
    tags: Iterable[str],
    change: Change,
    *,
    expected_version: int | None = None,
) -> Ticket:
    ticket = _load(session, number, expected_version)
    names = [normalise_tag(t) for t in tags]
    present = {
        tag.name: tag.id
        for tag in session.exec(
            select(Tag)
            .join(TicketTag, col(TicketTag.tag_id) == Tag.id)
            .where(TicketTag.ticket_id == ticket.id, col(Tag.name).in_(names))
        )
    }
    if not present:
        return ticket
    before = write_ticket(session, ticket, {}, ticket.version, change)
    for name, tag_id in present.items():
        session.execute(
            delete(TicketTag).where(
                col(TicketTag.ticket_id) == ticket.id, col(TicketTag.tag_id) == tag_id
            )
        )
        events.record(session, ticket, "untag", change, old=name, before=before)
    return ticket


def ticket_tags(session: Session, ticket_id: int) -> list[str]:
    return list(
        session.exec(
            select(Tag.name)
            .join(TicketTag, col(TicketTag.tag_id) == Tag.id)
            .where(TicketTag.ticket_id == ticket_id)
            .order_by(Tag.name)
        )
    )


def add_note(
    session: Session,
    number: int,
    body: str,
    change: Change,
    *,
    expected_version: int | None = None,
) -> Note:
    """An internal note: for agents only, never mailed."""
    if not body.strip():
        raise ValidationError(_("a note needs some text"))
    ticket = _load(session, number, expected_version)
    note = Note(ticket_id=ticket.id, author=change.actor, body=body)  # type: ignore[arg-type]
    session.add(note)
    write_ticket(session, ticket, {}, ticket.version, change)
    session.flush()
    event_id = events.record(session, ticket, "note", change, new=str(note.id))
    notifications.mention(session, ticket.id, body, event_id, change)  # type: ignore[arg-type]
    return note


def merge(
    session: Session,
    source_number: int,
    target_number: int,
    change: Change,
) -> Ticket:
    """Fold `source` into `target`: its messages, notes, tags, CCs, outbox items and drafts
    move; it is closed.

    The source keeps its number and points at the target, so replies quoting it still land.
    """
    if source_number == target_number:
        raise ValidationError(_("a ticket cannot be merged into itself"))
    source = _load(session, source_number, None)
    target = _load(session, target_number, None)
    if source.merged_into_id is not None:
        raise ValidationError(
            _("ticket #{source_number} is already merged").format(source_number=source_number)
        )
    if target.status == "closed":
        raise ValidationError(
            _("ticket #{target_number} is closed; merge into an open ticket").format(
                target_number=target_number
            )
        )
    search.move_messages(session.connection(), source.id, target.id)  # type: ignore[arg-type]
    moved = session.execute(
        update(Message).where(col(Message.ticket_id) == source.id).values(ticket_id=target.id)
    ).rowcount  # type: ignore[attr-defined]
    session.execute(
        update(Note).where(col(Note.ticket_id) == source.id).values(ticket_id=target.id)
    )
    _move_replies(session, source.id, target.id)  # type: ignore[arg-type]
    for cc in session.exec(select(TicketCC).where(TicketCC.ticket_id == source.id)).all():
        if session.get(TicketCC, (target.id, cc.email)) is None:
            session.add(TicketCC(ticket_id=target.id, email=cc.email))  # type: ignore[arg-type]
    was = source.status  # the merge event keeps it: reports tell an active ticket's close
    closed = {
        **status_values("closed", change.now(), source.solved_at),
        "merged_into_id": target.id,
        "message_count": 0,
    }
    write_ticket(session, source, closed, source.version, change)
    events.record(session, source, "merge", change, old=was, new=str(target.number))
    grown = {"message_count": target.message_count + moved}
    write_ticket(session, target, grown, target.version, change)
    events.record(session, target, "merged_from", change, new=str(source.number))
    for name in ticket_tags(session, source.id):  # type: ignore[arg-type]
        _add_tag(session, target, name, change)
    return target


def _move_replies(session: Session, source_id: int, target_id: int) -> None:
    """The outbox items and drafts go where their messages went: a sent reply's event, a
    cancel's first-response recount and the outbox's ticket number then name the ticket
    that holds the thread. A draft stays behind only where its author has one on the target
    already (one draft per ticket and author); a moved draft keeps its recipients."""
    session.execute(
        update(OutboxItem).where(col(OutboxItem.ticket_id) == source_id).values(ticket_id=target_id)
    )
    theirs = select(col(Draft.author)).where(col(Draft.ticket_id) == target_id)
    session.execute(
        update(Draft)
        .where(col(Draft.ticket_id) == source_id, col(Draft.author).not_in(theirs))
        .values(ticket_id=target_id)
    )
