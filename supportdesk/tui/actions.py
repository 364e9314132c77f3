"""The console's changes to tickets, and how to take the last one back.

Every change goes through the domain layer (desk.tickets, desk.notes, and for marked
tickets the bulk command table of desk.bulk_commands, as the CLI's bulk commands) in one
write session, called from a worker thread, as one batch. What comes back is a `Done`: a
sentence for the agent and the batch id. Undo (`u`) is what a plain `supportdesk undo` does:
the agent's most recent batch not undone yet, taken back by the domain's undo
(desk.undo.undo_batch), which refuses, changing nothing, if anyone touched the tickets since.
The agent is told which change was taken back, in words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from supportdesk.desk import notes, tickets
from supportdesk.desk.events import Change
from supportdesk.desk.views import TicketRow
from supportdesk.errors import ConflictError, NotFoundError, SupportdeskError, ValidationError
from supportdesk.i18n import _, ngettext
from supportdesk.tui.data import DeskData
from supportdesk.tui.format import priority_label, status_label

if TYPE_CHECKING:
    from supportdesk.desk.bulk_commands import Prepared
    from supportdesk.desk.handle import Session

# desk.bulk_commands, desk.history and desk.undo are imported where they are used: they are
# not needed for the console's first frame (and bring the set-based bulk machinery).


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
class EditNote:
    note_id: int
    body: str


@dataclass(frozen=True)
class DeleteNote:
    note_id: int


@dataclass(frozen=True)
class Merge:
    target: int


Op = (
    Assign
    | SetStatus
    | SetPriority
    | MoveQueue
    | ChangeTags
    | AddNote
    | EditNote
    | DeleteNote
    | Merge
)
BULK_OPS = (Assign, SetStatus, SetPriority, MoveQueue, ChangeTags)
NOTE_OPS = (AddNote, EditNote, DeleteNote)


@dataclass(frozen=True)
class Done:
    """What an action did, in words, and its batch (None: nothing changed)."""

    summary: str
    numbers: tuple[int, ...]
    batch_id: str | None = None


def describe(op: Op) -> str:
    """The action as the agent would say it, for confirmations and notifications."""
    match op:
        case Assign(handle=None):
            return _("unassign")
        case Assign(handle=handle):
            return _("assign to {agent}").format(agent=handle)
        case SetStatus(status=status):
            return _("set status {status}").format(status=status_label(status))
        case SetPriority(priority=priority):
            return _("set priority {priority}").format(priority=priority_label(priority))
        case MoveQueue(queue=queue):
            return _("move to {queue}").format(queue=queue)
        case ChangeTags(add=add, remove=remove):
            parts = [f"+{t}" for t in add] + [f"-{t}" for t in remove]
            return _("tag {tags}").format(tags=" ".join(parts))
        case AddNote():
            return _("add a note")
        case EditNote(note_id=note_id):
            return _("edit note {id}").format(id=note_id)
        case DeleteNote(note_id=note_id):
            return _("delete note {id}").format(id=note_id)
        case Merge(target=target):
            return _("merge into #{number}").format(number=target)
    raise TypeError(op)


def apply_one(data: DeskData, op: Op, seen: TicketRow, tags_seen: Sequence[str]) -> Done:
    """Apply `op` to the ticket the agent is looking at, as they saw it.

    `seen` carries the version shown on screen: any change made since is a conflict.
    """
    change = Change.by(data.actor)
    with data.store.session(write=True) as session:
        version = _run(session, seen.number, op, change, expected=seen.version)
    summary = f"#{seen.number}: {describe(op)}"
    if isinstance(op, NOTE_OPS):
        return Done(summary, (seen.number,), batch_id=change.batch_id)
    if isinstance(op, Merge):
        return Done(summary, (seen.number, op.target), batch_id=change.batch_id)
    if version is None or version == seen.version:
        return Done(summary + " " + _("(no change)"), (seen.number,))
    return Done(summary, (seen.number,), batch_id=change.batch_id)


def apply_many(data: DeskData, op: Op, numbers: Sequence[int]) -> Done:
    """Apply `op` to every ticket in `numbers` with desk.bulk's set-based changes, one batch.

    Statuses skip tickets that cannot make the move (a closed ticket stays closed).
    """
    from supportdesk.desk import bulk_commands, history

    steps = _bulk_steps(op)
    if not steps:
        raise ValidationError(_("{action}: nothing to change").format(action=describe(op)))
    selection = bulk_commands.Selection(numbers=tuple(sorted(set(numbers))), me=data.me)
    outcome = bulk_commands.run(data.store, steps[0], selection, actor=data.actor, then=steps[1:])
    batch_id = outcome.result.batch_id
    with data.store.session() as session:
        batch = history.batch_summary(session, batch_id)
    changed = batch.tickets if batch is not None else 0
    summary = ngettext(
        "{action}: {changed} of {count} ticket changed",
        "{action}: {changed} of {count} tickets changed",
        len(numbers),
    ).format(action=describe(op), changed=changed, count=len(numbers))
    skipped = sum(outcome.result.skipped.values())
    if skipped and isinstance(op, SetStatus):
        summary += _(", {count} skipped (their status cannot go to {status})").format(
            count=skipped, status=status_label(op.status)
        )
    return Done(summary, tuple(numbers), batch_id=batch_id if changed else None)


def _bulk_steps(op: Op) -> tuple[Prepared, ...]:
    """The console's action as entries of the bulk command table, applied in this order."""
    from supportdesk.desk.bulk_commands import prepare

    match op:
        case Assign(handle=None):
            return (prepare("unassign"),)
        case Assign(handle=handle):
            return (prepare("assign", agent=handle),)
        case SetStatus(status=status):
            return (prepare("status", status=status),)
        case SetPriority(priority=priority):
            return (prepare("priority", priority=priority),)
        case MoveQueue(queue=queue):
            return (prepare("move", queue=queue),)
        case ChangeTags(add=add, remove=remove):
            untag = (prepare("untag", tags=remove),) if remove else ()
            return untag + ((prepare("tag", tags=add),) if add else ())
    raise ValidationError(_("{action} works on one ticket at a time").format(action=describe(op)))


def latest_undoable(session: Session, actor: str) -> str | None:
    """The batch `u` takes back: `actor`'s most recent batch that can be undone (batches of
    only notes, merges and batches already undone are passed over), as `supportdesk undo`."""
    from supportdesk.desk import undo

    summary = undo.latest_undoable(session, actor)
    return summary.batch_id if summary is not None else None


def undo_latest(data: DeskData) -> Done:
    """Take back the agent's most recent change, all or nothing, and say which it was.

    Raises a SupportdeskError whose message starts "cannot undo <what>" when the domain
    refuses (someone changed the tickets since, or the batch holds what cannot be undone).
    """
    from supportdesk.desk.undo import undo_batch

    with data.store.session(write=True) as session:
        batch = latest_undoable(session, data.actor)
        if batch is None:
            raise NotFoundError(
                _("nothing to undo: no changes by {actor} left to undo").format(actor=data.actor)
            )
        what, numbers = batch_words(session, batch)
        try:
            result = undo_batch(session, batch)
        except ConflictError as exc:
            raise ConflictError(
                _("cannot undo {what}: {error}").format(what=what, error=exc)
            ) from None
        except SupportdeskError as exc:
            raise ValidationError(
                _("cannot undo {what}: {error}").format(what=what, error=exc)
            ) from None
    done = _("undone: {what} (batch {batch})").format(what=what, batch=batch[:8])
    return Done(done, numbers, batch_id=result.batch_id)


_SHOWN_EVENTS = 6


def batch_words(session: Session, batch: str) -> tuple[str, tuple[int, ...]]:
    """A batch in words for the agent ("#812: priority normal → high") and its tickets."""
    from supportdesk.desk import history

    summary = history.batch_summary(session, batch)
    rows = history.events(session, batch=batch, limit=_SHOWN_EVENTS)
    numbers = tuple(dict.fromkeys(r.ticket for r in rows if r.ticket is not None))
    if summary is None or not rows:
        return _("batch {batch}").format(batch=batch), numbers
    if summary.tickets == 1:
        changes = [_event_words(r.action, r.old_value, r.new_value) for r in rows]
        if summary.events > len(rows):
            changes.append(_("and {count} more").format(count=summary.events - len(rows)))
        return f"#{numbers[0]}: {', '.join(changes)}", numbers
    actions = ", ".join(sorted(summary.actions))
    shown = ", ".join(f"#{n}" for n in numbers[:3])
    more = ", …" if summary.tickets > 3 else ""
    words = ngettext(
        "{actions} on {count} ticket ({tickets})",
        "{actions} on {count} tickets ({tickets})",
        summary.tickets,
    ).format(actions=actions, count=summary.tickets, tickets=shown + more)
    return words, numbers


def _event_words(action: str, old: str | None, new: str | None) -> str:
    if action == "tag":
        return _("tag {tags}").format(tags=f"+{new}")
    if action == "untag":
        return _("tag {tags}").format(tags=f"-{old}")
    if action in notes.NOTE_ACTIONS:
        return action.replace("_", " ")
    if action == "status":
        return _("status {old} → {new}").format(
            old=status_label(old or "-"), new=status_label(new or "-")
        )
    if action == "priority":
        return _("priority {old} → {new}").format(
            old=priority_label(old or "-"), new=priority_label(new or "-")
        )
    return f"{action} {old or '-'} → {new or '-'}"


def _run(session: Session, number: int, op: Op, change: Change, *, expected: int) -> int | None:
    """Apply `op` to ticket `number`; the ticket's version after it (None: not a ticket field)."""
    ticket = _change(session, number, op, change, expected=expected)
    return ticket.version if ticket is not None else None


class _Versioned(Protocol):
    version: int


def _change(
    session: Session, number: int, op: Op, change: Change, *, expected: int
) -> _Versioned | None:
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
        case EditNote(note_id=note_id, body=body):
            notes.edit_note(session, note_id, body, change, expected_version=expected)
            return None
        case DeleteNote(note_id=note_id):
            notes.delete_note(session, note_id, change, expected_version=expected)
            return None
        case Merge(target=target):
            current = tickets.get_ticket(session, number)
            if current.version != expected:
                raise ConflictError(
                    _(
                        "ticket #{number} changed since you opened it; nothing was merged: "
                        "look again and retry"
                    ).format(number=number)
                )
            tickets.merge(session, number, target, change)
            return None
    raise TypeError(op)
