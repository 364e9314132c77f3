"""The numbers a support lead runs the team by, per agent, queue, day or week.

Every figure is computed by grouped SQL over the tickets, their events and messages, on
SQLite and PostgreSQL alike; Python only merges the few result rows (one per group) and adds
up the backlog from period to period. Definitions, so that each number can be checked by
hand, are in docs/METRICS.md; in short:

- created: tickets created in the period;
- solved / reopened: status changes to solved, and from solved back to an active status,
  made in the period (a ticket solved twice counts twice);
- backlog: active tickets at the end of the period;
- first response (median, p90; wall clock and business hours): creation to first response,
  over tickets first answered in the period;
- resolution (median, p90; wall clock and business hours less the time waiting on the
  customer): creation to solved, over tickets solved in the period (their latest solve);
- replies per resolved ticket: our messages on those tickets, divided by their number;
- SLA attainment: the share of those tickets in queues with a policy that breached nothing;
- CSAT: satisfaction ratings received in the period (desk.csat): how many, their average
  and the share that scored 4 or 5.
- handle time (median, p90): the console time all agents spent on a ticket, over tickets
  solved in the period that have any; total: the console time recorded on the days of the
  period (per agent: by that agent).

Days and weeks (Monday to Sunday) are UTC; per agent and queue, a ticket counts where it is
now (its current assignee and queue).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    true,
)
from sqlmodel import Session, col

from supportdesk.desk.sla import due
from supportdesk.desk.statuses import ACTIVE
from supportdesk.errors import ValidationError
from supportdesk.i18n import _
from supportdesk.store.models import Agent, CsatRating, Event, HandleTime, Queue, SlaPolicy, Ticket

By = Literal["agent", "queue", "day", "week", "all"]
GROUPINGS: tuple[By, ...] = ("agent", "queue", "day", "week", "all")
DAY = 86_400
_BEFORE = -(2**40)  # the group of everything before the report's first period
UNASSIGNED = "(unassigned)"
CSAT_ACTOR = "system:csat"
"""Who queues rating requests (desk.csat.requests): their messages are not replies."""


@dataclass
class ReportRow:
    """One group's figures; times in seconds, None where there was nothing to measure."""

    group: str
    created: int = 0
    solved: int = 0
    reopened: int = 0
    backlog: int = 0
    first_response_median: int | None = None
    first_response_p90: int | None = None
    first_response_business_median: int | None = None
    first_response_business_p90: int | None = None
    resolution_median: int | None = None
    resolution_p90: int | None = None
    resolution_business_median: int | None = None
    resolution_business_p90: int | None = None
    resolved: int = 0
    replies: int = 0
    sla_tickets: int = 0
    sla_met: int = 0
    handle_time_median: int | None = None
    handle_time_p90: int | None = None
    handle_time_total: int = 0
    csat_responses: int = 0
    csat_score_sum: int = 0
    csat_satisfied: int = 0

    @property
    def replies_per_resolved(self) -> float | None:
        return round(self.replies / self.resolved, 2) if self.resolved else None

    @property
    def sla_attainment(self) -> float | None:
        return round(self.sla_met / self.sla_tickets, 4) if self.sla_tickets else None

    @property
    def csat_average(self) -> float | None:
        return round(self.csat_score_sum / self.csat_responses, 2) if self.csat_responses else None

    @property
    def csat_satisfied_share(self) -> float | None:
        """The share of ratings that scored 4 or 5."""
        return round(self.csat_satisfied / self.csat_responses, 4) if self.csat_responses else None

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["replies_per_resolved"] = self.replies_per_resolved
        data["sla_attainment"] = self.sla_attainment
        data["csat_average"] = self.csat_average
        data["csat_satisfied_share"] = self.csat_satisfied_share
        return data


@dataclass(frozen=True)
class Report:
    since: datetime
    until: datetime
    by: By
    rows: list[ReportRow] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "by": self.by,
            "rows": [r.as_dict() for r in self.rows],
        }


COLUMNS = tuple(ReportRow("").as_dict())


def build(
    session: Session,
    since: datetime,
    until: datetime,
    by: By,
    where: ColumnElement[bool] | None = None,
) -> Report:
    """The report over [since, until) grouped `by`, for the tickets matching `where`."""
    if by not in GROUPINGS:
        raise ValidationError(
            _("unknown grouping {by!r}; expected one of {groupings}").format(
                by=by, groupings=", ".join(GROUPINGS)
            )
        )
    if until <= since:
        raise ValidationError(_("--until must be after --since"))
    if by in ("day", "week") and until - since > timedelta(days=3 * 366):
        raise ValidationError(_("a report by day or week covers at most three years"))
    r = _Reader(session, since, until, by, true() if where is None else where)
    rows: dict[Any, ReportRow] = {}

    def row(key: Any) -> ReportRow:
        if key not in rows:
            rows[key] = ReportRow("")
        return rows[key]

    # int(): PostgreSQL's sums are Decimals
    for key, n in r.created():
        row(key).created = int(n)
    for key, solved, reopened in r.status_changes():
        row(key).solved, row(key).reopened = int(solved), int(reopened)
    for key, n in r.backlog():
        row(key).backlog = int(n)
    for key, *values in r.first_response():
        target = row(key)
        (
            target.first_response_median,
            target.first_response_p90,
            target.first_response_business_median,
            target.first_response_business_p90,
        ) = values
    for key, *values in r.resolution():
        target = row(key)
        (
            target.resolution_median,
            target.resolution_p90,
            target.resolution_business_median,
            target.resolution_business_p90,
        ) = values
    for key, resolved, replies, sla_tickets, sla_met in r.resolved():
        target = row(key)
        target.resolved, target.replies = int(resolved), int(replies)
        target.sla_tickets, target.sla_met = int(sla_tickets), int(sla_met)
    for key, median, p90 in r.handle_time():
        row(key).handle_time_median, row(key).handle_time_p90 = median, p90
    for key, total in r.handle_time_total():
        row(key).handle_time_total = int(total)
    for key, responses, score_sum, satisfied in r.csat():
        target = row(key)
        target.csat_responses, target.csat_score_sum = int(responses), int(score_sum or 0)
        target.csat_satisfied = int(satisfied)
    rows.pop(_BEFORE, None)
    return Report(since, until, by, r.label(rows))


class _Reader:
    """The grouped statements of one report."""

    def __init__(
        self, session: Session, since: datetime, until: datetime, by: By, where: Any
    ) -> None:
        self.session, self.by, self.where = session, by, where
        self.since, self.until = since, until
        self.start, self.end = due.seconds(since), due.seconds(until)

    # -- grouping

    def key(self, at: Any) -> Any:
        """The group of a ticket whose event happened at `at` (a timestamp column)."""
        if self.by == "all":
            return literal(0)
        if self.by == "agent":
            return func.coalesce(col(Ticket.assignee_id), 0)
        if self.by == "queue":
            # An expression, not the column: grouping by the column, SQLite walks every
            # ticket along the queue index instead of the few in the period.
            return col(Ticket.queue_id) + 0
        seconds = due.epoch(at)
        index = seconds // DAY if self.by == "day" else (seconds // DAY + 3) // 7
        return case((seconds < self.start, _BEFORE), else_=index)

    def within(self, at: Any) -> ColumnElement[bool]:
        return and_(at >= self.since, at < self.until)

    def grouped(self, *columns: Any, at: Any, where: Iterable[Any]) -> list[Any]:
        key = self.key(at).label("key")
        stmt = select(key, *columns).where(self.where, *where).group_by(key)
        return list(self.session.execute(stmt).all())

    # -- figures

    def created(self) -> list[Any]:
        at = col(Ticket.created_at)
        return self.grouped(func.count(), at=at, where=[self.within(at)])

    def status_changes(self) -> list[Any]:
        at = col(Event.created_at)
        solved = func.count().filter(col(Event.new_value) == "solved")
        reopened = func.count().filter(
            col(Event.old_value) == "solved", col(Event.new_value).in_(ACTIVE)
        )
        return self.grouped(
            solved,
            reopened,
            at=at,
            where=[
                col(Event.ticket_id) == col(Ticket.id),
                col(Event.action) == "status",
                self.within(at),
            ],
        )

    def backlog(self) -> list[tuple[Any, int]]:
        """Active tickets at each period's end, counted back from now: the tickets active
        now, less what every later change did (a creation added one, a move from an active
        status to solved or closed or a merge took one away, a reopening added one). Only
        the history since the report's start (per agent or queue: its end) is read."""
        per_group = self.by in ("agent", "queue", "all")
        group = self.key(col(Ticket.created_at)) if per_group else literal(0)
        active = {
            key: int(n)
            for key, n in self.session.execute(
                select(group.label("key"), func.count())
                .where(self.where, col(Ticket.status).in_(ACTIVE))
                .group_by(group)
            )
        }
        if per_group:
            later = self._deltas(self.until)
            keys = set(active) | set(later)
            return [(k, active.get(k, 0) - later.get(k, 0)) for k in keys]
        deltas = self._deltas(self.since)
        periods = self.periods()
        running = active.get(0, 0) - sum(n for k, n in deltas.items() if k > periods[-1])
        out = []
        for key in reversed(periods):
            out.append((key, running))
            running -= deltas.get(key, 0)
        return out[::-1]

    def _deltas(self, start: datetime) -> dict[Any, int]:
        """Per group, how much the changes at or after `start` added to the active count."""
        created = self.grouped(
            func.count(), at=col(Ticket.created_at), where=[col(Ticket.created_at) >= start]
        )
        at = col(Event.created_at)
        inactive = ("solved", "closed")
        closing = or_(
            and_(
                col(Event.action) == "status",
                col(Event.old_value).in_(ACTIVE),
                col(Event.new_value).in_(inactive),
            ),
            and_(
                col(Event.action) == "create",
                or_(*(col(Event.new_value).like(f"%/{s}/%") for s in inactive)),
            ),
            # A merge closes the merged ticket; one already solved was not in the backlog.
            # Merges recorded before the event kept the status (old_value NULL) count.
            and_(
                col(Event.action) == "merge",
                or_(col(Event.old_value).is_(None), col(Event.old_value).in_(ACTIVE)),
            ),
        )
        opening = and_(
            col(Event.action) == "status",
            col(Event.old_value).in_(inactive),
            col(Event.new_value).in_(ACTIVE),
        )
        moves = self.grouped(
            func.count().filter(opening) - func.count().filter(closing),
            at=at,
            where=[
                col(Event.ticket_id) == col(Ticket.id),
                col(Event.action).in_(("status", "create", "merge")),
                at >= start,
                or_(closing, opening),
            ],
        )
        deltas: dict[Any, int] = {}
        for key, n in [*created, *moves]:
            deltas[key] = deltas.get(key, 0) + int(n)
        return deltas

    def _percentiles(self, at: Any, wall: Any, business: Any, where: list[Any]) -> list[Any]:
        """(key, median, p90, business median, business p90), nearest rank (docs/METRICS.md),
        in one pass: a rank for each measure, the business one among the tickets that have
        it (a queue without a policy has none)."""
        key = self.key(at)
        # Measured once per ticket (MATERIALIZED), then ranked: ranking the expressions
        # themselves evaluated every business-time lookup once per reference.
        measured = (
            select(key.label("key"), wall.label("wall"), business.label("business"))
            .where(self.where, *where)
            .cte("measured")
            .prefix_with("MATERIALIZED")
        )
        m = measured.c
        inner = select(
            m.key,
            m.wall,
            m.business,
            func.row_number().over(partition_by=m.key, order_by=m.wall).label("wall_rank"),
            func.count().over(partition_by=m.key).label("wall_n"),
            func.row_number()
            .over(partition_by=[m.key, m.business.is_(None)], order_by=m.business)
            .label("business_rank"),
            func.count(m.business).over(partition_by=m.key).label("business_n"),
        ).subquery()

        def at_rank(measure: str, percent: int) -> Any:
            value, rank, n = (inner.c[measure], inner.c[f"{measure}_rank"], inner.c[f"{measure}_n"])
            wanted = (n * percent + 99) // 100
            return func.max(case((and_(value.is_not(None), rank == wanted), value)))

        stmt = select(
            inner.c.key,
            at_rank("wall", 50),
            at_rank("wall", 90),
            at_rank("business", 50),
            at_rank("business", 90),
        ).group_by(inner.c.key)
        return [(k, *(_int(v) for v in values)) for k, *values in self.session.execute(stmt)]

    def first_response(self) -> list[Any]:
        at = col(Ticket.first_response_at)
        created = col(Ticket.created_at)
        wall = due.epoch(at) - due.epoch(created)
        business = case(
            (
                _has_policy(),
                due.business(col(Ticket.queue_id), due.epoch(at))
                - due.business(col(Ticket.queue_id), due.epoch(created)),
            ),
        )
        return self._percentiles(at, wall, business, [at.is_not(None), self.within(at)])

    def resolution(self) -> list[Any]:
        at = col(Ticket.solved_at)
        created = col(Ticket.created_at)
        wall = due.epoch(at) - due.epoch(created)
        # The SLA clock stopped when the ticket went pending, if it was solved from there:
        # that wait is the customer's, like the pauses already added up.
        stopped = due.least(col(Ticket.sla_paused_since), due.epoch(at))
        business = case(
            (
                _has_policy(),
                due.business(col(Ticket.queue_id), stopped)
                - due.business(col(Ticket.queue_id), due.epoch(created))
                - col(Ticket.sla_paused_seconds),
            ),
        )
        return self._percentiles(at, wall, business, [at.is_not(None), self.within(at)])

    def resolved(self) -> list[Any]:
        at = col(Ticket.solved_at)
        # Our messages, counted from their events: the events' rows are narrow, where
        # reading each message's direction meant a page of the messages table per message.
        # coalesce(): along the ticket's events, not every message_out of the action index.
        replies = (
            select(func.count())
            .where(
                col(Event.ticket_id) == col(Ticket.id),
                func.coalesce(col(Event.action), "") == "message_out",
                col(Event.actor) != CSAT_ACTOR,  # a rating request is no reply
            )
            .correlate(Ticket)
            .scalar_subquery()
        )
        with_policy = _has_policy()
        return self.grouped(
            func.count(),
            func.coalesce(func.sum(replies), 0),
            func.count().filter(with_policy),
            func.count().filter(with_policy, col(Ticket.sla_breached).is_(False)),
            at=at,
            where=[at.is_not(None), self.within(at)],
        )

    def handle_time(self) -> list[Any]:
        """(key, median, p90) of the handle time of the tickets solved in the period, all
        agents and days together, among those that have any."""
        at = col(Ticket.solved_at)
        spent = (
            select(func.sum(col(HandleTime.seconds)))
            .where(col(HandleTime.ticket_id) == col(Ticket.id))
            .correlate(Ticket)
            .scalar_subquery()
        )
        where = [at.is_not(None), self.within(at), spent.is_not(None)]
        found = self._percentiles(at, spent, cast(null(), BigInteger), where)
        return [(key, median, p90) for key, median, p90, _, _ in found]

    def handle_time_total(self) -> list[Any]:
        """(key, seconds) recorded on the days of the period; per agent, the agent's own."""
        day = col(HandleTime.day)
        group: Any = col(HandleTime.agent_id) if self.by == "agent" else self.key(day)
        key = group.label("key")
        stmt = (
            select(key, func.sum(col(HandleTime.seconds)))
            .select_from(HandleTime)
            .join(Ticket, col(Ticket.id) == col(HandleTime.ticket_id))
            .where(self.where, self.within(day))
            .group_by(key)
        )
        return list(self.session.execute(stmt).all())

    def csat(self) -> list[Any]:
        """(key, ratings, sum of scores, ratings of 4 or 5) over the ratings received in the
        period, grouped like the rest by the rated ticket's assignee or queue, or by day."""
        at = col(CsatRating.received_at)
        score = col(CsatRating.score)
        return self.grouped(
            func.count(),
            func.sum(score),
            func.count().filter(score >= 4),
            at=at,
            where=[col(CsatRating.ticket_id) == col(Ticket.id), self.within(at)],
        )

    # -- labels

    def periods(self) -> list[int]:
        first, last = self.start // DAY, (self.end - 1) // DAY
        if self.by == "day":
            return list(range(first, last + 1))
        return list(range((first + 3) // 7, (last + 3) // 7 + 1))

    def label(self, rows: dict[Any, ReportRow]) -> list[ReportRow]:
        if self.by == "all":
            found = rows.get(0, ReportRow(""))
            found.group = "all"
            return [found]
        if self.by in ("day", "week"):
            out = []
            for key in self.periods():
                found = rows.get(key, ReportRow(""))
                first_day = key if self.by == "day" else key * 7 - 3
                found.group = (date(1970, 1, 1) + timedelta(days=first_day)).isoformat()
                out.append(found)
            return out
        model, name = (Agent, col(Agent.handle)) if self.by == "agent" else (Queue, col(Queue.name))
        names = dict(
            self.session.execute(select(col(model.id), name).where(col(model.id).in_(rows))).all()
        )
        for key, found in rows.items():
            found.group = names.get(key, UNASSIGNED if self.by == "agent" else f"#{key}")
        return sorted(rows.values(), key=lambda r: r.group)


RESPONSE_BUCKETS: tuple[tuple[int | None, str], ...] = (
    (15 * 60, "<15m"),
    (3600, "<1h"),
    (4 * 3600, "<4h"),
    (8 * 3600, "<8h"),
    (DAY, "<1d"),
    (3 * DAY, "<3d"),
    (None, "3d+"),
)
"""The first-response histogram's buckets: (upper bound in seconds, excluded; label)."""


def first_response_histogram(
    session: Session, since: datetime, until: datetime, where: ColumnElement[bool] | None = None
) -> list[tuple[str, int]]:
    """How many tickets first answered in [since, until) took how long (wall clock), per
    RESPONSE_BUCKETS, empty buckets included: the shape the median and p90 summarise."""
    at, created = col(Ticket.first_response_at), col(Ticket.created_at)
    wall = due.epoch(at) - due.epoch(created)
    bucket = case(
        *((wall < bound, index) for index, (bound, _) in enumerate(RESPONSE_BUCKETS) if bound),
        else_=len(RESPONSE_BUCKETS) - 1,
    ).label("bucket")
    stmt = (
        select(bucket, func.count())
        .where(true() if where is None else where, at.is_not(None), at >= since, at < until)
        .group_by(bucket)
    )
    counts = {int(index): int(n) for index, n in session.execute(stmt)}
    return [(label, counts.get(i, 0)) for i, (_, label) in enumerate(RESPONSE_BUCKETS)]


def agent_handle_time(session: Session, since: datetime, until: datetime, handle: str) -> int:
    """Seconds agent `handle` recorded on the UTC days that start in [since, until), on any
    ticket: `handle_time_total` of their row in a report by agent, where a row per ticket
    filter would also count colleagues' time on their tickets."""
    day = col(HandleTime.day)
    stmt = (
        select(func.coalesce(func.sum(col(HandleTime.seconds)), 0))
        .join(Agent, col(Agent.id) == col(HandleTime.agent_id))
        .where(col(Agent.handle) == handle, day >= since, day < until)
    )
    return int(session.execute(stmt).scalar_one())


def _has_policy() -> ColumnElement[bool]:
    return col(Ticket.queue_id).in_(select(col(SlaPolicy.queue_id)))


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def parse_moment(text: str, *, end: bool = False) -> datetime:
    """A --since/--until value: YYYY-MM-DD (UTC midnight; for --until the day is included)
    or an ISO date-time (UTC unless it says otherwise)."""
    try:
        if len(text) == 10:
            day = datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
            return day + timedelta(days=1) if end else day
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        raise ValidationError(
            _(
                "bad date {text!r}: use YYYY-MM-DD or an ISO date and time like 2026-11-16T09:00"
            ).format(text=text)
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
