"""Events: one row per change, written in the same transaction as the change itself."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from supportdesk.store.models import Event, Ticket, table_of, utcnow

INSERT_EVENT = table_of(Event).insert()


def new_batch_id() -> str:
    """A fresh batch id: every change made by one command or one rule run shares it."""
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Change:
    """Who makes a change, which batch it belongs to and, optionally, when it happens.

    `at` is for imports of old mail, the demo and rule tests with a controllable clock;
    left unset, changes happen now.
    """

    actor: str
    batch_id: str
    at: datetime | None = None

    @classmethod
    def by(cls, actor: str, batch_id: str | None = None, at: datetime | None = None) -> Change:
        return cls(actor=actor, batch_id=batch_id or new_batch_id(), at=at)

    def now(self) -> datetime:
        return self.at or utcnow()


def record(
    session: Session,
    ticket: Ticket,
    action: str,
    change: Change,
    *,
    old: str | None = None,
    new: str | None = None,
) -> None:
    session.connection().execute(
        INSERT_EVENT,
        {
            "ticket_id": ticket.id,
            "batch_id": change.batch_id,
            "actor": change.actor,
            "action": action,
            "old_value": old,
            "new_value": new,
            "version": ticket.version,
            "created_at": change.now(),
        },
    )
