"""Reading the events table: a ticket's history, a batch's changes, the latest batch.

Events are written by every change in its own transaction (desk.events), so this is the
audit log and the input of undo; reading it never writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from supportdesk.desk.events import MIN_BATCH_PREFIX, batches_named
from supportdesk.desk.tickets import get_ticket
from supportdesk.errors import NotFoundError, ValidationError
from supportdesk.i18n import _
from supportdesk.store.models import Event, Ticket


@dataclass(frozen=True)
class EventRow:
    id: int
    created_at: datetime
    ticket: int | None
    actor: str
    action: str
    old_value: str | None
    new_value: str | None
    batch_id: str
    version: int | None
    role: str | None = None
    """The database role that wrote it (PostgreSQL; the server's record, see store/team.py)."""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class BatchSummary:
    batch_id: str
    actor: str
    started_at: datetime
    events: int
    tickets: int
    actions: dict[str, int]
    restorable: int = 0
    """Events that recorded the update time they replaced (see desk.undo)."""
    actors: tuple[str, ...] = ()
    """Everyone who acted in the batch, sorted (a rule batch has one actor per rule)."""


def events(
    session: Session,
    *,
    batch: str | None = None,
    ticket: int | None = None,
    limit: int | None = 50,
) -> list[EventRow]:
    """Events oldest first; with a limit, the most recent `limit` of them.

    Read newest first and turned round, so "the last 50 things that happened" costs an
    index walk from the end, not a scan of a million events.
    """
    if limit is not None and limit < 1:
        raise ValidationError(_("limit must be 1 or more"))
    stmt = select(
        col(Event.id),
        col(Event.created_at),
        col(Ticket.number),
        col(Event.actor),
        col(Event.action),
        col(Event.old_value),
        col(Event.new_value),
        col(Event.batch_id),
        col(Event.version),
        col(Event.role),
    ).outerjoin(Ticket, col(Ticket.id) == Event.ticket_id)
    if batch is not None:
        stmt = stmt.where(col(Event.batch_id) == batch)
    if ticket is not None:
        stmt = stmt.where(col(Event.ticket_id) == get_ticket(session, ticket).id)
    stmt = stmt.order_by(col(Event.id).desc()).limit(limit)
    rows = [EventRow(*row) for row in session.execute(stmt)]
    rows.reverse()
    return rows


def resolve_batch(session: Session, text: str) -> str:
    """The batch id `text` names: the whole id, or its first 8 or more characters.

    Tables on a narrow terminal show a batch id cut short, as git shows commits; the start
    is enough to undo it, as long as no other batch starts the same way.
    """
    text = text.strip().lower()
    found = batches_named(session, text, limit=3)
    if not found and len(text) < MIN_BATCH_PREFIX:
        raise NotFoundError(
            _(
                "no batch {text}: give the whole id or at least its first "
                "{min_batch_prefix} characters"
            ).format(text=text, min_batch_prefix=MIN_BATCH_PREFIX)
        )
    if not found:
        raise NotFoundError(_("no batch {text}").format(text=text))
    if len(found) > 1:
        raise ValidationError(
            _("batch {text} is ambiguous: it starts {found}; give more characters").format(
                text=text, found=", ".join(found)
            )
        )
    return found[0]


def batch_summary(session: Session, batch: str) -> BatchSummary | None:
    counts = session.execute(
        select(
            col(Event.action),
            col(Event.actor),
            func.count(),
            func.min(Event.created_at),
            func.count(col(Event.old_updated_at)),
        )
        .where(col(Event.batch_id) == batch)
        .group_by(col(Event.action), col(Event.actor))
    ).all()
    if not counts:
        return None
    tickets = session.execute(
        select(func.count(func.distinct(Event.ticket_id))).where(col(Event.batch_id) == batch)
    ).scalar_one()
    actions: dict[str, int] = {}
    for action, __, n, __, __ in counts:
        actions[action] = actions.get(action, 0) + int(n)
    actors = sorted({row[1] for row in counts})
    return BatchSummary(
        batch_id=batch,
        actor=actors[0],
        started_at=min(row[3] for row in counts),
        events=sum(int(row[2]) for row in counts),
        tickets=int(tickets),
        actions=actions,
        restorable=sum(int(row[4]) for row in counts),
        actors=tuple(actors),
    )


def undone_by(session: Session, batch: str) -> str | None:
    """The batch that undid `batch`, if one did.

    Looked for on the tickets of the batch's last events, through the (ticket, id) index:
    an undo writes its events on those same tickets.
    """
    tickets = (
        select(col(Event.ticket_id))
        .where(col(Event.batch_id) == batch)
        .order_by(col(Event.id).desc())
        .limit(20)
    )
    stmt = (
        select(col(Event.batch_id))
        .where(col(Event.ticket_id).in_(tickets), col(Event.actor) == f"undo:{batch}")
        .limit(1)
    )
    return session.execute(stmt).scalar()
