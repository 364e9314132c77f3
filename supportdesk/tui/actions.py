"""The console's changes to tickets, and how to take the last one back.

Every change goes through the domain layer (desk.tickets, desk.bulk) in one write session,
called from a worker thread, as one batch. What comes back is a `Done`: a sentence for the
agent and the batch id. Undo is the domain's undo of that batch (desk.undo.undo_batch), the
same one `supportdesk undo` runs: it refuses, changing nothing, if anyone touched the tickets
since.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session

from supportdesk.desk import bulk, history, tickets
from supportdesk.desk.events import Change
from supportdesk.desk.undo import undo_batch
from supportdesk.desk.views import TicketRow
from supportdesk.errors import ConflictError, ValidationError
from supportdesk.store.models import Ticket
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
class Done:
    """What an action did, in words, and the batch that undoes it (None: nothing changed)."""

    summary: str
    numbers: tuple[int, ...]
    batch_id: str | None = None
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

    `seen` carries the version shown on screen: any change made since is a conflict.
    """
    change = Change.by(data.actor)
    with data.store.session(write=True) as session:
        ticket = _run(session, seen.number, op, change, expected=seen.version)
    summary = f"#{seen.number}: {describe(op)}"
    if isinstance(op, AddNote):
        return Done(summary, (seen.number,), permanent="notes stay: they cannot be undone")
    if isinstance(op, Merge):
        return Done(summary, (seen.number, op.target), permanent="a merge cannot be undone here")
    if ticket is None or ticket.version == seen.version:
        return Done(summary + " (no change)", (seen.number,))
    return Done(summary, (seen.number,), batch_id=change.batch_id)


def apply_many(data: DeskData, op: Op, numbers: Sequence[int]) -> Done:
    """Apply `op` to every ticket in `numbers` with desk.bulk's set-based changes, one batch.

    Statuses skip tickets that cannot make the move (a closed ticket stays closed).
    """
    if not isinstance(op, BULK_OPS):
        raise ValidationError(f"{describe(op)} works on one ticket at a time")
    change = Change.by(data.actor)
    skipped = 0
    with data.store.session(write=True) as session:
        source = Source("selection", "selection", numbers_query(list(numbers)))
        ids = bulk.ids_for(session, data.compile(session, source, whole_set=True).where)
        match op:
            case Assign(handle=handle):
                bulk.assign(session, ids, handle, change)
            case SetPriority(priority=priority):
                bulk.set_priority(session, ids, priority, change)
            case MoveQueue(queue=queue):
                bulk.move(session, ids, queue, change)
            case SetStatus(status=status):
                skipped = sum(bulk.set_status(session, ids, status, change).skipped.values())
            case ChangeTags(add=add, remove=remove):
                if remove:
                    bulk.remove_tags(session, ids, remove, change)
                if add:
                    bulk.add_tags(session, ids, add, change)
        batch = history.batch_summary(session, change.batch_id)
    changed = batch.tickets if batch is not None else 0
    summary = f"{describe(op)}: {changed} of {len(numbers)} tickets changed"
    if skipped:
        summary += f", {skipped} skipped (their status cannot go to {op.status})"  # type: ignore[union-attr]
    return Done(summary, tuple(numbers), batch_id=change.batch_id if changed else None)


def undo(data: DeskData, done: Done) -> str:
    """Take `done` back, all or nothing; raise a clear error if that is not possible."""
    if done.permanent:
        raise ValidationError(f"cannot undo {done.summary}: {done.permanent}")
    if done.batch_id is None:
        raise ValidationError(f"nothing to undo: {done.summary}")
    try:
        with data.store.session(write=True) as session:
            undo_batch(session, done.batch_id)
    except ConflictError as exc:
        raise ConflictError(f"cannot undo {done.summary}: {exc}") from None
    except ValidationError as exc:
        raise ValidationError(f"cannot undo {done.summary}: {exc}") from None
    return f"undone: {done.summary}"


def _run(session: Session, number: int, op: Op, change: Change, *, expected: int) -> Ticket | None:
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
