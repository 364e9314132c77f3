"""The console's changes to tickets, and how to take the last one back.

Every change goes through the domain layer (desk.tickets, desk.bulk) in one write session,
called from a worker thread. What comes back is a `Done`: a sentence for the agent and, for
each ticket that really changed, the opposite change and the version the ticket had right
after ours. Undo replays those opposites with that version as `expected_version`, so if
anyone touched the ticket since, the domain refuses with a ConflictError and nothing is
overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session

from supportdesk.desk import bulk, tickets, views
from supportdesk.desk.events import Change
from supportdesk.desk.statuses import TRANSITIONS
from supportdesk.desk.views import TicketRow
from supportdesk.errors import ConflictError, ValidationError
from supportdesk.tui.data import DeskData, Source, numbers_query


@dataclass(frozen=True)
class Assign:
    handle: str | None


@dataclass(frozen=True)
class SetStatus:
    status: str


@dataclass(frozen=True)
class SetPriority:
    priority: str


@dataclass(frozen=True)
class MoveQueue:
    queue: str


@dataclass(frozen=True)
class ChangeTags:
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()


@dataclass(frozen=True)
class AddNote:
    body: str


@dataclass(frozen=True)
class Merge:
    target: int


Op = Assign | SetStatus | SetPriority | MoveQueue | ChangeTags | AddNote | Merge
BULK_OPS = (Assign, SetStatus, SetPriority, MoveQueue, ChangeTags)


@dataclass(frozen=True)
class Step:
    """Half of an undo: apply `op` to ticket `number`, provided it is still at `version`."""

    number: int
    op: Op
    version: int


@dataclass(frozen=True)
class Done:
    """What an action did, in words, and how to take it back."""

    summary: str
    numbers: tuple[int, ...]
    undo: tuple[Step, ...] = ()
    permanent: str | None = None


def describe(op: Op) -> str:
    """The action as the agent would say it, for confirmations and notifications."""
    match op:
        case Assign(handle=None):
            return "unassign"
        case Assign(handle=handle):
            return f"assign to {handle}"
        case SetStatus(status=status):
            return f"set status {status}"
        case SetPriority(priority=priority):
            return f"set priority {priority}"
        case MoveQueue(queue=queue):
            return f"move to {queue}"
        case ChangeTags(add=add, remove=remove):
            parts = [f"+{t}" for t in add] + [f"-{t}" for t in remove]
            return "tag " + " ".join(parts)
        case AddNote():
            return "add a note"
        case Merge(target=target):
            return f"merge into #{target}"
    raise TypeError(op)


def apply_one(data: DeskData, op: Op, seen: TicketRow, tags_seen: Sequence[str]) -> Done:
    """Apply `op` to the ticket the agent is looking at, as they saw it.

    `seen` carries the version shown on screen: any change made since is a conflict. Its
    values are the old values undo restores, which the version check proves still true.
    """
    change = Change.by(data.actor)
    with data.store.session(write=True) as session:
        step = _apply(session, op, seen, tags_seen, change, expected=seen.version)
    summary = f"#{seen.number}: {describe(op)}"
    if isinstance(op, AddNote):
        return Done(summary, (seen.number,), permanent="notes stay: they cannot be undone")
    if isinstance(op, Merge):
        return Done(summary, (seen.number, op.target), permanent="a merge cannot be undone here")
    if step is None:
        return Done(summary + " (no change)", (seen.number,))
    return Done(summary, (seen.number,), undo=(step,))


def apply_many(data: DeskData, op: Op, numbers: Sequence[int]) -> Done:
    """Apply `op` to every ticket in `numbers`, in one transaction and one batch.

    The rows are read inside the write transaction, so the old values recorded for undo are
    the ones the change replaced. Assignment, priority and queue go through desk.bulk's
    set-based updates; statuses and tags ticket by ticket, skipping tickets whose status
    cannot make that move (a closed ticket stays closed).
    """
    if not isinstance(op, BULK_OPS):
        raise ValidationError(f"{describe(op)} works on one ticket at a time")
    change = Change.by(data.actor)
    steps: list[Step] = []
    skipped = 0
    with data.store.session(write=True) as session:
        source = Source("selection", "selection", numbers_query(list(numbers)))
        compiled = data.compile(session, source, whole_set=True)
        rows = views.list_tickets(session, compiled.where, limit=len(numbers))
        if isinstance(op, Assign | SetPriority | MoveQueue):
            ids = bulk.ids_for(session, compiled.where)
            if isinstance(op, Assign):
                bulk.assign(session, ids, op.handle, change)
            elif isinstance(op, SetPriority):
                bulk.set_priority(session, ids, op.priority, change)
            else:
                bulk.move(session, ids, op.queue, change)
            steps = [
                Step(row.number, inverse, row.version + 1)
                for row in rows
                if (inverse := _inverse(op, row, ())) is not None
            ]
        else:
            for row in rows:
                if isinstance(op, SetStatus) and not _can_move(row.status, op.status):
                    skipped += 1
                    continue
                tags_seen = _tags(session, row.number) if isinstance(op, ChangeTags) else ()
                step = _apply(session, op, row, tags_seen, change, expected=row.version)
                if step is not None:
                    steps.append(step)
    summary = f"{describe(op)}: {len(steps)} of {len(numbers)} tickets changed"
    if skipped:
        summary += f", {skipped} skipped (their status cannot go to {op.status})"  # type: ignore[union-attr]
    return Done(summary, tuple(numbers), undo=tuple(steps))


def undo(data: DeskData, done: Done) -> str:
    """Take `done` back, all or nothing; raise a clear error if that is not possible."""
    if done.permanent:
        raise ValidationError(f"cannot undo {done.summary}: {done.permanent}")
    if not done.undo:
        raise ValidationError(f"nothing to undo: {done.summary}")
    change = Change.by(data.actor)
    try:
        with data.store.session(write=True) as session:
            for step in done.undo:
                _run(session, step.number, step.op, change, expected=step.version)
    except ConflictError as exc:
        raise ConflictError(
            f"cannot undo {done.summary}: the ticket changed since ({exc}); nothing was undone"
        ) from None
    except ValidationError as exc:
        raise ValidationError(f"cannot undo {done.summary}: {exc}; nothing was undone") from None
    return f"undone: {done.summary}"


def _apply(
    session: Session,
    op: Op,
    seen: TicketRow,
    tags_seen: Sequence[str],
    change: Change,
    *,
    expected: int,
) -> Step | None:
    """Run `op` on one ticket; the undo step if it changed something."""
    ticket = _run(session, seen.number, op, change, expected=expected)
    if ticket is None or ticket.version == expected:
        return None
    inverse = _inverse(op, seen, tags_seen)
    return Step(seen.number, inverse, ticket.version) if inverse is not None else None


def _can_move(old: str, new: str) -> bool:
    return old == new or new in TRANSITIONS[old]


def _tags(session: Session, number: int) -> list[str]:
    return tickets.ticket_tags(session, tickets.get_ticket(session, number).id)  # type: ignore[arg-type]


def _run(session: Session, number: int, op: Op, change: Change, *, expected: int) -> object:
    match op:
        case Assign(handle=handle):
            return tickets.assign(session, number, handle, change, expected_version=expected)
        case SetStatus(status=status):
            return tickets.set_status(session, number, status, change, expected_version=expected)
        case SetPriority(priority=priority):
            return tickets.set_priority(
                session, number, priority, change, expected_version=expected
            )
        case MoveQueue(queue=queue):
            return tickets.move_queue(session, number, queue, change, expected_version=expected)
        case ChangeTags(add=add, remove=remove):
            ticket = None
            if remove:
                ticket = tickets.remove_tags(
                    session, number, remove, change, expected_version=expected
                )
                expected = ticket.version
            if add:
                ticket = tickets.add_tags(session, number, add, change, expected_version=expected)
            return ticket
        case AddNote(body=body):
            tickets.add_note(session, number, body, change, expected_version=expected)
            return None
        case Merge(target=target):
            current = tickets.get_ticket(session, number)
            if current.version != expected:
                raise ConflictError(
                    f"ticket #{number} changed since you opened it; nothing was merged: "
                    "look again and retry"
                )
            tickets.merge(session, number, target, change)
            return None
    raise TypeError(op)


def _inverse(op: Op, seen: TicketRow, tags_seen: Sequence[str]) -> Op | None:
    """The change that restores what `seen` showed, or None if `op` changed nothing."""
    match op:
        case Assign(handle=handle):
            return Assign(seen.assignee) if seen.assignee != handle else None
        case SetStatus(status=status):
            return SetStatus(seen.status) if seen.status != status else None
        case SetPriority(priority=priority):
            return SetPriority(seen.priority) if seen.priority != priority else None
        case MoveQueue(queue=queue):
            return MoveQueue(seen.queue) if seen.queue != queue else None
        case ChangeTags(add=add, remove=remove):
            present = set(tags_seen)
            added = tuple(
                t for t in dict.fromkeys(tickets.normalise_tag(t) for t in add) if t not in present
            )
            removed = tuple(
                t for t in dict.fromkeys(tickets.normalise_tag(t) for t in remove) if t in present
            )
            return ChangeTags(add=removed, remove=added) if added or removed else None
    return None
