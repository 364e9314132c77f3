"""Running rules: on new mail (from ingest), on a schedule (time rules), and as a dry run.

Loop protection has two parts. Rules never run because of changes rules made: only ingest
and the scheduler call `run_rules`, and actions never do. Time rules fire once per ticket per
rule, remembered as a `rule_fired` event, and again only after someone other than a rule
(an agent, a customer's mail) changed the ticket since.

Each rule's actions run in a savepoint: a rule that fails (a queue, agent or canned reply
removed since the rule was stored, a transition not allowed, a canned reply missing a
placeholder, a condition that cannot be evaluated any more) is undone alone, the rules after
it still run, and the failure is kept where people look: a `rule_failed` event on the ticket
(actor `rule:<name>`, the reason as its new value), and in what the caller returns, which
sync and import count in their summary. A time rule that keeps failing the same way on the
same ticket records that once, until the reason or the ticket changes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeGuard

from sqlalchemy import ColumnElement, and_, func, or_, select, true
from sqlmodel import Session, col

from supportdesk.desk import events, notifications
from supportdesk.desk.events import Change
from supportdesk.desk.query import Matching
from supportdesk.desk.rules import actions
from supportdesk.desk.rules.conditions import Evaluation, MessageFacts
from supportdesk.desk.rules.model import Condition, RuleDef, parse_duration
from supportdesk.desk.rules.storage import load_rules
from supportdesk.desk.sla import due
from supportdesk.errors import SupportdeskError
from supportdesk.store.models import Event, Message, MessageRaw, Queue, Ticket

if TYPE_CHECKING:
    from supportdesk.desk.ingest import IngestResult
    from supportdesk.mail.parse import ParsedMessage
    from supportdesk.store import Store

RULES_ACTOR = "system:rules"
FIRED = "rule_fired"
FAILED = "rule_failed"


@dataclass
class Fired:
    """One rule that matched one ticket, and what its actions did (or why it failed).

    `ticket` is None only for a time rule that failed before any ticket was looked at (its
    query names a queue or agent that is gone).
    """

    rule: str
    ticket: int | None
    trigger: str
    actions: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def failure(self) -> str:
        """The failure in one line, for summaries: which rule, where, why."""
        where = f" on #{self.ticket}" if self.ticket is not None else ""
        return f"rule {self.rule!r}{where}: {self.error}"


def actor_for(rule: RuleDef) -> str:
    return f"rule:{rule.name}"


def run_rules(
    session: Session,
    trigger: str,
    ticket_number: int,
    *,
    message: ParsedMessage | MessageFacts | None = None,
    now: datetime,
    change: Change,
    rules: Sequence[RuleDef] | None = None,
) -> list[Fired]:
    """Evaluate the enabled rules of `trigger` in order on one ticket and apply their actions.

    `rules` replaces the stored rules (a dry run of a file); `change` gives the batch and the
    clock of the events, each written with the rule's own actor.
    """
    rule_list = [
        r for r in (rules if rules is not None else load_rules(session, trigger)) if r.enabled
    ]
    rule_list = [r for r in rule_list if r.trigger == trigger]
    if not rule_list:
        return []
    facts = MessageFacts.from_parsed(message) if _is_parsed(message) else message
    ev = Evaluation(session, ticket_number, now, facts, rule_list)  # type: ignore[arg-type]
    guard = _TimeGuard(session, ev.ticket_id) if trigger == "time" else None
    fired: list[Fired] = []
    for rule in rule_list:
        if guard is not None and not guard.may_fire(rule.name):
            continue
        try:
            matched = ev.matches(rule)
        except SupportdeskError as exc:
            result = Fired(rule.name, ticket_number, trigger)
            fired.append(result)
            _failed(rule, ev, change, result, f"cannot evaluate its conditions: {exc}", guard)
            continue
        if not matched:
            continue
        result = Fired(rule.name, ticket_number, trigger)
        fired.append(result)
        stop = _apply(rule, ev, change, result, guard)
        ev.changed()
        if stop:
            break
    return fired


def _apply(
    rule: RuleDef, ev: Evaluation, change: Change, result: Fired, guard: _TimeGuard | None
) -> bool:
    rule_change = Change(actor=actor_for(rule), batch_id=change.batch_id, at=change.at)
    stop = False
    try:
        with ev.session.begin_nested():
            for action in rule.actions:
                outcome = actions.apply(action, ev, rule_change)
                result.actions.append(outcome.text)
                if outcome.changed:
                    ev.changed()
                if outcome.stop:
                    stop = True
                    break
            events.record(ev.session, ev.ticket(), FIRED, rule_change, new=rule.name)
    except SupportdeskError as exc:
        ev.changed()  # the savepoint took the rule's changes back: read the ticket again
        _failed(rule, ev, change, result, str(exc), guard)
        result.actions.append("undone: " + str(exc))
        return False
    return stop


def _failed(
    rule: RuleDef,
    ev: Evaluation,
    change: Change,
    result: Fired,
    reason: str,
    guard: _TimeGuard | None,
) -> None:
    """Keep a rule's failure on the ticket, where history and the console show it."""
    result.error = reason
    if guard is not None and guard.failed_before(rule.name, reason):
        return
    rule_change = Change(actor=actor_for(rule), batch_id=change.batch_id, at=change.at)
    events.record(ev.session, ev.ticket(), FAILED, rule_change, new=reason)


class _TimeGuard:
    """Which time rules may fire on one ticket, and which failures it already shows.

    A time rule fires once: again only after a change since by someone other than a rule
    or an undo (taking back what a rule did must not make it do it again at the next run).
    """

    def __init__(self, session: Session, ticket_id: int) -> None:
        rows = session.execute(
            select(col(Event.id), col(Event.action), col(Event.actor), col(Event.new_value))
            .where(col(Event.ticket_id) == ticket_id, col(Event.action).in_((FIRED, FAILED)))
            .order_by(col(Event.id))
        ).all()
        self._fired = {new: id_ for id_, action, _, new in rows if action == FIRED}
        self._failed = {actor: (id_, new) for id_, action, actor, new in rows if action == FAILED}
        self._other = (
            session.execute(
                select(func.max(col(Event.id))).where(
                    col(Event.ticket_id) == ticket_id,
                    col(Event.actor).not_like("rule:%"),
                    col(Event.actor).not_like("undo:%"),
                )
            ).scalar()
            or 0
        )

    def may_fire(self, name: str) -> bool:
        return name not in self._fired or self._fired[name] < self._other

    def failed_before(self, name: str, reason: str) -> bool:
        """Whether the ticket already shows this failure, with nothing changed since."""
        last = self._failed.get(f"rule:{name}")
        return last is not None and last[1] == reason and last[0] > self._other


def _is_parsed(message: object) -> TypeGuard[ParsedMessage]:
    return message is not None and not isinstance(message, MessageFacts)


def run_time_rules(
    session: Session,
    now: datetime,
    *,
    change: Change | None = None,
    rules: Sequence[RuleDef] | None = None,
    warn_seconds: int = notifications.SLA_WARNING_SECONDS,
) -> list[Fired]:
    """The scheduled run: every time rule over the tickets it could match, one batch.
    `warn_seconds` ahead of a due time its agent is warned (`[sla] warn_minutes`)."""
    change = change or Change.by(RULES_ACTOR, at=now)
    due.sweep(session, now)  # the scheduled run is also when passed due times are flagged
    notifications.warn_due(session, now, warn_seconds)  # and agents hear what is about to be
    rule_list = [
        r
        for r in (rules if rules is not None else load_rules(session, "time"))
        if r.enabled and r.trigger == "time"
    ]
    if not rule_list:
        return []
    fired: list[Fired] = []
    numbers = _candidates(session, rule_list, now, fired)
    broken = {f.rule for f in fired}
    rule_list = [r for r in rule_list if r.name not in broken]
    for number in numbers:
        fired.extend(run_rules(session, "time", number, now=now, change=change, rules=rule_list))
    return fired


def _candidates(
    session: Session, rules: Sequence[RuleDef], now: datetime, failures: list[Fired]
) -> list[int]:
    """Ticket numbers any rule could match: its top-level query and age, done in SQL.

    A rule whose top-level query no longer compiles fails here, once for the run, rather
    than on every ticket (it would otherwise add an event to each one at every run).
    """
    per_rule = []
    for rule in rules:
        parts = []
        top = rule.when.all if rule.when is not None and rule.when.all is not None else None
        try:
            for c in top if top is not None else ([rule.when] if rule.when else []):
                parts.extend(_prefilter(c, session, now))
        except SupportdeskError as exc:
            reason = f"cannot evaluate its conditions: {exc}"
            failures.append(Fired(rule.name, None, "time", error=reason))
            continue
        per_rule.append(and_(*parts) if parts else true())
    if not per_rule:
        return []
    stmt = (
        select(col(Ticket.number))
        .where(
            col(Ticket.status) != "closed",
            col(Ticket.merged_into_id).is_(None),
            or_(*per_rule),
        )
        .order_by(col(Ticket.number))
    )
    return list(session.execute(stmt).scalars())


def _prefilter(c: Condition, session: Session, now: datetime) -> list[ColumnElement[bool]]:
    if c.query is not None:
        return [Matching(session, c.query, me=None, now=now).where(whole_set=True)]
    if c.since is not None and c.since.event == "created" and c.since.more_than:
        return [col(Ticket.created_at) < now - parse_duration(c.since.more_than)]
    return []


def apply_ingest_rules(
    session: Session,
    result: IngestResult,
    parsed: ParsedMessage,
    now: datetime,
    change: Change | None = None,
    rules: Sequence[RuleDef] | None = None,
) -> list[Fired]:
    """The ingest hook: new tickets run `new_ticket` rules, customer mail `customer_message`.

    `rules` lets a batch read the rule set once instead of once per message.

    Outgoing mail (from our agents or our own addresses) and duplicates run nothing. Robots
    do run rules (the `robot` condition lets a rule file them), but never get a canned reply.
    """
    if result.ticket_number is None or result.outcome == "duplicate":
        return []
    trigger = (
        "new_ticket" if result.outcome in ("new_ticket", "quarantined") else "customer_message"
    )
    mailbox: str | None = None
    if result.message_id is not None:
        row = session.execute(
            select(
                col(Message.mailbox), col(Message.author_agent_id), col(Message.direction)
            ).where(col(Message.id) == result.message_id)
        ).first()
        if row is not None:
            if row.author_agent_id is not None or row.direction == "out":
                return []
            mailbox = row.mailbox
    facts = MessageFacts.from_parsed(parsed, mailbox=mailbox)
    change = change or Change.by(RULES_ACTOR, at=now)
    fired = run_rules(
        session, trigger, result.ticket_number, message=facts, now=now, change=change, rules=rules
    )
    if result.outcome == "new_ticket":
        fired.extend(_acknowledge(session, result.ticket_number, facts, now, change))
    return fired


def acknowledges(session: Session) -> bool:
    """Whether any queue acknowledges new tickets (so ingest must call the hook)."""
    return bool(
        session.execute(
            select(func.count()).select_from(Queue).where(col(Queue.acknowledge_with).is_not(None))
        ).scalar()
    )


def _acknowledge(
    session: Session, number: int, facts: MessageFacts, now: datetime, change: Change
) -> list[Fired]:
    """The queue's acknowledgement of a new ticket (after the rules, which may move it)."""
    ev = Evaluation(session, number, now, facts, [])
    ack_change = Change(actor="system:acknowledge", batch_id=change.batch_id, at=change.at)
    result = Fired("acknowledgement", number, "new_ticket")
    try:
        with session.begin_nested():
            outcome = actions.acknowledge(ev, ack_change)
    except SupportdeskError as exc:
        result.error = str(exc)
        result.actions.append("undone: " + str(exc))
        return [result]
    if outcome is None:
        return []
    result.actions.append(outcome.text)
    return [result]


@contextmanager
def rollback_session(store: Store) -> Iterator[Session]:
    """A writer session that is always rolled back: dry runs change nothing."""
    with store.engine.connect() as conn:
        conn.info["writer"] = True
        session = Session(bind=conn, expire_on_commit=False)
        session.info.update(store.info)
        try:
            yield session
        finally:
            session.rollback()
            session.close()
            conn.info["writer"] = False


def dry_run(
    store: Store,
    rules: Sequence[RuleDef],
    *,
    window: timedelta,
    now: datetime,
    warn_seconds: int = notifications.SLA_WARNING_SECONDS,
) -> list[Fired]:
    """What `rules` would have done to tickets and mail of the last `window`, nothing kept.

    Mail rules see each message with the ticket as it is now (its state back then is not
    kept); time rules run once, at `now`, over the tickets updated within the window, with
    the scheduled run's SLA warning window (`warn_seconds`, `[sla] warn_minutes`).
    """
    start = now - window
    change = Change.by(RULES_ACTOR, at=now)
    fired: list[Fired] = []
    with rollback_session(store) as session:
        for trigger in ("new_ticket", "customer_message"):
            chosen = [r for r in rules if r.trigger == trigger]
            if not chosen:
                continue
            for message, raw, number in _window_messages(session, start, trigger):
                facts = MessageFacts.from_row(message, raw)
                fired.extend(
                    run_rules(
                        session,
                        trigger,
                        number,
                        message=facts,
                        now=now,
                        change=change,
                        rules=chosen,
                    )
                )
        timed = [r for r in rules if r.trigger == "time"]
        if timed:
            recent = {
                n
                for n in session.execute(
                    select(col(Ticket.number)).where(col(Ticket.updated_at) >= start)
                ).scalars()
            }
            for f in run_time_rules(
                session, now, change=change, rules=timed, warn_seconds=warn_seconds
            ):
                if f.ticket in recent:
                    fired.append(f)
    return fired


def _window_messages(
    session: Session, start: datetime, trigger: str
) -> Iterator[tuple[Message, bytes | None, int]]:
    """Incoming customer mail since `start`: first messages for new tickets, the rest else."""
    first = (
        select(func.min(col(Message.id)))
        .where(col(Message.ticket_id) == col(Ticket.id))
        .correlate(Ticket)
        .scalar_subquery()
    )
    is_first = col(Message.id) == first
    stmt = (
        select(Message, col(MessageRaw.raw), col(Ticket.number))
        .join(Ticket, col(Ticket.id) == col(Message.ticket_id))
        .outerjoin(MessageRaw, col(MessageRaw.message_id) == col(Message.id))
        .where(
            col(Message.direction) == "in",
            col(Message.received_at) >= start,
            col(Message.author_agent_id).is_(None),
            is_first if trigger == "new_ticket" else ~is_first,
        )
        .order_by(col(Message.id))
    )
    yield from session.execute(stmt).all()
