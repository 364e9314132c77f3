"""Undo a batch: every change one command (or rule run, or console action) made, taken back.

This is the one undo of the domain layer. It reads only the events table: each event holds
the old value it replaced and the ticket version right after it, so

- a ticket whose version is not the one on the batch's last event for it was changed since:
  undo refuses, lists those tickets and changes nothing (there is no --force; redo the
  later change's undo first, or change the ticket by hand). Changes since that only add
  to the record (notes, messages, rule records: see `is_kept`) do not count: a note added
  after an assignment does not pin the assignment;
- what is not a field change stays, and the rest of the batch is reversed: notes (and
  their edits), messages, ticket creation, a rule's `rule_fired` / `rule_failed` /
  `canned_reply` records. So the changes rules made while mail came in can be undone,
  the mail itself stays. A batch holding a merge (or anything this module does not know)
  is refused, naming it; a batch holding nothing to reverse is refused as "nothing to undo";
- the reversal is itself a batch (actor `undo:<batch>`), so an undo can be undone.

Faces call `undo_batch` (a named batch) or `undo_latest` (the actor's most recent batch
that can be undone, found by `latest_undoable`); `UndoResult.describe()` says in one line
what was taken back.

It is set-based like desk.bulk, and the events never travel to Python: per field, one
INSERT ... SELECT writes the reversing events from the batch's own (the value before its
first change of that field on each ticket, the value after its last), then one UPDATE per
distinct value to go back to reads its tickets from those new events. Taking back a
100,000-ticket reassignment is a few dozen statements, not 100,000 round trips.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Text, and_, case, cast, func, literal, or_, select, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from supportdesk.desk import bulk, history
from supportdesk.desk.events import Change, insert_selected, select_rows
from supportdesk.desk.sla import due
from supportdesk.desk.statuses import status_values
from supportdesk.errors import ConflictError, NotFoundError, ValidationError
from supportdesk.i18n import N_, _, ngettext
from supportdesk.store.models import Agent, Event, Queue, Ticket, TicketTag, table_of

FIELDS = {
    "assign": "assignee_id",
    "unassign": "assignee_id",
    "queue": "queue_id",
    "priority": "priority",
    "status": "status",
}
TAGS = ("tag", "untag")
UNDOABLE = frozenset(FIELDS) | frozenset(TAGS)
# Events that record something rather than change a field: undo leaves them (and what they
# record) in place. Any action starting "note", "message_" or "mail_" (the outbox's records)
# is one too (see `is_kept`).
KEPT = frozenset({"create", "rule_fired", "rule_failed", "canned_reply"})
_KEPT_PREFIXES = ("note", "message_", "mail_")
_SHOWN_LIMIT = 20


def is_kept(action: str) -> bool:
    """Whether undo leaves events of `action` standing: notes (note, note_edit, ...),
    messages, ticket creation and rules' records. They neither block nor get reversed."""
    return action in KEPT or action.startswith(_KEPT_PREFIXES)


def _kept_actions() -> Any:
    """SQL: the event is one that `is_kept` leaves standing."""
    return or_(
        col(Event.action).in_(KEPT), *(col(Event.action).startswith(p) for p in _KEPT_PREFIXES)
    )


@dataclass(frozen=True)
class UndoResult:
    batch_id: str
    """The new batch that holds the reversal."""
    undone: str
    tickets: int
    events: int
    actor: str = ""
    """Who made the batch that was undone (several, comma-separated), and when it started."""
    started_at: datetime | None = None
    held: dict[str, int] = field(default_factory=dict)
    """Every event of the undone batch, per action: what it held."""
    kept: dict[str, int] = field(default_factory=dict)
    """The part of `held` that stays (notes, messages, rule records)."""
    replies_cancelled: int = 0
    """Replies of the batch still waiting in the outbox, cancelled with the undo."""
    replies_sent: int = 0
    """Replies of the batch already handed to the server: mail cannot be called back."""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def describe(self) -> str:
        """One line for a person: which batch, what it held, when, and what happened."""
        held = ", ".join(f"{n} {a}" for a, n in sorted(self.held.items()))
        when = (
            _(" at {time}").format(time=f"{self.started_at:%Y-%m-%d %H:%M:%S}")
            if self.started_at
            else ""
        )
        by = _(" by {actor}").format(actor=self.actor) if self.actor else ""
        line = _(
            "undone batch {undone} ({held}{by}{when}): {events} change(s) on "
            "{tickets} ticket(s) reversed as batch {batch}"
        ).format(
            undone=self.undone,
            held=held,
            by=by,
            when=when,
            events=self.events,
            tickets=self.tickets,
            batch=self.batch_id,
        )
        if self.kept:
            kept = ", ".join(f"{n} {a}" for a, n in sorted(self.kept.items()))
            line += _("; kept: {kept}").format(kept=kept)
        if n := self.replies_cancelled:
            line += ngettext(
                "; {count} queued reply cancelled", "; {count} queued replies cancelled", n
            ).format(count=n)
        if n := self.replies_sent:
            line += ngettext(
                "; {count} reply was already handed to the mail server",
                "; {count} replies were already handed to the mail server",
                n,
            ).format(count=n)
        return line


def _check_kind(summary: history.BatchSummary) -> dict[str, int]:
    """What of the batch stays; refuses a batch undo cannot take back at all."""
    batch = summary.batch_id
    kept = {a: n for a, n in summary.actions.items() if is_kept(a)}
    permanent = {a: n for a, n in summary.actions.items() if a not in UNDOABLE and a not in kept}
    if permanent:
        listed = ", ".join(f"{n} {a}" for a, n in sorted(permanent.items()))
        raise ValidationError(
            _(
                "batch {batch} cannot be undone: it holds {listed} event(s); "
                "merges cannot be undone; nothing was changed"
            ).format(batch=batch, listed=listed)
        )
    if not summary.actions.keys() & UNDOABLE:
        listed = ", ".join(f"{n} {a}" for a, n in sorted(kept.items()))
        raise ValidationError(
            _(
                "nothing to undo in batch {batch}: it holds only {listed}, "
                "which stay (notes, messages and rules' records are not "
                "taken back)"
            ).format(batch=batch, listed=listed)
        )
    return kept


def latest_undoable(
    session: Session, actor: str, *, window: int = 50
) -> history.BatchSummary | None:
    """The most recent batch by `actor` that undo can take back, not undone yet.

    What a plain `supportdesk undo` and the console's `u` take back: batches holding only
    notes (or other kept events) and merges are stepped over, so the one after a note is
    the change before it. Walks back from the newest event by primary key, a batch at a
    time, at most `window` batches (there is no index on actor).
    """
    before: int | None = None
    for __ in range(window):
        stmt = select(col(Event.batch_id)).where(col(Event.actor) == actor)
        if before is not None:
            stmt = stmt.where(col(Event.id) < before)
        batch = session.execute(stmt.order_by(col(Event.id).desc()).limit(1)).scalar()
        if batch is None:
            return None
        summary = history.batch_summary(session, batch)
        if summary is not None and history.undone_by(session, batch) is None:
            try:
                _check_kind(summary)
            except ValidationError:
                pass
            else:
                return summary
        before = session.execute(
            select(func.min(Event.id)).where(col(Event.batch_id) == batch)
        ).scalar_one()
    return None


def undo_latest(session: Session, actor: str, *, at: datetime | None = None) -> UndoResult:
    """Undo `actor`'s most recent undoable batch (see `latest_undoable`), or say there is none."""
    summary = latest_undoable(session, actor)
    if summary is None:
        raise NotFoundError(
            _("nothing to undo: no changes by {actor} left to undo").format(actor=actor)
        )
    return _undo(session, summary, at)


def undo_batch(session: Session, batch: str, *, at: datetime | None = None) -> UndoResult:
    """Reverse every field change of `batch`, all or nothing, as one new batch.

    Notes, messages and rules' records in it stay (see `is_kept`).
    """
    summary = history.batch_summary(session, batch)
    if summary is None:
        raise NotFoundError(_("no batch {batch}").format(batch=batch))
    return _undo(session, summary, at)


def _undo(session: Session, summary: history.BatchSummary, at: datetime | None) -> UndoResult:
    """undo_batch once the batch is summed up: each step below reads only the fields and
    kinds of event the summary says the batch holds (each pass over a 100,000-event batch
    costs tens of milliseconds)."""
    batch = summary.batch_id
    kept = _check_kind(summary)
    change = Change.by(f"undo:{batch}", at=at).pinned()
    single = summary.events == summary.tickets  # one event per ticket
    _check_unchanged(session, batch, single=single)
    first_event = session.execute(
        select(func.min(Event.id)).where(col(Event.batch_id) == batch)
    ).scalar_one()
    mine = col(Event.batch_id) == change.batch_id
    groups = [g for g in _FIELD_GROUPS if summary.actions.keys() & set(g[1])]
    if (
        single
        and len(groups) == 1
        and groups[0][0] in _DIRECT
        and not summary.actions.keys() & set(TAGS)
        and session.get_bind().dialect.name == "postgresql"
    ):
        written = _reverse_and_apply(session, batch, groups[0], change)
    else:
        # Every reversing event is written before any ticket changes: each records the
        # ticket's version + 1, which must be read before the first UPDATE bumps it.
        for group in groups:
            _reverse_field(session, batch, group, change, single=single)
        if summary.actions.keys() & set(TAGS):
            _reverse_tags(session, batch, change)
        written = _written(session, change.batch_id)
        for group in groups:
            if written.keys() & set(group[1]):
                _apply_field(session, group, change.batch_id, first_event, change.now())
    if summary.restorable:
        _restore_update_times(session, batch)
    due_fields = ("status", "priority", "queue")
    if written.keys() & set(due_fields):  # only where a field a due time follows came back
        due.refresh(
            session,
            col(Ticket.id).in_(
                select(col(Event.ticket_id))
                .where(mine, col(Event.action).in_(due_fields))
                .scalar_subquery()
            ),
            change.now(),
        )
    fields = {_KIND.get(action, action) for action in written}
    if not written.keys() & set(TAGS) and len(fields) <= 1:
        # one field, no tags: an event per ticket, every version already written
        events = sum(written.values())
        replies = _cancel_replies(session, summary, change)
        return _result(session, summary, change.batch_id, events, events, kept, *replies)
    _apply_tags(session, change.batch_id)
    bumped = (
        select(col(Event.ticket_id), func.max(Event.version).label("version"))
        .where(mine)
        .group_by(col(Event.ticket_id))
        .subquery("bumped")
    )
    session.execute(  # tickets whose only changes were tags
        update(table_of(Ticket))
        .where(col(Ticket.id) == bumped.c.ticket_id, col(Ticket.version) != bumped.c.version)
        .values(version=bumped.c.version)
    )
    tickets, events = session.execute(
        select(func.count(func.distinct(Event.ticket_id)), func.count()).where(mine)
    ).one()
    replies = _cancel_replies(session, summary, change)
    return _result(session, summary, change.batch_id, int(tickets), int(events), kept, *replies)


def _cancel_replies(
    session: Session, summary: history.BatchSummary, change: Change
) -> tuple[int, int]:
    """Cancel the batch's replies that still wait in the outbox (a rule's canned reply, a
    reply sent with a status): undoing the change must not leave its mail going out.

    Returns (cancelled, already handed over). The messages stay in the thread, marked
    cancelled; the cancel events join the undo's batch as records (`is_kept`), after the
    reversal and carrying the tickets' new versions (the ORM's copies are stale after the
    set-based UPDATEs, hence the expiry).
    """
    if "message_out" not in summary.actions:
        return 0, 0
    from supportdesk.desk import outbox
    from supportdesk.store.models import OutboxItem

    batch = summary.batch_id
    ids = select(cast(col(Event.new_value), Integer)).where(
        col(Event.batch_id) == batch, col(Event.action) == "message_out"
    )
    rows = session.execute(
        select(col(OutboxItem.id), col(OutboxItem.state)).where(col(OutboxItem.message_id).in_(ids))
    ).all()
    cancelled = sent = 0
    if rows:
        session.expire_all()
    for item_id, state in rows:
        if state in ("queued", "failed"):
            outbox.cancel(session, item_id, change)
            cancelled += 1
        elif state != "cancelled":
            sent += 1
    return cancelled, sent


def _result(
    session: Session,
    summary: history.BatchSummary,
    undo: str,
    tickets: int,
    events: int,
    kept: dict[str, int],
    replies_cancelled: int = 0,
    replies_sent: int = 0,
) -> UndoResult:
    return UndoResult(
        batch_id=undo,
        undone=summary.batch_id,
        tickets=tickets,
        events=events,
        actor=", ".join(summary.actors[:6]),  # a rule batch: one actor per rule that acted
        started_at=summary.started_at,
        held=dict(summary.actions),
        kept=kept,
        replies_cancelled=replies_cancelled,
        replies_sent=replies_sent,
    )


_KIND = {"assign": "assignee_id", "unassign": "assignee_id"}
"""Actions that change the same field, by that field (others are their own kind)."""


def _written(session: Session, undo: str) -> dict[str, int]:
    """Reversing events written so far, per action.

    Counted, not taken from INSERT ... SELECT rowcounts: with psycopg those come back -1.
    """
    return {
        action: int(n)
        for action, n in session.execute(
            select(col(Event.action), func.count())
            .where(col(Event.batch_id) == undo)
            .group_by(col(Event.action))
        )
    }


_FIELD_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("status", ("status",)),
    ("priority", ("priority",)),
    ("queue_id", ("queue",)),
    ("assignee_id", ("assign", "unassign")),
)


_DIRECT = ("priority", "queue_id", "assignee_id")
"""Fields whose old value goes back as it is (or as the id of the agent or queue it names):
`_reverse_and_apply` takes them back in one statement on PostgreSQL."""


def _reverse_and_apply(
    session: Session, batch: str, group: tuple[str, tuple[str, ...]], change: Change
) -> dict[str, int]:
    """PostgreSQL, a batch of one event per ticket on one field: the UPDATE putting each old
    value back feeds the INSERT of its reversing event, one statement; returns the events
    written per action (what `_written` counts).

    The tickets are locked already (`_check_unchanged`), so the version the UPDATE returns
    is the one each event must record. Written as the other path does (events, then one
    UPDATE reading them back), the 100,000 tickets and events of a bulk change were joined
    and scanned twice.
    """
    name, actions = group
    event = aliased(Event)
    back = col(event.old_value)
    mine = and_(
        col(event.batch_id) == batch,
        col(event.action).in_(actions),
        back.is_distinct_from(event.new_value),
    )
    if name in ("assignee_id", "queue_id"):
        model, key, what = (
            (Agent, col(Agent.handle), N_("agent"))
            if name == "assignee_id"
            else (Queue, col(Queue.name), N_("queue"))
        )
        for shown in session.execute(select(back).where(mine).distinct()).scalars():
            _lookup(session, model.id, key, shown, what)  # refuse if it no longer exists
        source = select(
            col(event.id), col(event.ticket_id), back, col(event.new_value), col(model.id)
        ).outerjoin(model, key == back)
    else:
        source = select(
            col(event.id), col(event.ticket_id), back, col(event.new_value), back.label("value")
        )
    rows = source.where(mine).subquery("source")
    changed = (
        update(table_of(Ticket))
        .where(col(Ticket.id) == rows.c.ticket_id)
        .values({name: rows.c[4], "version": Ticket.version + 1})
        .returning(
            col(Ticket.id),
            col(Ticket.version),
            rows.c.id.label("event_id"),
            rows.c.old_value.label("back"),
            rows.c.new_value.label("now"),
        )
        .cte("changed")
    )
    action: Any = literal(actions[0])
    if name == "assignee_id":
        action = case((changed.c.back.is_(None), "unassign"), else_="assign")
    written = (
        insert_selected(
            select_rows(
                change,
                ticket_id=changed.c.id,
                version=changed.c.version,
                action=action,
                old=changed.c.now,
                new=changed.c.back,
            ).order_by(changed.c.event_id.desc())
        )
        .returning(col(Event.action))
        .cte("written")
    )
    counts = session.execute(
        select(written.c.action, func.count()).group_by(written.c.action)
    ).all()
    return {str(action): int(n) for action, n in counts}


def _reverse_field(
    session: Session,
    batch: str,
    group: tuple[str, tuple[str, ...]],
    change: Change,
    *,
    single: bool = False,
) -> None:
    """Write the reversing events of one field: current value back to the value before.

    `single`: the batch holds one event per ticket (a bulk change of one field), so each
    ticket's first and last event are one row, read straight from the batch, no grouping.
    """
    name, actions = group
    ticket_id: Any
    order: Any
    if single:
        first = last = aliased(Event)
        ticket_id, order = col(first.ticket_id), col(first.id).desc()
    else:
        spans = (
            select(
                col(Event.ticket_id),
                func.min(Event.id).label("first_id"),
                func.max(Event.id).label("last_id"),
            )
            .where(col(Event.batch_id) == batch, col(Event.action).in_(actions))
            .group_by(col(Event.ticket_id))
            .subquery("spans")
        )
        first = aliased(Event)
        last = aliased(Event)
        ticket_id, order = spans.c.ticket_id, spans.c.first_id.desc()
    if name == "assignee_id":
        action: Any = case((col(first.old_value).is_(None), "unassign"), else_="assign")
    else:
        action = literal(actions[0])
    rows = select_rows(
        change,
        ticket_id=ticket_id,
        version=Ticket.version + 1,
        action=action,
        old=last.new_value,
        new=first.old_value,
    )
    if single:
        rows = rows.select_from(first).where(
            col(first.batch_id) == batch, col(first.action).in_(actions)
        )
    else:
        rows = (
            rows.select_from(spans)
            .join(first, first.id == spans.c.first_id)  # type: ignore[arg-type]
            .join(last, last.id == spans.c.last_id)  # type: ignore[arg-type]
        )
    rows = (
        rows.join(Ticket, col(Ticket.id) == ticket_id)
        .where(col(first.old_value).is_distinct_from(last.new_value))
        .order_by(order)
    )
    session.execute(insert_selected(rows))


def _apply_field(
    session: Session,
    group: tuple[str, tuple[str, ...]],
    undo: str,
    first_event: int,
    now: datetime,
) -> None:
    """Set the field from the reversing events, with the version they recorded.

    UPDATE ... FROM the events (both SQLite and PostgreSQL have it): the row, its indexes
    and its version are written once per ticket, where separate updates of the field and
    of the version cost a second pass over 100,000 rows.
    """
    name, actions = group
    mine = and_(col(Event.batch_id) == undo, col(Event.action).in_(actions))
    shown = list(session.execute(select(col(Event.new_value)).where(mine).distinct()).scalars())
    if not shown:
        return
    if name in ("assignee_id", "queue_id"):
        model, key, what = (
            (Agent, col(Agent.handle), N_("agent"))
            if name == "assignee_id"
            else (Queue, col(Queue.name), N_("queue"))
        )
        for value in shown:
            _lookup(session, model.id, key, value, what)  # refuse if it no longer exists
        source = (
            select(col(Event.ticket_id), col(Event.version), col(model.id).label("value"))
            .outerjoin(model, key == col(Event.new_value))
            .where(mine)
            .subquery("source")
        )
        _update_from(session, source, {name: source.c.value})
        return
    for value in shown:
        source = (
            select(col(Event.ticket_id), col(Event.version))
            .where(mine, col(Event.new_value) == value)
            .subquery("source")
        )
        values = (
            _status_values(value or "new", first_event, now) if name == "status" else {name: value}
        )
        _update_from(session, source, values)


def _update_from(session: Session, source: Any, values: dict[str, Any]) -> None:
    """UPDATE tickets FROM `source` (ticket_id, version, ...): `values` and the new version."""
    session.execute(
        update(table_of(Ticket))
        .where(col(Ticket.id) == source.c.ticket_id)
        .values({**values, "version": source.c.version})
    )


def _restore_update_times(session: Session, batch: str) -> None:
    """Put "last updated" back to what the batch's first change on each ticket replaced.

    Only where nothing touched the ticket since (its update time is still no later than the
    batch's last change to it): a note or a message after the batch stays the latest
    activity. Events that do not know the time they replaced (bulk changes, which leave it
    alone, and events from before revision 0004) put nothing back.
    """
    spans = (
        select(
            col(Event.ticket_id),
            func.min(Event.old_updated_at).label("restore"),
            func.max(Event.created_at).label("stamped"),
        )
        .where(col(Event.batch_id) == batch, col(Event.old_updated_at).is_not(None))
        .group_by(col(Event.ticket_id))
        .subquery("spans")
    )
    session.execute(
        update(table_of(Ticket))
        .where(col(Ticket.id) == spans.c.ticket_id, col(Ticket.updated_at) <= spans.c.stamped)
        .values(updated_at=spans.c.restore)
    )


def _reverse_tags(session: Session, batch: str, change: Change) -> None:
    """Reversing events for tags: per ticket and tag, only where the batch left a difference.

    Tag events alternate (a tag can only be removed once it is there), so the batch changed
    a ticket's tag exactly when its first and last event for that tag are the same action.
    """
    name = func.coalesce(Event.new_value, Event.old_value)
    spans = (
        select(
            col(Event.ticket_id),
            name.label("tag"),
            func.min(Event.id).label("first_id"),
            func.max(Event.id).label("last_id"),
        )
        .where(col(Event.batch_id) == batch, col(Event.action).in_(TAGS))
        .group_by(col(Event.ticket_id), name)
        .subquery("spans")
    )
    first = aliased(Event)
    last = aliased(Event)
    added = col(first.action) == "tag"
    rows = (
        select_rows(
            change,
            ticket_id=spans.c.ticket_id,
            version=Ticket.version + 1,
            action=case((added, "untag"), else_="tag"),
            old=case((added, spans.c.tag), else_=None),
            new=case((added, None), else_=spans.c.tag),
        )
        .select_from(spans)
        .join(first, first.id == spans.c.first_id)  # type: ignore[arg-type]
        .join(last, last.id == spans.c.last_id)  # type: ignore[arg-type]
        .join(Ticket, col(Ticket.id) == spans.c.ticket_id)
        .where(col(first.action) == col(last.action))
        .order_by(spans.c.first_id.desc())
    )
    session.execute(insert_selected(rows))


def _apply_tags(session: Session, undo: str) -> None:
    mine = col(Event.batch_id) == undo
    pairs = session.execute(
        select(col(Event.action), func.coalesce(Event.new_value, Event.old_value))
        .where(mine, col(Event.action).in_(TAGS))
        .distinct()
    ).all()
    for action, tag in pairs:
        tag_id = bulk.tag_id(session, tag, create=action == "tag")
        if tag_id is None:
            continue
        if action == "tag":
            tickets = select(col(Event.ticket_id), literal(tag_id)).where(
                mine, col(Event.action) == "tag", col(Event.new_value) == tag
            )
            session.execute(
                table_of(TicketTag).insert().from_select(["ticket_id", "tag_id"], tickets)
            )
        else:
            untagged = select(col(Event.ticket_id)).where(
                mine, col(Event.action) == "untag", col(Event.old_value) == tag
            )
            session.execute(
                table_of(TicketTag)
                .delete()
                .where(col(TicketTag.tag_id) == tag_id, col(TicketTag.ticket_id).in_(untagged))
            )


def _check_unchanged(session: Session, batch: str, *, single: bool = False) -> None:
    """Refuse if any ticket of the batch has really moved on since.

    A ticket whose version is past the batch's last event for it changed since, unless
    everything since cancels out: batches that were each undone afterwards (undoing the
    last three commands one after another is the everyday case, and each of those undos
    bumped versions). See `_cancels_out`.

    On PostgreSQL the rows are locked first, so nobody slips a change in between this check
    and the reversal; on SQLite the write transaction already holds the database lock.
    """
    reversed_tickets = select(col(Event.ticket_id)).where(
        col(Event.batch_id) == batch, col(Event.action).in_(UNDOABLE)
    )
    if single:  # one event per ticket: it is the last one
        last = (
            select(col(Event.ticket_id), col(Event.version), col(Event.id).label("last_id"))
            .where(col(Event.batch_id) == batch, col(Event.action).in_(UNDOABLE))
            .subquery("last")
        )
    else:
        last = (
            select(
                col(Event.ticket_id),
                func.max(Event.version).label("version"),
                func.max(Event.id).label("last_id"),
            )
            .where(col(Event.batch_id) == batch, col(Event.ticket_id).in_(reversed_tickets))
            .group_by(col(Event.ticket_id))
            .subquery("last")
        )
    stmt = select(
        col(Ticket.id), col(Ticket.number), last.c.last_id, col(Ticket.version), last.c.version
    ).join(last, last.c.ticket_id == Ticket.id)
    if session.get_bind().dialect.name == "postgresql":
        # In id order, as desk.bulk locks: two sessions never wait on each other crosswise.
        # Every row is locked, only the moved ones come back: a 100,000-ticket batch's rows
        # sent to the client only to be compared there cost a third of a second.
        locked = (
            stmt.order_by(col(Ticket.id))
            .with_for_update(of=table_of(Ticket))
            .cte("locked")
            .prefix_with("MATERIALIZED")
        )
        stmt = select(*locked.c).where(locked.c.version != locked.c[4])
    else:
        stmt = stmt.where(col(Ticket.version) != last.c.version)
    suspects = {
        ticket_id: (number, last_id)
        for ticket_id, number, last_id, version, recorded in session.execute(stmt)
        if version != recorded
    }
    since = _later_batches(session, {t: last_id for t, (_, last_id) in suspects.items()})
    undoers = {b for later in since.values() for b, a in later.items() if a == f"undo:{batch}"}
    if undoers:
        later = min(undoers)
        raise ConflictError(
            _(
                "batch {batch} was already undone by batch {later} "
                "(`supportdesk undo {later}` redoes it); nothing was changed"
            ).format(batch=batch, later=later)
        )
    moved = sorted(suspects[t][0] for t, later in since.items() if not _cancels_out(later))
    if moved:
        shown = ", ".join(f"#{n}" for n in moved[:_SHOWN_LIMIT])
        more = (
            _(" and {count} more").format(count=len(moved) - _SHOWN_LIMIT)
            if len(moved) > _SHOWN_LIMIT
            else ""
        )
        raise ConflictError(
            _(
                "cannot undo batch {batch}: {count} ticket(s) changed since: "
                "{shown}{more}; nothing was undone"
            ).format(batch=batch, count=len(moved), shown=shown, more=more)
        )


def _later_batches(session: Session, suspects: dict[int, int]) -> dict[int, dict[str, str]]:
    """For each suspect (ticket id -> the batch's last event id on it): batch -> actor since.

    Only tickets whose version moved are read, through the (ticket, id) index, so the usual
    case (nothing changed since) costs nothing, and "already undone" is found here too: an
    undo bumps the versions of the tickets it touches. Kept events (a note, a message) are
    not changes of what undo restores and are left out.
    """
    since: dict[int, dict[str, str]] = {t: {} for t in suspects}
    if not suspects:
        return since
    after = min(suspects.values())
    for chunk in bulk.chunks(session, list(suspects)):
        stmt = select(
            col(Event.ticket_id), col(Event.id), col(Event.batch_id), col(Event.actor)
        ).where(
            bulk.among(session, chunk, col(Event.ticket_id)),
            col(Event.id) > after,
            ~_kept_actions(),
        )
        for ticket_id, event_id, batch_id, actor in session.execute(stmt):
            if event_id > suspects[ticket_id]:
                since[ticket_id][batch_id] = actor
    return since


def _cancels_out(batches: dict[str, str]) -> bool:
    """Whether these batches (id -> actor) pair off as batch + its undo, leaving nothing.

    Each batch is undone at most once, so undo links form chains (B, undo of B, undo of that
    ...). A chain of even length is net nothing; an odd one leaves a change standing, such
    as a redo.
    """
    undoes = {
        b: actor.removeprefix("undo:")
        for b, actor in batches.items()
        if actor.startswith("undo:") and actor.removeprefix("undo:") in batches
    }
    undone = {target: b for b, target in undoes.items()}
    for start in batches:
        if start in undoes:
            continue  # not the head of its chain
        length, node = 1, start
        while node in undone:
            node = undone[node]
            length += 1
        if length % 2:
            return False
    return True


def _lookup(
    session: Session, id_column: Any, name_column: Any, shown: str | None, what: str
) -> int | None:
    if shown is None:
        return None
    found = session.execute(select(id_column).where(name_column == shown)).scalar_one_or_none()
    if found is None:
        raise NotFoundError(
            _(
                "cannot undo: {what} {shown!r} no longer exists to go back to; nothing was undone"
            ).format(what=_(what), shown=shown)
        )
    return found


def _status_values(status: str, first_event_id: int, now: datetime) -> dict[str, Any]:
    """Status and its timestamps as they were before the batch.

    Events keep only the status, so going back to solved or closed takes the time of the
    latest earlier event that put the ticket there: the moment solved_at or closed_at was set.
    """
    if status not in ("solved", "closed"):
        return status_values(status, now, Ticket.solved_at)
    earlier = (
        select(func.max(Event.created_at))
        .where(
            col(Event.ticket_id) == Ticket.id,
            col(Event.id) < first_event_id,
            or_(
                and_(col(Event.action) == "status", col(Event.new_value) == status),
                and_(
                    col(Event.action) == "create",
                    col(Event.new_value).like(cast(literal(f"%/{status}/%"), Text)),
                ),
            ),
        )
        .correlate(table_of(Ticket))
        .scalar_subquery()
    )
    stamped = Ticket.solved_at if status == "solved" else Ticket.closed_at
    return status_values(status, func.coalesce(earlier, stamped, now), Ticket.solved_at)
