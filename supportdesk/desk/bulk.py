"""Set-based changes to many tickets at once, with one event per changed ticket.

A reassignment of 100,000 tickets is a statement or two per chunk, not 100,000 round trips.
On PostgreSQL it is one: the UPDATE reads the tickets from a subquery that locks them (see
`_reading_locked`) and returns the values it replaced to the INSERT of the events, so the
events describe exactly those values. On SQLite, events from a SELECT, then the UPDATE.

Every function here takes one `Change`, so a whole bulk command is one batch that
`desk.undo` can take back.

A bulk change leaves "last updated" (`tickets.updated_at`) alone; its events say who
changed what and when. Housekeeping over thousands of tickets would otherwise stamp them
all with one instant, erasing the recency order of every list and restarting every
`updated:>14d` clock; it would also rewrite the five indexes that carry the update time,
most of the cost of a 100,000-ticket change. See docs/QUERY.md, "Last updated".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    Text,
    and_,
    any_,
    bindparam,
    cast,
    exists,
    func,
    literal,
    null,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import aliased
from sqlalchemy.sql.util import ClauseAdapter
from sqlmodel import Session, col

from supportdesk.desk import directory, events, notifications, tickets
from supportdesk.desk.events import Change
from supportdesk.desk.sla import due
from supportdesk.desk.statuses import TRANSITIONS, check_priority, check_status, status_values
from supportdesk.errors import NotFoundError, ValidationError
from supportdesk.i18n import N_, _
from supportdesk.store.models import STATUSES, Agent, Queue, Tag, Ticket, TicketTag, table_of

CHUNK = 100_000
"""Ids per statement. Both backends take the ids as one parameter (see `among`), so this
only bounds one statement's work and memory; 100,000 tickets are one pass."""

Extra = Callable[[Session, list[int], ColumnElement[bool]], None]
"""A statement to run after a chunk's UPDATE, over the same rows (ticket_tags changes)."""


@dataclass(frozen=True)
class BulkResult:
    batch_id: str
    matched: int
    changed: int
    skipped: dict[str, int] = field(default_factory=dict)
    """Why tickets were left alone, with how many: a status they cannot leave, say."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id if self.changed else None,
            "matched": self.matched,
            "changed": self.changed,
            "skipped": dict(self.skipped),
        }


def _display(field_name: str) -> tuple[Select[int | None, str], str]:
    """How to show the old value of `field_name` in an event: a select of (ticket id, text)."""
    if field_name == "assignee_id":
        agent = aliased(Agent)
        return (
            select(col(Ticket.id), col(agent.handle)).outerjoin(
                agent, col(agent.id) == Ticket.assignee_id
            ),
            "assign",
        )
    if field_name == "queue_id":
        queue = aliased(Queue)
        return (
            select(col(Ticket.id), col(queue.name)).join(queue, col(queue.id) == Ticket.queue_id),
            "queue",
        )
    if field_name == "priority":
        return select(col(Ticket.id), col(Ticket.priority)), "priority"
    if field_name == "status":
        return select(col(Ticket.id), col(Ticket.status)), "status"
    raise ValueError(
        _("bulk changes of {field_name} are not supported").format(field_name=field_name)
    )


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def chunks(session: Session, ids: Sequence[int]) -> list[list[int]]:
    """Slices of `ids` of at most CHUNK, each small enough for one statement."""
    return [list(ids[start : start + CHUNK]) for start in range(0, len(ids), CHUNK)]


def among(session: Session, ids: list[int], column: Any = None) -> ColumnElement[bool]:
    """`column` (default `tickets.id`) is one of `ids`, passed as one parameter.

    PostgreSQL takes an array (`= ANY`); SQLite a JSON array read by `json_each`. Thousands
    of IN parameters, parsed and planned in three statements per chunk, added ~3 s to a
    100,000-ticket reassignment on PostgreSQL; on SQLite, SQLAlchemy rendering 5,000
    placeholders per statement cost more CPU than the UPDATE itself.
    """
    target = col(Ticket.id) if column is None else column
    if _is_postgres(session):
        return target == any_(bindparam(None, ids, type_=ARRAY(Integer)))
    listed = func.json_each(bindparam(None, json.dumps(ids), type_=Text)).table_valued("value")
    return target.in_(select(listed.c.value))


def _reading_locked(source: Select[Any], target: ColumnElement[bool]) -> Select[Any]:
    """`source` reading the tickets of `target` from a subquery that locks them, in id order.

    The locked rows are the ones the subquery returns: a row another session changed while
    this one waited comes back as committed (PostgreSQL re-reads it). A join in the same
    SELECT as the FOR UPDATE would keep the agent or queue row of the statement's snapshot
    and write the event from the replaced value, or no event at all. Locking in id order
    keeps two bulk changes over the same tickets from deadlocking.
    """
    locked = (
        select(table_of(Ticket))
        .where(target)
        .order_by(col(Ticket.id))
        .with_for_update()
        .subquery("locked")
    )
    return ClauseAdapter(locked).traverse(source)


def _change_rows(
    session: Session,
    ticket_ids: Sequence[int],
    condition: ColumnElement[bool],
    old: Select,
    action: str,
    shown: str | None,
    values: dict[str, Any],
    change: Change,
    extra: Extra | None = None,
) -> int:
    """Events and the UPDATE (and `extra`), chunk by chunk, for rows meeting `condition`."""
    change = change.pinned()
    changed = 0
    postgres = _is_postgres(session)
    refresh = bool(values.keys() & due.DEPENDS_ON)
    for chunk in chunks(session, ticket_ids):
        if postgres:
            ids, count = _update_recording(
                session,
                chunk,
                condition,
                old,
                action,
                shown,
                values,
                change,
                wanted=refresh or extra is not None,
            )
            changed += count
        else:
            ids = chunk
            changed += _record_then_update(
                session, chunk, condition, old, action, shown, values, change
            )
        if refresh:
            due.refresh(session, among(session, ids), change.now())
        if extra is not None:
            extra(session, ids, condition)
    return changed


def _record_then_update(
    session: Session,
    ids: list[int],
    condition: ColumnElement[bool],
    old: Select,
    action: str,
    shown: str | None,
    values: dict[str, Any],
    change: Change,
) -> int:
    """SQLite: the events from a SELECT, then the UPDATE. The write transaction holds the
    database lock, so both statements see the same rows."""
    target = and_(among(session, ids), condition)
    rows = old.add_columns(col(Ticket.version)).where(target).subquery()
    session.execute(
        events.insert_selected(
            events.select_rows(
                change,
                ticket_id=rows.c.id,
                version=rows.c.version + 1,
                action=action,
                old=rows.c[1],
                new=shown,
            )
        )
    )
    result = session.execute(
        update(Ticket)
        .where(target)
        .values({**values, "version": Ticket.version + 1})
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _update_recording(
    session: Session,
    ids: list[int],
    condition: ColumnElement[bool],
    old: Select,
    action: str,
    shown: str | None,
    values: dict[str, Any],
    change: Change,
    *,
    wanted: bool,
) -> tuple[list[int], int]:
    """PostgreSQL: one statement, the UPDATE feeding the INSERT of its events.

    The UPDATE reads the old values from the locked rows (`_reading_locked`) and returns
    them with the new version, so each event records exactly what its row's change
    replaced, and a ticket that starts to match while the statement waits for a lock has
    no event and is not changed (it was not in the statement's snapshot). As two statements
    (events, then the UPDATE of the ids they returned), 100,000 ids made a round trip to
    the client and back, and the join, the locks and the scans ran twice.

    Returns the changed tickets' ids (only when `wanted`: 100,000 of them are not free) and
    how many there were.
    """
    rows = _reading_locked(old, and_(among(session, ids), condition)).subquery("old")
    updated = (
        update(Ticket)
        .where(col(Ticket.id) == rows.c.id, condition)
        .values({**values, "version": Ticket.version + 1})
        .returning(col(Ticket.id), col(Ticket.version), rows.c[1].label("old"))
        .cte("changed")
    )
    written = (
        events.insert_selected(
            events.select_rows(
                change,
                ticket_id=updated.c.id,
                version=updated.c.version,
                action=action,
                old=updated.c.old,
                new=shown,
            ).order_by(updated.c.id)
        )
        .returning(events.ticket_id_column())
        .cte("written")
    )
    if wanted:
        changed = list(session.execute(select(written.c.ticket_id)).scalars())
        return changed, len(changed)
    return [], int(session.execute(select(func.count()).select_from(written)).scalar_one())


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
    differs = column.is_not(None) if value is None else column.is_distinct_from(value)
    changed = _change_rows(
        session, ticket_ids, differs, source, action, shown, {field: value}, change
    )
    return BulkResult(batch_id=change.batch_id, matched=len(ticket_ids), changed=changed)


def assign(
    session: Session, ticket_ids: Sequence[int], agent_handle: str | None, change: Change
) -> BulkResult:
    """Assign every ticket to the agent (None: unassign); the agent hears of it once per
    batch, however many tickets (desk.notifications `assigned_in_batch`)."""
    agent = directory.get_agent(session, agent_handle) if agent_handle else None
    after = notifications.last_event_id(session) if agent else 0
    result = set_field(
        session,
        ticket_ids,
        "assignee_id",
        agent.id if agent else None,
        agent.handle if agent else None,
        change,
    )
    if agent is not None and result.changed:
        tell = notifications.assigned_in_batch(session, agent, change, after, result.changed)
        if tell is not None:
            session.execute(tell)
    return result


def unassign(session: Session, ticket_ids: Sequence[int], change: Change) -> BulkResult:
    return assign(session, ticket_ids, None, change)


def move(session: Session, ticket_ids: Sequence[int], queue: str, change: Change) -> BulkResult:
    target = directory.get_queue(session, queue)
    return set_field(session, ticket_ids, "queue_id", target.id, target.name, change)


def set_priority(
    session: Session, ticket_ids: Sequence[int], priority: str, change: Change
) -> BulkResult:
    check_priority(priority)
    return set_field(session, ticket_ids, "priority", priority, priority, change)


def set_status(
    session: Session, ticket_ids: Sequence[int], status: str, change: Change
) -> BulkResult:
    """Move every ticket that may go to `status` there; count the others by their status.

    The transitions of desk.statuses hold in bulk as they do for one ticket: "solve all of
    these" leaves the closed ones closed and says how many there were.
    """
    check_status(status)
    change = change.pinned()
    allowed = [s for s in STATUSES if s != status and status in TRANSITIONS[s]]
    skipped: dict[str, int] = {}
    for chunk in chunks(session, ticket_ids):
        stuck = session.execute(
            select(col(Ticket.status), func.count())
            .where(
                among(session, chunk),
                col(Ticket.status) != status,
                col(Ticket.status).not_in(allowed),
            )
            .group_by(col(Ticket.status))
        )
        for old, count in stuck:
            skipped[old] = skipped.get(old, 0) + count
    source, action = _display("status")
    changed = 0
    if allowed:
        changed = _change_rows(
            session,
            ticket_ids,
            col(Ticket.status).in_(allowed),
            source,
            action,
            status,
            status_values(status, change.now(), Ticket.solved_at),
            change,
        )
    return BulkResult(
        batch_id=change.batch_id,
        matched=len(ticket_ids),
        changed=changed,
        skipped={f"status {old}": n for old, n in sorted(skipped.items())},
    )


def tag_id(session: Session, name: str, *, create: bool) -> int | None:
    tag = session.execute(select(col(Tag.id)).where(col(Tag.name) == name)).scalar_one_or_none()
    if tag is None and create:
        row = Tag(name=name)
        session.add(row)
        session.flush()
        return row.id
    return tag


def _has_tag(tag: int) -> ColumnElement[bool]:
    return exists().where(col(TicketTag.ticket_id) == Ticket.id, col(TicketTag.tag_id) == tag)


def add_tags(
    session: Session, ticket_ids: Sequence[int], tags: Sequence[str], change: Change
) -> BulkResult:
    """Give every ticket each tag it lacks: per tag an insert-select, with a `tag` event."""
    names = list(dict.fromkeys(tickets.normalise_tag(t) for t in tags))
    if not names:
        raise ValidationError(_("name at least one tag"))
    touched = 0
    for name in names:
        tag = tag_id(session, name, create=True)
        assert tag is not None

        def insert(
            session: Session, chunk: list[int], condition: ColumnElement[bool], tag: int = tag
        ) -> None:
            session.execute(
                table_of(TicketTag)
                .insert()
                .from_select(
                    ["ticket_id", "tag_id"],
                    select(col(Ticket.id), literal(tag)).where(among(session, chunk), condition),
                )
            )

        touched += _change_rows(
            session,
            ticket_ids,
            ~_has_tag(tag),
            select(col(Ticket.id), cast(null(), Text).label("old")),
            "tag",
            name,
            {},
            change,
            insert,
        )
    return BulkResult(batch_id=change.batch_id, matched=len(ticket_ids), changed=touched)


def remove_tags(
    session: Session, ticket_ids: Sequence[int], tags: Sequence[str], change: Change
) -> BulkResult:
    """Take each tag off every ticket that has it, with an `untag` event per removal."""
    names = list(dict.fromkeys(tickets.normalise_tag(t) for t in tags))
    if not names:
        raise ValidationError(_("name at least one tag"))
    touched = 0
    for name in names:
        tag = tag_id(session, name, create=False)
        if tag is None:
            continue

        def delete(
            session: Session, chunk: list[int], condition: ColumnElement[bool], tag: int = tag
        ) -> None:
            session.execute(
                table_of(TicketTag)
                .delete()
                .where(
                    among(session, chunk, col(TicketTag.ticket_id)),
                    col(TicketTag.tag_id) == tag,
                )
            )

        touched += _change_rows(
            session,
            ticket_ids,
            _has_tag(tag),
            select(col(Ticket.id), literal(name).label("old")),
            "untag",
            None,
            {},
            change,
            delete,
        )
    return BulkResult(batch_id=change.batch_id, matched=len(ticket_ids), changed=touched)


def merge(session: Session, ticket_ids: Sequence[int], into: int, change: Change) -> BulkResult:
    """Fold every ticket into ticket number `into`, one tickets.merge each.

    Merges move messages, notes and CCs: rare, heavy and not undoable, so a loop over the
    single-ticket merge is the honest implementation.
    """
    target = tickets.get_ticket(session, into)
    rows: list[Row[int, int | None]] = []
    for chunk in chunks(session, ticket_ids):
        rows.extend(
            session.execute(
                select(col(Ticket.number), col(Ticket.merged_into_id))
                .where(among(session, chunk))
                .order_by(col(Ticket.number))
            ).all()
        )
    skipped: dict[str, int] = {}
    changed = 0
    for number, merged_into in rows:
        if number == target.number:
            skipped[N_("the target itself")] = skipped.get("the target itself", 0) + 1
        elif merged_into is not None:
            skipped[N_("already merged")] = skipped.get("already merged", 0) + 1
        else:
            tickets.merge(session, number, target.number, change)
            changed += 1
    return BulkResult(
        batch_id=change.batch_id, matched=len(ticket_ids), changed=changed, skipped=skipped
    )


def ids_for(session: Session, where: ColumnElement[bool], *, limit: int | None = None) -> list[int]:
    """Ticket ids matching a compiled query condition, newest update first."""
    stmt = (
        select(col(Ticket.id))
        .where(where)
        .order_by(col(Ticket.updated_at).desc(), col(Ticket.id).desc())
    )
    if limit is not None:
        if limit < 0:
            raise ValidationError(_("limit must be zero or more"))
        stmt = stmt.limit(limit)
    return list(session.execute(stmt).scalars())


def ids_for_numbers(
    session: Session, numbers: Sequence[int], where: ColumnElement[bool] | None = None
) -> list[int]:
    """Ticket ids for ticket numbers read from a pipe; an unknown number is an error.

    A script that pipes `tickets list --ids` into a bulk command should hear about a typo'd
    or stale number, not have it silently dropped.
    """
    wanted = list(dict.fromkeys(numbers))
    found: dict[int, int] = {}
    for chunk in chunks(session, wanted):
        stmt = select(col(Ticket.number), col(Ticket.id)).where(
            among(session, chunk, col(Ticket.number))
        )
        found.update((n, i) for n, i in session.execute(stmt))
    missing = [n for n in wanted if n not in found]
    if missing:
        shown = ", ".join(f"#{n}" for n in missing[:10])
        more = _(" and {count} more").format(count=len(missing) - 10) if len(missing) > 10 else ""
        raise NotFoundError(_("no ticket {shown}{more}").format(shown=shown, more=more))
    ids = [found[n] for n in wanted]
    if where is None:
        return ids
    kept: set[int] = set()
    for chunk in chunks(session, ids):
        kept.update(
            session.execute(select(col(Ticket.id)).where(among(session, chunk), where)).scalars()
        )
    return [i for i in ids if i in kept]
