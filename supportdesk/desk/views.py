"""Read models for the faces: ticket lists, queue counts and one ticket with its thread.

Plain frozen dataclasses, built from a few joined queries each, so the CLI and the console
show the same thing and neither writes SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression
from sqlmodel import Session, col

from supportdesk.desk.csat.overview import TicketRating, rating_of
from supportdesk.desk.outbox import ItemView, delivery_states
from supportdesk.desk.sla import due
from supportdesk.desk.statuses import ACTIVE
from supportdesk.desk.tickets import get_ticket, ticket_tags
from supportdesk.i18n import _
from supportdesk.store.models import (
    Agent,
    Attachment,
    Customer,
    Draft,
    Event,
    Message,
    Note,
    Organisation,
    Queue,
    Ticket,
    TicketCC,
    utcnow,
)

RECENTLY_SOLVED = timedelta(days=7)
RECENTLY_SOLVED_QUERY = f"status:solved solved:<{RECENTLY_SOLVED.days}d"
"""The "Recently solved" view: by the time it was solved, not by its last update, which
any later note or change moves (see docs/QUERY.md, "Last updated")."""
DUE_SOON_HOURS = 2
DUE_SOON = timedelta(hours=DUE_SOON_HOURS)
"""How close a due time must be for the "Breaching soon" view and the due-soon cue."""


@dataclass(frozen=True)
class TicketRow:
    number: int
    subject: str
    status: str
    priority: str
    queue: str
    assignee: str | None
    requester_name: str
    requester_email: str
    created_at: datetime
    updated_at: datetime
    message_count: int
    version: int
    sla_due: datetime | None = None
    """When the next SLA target falls due (None: nothing is due); read as Unix seconds."""
    sla_breached: bool = False
    """The stored flag: a target was missed as of the ticket's last change (see sla_state)."""

    def __post_init__(self) -> None:
        if isinstance(self.sla_due, int):
            object.__setattr__(self, "sla_due", datetime.fromtimestamp(self.sla_due, UTC))

    def sla_state(self, now: datetime, soon: timedelta = DUE_SOON) -> str:
        """ "breached", "due-soon" (within `soon`), "due" or "" (no target running)."""
        if self.sla_breached or (self.sla_due is not None and self.sla_due < now):
            return "breached"
        if self.sla_due is None:
            return ""
        return "due-soon" if self.sla_due < now + soon else "due"

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "sla_state": self.sla_state(utcnow())}


@cache
def _row_select() -> Any:
    """Built once: a select is immutable (each `.where` makes a new one), and building this
    one, its aliased agent above all, took ~0.9 ms of the ~2 ms a page read takes."""
    assignee = aliased(Agent)
    return (
        select(
            col(Ticket.number),
            col(Ticket.subject),
            col(Ticket.status),
            col(Ticket.priority),
            col(Queue.name),
            col(assignee.handle),
            col(Customer.name),
            col(Customer.email),
            col(Ticket.created_at),
            col(Ticket.updated_at),
            col(Ticket.message_count),
            col(Ticket.version),
            col(Ticket.sla_due),
            col(Ticket.sla_breached),
        )
        .join(Queue, col(Queue.id) == Ticket.queue_id)
        .join(Customer, col(Customer.id) == Ticket.requester_id)
        .outerjoin(assignee, col(assignee.id) == Ticket.assignee_id)
    )


def default_order() -> list[Any]:
    return [col(Ticket.updated_at).desc(), col(Ticket.id).desc()]


def list_tickets(
    session: Session,
    where: ColumnElement[bool] | None = None,
    order_by: list[Any] | None = None,
    *,
    limit: int = 50,
    offset: int = 0,
) -> list[TicketRow]:
    """One page of tickets; never loads more than `limit` rows.

    On SQLite the page's ticket ids are chosen first, on ticket columns alone, and only
    those rows are joined to their queue, customer and agent. When no index gives the
    order (`status:active` is four ranges of `ix_tickets_status_updated`), SQLite sorts
    every match: from that covering index the ids sort in ~1 ms at 100,000 tickets, where
    reading and joining each matching row before the sort took ~25 ms.
    """
    order = order_by or default_order()
    stmt = _row_select()
    if session.get_bind().dialect.name == "sqlite":
        page = select(col(Ticket.id)).order_by(*order).limit(limit).offset(offset)
        if where is not None:
            page = page.where(where)
        stmt = stmt.where(col(Ticket.id).in_(page.correlate(None))).order_by(*order)
    else:
        if where is not None:
            stmt = stmt.where(where)
        stmt = stmt.order_by(*order).limit(limit).offset(offset)
    return [TicketRow(*row) for row in session.execute(stmt)]


def ticket_numbers(
    session: Session,
    where: ColumnElement[bool] | None = None,
    order_by: list[Any] | None = None,
    *,
    limit: int | None = None,
) -> list[int]:
    """Just the numbers of matching tickets: what scripts pipe into bulk commands."""
    stmt = select(col(Ticket.number))
    if where is not None:
        stmt = stmt.where(where)
    stmt = stmt.order_by(*(order_by or default_order())).limit(limit)
    return list(session.execute(stmt).scalars())


def count_tickets(session: Session, where: ColumnElement[bool] | None = None) -> int:
    stmt = select(func.count()).select_from(Ticket)
    if where is not None:
        stmt = stmt.where(where)
    return int(session.execute(stmt).scalar_one())


def ticket_position(
    session: Session,
    number: int,
    where: ColumnElement[bool] | None = None,
    order_by: list[Any] | None = None,
) -> int | None:
    """Where ticket `number` stands in a view: how many of its tickets come before it.

    None when the ticket is not in the view (it no longer matches `where`). A list that
    holds only a window of pages finds a ticket's new row with this after a change moved
    it, without reading the rows in between: the ticket's own sort values are read, then
    the tickets ahead of it in `order_by` (a keyset comparison) are counted, which an index
    on the first sort key can serve as a range.
    """
    keys = [_sort_key(clause) for clause in (order_by or default_order())]
    found = select(*(expression for expression, _ in keys)).where(col(Ticket.number) == number)
    if where is not None:
        found = found.where(where)
    values = session.execute(found.limit(1)).first()
    if values is None:
        return None
    ahead: list[ColumnElement[bool]] = []
    for index, (expression, descending) in enumerate(keys):
        value = values[index]
        if value is None:  # no sort column can be NULL today; don't guess an order for it
            raise ValueError(
                _("cannot place ticket #{number}: a sort value is NULL").format(number=number)
            )
        equal = [keys[j][0] == values[j] for j in range(index)]
        ahead.append(and_(*equal, expression > value if descending else expression < value))
    first, descending = keys[0]
    # Redundant with `ahead`, but a plain range on the first key is what an index can use.
    bound = first >= values[0] if descending else first <= values[0]
    condition = and_(bound, or_(*ahead))
    return count_tickets(session, condition if where is None else and_(where, condition))


def _sort_key(clause: Any) -> tuple[ColumnElement[Any], bool]:
    """An ORDER BY clause as (expression, descending)."""
    if isinstance(clause, UnaryExpression) and clause.modifier in (
        operators.desc_op,
        operators.asc_op,
    ):
        return clause.element, clause.modifier is operators.desc_op
    raise TypeError(
        _("expected an ORDER BY clause with asc() or desc(), got {clause!r}").format(clause=clause)
    )


@dataclass(frozen=True)
class QueueCount:
    name: str
    active: int
    unassigned: int


@dataclass(frozen=True)
class Overview:
    """The counts a sidebar shows: per queue, and the standard views."""

    queues: list[QueueCount]
    mine: int
    unassigned: int
    all_active: int
    pending: int
    recently_solved: int
    quarantine: int
    by_status: dict[str, int] = field(default_factory=dict)
    """Tickets per active status. Solved and closed ones, nine in ten of a store, are not
    counted: no sidebar line shows them, and reading them cost most of the counts' time."""
    breaching_soon: int = 0
    """Active tickets not yet breached whose next target falls due within DUE_SOON."""
    breached: int = 0
    """Active tickets that missed a target (see desk.sla.due)."""


def overview(session: Session, me: str | None = None, now: datetime | None = None) -> Overview:
    """Every sidebar count: one grouped pass over the active tickets (per queue and status,
    unassigned, mine and the SLA counts as FILTER clauses), and the recently solved ones.

    One pass, not one per kind of count: on PostgreSQL the assignee is in no index (see
    models.Ticket), so every pass reads the ~10,000 active tickets' rows.
    """
    now = now or utcnow()
    me_id = None
    if me:
        me_id = session.execute(
            select(col(Agent.id)).where(col(Agent.handle) == me)
        ).scalar_one_or_none()
    soon_filter, breached_filter = _sla_filters(now)
    per_queue = session.execute(
        select(
            col(Ticket.queue_id),
            col(Ticket.status),
            func.count(),
            func.count().filter(col(Ticket.assignee_id).is_(None)),
            func.count().filter(col(Ticket.assignee_id) == (me_id or -1)),
            func.count(col(Ticket.sla_due)).filter(*soon_filter),
            func.count().filter(breached_filter),
        )
        .where(col(Ticket.status).in_(ACTIVE))
        .group_by(col(Ticket.queue_id), col(Ticket.status))
    ).all()
    queues = {q.id: q for q in session.scalars(select(Queue))}
    active: dict[int, int] = {}
    unassigned: dict[int, int] = {}
    by_status: dict[str, int] = {}
    mine = breaching_soon = breached = 0
    for queue_id, status, count, unassigned_count, mine_count, soon, late in per_queue:
        by_status[status] = by_status.get(status, 0) + count
        active[queue_id] = active.get(queue_id, 0) + count
        unassigned[queue_id] = unassigned.get(queue_id, 0) + int(unassigned_count or 0)
        mine += int(mine_count or 0)
        breaching_soon += int(soon or 0)
        breached += int(late or 0)
    recently_solved = session.execute(
        select(func.count())
        .select_from(Ticket)
        .where(col(Ticket.status) == "solved", col(Ticket.solved_at) >= now - RECENTLY_SOLVED)
    ).scalar_one()
    quarantine_ids = {q.id for q in queues.values() if q.is_quarantine and q.id is not None}
    ordered = sorted(queues.values(), key=lambda q: q.name)
    return Overview(
        queues=[
            QueueCount(q.name, active.get(q.id, 0), unassigned.get(q.id, 0))  # type: ignore[arg-type]
            for q in ordered
        ],
        mine=mine,
        unassigned=sum(unassigned.values()),
        all_active=sum(active.values()),
        pending=by_status.get("pending", 0),
        recently_solved=int(recently_solved),
        quarantine=sum(active.get(q, 0) for q in quarantine_ids),
        by_status=by_status,
        breaching_soon=breaching_soon,
        breached=breached,
    )


def _sla_filters(now: datetime) -> tuple[tuple[ColumnElement[bool], ...], ColumnElement[bool]]:
    """The conditions of "breaching soon" (over a non-null sla_due) and "breached" among
    active tickets: the query terms `due:<2h breached:no` and `breached:yes` (see DUE_SOON)."""
    soon = due.seconds(now + DUE_SOON)
    breached = due.breached_condition(now)
    return (
        col(Ticket.sla_due) < soon,
        col(Ticket.sla_breached).is_(False),
        ~breached,
    ), breached


@dataclass(frozen=True)
class AttachmentView:
    id: int
    filename: str
    content_type: str
    size: int
    is_inline: bool


@dataclass(frozen=True)
class MessageView:
    id: int
    direction: str
    message_id: str
    from_name: str
    from_address: str
    to: str
    cc: str
    subject: str
    date: datetime
    body_text: str
    has_html: bool
    is_auto_reply: bool
    is_bounce: bool
    is_list: bool
    parse_problems: str
    attachments: list[AttachmentView]
    delivery: str | None = None
    """For our outgoing mail: the outbox state (queued, sent, failed: the server's words…)."""
    outbox: ItemView | None = None
    """The outbox item that carries this message (None: not sent through our outbox)."""


@dataclass(frozen=True)
class NoteView:
    id: int
    author: str
    body: str
    created_at: datetime


@dataclass(frozen=True)
class EventView:
    id: int
    actor: str
    action: str
    old_value: str | None
    new_value: str | None
    batch_id: str
    created_at: datetime


@dataclass(frozen=True)
class TicketDetail:
    """One ticket with everything the thread view and the customer panel show."""

    row: TicketRow
    requester_organisation: str | None
    tags: list[str]
    ccs: list[str]
    messages: list[MessageView]
    notes: list[NoteView]
    events: list[EventView]
    other_tickets: list[TicketRow]
    merged_into: int | None
    related_to: int | None
    first_response_at: datetime | None = None
    """When the first public reply was queued (automatic mail and forwards do not count)."""
    solved_at: datetime | None = None
    requester_bounced_at: datetime | None = None
    """When mail to the requester last failed for good; None if it never did."""
    requester_bounce_reason: str = ""
    rating: TicketRating | None = None
    """The customer's latest satisfaction rating (desk.csat), if any."""


def ticket_detail(session: Session, number: int, *, other_limit: int = 10) -> TicketDetail:
    ticket = get_ticket(session, number)
    row = list_tickets(session, col(Ticket.id) == ticket.id, limit=1)[0]
    org = session.execute(
        select(col(Organisation.name))
        .join(Customer, col(Customer.organisation_id) == Organisation.id)
        .where(col(Customer.id) == ticket.requester_id)
    ).scalar_one_or_none()
    bounced_at, bounce_reason = session.execute(
        select(col(Customer.bounced_at), col(Customer.bounce_reason)).where(
            col(Customer.id) == ticket.requester_id
        )
    ).one()
    message_rows = session.execute(
        select(
            col(Message.id),
            col(Message.direction),
            col(Message.message_id),
            col(Message.from_name),
            col(Message.from_address),
            col(Message.to_addresses),
            col(Message.cc_addresses),
            col(Message.subject),
            func.coalesce(Message.sent_at, Message.received_at),
            col(Message.body_text),
            col(Message.body_html) != "",
            col(Message.is_auto_reply),
            col(Message.is_bounce),
            col(Message.is_list),
            col(Message.parse_problems),
        )
        .where(col(Message.ticket_id) == ticket.id)
        .order_by(col(Message.id))
    ).all()
    attachments: dict[int, list[AttachmentView]] = {}
    if message_rows:
        for a in session.scalars(
            select(Attachment)
            .where(col(Attachment.message_id).in_([m[0] for m in message_rows]))
            .order_by(col(Attachment.id))
        ):
            attachments.setdefault(a.message_id, []).append(
                AttachmentView(a.id, a.filename, a.content_type, a.size, a.is_inline)  # type: ignore[arg-type]
            )
    deliveries = delivery_states(session, number) if message_rows else {}
    messages = [
        MessageView(  # type: ignore[misc]
            *m,
            attachments=attachments.get(m[0], []),
            delivery=delivery_words(deliveries[m[0]]) if m[0] in deliveries else None,
            outbox=deliveries.get(m[0]),
        )
        for m in message_rows
    ]
    notes = [
        NoteView(n.id, n.author, n.body, n.created_at)  # type: ignore[arg-type]
        for n in session.scalars(
            select(Note).where(col(Note.ticket_id) == ticket.id).order_by(col(Note.id))
        )
    ]
    event_rows = [
        EventView(e.id, e.actor, e.action, e.old_value, e.new_value, e.batch_id, e.created_at)  # type: ignore[arg-type]
        for e in session.scalars(
            select(Event).where(col(Event.ticket_id) == ticket.id).order_by(col(Event.id))
        )
    ]
    others = list_tickets(
        session,
        (col(Ticket.requester_id) == ticket.requester_id) & (col(Ticket.id) != ticket.id),
        limit=other_limit,
    )
    ccs = list(
        session.scalars(
            select(col(TicketCC.email))
            .where(col(TicketCC.ticket_id) == ticket.id)
            .order_by(col(TicketCC.email))
        )
    )
    merged_into = related = None
    if ticket.merged_into_id:
        merged_into = session.get(Ticket, ticket.merged_into_id).number  # type: ignore[union-attr]
    if ticket.related_ticket_id:
        related = session.get(Ticket, ticket.related_ticket_id).number  # type: ignore[union-attr]
    return TicketDetail(
        row=row,
        requester_organisation=org,
        tags=ticket_tags(session, ticket.id),  # type: ignore[arg-type]
        ccs=ccs,
        messages=messages,
        notes=notes,
        events=event_rows,
        other_tickets=others,
        merged_into=merged_into,
        related_to=related,
        first_response_at=ticket.first_response_at,
        solved_at=ticket.solved_at,
        requester_bounced_at=bounced_at,
        requester_bounce_reason=bounce_reason,
        rating=rating_of(session, ticket.id),  # type: ignore[arg-type]
    )


def delivery_words(item: ItemView) -> str:
    """An outbox item's state in a few words: "queued", "sent", "failed: 550 …"."""
    state, error = item.state, item.last_error
    if state in ("failed", "uncertain", "checking") or (state == "queued" and error):
        return f"{state}: {error}" if error else state
    return state


def change_mark(session: Session) -> int:
    """A number that grows with every change to any ticket: cheap change detection.

    Every change writes an event, so the newest event id moves whenever another process
    (a sync, the CLI, a rule) changes anything.
    """
    return int(session.execute(select(func.max(Event.id))).scalar_one() or 0)


@dataclass(frozen=True)
class AttachmentContent:
    filename: str
    content_type: str
    content: bytes


def attachment_content(session: Session, attachment_id: int) -> AttachmentContent:
    """An attachment's bytes, for saving it; the file name is the sanitised one stored."""
    from supportdesk.errors import NotFoundError
    from supportdesk.store.models import AttachmentBlob

    attachment = session.get(Attachment, attachment_id)
    blob = session.get(AttachmentBlob, attachment.sha256) if attachment else None
    if attachment is None or blob is None:
        raise NotFoundError(_("no attachment {attachment_id}").format(attachment_id=attachment_id))
    return AttachmentContent(attachment.filename, attachment.content_type, bytes(blob.content))


def tickets_with_drafts(
    session: Session, numbers: Iterable[int], author: str | None = None
) -> set[int]:
    """Which of these ticket numbers have a draft (of `author`, or of anyone): one query for
    a list page's draft marker. A read model here rather than in desk.replies, so the
    console's first page does not load the mail codec that replies need."""
    wanted = list(numbers)
    if not wanted:
        return set()
    stmt = (
        select(col(Ticket.number))
        .join(Draft, col(Draft.ticket_id) == col(Ticket.id))
        .where(col(Ticket.number).in_(wanted))
    )
    if author is not None:
        stmt = stmt.where(col(Draft.author) == author)
    return set(session.execute(stmt).scalars())
