"""Changing internal notes after the fact: only their author may, and history keeps every word.

A note is an agent's own words, so only the agent who wrote it (its `author`, the actor that
added it) may edit or delete it; anyone else is refused and nothing changes. Both are events
on the note's ticket in the same transaction, like every change:

- `note_edited`: old value the text before, new value the text after;
- `note_deleted`: old value the whole text. The row goes, so the note leaves the thread,
  but its words stay in the ticket's history (`supportdesk history --ticket N`).

Adding a note stays in desk.tickets (`add_note`). Notes are not taken back by undo: what an
agent wrote stays written, and deleting is the way to take a note back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from supportdesk.desk import events, notifications
from supportdesk.desk.events import Change
from supportdesk.desk.tickets import get_ticket, write_ticket
from supportdesk.errors import NotFoundError, ValidationError
from supportdesk.i18n import _
from supportdesk.store.models import Note, Ticket

NOTE_ADDED = "note"
NOTE_EDITED = "note_edited"
NOTE_DELETED = "note_deleted"
NOTE_ACTIONS = frozenset({NOTE_ADDED, NOTE_EDITED, NOTE_DELETED})
"""Every event action about notes: none of them is reversed by undo (notes stay)."""


@dataclass(frozen=True)
class NoteInfo:
    """One note and the ticket it is on, as the faces list them."""

    id: int
    ticket: int
    author: str
    body: str
    created_at: datetime


def get_note(session: Session, note_id: int) -> Note:
    note = session.get(Note, note_id)
    if note is None:
        raise NotFoundError(_("no note {note_id}").format(note_id=note_id))
    return note


def ticket_notes(session: Session, number: int) -> list[NoteInfo]:
    """The notes on ticket `number`, oldest first (deleted ones are gone from here)."""
    ticket = get_ticket(session, number)
    return [
        NoteInfo(n.id, number, n.author, n.body, n.created_at)  # type: ignore[arg-type]
        for n in session.exec(
            select(Note).where(Note.ticket_id == ticket.id).order_by(col(Note.id))
        )
    ]


def _own_note(
    session: Session, note_id: int, change: Change, verb: str, expected_version: int | None
) -> tuple[Note, Ticket, int]:
    """The note, its ticket and the ticket version to write against; refuse a stranger."""
    note = get_note(session, note_id)
    if note.author != change.actor:
        refusal = (
            _(
                "note {note_id} was written by {author}; only its author can edit it "
                "(nothing was changed)"
            )
            if verb == "edit"
            else _(
                "note {note_id} was written by {author}; only its author can delete it "
                "(nothing was changed)"
            )
        )
        raise ValidationError(refusal.format(note_id=note_id, author=note.author))
    ticket = session.exec(
        select(Ticket).where(Ticket.id == note.ticket_id).execution_options(populate_existing=True)
    ).one()
    version = ticket.version if expected_version is None else expected_version
    return note, ticket, version


def edit_note(
    session: Session,
    note_id: int,
    body: str,
    change: Change,
    *,
    expected_version: int | None = None,
) -> NoteInfo:
    """Replace the text of the author's own note; the old text stays in the event.

    `expected_version` is the ticket version the agent saw: a change made since (another
    edit of the same note, say) is a conflict rather than a silent overwrite. The same text
    again is no change and records nothing.
    """
    if not body.strip():
        raise ValidationError(_("a note needs some text; to remove a note, delete it"))
    note, ticket, version = _own_note(session, note_id, change, "edit", expected_version)
    info = NoteInfo(note_id, ticket.number, note.author, body, note.created_at)
    if note.body == body:
        return info
    old = note.body
    write_ticket(session, ticket, {}, version, change)
    session.execute(
        update(Note)
        .where(col(Note.id) == note_id)
        .values(body=body)
        .execution_options(synchronize_session=False)
    )
    session.expire(note)
    event_id = events.record(session, ticket, NOTE_EDITED, change, old=old, new=body)
    notifications.mention(session, ticket.id, body, event_id, change, before=old)  # type: ignore[arg-type]
    return info


def delete_note(
    session: Session,
    note_id: int,
    change: Change,
    *,
    expected_version: int | None = None,
) -> int:
    """Remove the author's own note from its ticket's thread; returns the ticket number.

    Its text is kept as the old value of the `note_deleted` event, so the history still
    says what the note said.
    """
    note, ticket, version = _own_note(session, note_id, change, "delete", expected_version)
    old = note.body
    write_ticket(session, ticket, {}, version, change)
    session.expunge(note)
    session.execute(delete(Note).where(col(Note.id) == note_id))
    events.record(session, ticket, NOTE_DELETED, change, old=old)
    return ticket.number
