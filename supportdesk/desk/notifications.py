"""Notifications: telling an agent what happened to them, in the change's own transaction.

Five things make one, each for one agent and each once:

- `assigned`: a ticket was assigned to them by someone else (a person, a rule, a bulk
  command of one ticket).
- `assigned_batch`: a bulk command (one batch) assigned them many tickets: one row per
  agent and batch, with how many (`ticket_count`) and the batch, never one per ticket. An
  agent told 100,000 times is told nothing, and 100,000 rows doubled the command's time.
  `batch:<id>` in a query lists those tickets. Undoing the batch retracts it, as undoing
  any reassignment retracts its `assigned` (see `holding`).
- `reply`: a customer's message arrived on a ticket assigned to them (ingest, per flush).
- `mention`: a note names them as `@handle` (existing agents only, never the note's author).
- `sla`: a ticket of theirs is due within `[sla] warn_minutes` (SLA_WARNING_SECONDS when
  not said), found by the scheduled run of the time rules (the one feeder); once per ticket
  and due time.

Each row is written by the function that made the change, in its session, so a change rolled
back takes its notifications with it. `once` (the causing event's id, or the SLA due time)
and the unique constraint on (ticket, agent, once) make "once" a fact of the table, not a
hope; for a batch, the unique index on (agent, batch). On a team store row security
(migrations 0010, 0014) shows each agent only their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Insert,
    Integer,
    Select,
    String,
    and_,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    update,
)
from sqlmodel import Session, col

from supportdesk.desk.events import Change
from supportdesk.errors import NotFoundError, ValidationError
from supportdesk.i18n import N_, _, ngettext
from supportdesk.store.models import Agent, Event, Notification, Ticket, table_of, utcnow
from supportdesk.store.team import session_actor
from supportdesk.text import cut, one_line

ASSIGNED = "assigned"
ASSIGNED_BATCH = "assigned_batch"
REPLY = "reply"
MENTION = "mention"
SLA = "sla"
KINDS = (ASSIGNED, ASSIGNED_BATCH, REPLY, MENTION, SLA)
KIND_LABELS = {
    ASSIGNED: N_("assigned to you"),
    ASSIGNED_BATCH: N_("assigned to you in bulk"),
    REPLY: N_("customer answered"),
    MENTION: N_("mentioned you"),
    SLA: N_("SLA due soon"),
}
"""How each kind reads to a person (the faces translate it); JSON keeps the kind itself."""

SLA_WARNING_SECONDS = 30 * 60
"""How long before a ticket's due time its agent hears that it is about to breach, unless
the config says otherwise (`[sla] warn_minutes`, the same 30 by default)."""
SLA_ACTOR = "system:sla"

AGENT_PREFIX = "agent:"

# A handle after an @ that does not follow a word character: "a@b.c" is an address.
_MENTION = re.compile(r"(?<![\w.+@-])@([a-z0-9][a-z0-9._-]{0,63})", re.IGNORECASE)

_TABLE = table_of(Notification)
_EVENTS = table_of(Event)
_TICKETS = table_of(Ticket)
_INLINE = _TABLE.insert().inline()
_COLUMNS = ("agent_id", "kind", "ticket_id", "event_id", "once", "actor", "created_at")
_BATCH_COLUMNS = (*_COLUMNS, "batch_id", "ticket_count")
SHORT_BATCH = 8
"""How much of a batch id a person is shown (`supportdesk undo` and `batch:` take it)."""


@dataclass(frozen=True)
class NotificationInfo:
    """One notification as the faces show it. `subject` is mail text: filter before showing.

    An `assigned_batch` one has no ticket (`ticket` None, `subject` empty) but a `batch` and
    the `count` of tickets it assigned.
    """

    id: int
    kind: str
    ticket: int | None
    subject: str
    actor: str
    created_at: datetime
    read_at: datetime | None
    batch: str | None = None
    count: int | None = None

    @property
    def unread(self) -> bool:
        return self.read_at is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "ticket": self.ticket,
            "subject": self.subject,
            "actor": self.actor,
            "created_at": self.created_at.isoformat(),
            "read_at": self.read_at.isoformat() if self.read_at else None,
            "batch_id": self.batch,
            "count": self.count,
        }


def kind_label(kind: str) -> str:
    return _(KIND_LABELS[kind]) if kind in KIND_LABELS else kind


def describe(found: NotificationInfo) -> str:
    """What it says, in a line: "assigned to you", or for a batch "assigned you 1,234
    tickets"."""
    if found.kind == ASSIGNED_BATCH and found.count is not None:
        return ngettext(
            "assigned you {count} ticket", "assigned you {count} tickets", found.count
        ).format(count=f"{found.count:,}")
    return kind_label(found.kind)


def short_batch(batch: str | None) -> str:
    """A batch id as a person is shown it: its first SHORT_BATCH characters, made inert.

    The id is store text another login role wrote (row security checks it names an event of
    that role, not what the event's id says), so every face filters it like mail text.
    """
    return cut(one_line(batch or ""), SHORT_BATCH)


def batch_words(found: NotificationInfo) -> str:
    """Where a batch notification came from: "bulk by lead, batch 1a2b3c4d"; both made one
    inert line, as the ticket toast makes its actor."""
    actor = handle_of(found.actor) or found.actor
    return _("bulk by {actor}, batch {batch}").format(
        actor=one_line(actor, 40), batch=short_batch(found.batch)
    )


def handle_of(actor: str) -> str | None:
    """The agent handle an actor names (`agent:bob` is bob), or None for rules, sync..."""
    return actor.removeprefix(AGENT_PREFIX) if actor.startswith(AGENT_PREFIX) else None


def mentioned(text: str) -> list[str]:
    """The handles `text` mentions (`@bob`), lower case, each once, in order of appearance.

    Whether they are agents is the caller's question (see `mention`); a sentence's full stop
    after a handle is not part of it.
    """
    found: dict[str, None] = {}
    for match in _MENTION.finditer(text):
        found[match.group(1).lower().rstrip(".-_")] = None
    return [handle for handle in found if handle]


def once_of_event(event_id: Any) -> Any:
    """The `once` of a notification an event caused: its id, as text, in Python or SQL."""
    if isinstance(event_id, int):
        return f"e{event_id}"
    return literal("e", String) + cast(event_id, String)


def _insert(session: Session) -> Any:
    # Imported here: the console's first frame loads this module, and each backend's start
    # loads its own dialect only (the other one's package took 10-20 ms to import).
    if session.get_bind().dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(_TABLE)
    from sqlalchemy.dialects.postgresql import insert as postgresql_insert

    return postgresql_insert(_TABLE)


def _one(
    session: Session, agent_id: int, kind: str, ticket_id: int, event_id: int, change: Change
) -> None:
    # Inline: no RETURNING of the new id, which row security would refuse (an agent telling
    # another writes a row they may not read back).
    session.connection().execute(
        _INLINE,
        {
            "agent_id": agent_id,
            "kind": kind,
            "ticket_id": ticket_id,
            "event_id": event_id,
            "once": once_of_event(event_id),
            "actor": change.actor,
            "created_at": change.now(),
        },
    )


def assigned(session: Session, ticket_id: int, agent: Agent, event_id: int, change: Change) -> None:
    """Tell `agent` that the change (event `event_id`) assigned them the ticket, unless they
    did it themself."""
    if handle_of(change.actor) == agent.handle:
        return
    _one(session, agent.id, ASSIGNED, ticket_id, event_id, change)  # type: ignore[arg-type]


def assigned_in_batch(
    session: Session, agent: Agent, change: Change, after_event: int, changed: int
) -> Insert | None:
    """One INSERT ... SELECT telling `agent` of the tickets the batch assigned them, from
    the batch's `assign` events after event id `after_event` (`last_event_id` before the
    change: what came before in the same batch was told already). None when the batch's
    actor is the agent.

    `changed` tickets (how many the change assigned) decide the shape: one is told as one
    ticket (`assigned`); more as one `assigned_batch` row counting them, however many.
    Should the same batch assign the agent again, the first row stands, whatever its shape
    (once per batch): the session remembers whom it told of which batch. Its count (or its
    one ticket) is then what the first change assigned; `batch:` lists the rest. Not ON
    CONFLICT DO NOTHING: on a team store PostgreSQL then checks the new row against the read
    policy, which an agent telling another fails.
    """
    if handle_of(change.actor) == agent.handle:
        return None
    e = _EVENTS
    mine = (
        e.c.batch_id == change.batch_id,
        e.c.action == "assign",
        e.c.id > after_event,
        e.c.ticket_id.is_not(None),
    )
    told: set[tuple[int, str]] = session.info.setdefault("told_of_batches", set())
    if (agent.id, change.batch_id) in told:
        return None
    told.add((agent.id, change.batch_id))  # type: ignore[arg-type]
    if changed == 1:
        one = select(
            literal(agent.id, Integer),
            literal(ASSIGNED, String),
            e.c.ticket_id,
            e.c.id,
            once_of_event(e.c.id),
            e.c.actor,
            e.c.created_at,
        ).where(*mine)
        return _TABLE.insert().from_select(_COLUMNS, one)
    count = func.count()
    many = (
        select(
            literal(agent.id, Integer),
            literal(ASSIGNED_BATCH, String),
            cast(null(), Integer),
            func.min(e.c.id),
            literal("b" + change.batch_id, String),
            literal(change.actor, String),
            func.min(e.c.created_at),
            literal(change.batch_id, String),
            count,
        )
        .where(*mine)
        .having(count > 0)
    )
    return _TABLE.insert().from_select(_BATCH_COLUMNS, many)


def last_event_id(session: Session) -> int:
    """The newest event id this transaction can see (0 if none): where `assigned_in_batch`
    starts. Ids only grow, so every event written after this read has a greater one.

    Not the newest of the batch: `max(id) WHERE batch_id = ...` made PostgreSQL walk the
    primary key backwards through every event looking for a batch that has none yet.
    """
    return int(session.execute(select(func.max(_EVENTS.c.id))).scalar_one() or 0)


def replies(session: Session, message_ids: Sequence[int], ticket_ids: Iterable[int]) -> None:
    """Tell each ticket's assignee of the customers' messages `message_ids` just ingested
    (their `message_in` events are written already, in this transaction)."""
    if not message_ids:
        return
    e, t = _EVENTS, _TICKETS
    rows: Select[Any] = (
        select(
            t.c.assignee_id,
            literal(REPLY, String),
            e.c.ticket_id,
            e.c.id,
            once_of_event(e.c.id),
            e.c.actor,
            e.c.created_at,
        )
        .join(t, t.c.id == e.c.ticket_id)
        .where(
            e.c.ticket_id.in_(sorted(set(ticket_ids))),
            e.c.action == "message_in",
            e.c.new_value.in_([str(m) for m in message_ids]),
            t.c.assignee_id.is_not(None),
        )
    )
    session.connection().execute(_TABLE.insert().from_select(_COLUMNS, rows))


def mention(
    session: Session,
    ticket_id: int,
    text: str,
    event_id: int,
    change: Change,
    *,
    before: str = "",
) -> int:
    """Tell every active agent `text` mentions (but its author, and those `before`, the
    note's text before an edit, mentioned already) of the note event `event_id`; how many
    were told. Unknown handles, and deactivated agents' (who will not read it), are
    ordinary words."""
    told_already = {*mentioned(before), handle_of(change.actor)}
    handles = [h for h in mentioned(text) if h not in told_already]
    if not handles:
        return 0
    agents = session.execute(
        select(col(Agent.id))
        .where(col(Agent.handle).in_(handles), col(Agent.active).is_(True))
        .order_by(col(Agent.id))
    ).scalars()
    told = 0
    for agent_id in agents:
        _one(session, agent_id, MENTION, ticket_id, event_id, change)
        told += 1
    return told


def warn_due(session: Session, now: datetime, ahead: int = SLA_WARNING_SECONDS) -> int:
    """Warn the assignee of every ticket due within `ahead` seconds of `now`, once per due
    time (a later due time is a new window). Run by the scheduled time rules, i.e. by the
    one feeder. Returns how many warnings were written.

    On a team store only a service role may write warnings (row security, migration 0010):
    an agent's session running the time rules warns nobody, the feeder's run does.
    """
    from supportdesk.desk.sla.due import seconds

    if handle_of(session_actor(session.connection()) or "") is not None:
        return 0
    t = _TICKETS
    start = seconds(now)
    rows = select(
        t.c.assignee_id,
        literal(SLA, String),
        t.c.id,
        cast(null(), Integer),
        literal("sla", String) + cast(t.c.sla_due, String),
        literal(SLA_ACTOR, String),
        literal(now, _TABLE.c.created_at.type),
    ).where(
        t.c.sla_due.is_not(None),
        t.c.sla_due >= start,
        t.c.sla_due <= start + ahead,
        t.c.sla_breached.is_(False),
        t.c.assignee_id.is_not(None),
    )
    result = session.connection().execute(
        _insert(session).from_select(_COLUMNS, rows).on_conflict_do_nothing()
    )
    return max(int(result.rowcount), 0)


# -- reading and marking


def _agent_id(session: Session, handle: str) -> int:
    found = session.execute(
        select(col(Agent.id)).where(col(Agent.handle) == handle.strip().lower())
    ).scalar_one_or_none()
    if found is None:
        raise NotFoundError(
            _("no agent {handle!r} (see `supportdesk agents list`)").format(handle=handle)
        )
    return int(found)


def holding() -> ColumnElement[bool]:
    """Whether a notification still holds: an `assigned` one only while its ticket is the
    agent's. Undoing a bulk reassignment (or any later reassignment) so retracts its
    "assigned to you" without writing a row another agent's role may not touch.

    An `assigned_batch` one holds until its batch is undone: undo takes back every ticket
    of a batch or none, so the undo's event on the ticket of the notification's own event
    (found through the events' (ticket, id) index) says it. A later reassignment of some
    of the tickets leaves it: it says what the batch did.
    """
    n, t = _TABLE, _TICKETS.alias("now_assigned")
    cause, undo = _EVENTS.alias("cause"), _EVENTS.alias("undo")
    undone = (
        exists()
        .where(
            cause.c.id == n.c.event_id,
            undo.c.ticket_id == cause.c.ticket_id,
            undo.c.id > cause.c.id,
            undo.c.actor == literal("undo:", String) + n.c.batch_id,
        )
        .correlate(n)
    )
    return or_(
        n.c.kind.not_in([ASSIGNED, ASSIGNED_BATCH]),
        and_(
            n.c.kind == ASSIGNED,
            exists().where(t.c.id == n.c.ticket_id, t.c.assignee_id == n.c.agent_id),
        ),
        and_(n.c.kind == ASSIGNED_BATCH, ~undone),
    )


def listing(
    session: Session,
    handle: str,
    *,
    unread_only: bool = False,
    limit: int | None = 100,
    after: int = 0,
) -> list[NotificationInfo]:
    """`handle`'s notifications (those with an id above `after`), newest first."""
    if limit is not None and limit < 0:
        raise ValidationError(_("limit must be zero or more"))
    n, t = _TABLE, _TICKETS
    stmt = (
        select(
            n.c.id,
            n.c.kind,
            t.c.number,
            func.coalesce(t.c.subject, ""),
            n.c.actor,
            n.c.created_at,
            n.c.read_at,
            n.c.batch_id,
            n.c.ticket_count,
        )
        .outerjoin(t, t.c.id == n.c.ticket_id)
        .where(n.c.agent_id == _agent_id(session, handle), holding())
        .order_by(n.c.id.desc())
    )
    if after:
        stmt = stmt.where(n.c.id > after)
    if unread_only:
        stmt = stmt.where(n.c.read_at.is_(None))
    if limit is not None:
        stmt = stmt.limit(limit)
    return [NotificationInfo(*row) for row in session.execute(stmt)]


def unread_count(session: Session, handle: str, *, after: int = 0) -> int:
    """How many of `handle`'s notifications (with an id above `after`) are unread."""
    n = _TABLE
    return int(
        session.execute(
            select(func.count()).where(
                n.c.agent_id == _agent_id(session, handle),
                n.c.read_at.is_(None),
                n.c.id > after,
                holding(),
            )
        ).scalar_one()
    )


def newest_id(session: Session, handle: str) -> int:
    """The id of `handle`'s newest notification (0: none): a console compares it to tell
    which ones arrived since it last looked."""
    n = _TABLE
    found = session.execute(
        select(func.max(n.c.id)).where(n.c.agent_id == _agent_id(session, handle))
    ).scalar_one()
    return int(found or 0)


def mark_read(
    session: Session, handle: str, ids: Sequence[int] | None, at: datetime | None = None
) -> int:
    """Mark `handle`'s notifications `ids` (None: all of them) read; how many were unread.

    An id that is not theirs is an error, even where row security would hide it anyway.
    """
    n = _TABLE
    agent_id = _agent_id(session, handle)
    mine = n.c.agent_id == agent_id
    if ids is not None:
        wanted = sorted(set(ids))
        found = set(session.execute(select(n.c.id).where(mine, n.c.id.in_(wanted))).scalars())
        missing = [i for i in wanted if i not in found]
        if missing:
            shown = ", ".join(str(i) for i in missing[:10])
            raise NotFoundError(
                _("no notification {ids} for {handle}").format(ids=shown, handle=handle)
            )
        mine = and_(mine, n.c.id.in_(wanted))
    result = session.connection().execute(
        update(n).where(mine, n.c.read_at.is_(None), holding()).values(read_at=at or utcnow())
    )
    return int(result.rowcount)


_BATCH_TOKEN = re.compile(r"[0-9A-Za-z-]{1,36}")
"""What a batch id may be to go into a query (ours are UUIDs); anything else is refused."""


def query_of(session: Session, handle: str, notification_id: int) -> str:
    """The query that shows what notification `notification_id` of `handle` is about:
    `#<number>` for a ticket; for a batch `batch:<id> assignee:<handle>`, the tickets of
    the batch that are the agent's, not every ticket the batch changed (a batch assigns to
    one agent, but it may also have set other fields of other tickets). A ticket the batch
    gave them and someone has since taken away is not listed: as `holding` retracts an
    `assigned` notification, the list shows what is still theirs to do.

    A batch id that is not a plain token (store text another role wrote) is refused, never
    run as query text."""
    n, t = _TABLE, _TICKETS
    found = session.execute(
        select(t.c.number, n.c.batch_id)
        .select_from(n)
        .outerjoin(t, n.c.ticket_id == t.c.id)
        .where(n.c.id == notification_id, n.c.agent_id == _agent_id(session, handle))
    ).first()
    if found is None or (found[0] is None and found[1] is None):
        raise NotFoundError(
            _("no notification {ids} for {handle}").format(ids=notification_id, handle=handle)
        )
    number, batch = found
    if batch is None:
        return f"#{number}"
    if not _BATCH_TOKEN.fullmatch(batch):
        raise NotFoundError(
            _("notification {id} names no batch that can be shown").format(id=notification_id)
        )
    return f"batch:{batch} assignee:{handle}"


def agent_handles(session: Session) -> list[str]:
    """Every active agent's handle: what `@` completes to in the note editor."""
    return list(
        session.execute(
            select(col(Agent.handle)).where(col(Agent.active).is_(True)).order_by(col(Agent.handle))
        ).scalars()
    )
