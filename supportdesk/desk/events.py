"""Events: one row per change, written in the same transaction as the change itself."""

from __future__ import annotations

import uuid

from sqlmodel import Session

from supportdesk.store.models import Event, Ticket, utcnow


def new_batch_id() -> str:
    """A fresh batch id: every change made by one command or one rule run shares it."""
    return str(uuid.uuid4())


def record(
    session: Session,
    ticket: Ticket,
    action: str,
    *,
    actor: str,
    batch_id: str,
    old: str | None = None,
    new: str | None = None,
) -> Event:
    event = Event(
        ticket_id=ticket.id,
        batch_id=batch_id,
        actor=actor,
        action=action,
        old_value=old,
        new_value=new,
        version=ticket.version,
        created_at=utcnow(),
    )
    session.add(event)
    return event
