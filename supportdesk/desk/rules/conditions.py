"""Evaluating conditions against one ticket and, for mail triggers, the message that came in.

Ticket conditions reuse the query language: the query is compiled once per run and tested as
`tickets.id = X AND <where>`, so a rule means exactly what the same text means in the search
box. Message conditions are plain Python over the parsed message; regular expressions run
in RE2 (see `patterns`), linear in the text, over the field encoded to UTF-8 once.

A condition that cannot be evaluated any more (a pattern the engine refuses, a query naming
a queue or agent removed since the rule was stored) raises a SupportdeskError from
`Evaluation.matches`: the engine records it as that rule's failure and goes on.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, bindparam, case, func, select
from sqlmodel import Session, col

from supportdesk.desk.query import Matching, depends_on_now
from supportdesk.desk.rules import patterns
from supportdesk.desk.rules.model import Condition, RuleDef, TextTest, parse_duration
from supportdesk.desk.statuses import ACTIVE
from supportdesk.errors import SupportdeskError, ValidationError
from supportdesk.i18n import _
from supportdesk.mail.robots import is_no_reply_address
from supportdesk.store.models import Event, Message, Queue, Ticket

if TYPE_CHECKING:
    from supportdesk.mail.parse import Address, ParsedMessage

BUSINESS_DAYS = range(0, 5)  # Monday to Friday
BUSINESS_START, BUSINESS_END = 9, 17


@dataclass
class MessageFacts:
    """What message conditions can see, from a fresh ParsedMessage or a stored message."""

    from_text: str = ""
    from_address: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    subject: str = ""
    body: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    mailbox: str | None = None
    robot: bool = False

    @property
    def no_reply(self) -> bool:
        return is_no_reply_address(self.from_address)

    @classmethod
    def from_parsed(cls, parsed: ParsedMessage, mailbox: str | None = None) -> MessageFacts:
        def shown(address: Address | None) -> str:
            if address is None or not address.address:
                return ""
            return f"{address.name} <{address.address}>" if address.name else address.address

        return cls(
            from_text=shown(parsed.from_),
            from_address=(parsed.from_.address or "").lower() if parsed.from_ else "",
            to=[shown(a) for a in parsed.to if a.address],
            cc=[shown(a) for a in parsed.cc if a.address],
            subject=parsed.subject,
            body=parsed.text,
            headers=list(parsed.headers),
            mailbox=mailbox,
            robot=parsed.robot.automatic,
        )

    @classmethod
    def from_row(cls, message: Message, raw: bytes | None) -> MessageFacts:
        """Facts for a stored message; headers come from re-reading its raw bytes."""
        headers: list[tuple[str, str]] = []
        if raw is not None:
            from supportdesk.mail.parse import parse_message

            headers = list(parse_message(raw).headers)
        sender = message.from_address
        return cls(
            from_text=f"{message.from_name} <{sender}>" if message.from_name else sender,
            from_address=sender.lower(),
            to=[a.strip() for a in message.to_addresses.split(",") if a.strip()],
            cc=[a.strip() for a in message.cc_addresses.split(",") if a.strip()],
            subject=message.subject,
            body=message.body_text,
            headers=headers,
            mailbox=message.mailbox,
            robot=message.is_auto_reply or message.is_bounce or message.is_list,
        )

    def folded(self, kind: str, header: str | None = None) -> str:
        """The field's text case-folded, for `contains`; kept, since many rules ask."""
        cache = self.__dict__.setdefault("_folded", {})
        key = (kind, header)
        if key not in cache:
            cache[key] = self.field_text(kind, header).casefold()
        return cache[key]

    def encoded(self, kind: str, header: str | None = None) -> bytes:
        """The field's text as UTF-8, for `matches`; kept, since many rules ask."""
        cache = self.__dict__.setdefault("_encoded", {})
        key = (kind, header)
        if key not in cache:
            cache[key] = patterns.encode(self.field_text(kind, header))
        return cache[key]

    def field_text(self, kind: str, header: str | None = None) -> str:
        if kind == "header":
            wanted = (header or "").lower()
            return "\n".join(value for name, value in self.headers if name.lower() == wanted)
        return {
            "from_": self.from_text,
            "to": "\n".join(self.to),
            "cc": "\n".join(self.cc),
            "subject": self.subject,
            "body": self.body,
        }[kind]


def _text_test(condition: Condition) -> tuple[TextTest, str | None]:
    kind = condition.kind
    test = getattr(condition, kind)
    return test, (test.name if kind == "header" else None)


class Evaluation:
    """One ticket (and message) under evaluation: caches what several rules ask alike."""

    def __init__(
        self,
        session: Session,
        ticket_number: int,
        now: datetime,
        message: MessageFacts | None,
        rules: Iterable[RuleDef],
    ) -> None:
        self.session = session
        self.ticket_number = ticket_number
        self._ticket_id: int | None = None
        self.now = now
        self.message = message
        self._rules = list(rules)
        self._queries: dict[str, bool] | None = None
        self._query_errors: dict[str, str] = {}
        self._ticket: Ticket | None = None

    @property
    def ticket_id(self) -> int:
        """Looked up only when a condition needs it: most messages match on mail alone."""
        if self._ticket_id is None:
            self._ticket_id = self.session.execute(
                select(col(Ticket.id)).where(col(Ticket.number) == self.ticket_number)
            ).scalar_one()
        return self._ticket_id

    def ticket(self) -> Ticket:
        if self._ticket is None:
            ticket = self.session.get(Ticket, self.ticket_id, populate_existing=True)
            if ticket is None:
                raise LookupError(
                    _("ticket id {ticket_id} vanished").format(ticket_id=self.ticket_id)
                )
            self._ticket = ticket
        return self._ticket

    def changed(self) -> None:
        """A rule acted: ticket facts must be read again for the rules after it."""
        self._queries = None
        self._ticket = None

    def matches(self, rule: RuleDef) -> bool:
        if rule.when is None:
            return True  # a catch-all
        return _rule_test(rule)(self)

    # Ticket conditions.
    def _c_query(self, c: Condition, _zone: tzinfo | None) -> bool:
        text = c.query or ""
        found = self._query_results().get(text)
        if found is None:
            raise ValidationError(
                _("query {text!r}: {query_errors}").format(
                    text=text, query_errors=self._query_errors[text]
                )
            )
        return found

    def _query_results(self) -> dict[str, bool]:
        """Every query any rule asks about this ticket, answered by one SELECT.

        A query that no longer compiles (it names a queue or agent removed since) is left
        out, so it fails only the rules that use it.
        """
        if self._queries is None:
            texts = _plan(self._rules).queries
            self._queries = {}
            if texts:
                run, good, self._query_errors = _combined(self.session, texts, self.now)
                if good:
                    row = run(self.session, self.ticket_number)
                    self._queries = dict(zip(good, (bool(v) for v in row), strict=True))
        return self._queries

    def _c_since(self, c: Condition, _zone: tzinfo | None) -> bool:
        assert c.since is not None
        moment = self._moment(c.since.event)
        if moment is None:
            return False
        age = self.now - moment
        if c.since.more_than is not None and not age > parse_duration(c.since.more_than):
            return False
        return c.since.less_than is None or age < parse_duration(c.since.less_than)

    def _moment(self, event: str) -> datetime | None:
        ticket = self.ticket()
        if event == "created":
            return ticket.created_at
        if event == "updated":
            return ticket.updated_at
        if event == "first_response":
            return ticket.first_response_at
        last = self.session.execute(
            select(func.max(col(Event.created_at))).where(
                col(Event.ticket_id) == self.ticket_id, col(Event.action) == "status"
            )
        ).scalar()
        return last or ticket.created_at

    def _c_first_response_overdue(self, c: Condition, _zone: tzinfo | None) -> bool:
        ticket = self.ticket()
        overdue = False
        if ticket.first_response_at is None and ticket.status in ACTIVE:
            queue = self.session.get(Queue, ticket.queue_id)
            if queue is not None and queue.first_response_minutes is not None:
                due = ticket.created_at + timedelta(minutes=queue.first_response_minutes)
                overdue = self.now >= due
        return overdue == c.first_response_overdue

    def _c_business_hours(self, c: Condition, zone: tzinfo | None) -> bool:
        # No zone: the machine's, looked up now so daylight saving is right.
        local = self.now.astimezone(zone) if zone is not None else self.now.astimezone()
        inside = local.weekday() in BUSINESS_DAYS and BUSINESS_START <= local.hour < BUSINESS_END
        return inside == c.business_hours

    # Message conditions: false when there is no message (a time run).
    def _c_robot(self, c: Condition, _zone: tzinfo | None) -> bool:
        return self.message is not None and self.message.robot == c.robot

    def _c_mailbox(self, c: Condition, _zone: tzinfo | None) -> bool:
        return self.message is not None and (self.message.mailbox or "") == c.mailbox


@dataclass(frozen=True)
class _Plan:
    """What a rule list asks of every ticket and message, gathered once per list."""

    queries: tuple[str, ...]


_PLANS: dict[tuple[int, ...], tuple[list[RuleDef], _Plan]] = {}


def _plan(rules: list[RuleDef]) -> _Plan:
    key = tuple(id(rule) for rule in rules)
    hit = _PLANS.get(key)
    if hit is not None:
        return hit[1]
    queries: dict[str, None] = {}
    for rule in rules:
        for c in rule.conditions():
            if c.query is not None:
                queries[c.query] = None
    plan = _Plan(tuple(queries))
    if len(_PLANS) > 64:
        _PLANS.clear()
    _PLANS[key] = (rules, plan)  # holding the rules keeps their ids from being reused
    return plan


# Compiled queries per store: compiling looks queue and agent names up, too slow to repeat
# for every message. Queries with relative ages depend on the clock and are not kept; the
# others are kept a short while, so a renamed queue is noticed soon.
_COMPILED: weakref.WeakKeyDictionary[Engine, dict[tuple[str, ...], tuple[float, Any]]] = (
    weakref.WeakKeyDictionary()
)
COMPILED_TTL = 30.0


Combined = tuple[Callable[[Session, int], Sequence[Any]], tuple[str, ...], dict[str, str]]


def _combined(session: Session, texts: tuple[str, ...], now: datetime) -> Combined:
    """A function from (session, ticket number) to one 0/1 per good query, as one statement.

    Also returns the good queries, in the order of the 0/1s, and why each other one fails.
    Without relative ages the statement is rendered to SQL once and kept: building and
    hashing a fifty-clause statement for every message would cost more than running it.
    """
    conn = session.connection()
    cache = _COMPILED.setdefault(conn.engine, {})
    hit = cache.get(texts)
    if hit is not None and time.monotonic() - hit[0] < COMPILED_TTL:
        return hit[1]
    queries, wheres, failed = [], [], {}
    for text in texts:
        try:
            matching = Matching(session, text, me=None, now=now)
            wheres.append(matching.where(whole_set=False))
            queries.append((text, matching.query))
        except SupportdeskError as exc:
            failed[text] = str(exc)
    good = tuple(text for text, _ in queries)
    stmt = select(*(case((where, 1), else_=0) for where in wheres)).where(
        col(Ticket.number) == bindparam("rule_ticket_number", value=0)
    )
    timed = any(depends_on_now(t) for _, q in queries for t in q.terms)
    if timed:
        return (
            lambda s, number: s.execute(stmt, {"rule_ticket_number": number}).one(),
            good,
            failed,
        )
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    sql, params = str(compiled), compiled.construct_params()
    order = list(compiled.positiontup or []) if compiled.positional else None

    def run(s: Session, number: int) -> Sequence[Any]:
        values = {**params, "rule_ticket_number": number}
        args: Any = tuple(values[name] for name in order) if order is not None else values
        return s.connection().exec_driver_sql(sql, args).one()

    cache[texts] = (time.monotonic(), (run, good, failed))
    return run, good, failed


Test = Callable[[Evaluation], bool]
_TEXT_KINDS = frozenset({"header", "from_", "to", "cc", "subject", "body"})
_TESTS: dict[int, tuple[RuleDef, Test]] = {}


def _rule_test(rule: RuleDef) -> Test:
    """The rule's conditions as nested closures, built once per rule object.

    Walking pydantic models and dispatching by name for every message of every rule cost
    more than the database work; closures keep evaluation to plain calls.
    """
    hit = _TESTS.get(id(rule))
    if hit is not None:
        return hit[1]
    assert rule.when is not None
    zone = ZoneInfo(rule.timezone) if rule.timezone else None
    test = _compile(rule.when, zone)
    if len(_TESTS) > 4096:
        _TESTS.clear()
    _TESTS[id(rule)] = (rule, test)  # holding the rule keeps its id from being reused
    return test


def _compile(c: Condition, zone: tzinfo | None) -> Test:
    kind = c.kind
    if kind in ("all", "any"):
        children = [_compile(child, zone) for child in getattr(c, kind) or []]
        if kind == "all":  # an empty `all` is true and an empty `any` false, as in logic
            return lambda ev: all(f(ev) for f in children)
        return lambda ev: any(f(ev) for f in children)
    if kind == "not_":
        assert c.not_ is not None
        child = _compile(c.not_, zone)
        return lambda ev: not child(ev)
    if kind in _TEXT_KINDS:
        test, header = _text_test(c)
        if test.contains is not None:
            needle = test.contains.casefold()
            return lambda ev: ev.message is not None and needle in ev.message.folded(kind, header)
        pattern = patterns.compile(test.matches or "")
        return lambda ev: (
            ev.message is not None and pattern.search(ev.message.encoded(kind, header)) is not None
        )
    handler: Callable[[Evaluation, Condition, tzinfo | None], bool] = getattr(
        Evaluation, f"_c_{kind}"
    )
    return lambda ev: handler(ev, c, zone)
