"""Turn a parsed `Query` into SQLAlchemy conditions on the `tickets` table.

Every value reaches SQL as a bound parameter. Conditions are shaped for the indexes the
store has: equality or IN on indexed ticket columns, ranges on timestamps, uncorrelated
IN-subqueries through the small tables (queues, agents, customers, tags), so the planner can
drive from whichever side is selective and the ticket list can stop after one page.
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    Select,
    and_,
    case,
    false,
    func,
    not_,
    or_,
    select,
    true,
    type_coerce,
    union,
)
from sqlalchemy.sql.elements import SQLColumnExpression
from sqlalchemy.sql.expression import Grouping
from sqlmodel import col

from supportdesk.desk.events import MIN_BATCH_PREFIX, batches_named
from supportdesk.desk.query.parser import (
    DurationFilter,
    Filter,
    NumberFilter,
    Query,
    SortKey,
    Term,
    TextTerm,
    TimeFilter,
    Value,
)
from supportdesk.desk.sla import due
from supportdesk.errors import QueryError
from supportdesk.i18n import _
from supportdesk.store import search
from supportdesk.store.models import (
    PRIORITIES,
    Agent,
    Customer,
    Event,
    Organisation,
    Queue,
    Tag,
    Ticket,
    TicketTag,
    utcnow,
)

DEFAULT_SORT = (SortKey("updated", descending=True),)
# A count over a filtered set (`status:open refund`) can search inside it, ticket by ticket
# (on SQLite one index lookup per ticket over its key range: ~4 us for a rare word, ~9 for a
# common one, ~16 for a phrase), or collect the tickets of every matching message (~0.12 us a
# match, read from the index keys). It searches inside when the set holds at most
# PER_TICKET_MAX tickets and the word is in more than MESSAGES_PER_TICKET times as many
# messages (see search.matches_estimate). Up to SMALL_SET tickets, the exact count costs about
# what a page does (measured by bench/store_bench.py at 100,000 tickets / 1,000,000 messages):
# `status:open refund` tested 2,607 tickets exactly in 25 ms of CPU and 47-51 ms of wall time
# quiet; past SMALL_SET a sample of about COUNT_SAMPLE of them costs half that.
PER_TICKET_MAX = 20_000
MESSAGES_PER_TICKET = 30
SMALL_SET = 1_500
# PostgreSQL tests each message's document itself (~10 us a message, against SQLite's one
# list built per query), so its exact count inside a filtered set is cheap only in a smaller one.
POSTGRES_SMALL_SET = 500

_COMPARE: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "=": operator.eq,
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
# Fields whose column can be NULL: their negation must count NULL as "not matching".
_NULLABLE = frozenset({"assignee", "solved", "due"})
_NEVER_DUE = 2**62  # sorts tickets with nothing due after every due time, on both backends


@dataclass(frozen=True)
class CompiledQuery:
    """A WHERE condition over `tickets` and the ORDER BY that goes with it.

    `filters` is the part of `where` without the text search (the narrowing condition
    included): what a count samples within. `count_is_cheap` says whether counting `where`
    exactly costs what a page costs: no text, only rare words, or a small filtered set.
    """

    where: ColumnElement[bool]
    order_by: list[ColumnElement[Any]]
    filters: ColumnElement[bool] = field(default_factory=true)
    count_is_cheap: bool = True

    def select_ids(self) -> Select[int | None]:
        return select(col(Ticket.id)).where(self.where).order_by(*self.order_by)


def compile_query(
    query: Query,
    conn: Connection,
    *,
    me: str | None,
    now: datetime | None = None,
    whole_set: bool = False,
    per_ticket: bool = False,
    narrow: ColumnElement[bool] | None = None,
) -> CompiledQuery:
    """Build the condition and order for `query`.

    `me` is the acting agent's handle (for `assignee:me`); `now` anchors relative ages and its
    time zone decides where a calendar day like `created:2026-01-31` starts. Queue and agent
    names are looked up through `conn` so a typo is an error rather than an empty list.
    `whole_set` asks for a condition fast over every matching ticket (a count, a bulk change)
    rather than fast for the first page (see `search.ticket_matches`); `per_ticket` tests
    every ticket the filters leave against the words (a count's sample). `narrow` is a
    further condition every ticket must meet.
    """
    now = utcnow() if now is None else now
    if now.utcoffset() is None:
        raise ValueError(_("compile_query needs an aware datetime for `now`"))
    # A due-time filter (`due:<2h`) rejects tickets with nothing due: `breached:no` beside it
    # can then bound the due time from below on its own (see `_breached`).
    due_required = any(
        isinstance(term, DurationFilter) and term.field == "due" and not term.negated
        for term in query.terms
    )
    filters = [
        _term(conn, term, me=me, now=now, due_required=due_required)
        for term in query.terms
        if not isinstance(term, TextTerm)
    ]
    if narrow is not None:
        filters.append(narrow)
    filtered = and_(*filters) if filters else true()
    texts, cheap = _text(conn, query.text_terms, filtered, whole_set, per_ticket)
    conditions = filters + texts
    where = and_(*conditions) if conditions else true()
    return CompiledQuery(
        where=where, order_by=order_by(query.sort), filters=filtered, count_is_cheap=cheap
    )


def order_by(keys: Sequence[SortKey]) -> list[ColumnElement[Any]]:
    """ORDER BY clauses for `keys`, ending with the ticket id so pages never shuffle."""
    keys = keys or DEFAULT_SORT
    clauses: list[ColumnElement[Any]] = []
    for key in keys:
        expression = _sort_expression(key.key)
        clauses.append(expression.desc() if key.descending else expression.asc())
    ticket_id = col(Ticket.id)
    clauses.append(ticket_id.desc() if keys[-1].descending else ticket_id.asc())
    return clauses


def _sort_expression(key: str) -> SQLColumnExpression[Any]:
    if key == "priority":
        return case({p: rank for rank, p in enumerate(PRIORITIES)}, value=col(Ticket.priority))
    columns: dict[str, SQLColumnExpression[Any]] = {
        "updated": col(Ticket.updated_at),
        "created": col(Ticket.created_at),
        "number": col(Ticket.number),
        "due": func.coalesce(col(Ticket.sla_due), _NEVER_DUE),
    }
    return columns[key]


def _term(
    conn: Connection, term: Term, *, me: str | None, now: datetime, due_required: bool = False
) -> ColumnElement[bool]:
    if isinstance(term, Filter) and term.field == "breached":
        return _breached(term, now, due_required)
    if isinstance(term, NumberFilter):
        condition = _number(term)
        nullable = False
    elif isinstance(term, TimeFilter):
        condition = _time(term, now)
        nullable = term.field in _NULLABLE
    elif isinstance(term, DurationFilter):
        condition = _duration(term, now)
        nullable = term.field in _NULLABLE
    elif isinstance(term, Filter):
        condition = _filter(conn, term, me, now)
        nullable = term.field in _NULLABLE
    else:
        raise TypeError(_("not a filter term: {term!r}").format(term=term))
    if not term.negated:
        return condition
    return not_(func.coalesce(condition, false())) if nullable else not_(condition)


def _breached(term: Filter, now: datetime, due_required: bool) -> ColumnElement[bool]:
    """`breached:yes` or `breached:no`, its negation folded in: `-breached:yes` is written as
    `breached:no` is, with the due time's lower bound out where an index can seek it rather
    than inside `NOT (... OR ...)` (see `due.on_time_condition`). `due_required`: the query
    already rejects tickets with nothing due."""
    names = list(dict.fromkeys(v.text for v in term.values))
    if (names == ["yes"]) != term.negated:
        return due.breached_condition(now)
    return due.on_time_condition(now, due_required=due_required)


def _text(
    conn: Connection,
    terms: Sequence[TextTerm],
    filtered: ColumnElement[bool],
    whole_set: bool,
    per_ticket: bool,
) -> tuple[list[ColumnElement[bool]], bool]:
    """The text conditions, each planned for what it costs, and whether an exact count is cheap.

    A word in few messages is collected (its tickets are few). Otherwise it is tested ticket
    by ticket against one evaluation of its match set whenever the tickets to test are
    few: inside a small filtered set, and always for an exclusion, which a page reads in its
    own order and stops. Only a count over a large set with a common word still collects
    every match: that is the count `Matching.quick_count` estimates instead.
    """
    wanted = [t.text for t in terms if not t.negated]
    excluded = [t.text for t in terms if t.negated]
    if not wanted and not excluded:
        return [], True
    size: int | None = None
    small_set = SMALL_SET if conn.dialect.name == "sqlite" else POSTGRES_SMALL_SET

    def filtered_size() -> int:
        nonlocal size
        if size is None:
            size = _tickets_up_to(conn, filtered, PER_TICKET_MAX)
        return size

    conditions: list[ColumnElement[bool]] = []
    cheap = True
    if wanted:
        selective: bool | None = None  # asked once, here or by search.ticket_matches
        if per_ticket:
            plan: search.Plan = "per_ticket"
        elif not whole_set and conn.dialect.name == "sqlite":
            plan = "page"  # search.ticket_matches asks how common the words are, once
        elif conn.dialect.name == "sqlite":  # a whole set: one question says how common
            tickets = filtered_size()
            found = search.matches_estimate(conn, wanted)
            if found > search.SELECTIVE_LIMIT:
                cheap = tickets <= small_set
            inside = tickets <= PER_TICKET_MAX and found > MESSAGES_PER_TICKET * tickets
            plan = "per_ticket" if inside and found > search.SELECTIVE_LIMIT else "whole"
        else:
            selective = search.is_selective(conn, wanted)
            if not selective:
                # On PostgreSQL both plans of a whole set are one EXISTS its planner joins
                # as it sees fit.
                cheap = not whole_set or filtered_size() <= small_set
            plan = "whole" if whole_set else "page"
        conditions.append(_matches(conn, wanted, "fts0", plan, selective))
    for index, text in enumerate(excluded, start=1):
        if per_ticket or not search.is_selective(conn, [text]):
            if whole_set:
                cheap = cheap and filtered_size() <= small_set
            plan = "per_ticket"
        else:
            plan = "whole"
        conditions.append(not_(_matches(conn, [text], f"fts{index}", plan)))
    return conditions, cheap


def _tickets_up_to(conn: Connection, where: ColumnElement[bool], limit: int) -> int:
    """How many tickets meet `where`, counting no further than limit + 1."""
    first = select(col(Ticket.id)).where(where).limit(limit + 1).subquery()
    return int(conn.execute(select(func.count()).select_from(first)).scalar_one())


def _matches(
    conn: Connection,
    terms: list[str],
    name: str,
    plan: search.Plan,
    selective: bool | None = None,
) -> ColumnElement[bool]:
    clause = search.ticket_matches(conn, terms, name=name, plan=plan, selective=selective)
    return Grouping(type_coerce(clause, Boolean))


def _number(term: NumberFilter) -> ColumnElement[bool]:
    number = col(Ticket.number)
    if len(term.numbers) > 1:
        return number.in_(term.numbers)
    return _COMPARE[term.op](number, term.numbers[0])


def _time(term: TimeFilter, now: datetime) -> ColumnElement[bool]:
    column = {
        "created": col(Ticket.created_at),
        "updated": col(Ticket.updated_at),
        "solved": col(Ticket.solved_at),
    }[term.field]
    if term.age is not None:
        edge = now - term.age
        # An age counts backwards: "<7d" (younger than a week) is a timestamp after the edge.
        flipped = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}[term.op]
        return _COMPARE[flipped](column, edge)
    if term.day is None:
        raise TypeError(_("a time filter needs an age or a day"))
    start = datetime.combine(term.day, time(), tzinfo=now.tzinfo)
    end = datetime.combine(term.day + timedelta(days=1), time(), tzinfo=now.tzinfo)
    if term.op == "":
        return and_(column >= start, column < end)
    bounds = {">=": column >= start, ">": column >= end, "<": column < start, "<=": column < end}
    return bounds[term.op]


def _duration(term: DurationFilter, now: datetime) -> ColumnElement[bool]:
    seconds = int(term.duration.total_seconds())
    if term.field == "due":
        # The due time as a span from now: "<2h" is due within two hours, or overdue.
        return _COMPARE[term.op](col(Ticket.sla_due), due.seconds(now) + seconds)
    # Wall-clock time from creation to the first response, or to now while there is none.
    waited = due.epoch(func.coalesce(col(Ticket.first_response_at), now)) - due.epoch(
        col(Ticket.created_at)
    )
    return _COMPARE[term.op](waited, seconds)


def _filter(conn: Connection, term: Filter, me: str | None, now: datetime) -> ColumnElement[bool]:
    names = list(dict.fromkeys(v.text for v in term.values))
    match term.field:
        case "status":
            return col(Ticket.status).in_(names)
        case "priority":
            return col(Ticket.priority).in_(names)
        case "queue":
            ids = _lookup(conn, "queue", col(Queue.name), col(Queue.id), term.values)
            return col(Ticket.queue_id).in_(ids)
        case "assignee":
            return _assignee(conn, term.values, me)
        case "requester" | "from":
            return _requester(names)
        case "org":
            orgs = select(col(Organisation.id)).where(
                or_(
                    col(Organisation.domain).in_(names),
                    func.lower(col(Organisation.name)).in_(names),
                )
            )
            customers = select(col(Customer.id)).where(col(Customer.organisation_id).in_(orgs))
            return col(Ticket.requester_id).in_(customers)
        case "tag":
            tags = select(col(Tag.id)).where(col(Tag.name).in_(names))
            tagged = select(col(TicketTag.ticket_id)).where(col(TicketTag.tag_id).in_(tags))
            return col(Ticket.id).in_(tagged)
        case "subject":
            return or_(
                *(col(Ticket.subject).ilike(f"%{_escape_like(n)}%", escape="\\") for n in names)
            )
        case "batch":
            batches = _batches(conn, term.values)
            changed = select(col(Event.ticket_id)).where(
                col(Event.batch_id).in_(batches), col(Event.ticket_id).is_not(None)
            )
            return col(Ticket.id).in_(changed)
        case "is":
            states = {
                "unassigned": col(Ticket.assignee_id).is_(None),
                "assigned": col(Ticket.assignee_id).is_not(None),
                "merged": col(Ticket.merged_into_id).is_not(None),
            }
            return or_(*(states[n] for n in names))
    raise TypeError(_("no condition for field {field!r}").format(field=term.field))


def _assignee(conn: Connection, values: Sequence[Value], me: str | None) -> ColumnElement[bool]:
    handles: list[Value] = []
    unassigned = False
    for value in values:
        if value.text == "none":
            unassigned = True
        elif value.text == "me":
            if not me:
                raise QueryError(
                    _("'me' needs to know who you are: set `agent` in the config"),
                    position=value.position,
                    token=value.raw,
                )
            handles.append(Value(text=me.strip().lower(), position=value.position, raw=value.raw))
        else:
            handles.append(value)
    column = col(Ticket.assignee_id)
    parts: list[ColumnElement[bool]] = []
    if handles:
        parts.append(column.in_(_lookup(conn, "agent", col(Agent.handle), col(Agent.id), handles)))
    if unassigned:
        parts.append(column.is_(None))
    return or_(*parts)


def _batches(conn: Connection, values: Sequence[Value]) -> list[str]:
    """The batch ids `batch:` names: whole ids, or unambiguous starts of at least
    MIN_BATCH_PREFIX characters (as tables show them); an unknown one is an error. The
    lookup is `supportdesk undo`'s (history.batches_named)."""
    found: list[str] = []
    for value in values:
        starting = batches_named(conn, value.text.lower())
        if len(starting) != 1:
            message = (
                _("batch '{text}' is ambiguous; give more of it")
                if starting
                else _("no batch '{text}' (give its id or at least its first {least} characters)")
            )
            raise QueryError(
                message.format(text=value.raw, least=MIN_BATCH_PREFIX),
                position=value.position,
                token=value.raw,
            )
        found.extend(starting)
    return sorted(set(found))


def _requester(names: Sequence[str]) -> ColumnElement[bool]:
    """Tickets whose requester has one of the addresses, or is at one of the @domains.

    A domain matches by address suffix (free-mail domains have no organisation) and by the
    requester's organisation, which may hold addresses from several domains.
    """
    addresses = [n for n in names if not n.startswith("@")]
    domains = [n[1:] for n in names if n.startswith("@")]
    # Separate branches of a UNION, not one OR: each is then estimated on its own, and a
    # planner that misjudges an OR as matching half the customers walks every ticket.
    branches: list[Select[int | None]] = []
    if addresses:
        branches.append(select(col(Customer.id)).where(col(Customer.email).in_(addresses)))
    if domains:
        suffixes = [col(Customer.email).like(f"%@{_escape_like(d)}", escape="\\") for d in domains]
        branches.append(select(col(Customer.id)).where(or_(*suffixes)))
        branches.append(
            select(col(Customer.id))
            .join(Organisation, col(Organisation.id) == col(Customer.organisation_id))
            .where(col(Organisation.domain).in_(domains))
        )
    customers = branches[0] if len(branches) == 1 else union(*branches)
    return col(Ticket.requester_id).in_(customers)


def _lookup(
    conn: Connection,
    what: str,
    name_column: SQLColumnExpression[str],
    id_column: SQLColumnExpression[int | None],
    values: Sequence[Value],
) -> list[int]:
    """Ids for names that must exist; the first unknown one is an error pointing at it."""
    names = sorted({v.text for v in values})
    found = {
        name: id_
        for name, id_ in conn.execute(select(name_column, id_column).where(name_column.in_(names)))
    }
    for value in values:
        if value.text not in found:
            raise QueryError(
                _("unknown {what} '{text}'{hint}").format(
                    what=what, text=value.text, hint=suggestion(conn, name_column, value.text)
                ),
                position=value.position,
                token=value.raw,
            )
    return sorted({id_ for id_ in found.values() if id_ is not None})  # primary keys: never None


def suggestion(conn: Connection, name_column: SQLColumnExpression[str], name: str) -> str:
    """' (did you mean ...?)', or the known names: the tail of every unknown-name error."""
    known = list(conn.execute(select(name_column).order_by(name_column).limit(1000)).scalars())
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return _(" (did you mean '{name}'?)").format(name=close[0])
    if not known:
        return _(" (there are none yet)")
    shown = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
    return _("; known: {names}").format(names=shown)


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
