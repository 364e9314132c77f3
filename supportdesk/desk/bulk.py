"""Set-based changes to many tickets at once, with one event per changed ticket.

A reassignment of 100,000 tickets is two statements per chunk (events from a SELECT, then
the UPDATE), not 100,000 round trips. The rows are locked first on PostgreSQL so the events
written describe exactly the values the UPDATE replaced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    any_,
    bindparam,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from supportdesk.desk import directory
from supportdesk.desk.events import Change
from supportdesk.desk.statuses import check_priority
from supportdesk.errors import ValidationError
from supportdesk.store.models import Agent, Event, Queue, Ticket

CHUNK = 5_000
POSTGRES_CHUNK = 50_000


@dataclass(frozen=True)
class BulkResult:
    batch_id: str
    matched: int
    changed: int


def _display(field: str) -> tuple[Select[tuple[int, str | None]], str]:
    """How to show the old value of `field` in an event: a select of (ticket id, text)."""
    if field == "assignee_id":
        agent = aliased(Agent)
        return (
            select(Ticket.id, agent.handle).outerjoin(agent, agent.id == Ticket.assignee_id),  # type: ignore[arg-type]
            "assign",
        )
    if field == "queue_id":
        queue = aliased(Queue)
        return (
            select(Ticket.id, queue.name).join(queue, queue.id == Ticket.queue_id),  # type: ignore[arg-type]
            "queue",
        )
    if field == "priority":
        return select(Ticket.id, Ticket.priority), "priority"
    raise ValueError(f"bulk changes of {field} are not supported")


def set_field(
    session: Session,
    ticket_ids: Sequence[int],
    field: str,
    value: int | str | None,
    shown: str | None,
    change: Change,
) -> BulkResult:
    """Set one column on every ticket in `ticket_ids` that does not have that value already."""
    column = getattr(Ticket, field)
    source, action = _display(field)
    if field == "assignee_id" and value is None:
        action = "unassign"
    now = change.now()
    changed = 0
    differs = column.is_(None) if value is None else (column.is_distinct_from(value))
    postgres = session.get_bind().dialect.name == "postgresql"
    step = POSTGRES_CHUNK if postgres else CHUNK
    for start in range(0, len(ticket_ids), step):
        chunk = list(ticket_ids[start : start + step])
        in_chunk = _among(chunk, postgres)
        if value is not None or field != "assignee_id":
            target = and_(in_chunk, differs)
        else:
            target = and_(in_chunk, column.is_not(None))
        if postgres:
            session.execute(select(Ticket.id).where(target).with_for_update())
        rows = source.where(target).add_columns(Ticket.version)
        insert_events = Event.__table__.insert().from_select(  # type: ignore[attr-defined]
            [
                "ticket_id",
                "old_value",
                "version",
                "batch_id",
                "actor",
                "action",
                "new_value",
                "created_at",
            ],
            _events_select(rows, change, action, shown, now),
        )
        session.execute(insert_events)
        result = session.execute(
            update(Ticket)
            .where(target)
            .values({field: value, "version": Ticket.version + 1, "updated_at": now})
            .execution_options(synchronize_session=False)
        )
        changed += result.rowcount  # type: ignore[attr-defined]
    return BulkResult(batch_id=change.batch_id, matched=len(ticket_ids), changed=changed)


def _among(ids: list[int], postgres: bool) -> ColumnElement[bool]:
    """`tickets.id` is one of `ids`: on PostgreSQL as one array parameter.

    Thousands of IN parameters, parsed and planned in three statements per chunk, added
    ~3 s to a 100,000-ticket reassignment on PostgreSQL (7.5 s, against 4.4 s with arrays).
    """
    if postgres:
        return col(Ticket.id) == any_(bindparam("ticket_ids", ids, type_=ARRAY(Integer)))
    return col(Ticket.id).in_(ids)


def _events_select(
    rows: Select,  # type: ignore[type-arg]
    change: Change,
    action: str,
    shown: str | None,
    now: datetime,
) -> Select:  # type: ignore[type-arg]
    """One event row per ticket about to change, carrying its old value and next version."""
    sub = rows.subquery()
    created = bindparam("created_at", now, type_=Event.__table__.c.created_at.type)  # type: ignore[attr-defined]
    return select(
        sub.c.id,
        sub.c[1],
        sub.c.version + 1,
        literal(change.batch_id),
        literal(change.actor),
        literal(action),
        literal(shown),
        created,
    )


def assign(
    session: Session, ticket_ids: Sequence[int], agent_handle: str | None, change: Change
) -> BulkResult:
    agent = directory.get_agent(session, agent_handle) if agent_handle else None
    return set_field(
        session,
        ticket_ids,
        "assignee_id",
        agent.id if agent else None,
        agent.handle if agent else None,
        change,
    )


def move(session: Session, ticket_ids: Sequence[int], queue: str, change: Change) -> BulkResult:
    target = directory.get_queue(session, queue)
    return set_field(session, ticket_ids, "queue_id", target.id, target.name, change)


def set_priority(
    session: Session, ticket_ids: Sequence[int], priority: str, change: Change
) -> BulkResult:
    check_priority(priority)
    return set_field(session, ticket_ids, "priority", priority, priority, change)


def ids_for(session: Session, where: object, *, limit: int | None = None) -> list[int]:
    """Ticket ids matching a compiled query condition, newest update first."""
    stmt = (
        select(Ticket.id)
        .where(where)
        .order_by(col(Ticket.updated_at).desc(), col(Ticket.id).desc())
    )  # type: ignore[arg-type]
    if limit is not None:
        if limit < 0:
            raise ValidationError("limit must be zero or more")
        stmt = stmt.limit(limit)
    return list(session.execute(stmt).scalars())
