"""Events: one row per change, written in the same transaction as the change itself.

This module is the only writer of event rows. `Row` defines the columns once; every form a
caller needs is built from it: `record` (one row for a ticket in a session), `write` (a
batch of prepared rows, ingest's executemany), `select_rows` + `insert_selected` (set-based
INSERT ... SELECT for bulk and undo, so the rows never travel to Python).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import (
    Connection,
    Insert,
    Select,
    Text,
    bindparam,
    cast,
    literal,
    null,
    select,
)
from sqlmodel import Session, col

from supportdesk.store.models import Event, Ticket, table_of, utcnow
from supportdesk.store.prepared import Prepared


class Row(TypedDict):
    """One event row: every column but the id, in the order INSERT ... SELECT lists them."""

    ticket_id: int | None
    batch_id: str
    actor: str
    action: str
    old_value: str | None
    new_value: str | None
    version: int | None
    """The ticket's version right after this change: what undo compares against."""
    created_at: datetime
    old_updated_at: datetime | None
    """The ticket's update time this change replaced: what undo puts back."""


COLUMNS: tuple[str, ...] = tuple(Row.__annotations__)
_TABLE = table_of(Event)
_INSERT = _TABLE.insert()
_PREPARED = Prepared(_INSERT)


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

    def pinned(self) -> Change:
        """This change with its time fixed, for several statements that must agree on it."""
        return self if self.at is not None else replace(self, at=utcnow())


def row(
    ticket_id: int | None,
    version: int | None,
    action: str,
    change: Change,
    *,
    old: str | None = None,
    new: str | None = None,
    before: datetime | None = None,
) -> Row:
    """The event of `change` to ticket `ticket_id`, which is at `version` after it.

    `before` is the ticket's update time the change replaced (None where it leaves that
    alone or does not know it): undo puts it back.
    """
    return {
        "ticket_id": ticket_id,
        "batch_id": change.batch_id,
        "actor": change.actor,
        "action": action,
        "old_value": old,
        "new_value": new,
        "version": version,
        "created_at": change.now(),
        "old_updated_at": before,
    }


def record(
    session: Session,
    ticket: Ticket,
    action: str,
    change: Change,
    *,
    old: str | None = None,
    new: str | None = None,
    before: datetime | None = None,
) -> int:
    """Write the event of one change to `ticket`, carrying the version it has now (and
    `before`, its update time before the change, for undo: see `row`); returns its id,
    which a notification the change causes points at."""
    result = session.connection().execute(
        _INSERT,
        dict(row(ticket.id, ticket.version, action, change, old=old, new=new, before=before)),
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def write(conn: Connection, rows: Sequence[Row]) -> None:
    """Write a batch of rows as one prepared executemany (ingest writes thousands at once)."""
    _PREPARED.many(conn, rows)


def select_rows(
    change: Change,
    *,
    ticket_id: Any,
    version: Any,
    action: Any,
    old: Any = None,
    new: Any = None,
    before: Any = None,
) -> Select[Any]:
    """A SELECT of event rows for `insert_selected`, one per row the caller's FROM yields.

    The arguments are SQL expressions over the tables the caller joins and filters on (or
    plain values, the same for every row); batch, actor and time come from `change`.
    `before` is the ticket's update time before the change (usually `tickets.updated_at`).
    """
    values: dict[str, Any] = {
        "ticket_id": ticket_id,
        "batch_id": literal(change.batch_id),
        "actor": literal(change.actor),
        "action": literal(action) if isinstance(action, str) else action,
        "old_value": _text(old),
        "new_value": _text(new),
        "version": version,
        "created_at": bindparam(None, change.now(), type_=_TABLE.c.created_at.type),
        "old_updated_at": (
            cast(null(), _TABLE.c.old_updated_at.type) if before is None else before
        ),
    }
    return select(*(values[name] for name in COLUMNS))


def insert_selected(rows: Select[Any]) -> Insert:
    """INSERT ... SELECT of `rows` built by `select_rows` (and joined, filtered, ordered)."""
    return _INSERT.from_select(COLUMNS, rows)


def ticket_id_column() -> Any:
    """The events table's ticket column, for an `insert_selected` that returns its tickets."""
    return _TABLE.c.ticket_id


def _text(value: Any) -> Any:
    """A text column of the SELECT: a plain value (the same on every row) or an expression."""
    if value is None:
        return cast(null(), Text)
    if isinstance(value, str):
        return cast(literal(value), Text)
    return value


MIN_BATCH_PREFIX = 8
"""A batch id may be cut short to its first 8 characters or more (`undo`, `batch:`)."""


def batches_named(conn: Session | Connection, text: str, limit: int = 2) -> list[str]:
    """The batch ids `text` names: `[text]` when a batch has that whole id, else up to
    `limit` batches starting with it (none when it is shorter than MIN_BATCH_PREFIX). One
    answer is a batch; more, an ambiguous start. `supportdesk undo` and the query's
    `batch:` both ask here, each saying "not found" or "ambiguous" its own way.

    The start is looked up as a range (`text <= batch_id < text'`, `text'` its last
    character's successor), which both backends search through ix_events_batch: SQLite's
    LIKE skips an index on a case-sensitive column, as does PostgreSQL's under a non-C
    collation. The escaped LIKE beside it keeps the answer exact under any collation.
    """
    exact = select(col(Event.batch_id)).where(col(Event.batch_id) == text).limit(1)
    if conn.execute(exact).scalar() is not None:
        return [text]
    if len(text) < MIN_BATCH_PREFIX:
        return []
    batch = col(Event.batch_id)
    starting = [batch >= text, batch.startswith(text, autoescape=True)]
    if ord(text[-1]) < 0x10FFFF:
        starting.append(batch < text[:-1] + chr(ord(text[-1]) + 1))
    return list(conn.execute(select(batch).where(*starting).distinct().limit(limit)).scalars())
