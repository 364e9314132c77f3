"""Each ticket's next SLA due time and breached flag, computed set-based in SQL.

One function, `refresh`, keeps them current for any set of tickets: one ticket after a single
change, a chunk of a bulk change, the tickets an undo touched, a batch of ingested mail. It
recomputes from the ticket's facts (created, first response, status, queue, priority, the
customer's unanswered messages) rather than adjusting the old values, so every path that
changes a ticket gets the same answer and undo needs no special case.

Time is Unix seconds; business time is read from `sla_hours` (see desk.sla.calendar):

    B(t)    business seconds before instant t   = the interval starting at or before t
    B⁻¹(b)  the instant b business seconds in  = the first interval ending at or after b

Targets, all in business time:
- first response: from creation to the first response (while there is none);
- next response: from the customer's oldest unanswered message to our next message
  (once there was a first response);
- resolution: from creation to solved, less the time spent waiting on the customer.

An answer sent while the ticket is overdue is counted (`sla_late_responses`, see
`note_responses`), so a next response answered late stays a breach.

The clock stands still while the ticket is pending, solved or closed (`sla_paused_since`
records when it stopped; leaving such a status adds the business time that passed to
`sla_paused_seconds`). While it stands still nothing is due. A ticket is breached when a
target was missed: one that is settled (the response came, or the clock stopped) too late,
or one still running and overdue when last computed; readers add "or due before now"
(`breached_condition`), so a flag is never stale between changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session

from supportdesk.store.models import (
    Message,
    OutboxItem,
    SlaHours,
    SlaTarget,
    Ticket,
    table_of,
)

PAUSED = ("pending", "solved", "closed")
DEPENDS_ON = frozenset({"status", "priority", "queue_id", "first_response_at", "message_count"})
"""The ticket columns a due time follows: a change to any of them recomputes it."""
COLUMNS = (
    "sla_due",
    "sla_breached",
    "sla_paused_since",
    "sla_paused_seconds",
    "sla_late_responses",
)

_TICKETS = table_of(Ticket)
_HOURS = table_of(SlaHours)
_TARGETS = table_of(SlaTarget)
_MESSAGES = table_of(Message)
_OUTBOX = table_of(OutboxItem)
ANSWER_KINDS = ("reply", "reply_all")


def answers_customer(m: Any) -> ColumnElement[bool]:
    """Whether message row `m` (the messages table or an alias of it) answers the customer:
    ours, and not a forward to a third party, an automatic acknowledgement or a reply
    cancelled before it went. Mail with no outbox item (imported, written elsewhere)
    answers. The one rule for the first response (desk.outbox) and the next (here)."""
    o = _OUTBOX.alias()
    not_an_answer = or_(o.c.kind.not_in(ANSWER_KINDS), o.c.state == "cancelled")
    return and_(m.c.direction == "out", ~exists().where(o.c.message_id == m.c.id, not_an_answer))


class epoch(FunctionElement[int]):
    """Unix seconds of a stored timestamp, the same on SQLite and PostgreSQL."""

    type = BigInteger()
    inherit_cache = True
    name = "epoch"


@compiles(epoch, "sqlite")
def _epoch_sqlite(element: epoch, compiler: SQLCompiler, **kw: Any) -> str:
    return "CAST(strftime('%s', " + compiler.process(element.clauses, **kw) + ") AS INTEGER)"


@compiles(epoch, "postgresql")
def _epoch_postgresql(element: epoch, compiler: SQLCompiler, **kw: Any) -> str:
    inner = compiler.process(element.clauses, **kw)
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {inner})) AS BIGINT)"


def seconds(at: datetime) -> int:
    return int(at.timestamp())


def business(queue_id: Any, at: Any) -> ColumnElement[int]:
    """B(at): business seconds of the queue's calendar before instant `at` (0 before it
    starts, NULL for a NULL instant)."""
    h = _HOURS.alias()
    counted = func.coalesce(
        select(case((at >= h.c.end, h.c.end_business), else_=h.c.start_business + at - h.c.start))
        .where(h.c.queue_id == queue_id, h.c.start <= at)
        .order_by(h.c.start.desc())
        .limit(1)
        .correlate_except(h)
        .scalar_subquery(),
        0,
    )
    if isinstance(at, int):
        return counted
    return case((at.is_(None), null()), else_=counted)


def instant(queue_id: Any, amount: Any) -> ColumnElement[int]:
    """B⁻¹(amount): the instant the calendar reaches `amount` business seconds (None past
    its last interval)."""
    h = _HOURS.alias()
    return (
        select(h.c.start + amount - h.c.start_business)
        .where(h.c.queue_id == queue_id, h.c.end_business >= amount)
        .order_by(h.c.end_business)
        .limit(1)
        .correlate_except(h)
        .scalar_subquery()
    )


class least(FunctionElement[int]):
    """The smallest of its arguments that is not NULL (NULL if all are), each evaluated once:
    PostgreSQL's LEAST ignores NULLs, SQLite's min() does not."""

    type = BigInteger()
    inherit_cache = True
    name = "least"


_NEVER = 2**62


@compiles(least, "sqlite")
def _least_sqlite(element: least, compiler: SQLCompiler, **kw: Any) -> str:
    args = ", ".join(
        f"coalesce({compiler.process(arg, **kw)}, {_NEVER})" for arg in element.clauses
    )
    return f"nullif(min({args}), {_NEVER})"


@compiles(least, "postgresql")
def _least_postgresql(element: least, compiler: SQLCompiler, **kw: Any) -> str:
    return f"LEAST({compiler.process(element.clauses, **kw)})"


def enabled(session: Session) -> bool:
    """Whether any queue has a policy: without one there is nothing to keep current."""
    return session.execute(select(literal(1)).select_from(_TARGETS).limit(1)).first() is not None


_NOW = bindparam("sla_now", type_=BigInteger())
_ONE = bindparam("sla_ticket", type_=Integer())
_single: tuple[Any, Any] | None = None


def refresh(session: Session, where: ColumnElement[bool], at: datetime) -> bool:
    """Bring the pause, due time and breached flag of the tickets matching `where` up to date
    as of `at` (two statements, whatever the number of tickets); False when no queue has a
    policy, so nothing was done."""
    if not enabled(session):
        return False
    for stmt in _statements(where):
        session.execute(stmt, {"sla_now": seconds(at)})
    return True


def refresh_one(session: Session, ticket_id: int, at: datetime) -> bool:
    """`refresh` of one ticket, with statements built once: building them cost more than
    running them, on the path of every reply."""
    global _single
    if not enabled(session):
        return False
    if _single is None:
        _single = _statements(_TICKETS.c.id == _ONE)
    for stmt in _single:
        session.execute(stmt, {"sla_now": seconds(at), "sla_ticket": ticket_id})
    return True


def _statements(where: ColumnElement[bool]) -> tuple[Any, Any]:
    """The pause bookkeeping, then the due times, for the tickets matching `where`."""
    t = _TICKETS
    paused = t.c.status.in_(PAUSED)
    pause = (
        update(t)
        .where(
            where,
            or_(
                and_(paused, t.c.sla_paused_since.is_(None)),
                and_(~paused, t.c.sla_paused_since.is_not(None)),
            ),
        )
        .values(
            sla_paused_seconds=t.c.sla_paused_seconds
            + case(
                (paused, 0),
                else_=business(t.c.queue_id, _NOW) - business(t.c.queue_id, t.c.sla_paused_since),
            ),
            # A ticket solved before its queue had a policy stopped the clock when solved.
            sla_paused_since=case(
                (t.c.status.in_(("solved", "closed")), least(epoch(t.c.solved_at), _NOW)),
                (paused, _NOW),
                else_=null(),
            ),
        )
        .execution_options(synchronize_session=False)
    )
    facts = _facts(where, _NOW)
    dues = (
        update(t)
        .add_cte(facts)
        .where(t.c.id == facts.c.id)
        .values(_due_values(facts, _NOW))
        .execution_options(synchronize_session=False)
    )
    return pause, dues


def _facts(where: ColumnElement[bool], now: Any) -> Any:
    """Per ticket, its targets and the business-time readings its due time is made of (the
    FROM of the UPDATE that sets the due times).

    Two materialised steps, so that each lookup runs once per ticket: the instants first
    (the oldest unanswered message reads the ticket's messages), then their business time.
    SQLite otherwise inlines a subquery once for every place its column is used.
    """
    t = _TICKETS
    target = _TARGETS.alias()

    def goal(kind: str) -> Any:
        return (
            select(target.c[kind])
            .where(target.c.queue_id == t.c.queue_id, target.c.priority == t.c.priority)
            .correlate_except(target)
            .scalar_subquery()
            .label(kind)
        )

    instants = (
        select(
            t.c.id,
            t.c.queue_id,
            goal("first_response"),
            goal("next_response"),
            goal("resolution"),
            epoch(t.c.created_at).label("created_at"),
            func.coalesce(t.c.sla_paused_since, now).label("clock_at"),
            epoch(t.c.first_response_at).label("responded_at"),
            epoch(_oldest_unanswered()).label("waiting_at"),
        )
        .where(where)
        .cte("sla_instants")
        .prefix_with("MATERIALIZED")
    )
    i = instants.c
    return (
        select(
            i.id,
            i.first_response,
            i.next_response,
            i.resolution,
            business(i.queue_id, i.created_at).label("created"),
            business(i.queue_id, i.clock_at).label("clock"),
            business(i.queue_id, i.responded_at).label("responded"),
            business(i.queue_id, i.waiting_at).label("waiting"),
        )
        .cte("sla_facts")
        .prefix_with("MATERIALIZED")
    )


def _due_values(f: Any, now: Any) -> dict[str, Any]:
    """The SET of the due time and breached flag, from the facts `f` of each ticket."""
    t = _TICKETS
    running = t.c.status.not_in(PAUSED)
    due_first = case(
        (
            and_(running, t.c.first_response_at.is_(None)),
            instant(t.c.queue_id, f.c.created + f.c.first_response),
        ),
        else_=null(),
    )
    due_next = case(
        (
            and_(running, t.c.first_response_at.is_not(None)),
            instant(t.c.queue_id, f.c.waiting + f.c.next_response),
        ),
        else_=null(),
    )
    due_resolve = case(
        (
            running,
            instant(t.c.queue_id, f.c.created + f.c.resolution + t.c.sla_paused_seconds),
        ),
        else_=null(),
    )
    first_missed = func.coalesce(f.c.responded, f.c.clock) - f.c.created > f.c.first_response
    resolve_missed = f.c.clock - f.c.created - t.c.sla_paused_seconds > f.c.resolution
    # A customer left waiting past the target before the clock stopped (set pending or
    # solved without an answer): NULL when nobody waits.
    next_missed = f.c.clock - f.c.waiting > f.c.next_response
    return {
        "sla_due": least(due_first, due_next, due_resolve),
        "sla_breached": case(
            (
                or_(
                    first_missed,
                    resolve_missed,
                    next_missed,
                    due_next < now,
                    t.c.sla_late_responses > 0,
                ),
                True,
            ),
            else_=false(),
        ),
    }


def _oldest_unanswered() -> Any:
    """When the customer's oldest message after our last one arrived (None: none waits).

    Automatic replies and bounces wait for nobody."""
    m = _MESSAGES.alias()
    ours = _MESSAGES.alias()
    last_ours = (
        select(func.max(ours.c.id))
        .where(ours.c.ticket_id == _TICKETS.c.id, answers_customer(ours))
        .correlate_except(ours)
        .scalar_subquery()
    )
    return (
        select(func.min(m.c.received_at))
        .where(
            m.c.ticket_id == _TICKETS.c.id,
            m.c.direction == "in",
            m.c.id > func.coalesce(last_ours, 0),
            m.c.is_auto_reply.is_(False),
            m.c.is_bounce.is_(False),
        )
        .correlate_except(m)
        .scalar_subquery()
    )


_LATE = (
    update(_TICKETS)
    .where(
        _TICKETS.c.id.in_(bindparam("sla_tickets", expanding=True)),
        _TICKETS.c.sla_due < _NOW,
    )
    .values(sla_late_responses=_TICKETS.c.sla_late_responses + 1)
    .execution_options(synchronize_session=False)
)


def note_responses(session: Session, ticket_ids: list[int], at: datetime) -> None:
    """We answer on these tickets at `at`: count it late on each that was overdue then.

    Run before the answer is stored and the due time recomputed: afterwards nothing shows
    that a next response was due, so a late one would leave no trace."""
    if ticket_ids:
        session.execute(_LATE, {"sla_tickets": ticket_ids, "sla_now": seconds(at)})


def breached_condition(at: datetime) -> ColumnElement[bool]:
    """Tickets that missed a target, as of `at`: flagged, or overdue.

    "Overdue" repeats "not flagged" (the flag is never NULL, so nothing changes): each side
    of the OR is then one range of `ix_tickets_status_sla` (status, flag, due time) within
    a status, which a planner can read instead of every ticket of the status.
    """
    return or_(  # never NULL, so its negation holds where nothing is due
        _TICKETS.c.sla_breached.is_(True),
        and_(
            _TICKETS.c.sla_breached.is_(False),
            _TICKETS.c.sla_due.is_not(None),
            _TICKETS.c.sla_due < seconds(at),
        ),
    )


def on_time_condition(at: datetime, *, due_required: bool = False) -> ColumnElement[bool]:
    """Tickets that missed no target as of `at`: `NOT breached_condition(at)`, spelled out.

    The negated OR hides the due time's lower bound from the planner. Written as "not
    flagged (the flag is never NULL), and nothing due or due at `at` or later", PostgreSQL
    reads the OR as two index ranges. `due_required` says the caller's other conditions
    already reject a ticket with nothing due (`due:<2h breached:no`): the "nothing due"
    branch is then left out, so the bound stands alone beside the other's upper bound, one
    range of `ix_tickets_status_sla` per status that SQLite seeks too. The result is NULL
    where nothing is due in that form; the caller's conditions are NULL there as well, so
    the whole condition is the old one even under three-valued logic.
    """
    flag = _TICKETS.c.sla_breached.is_(False)
    later = _TICKETS.c.sla_due >= seconds(at)
    if due_required:
        return and_(flag, later)
    return and_(flag, or_(_TICKETS.c.sla_due.is_(None), later))


def sweep(session: Session, at: datetime) -> int:
    """Flag every ticket whose due time passed since it was last computed; how many."""
    result = session.execute(
        update(_TICKETS)
        .where(_TICKETS.c.sla_due < seconds(at), _TICKETS.c.sla_breached.is_(False))
        .values(sla_breached=True)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
