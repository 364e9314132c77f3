"""Presence: who else has a ticket open, and who is replying to it.

Each console beats every BEAT_SECONDS with the ticket it shows (and whether its composer is
open on it); a console that stops beating drops out after EXPIRE_SECONDS, so a crashed one
never leaves a ghost for long. Nothing here ever blocks work: it only warns, and the
send-time collision check (desk.replies) stays the last line. A change of ticket or of
"replying" is announced to the other consoles at once (store.listen.announce on
PostgreSQL); a beat that only says "still here" is not, so heartbeats cost no refreshes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, select, update
from sqlmodel import Session, col

from supportdesk.errors import ValidationError
from supportdesk.i18n import _
from supportdesk.store.listen import announce
from supportdesk.store.models import Presence, Ticket, utcnow

BEAT_SECONDS = 15.0
EXPIRE_SECONDS = 45.0
DOINGS = ("viewing", "replying")
KEPT = timedelta(days=1)
"""How long the row of a console that stopped beating is kept: longer than the longest
`[notifications] away_minutes` (a day), which reads it to tell when its agent went away."""


@dataclass(frozen=True)
class Here:
    actor: str
    doing: str


def beat(
    session: Session,
    console_id: str,
    actor: str,
    number: int | None,
    doing: str = "viewing",
    *,
    now: datetime | None = None,
) -> None:
    """Console `console_id` (acting as `actor`) shows ticket `number` (None: no ticket).

    A console on no ticket keeps its row (without a ticket): its agent is at the desk, which
    is what tells the notification digest they are not away.
    """
    if doing not in DOINGS:
        raise ValidationError(
            _("presence {doing!r}: expected one of {doings}").format(
                doing=doing, doings=", ".join(DOINGS)
            )
        )
    now = now or utcnow()
    conn = session.connection()
    before = conn.execute(
        select(col(Presence.ticket_id), col(Presence.doing)).where(
            col(Presence.console_id) == console_id
        )
    ).first()
    ticket_id = None
    if number is not None:
        ticket_id = conn.execute(
            select(col(Ticket.id)).where(col(Ticket.number) == number)
        ).scalar()
    if ticket_id is None:
        doing = "viewing"  # at the console, on no ticket: present (desk.digest), shown nowhere
    if before is None:
        session.add(
            Presence(
                console_id=console_id, actor=actor, ticket_id=ticket_id, doing=doing, seen_at=now
            )
        )
        session.flush()
    else:
        conn.execute(
            update(Presence)
            .where(col(Presence.console_id) == console_id)
            .values(actor=actor, ticket_id=ticket_id, doing=doing, seen_at=now)
        )
    # Rows of consoles long gone: a tiny table, swept by whoever beats.
    conn.execute(delete(Presence).where(col(Presence.seen_at) < now - KEPT))
    if before is None or tuple(before) != (ticket_id, doing):
        changed = [ticket_id, before[0] if before is not None else None]
        announce(conn, [t for t in changed if t is not None])


def leave(session: Session, console_id: str) -> None:
    """The console closed: it shows no ticket from now on. The row stays with its last beat,
    so its agent turns away (desk.digest) `away_minutes` after that beat, as for a console
    that crashed, not the moment it closes; the sweep in `beat` removes it later."""
    conn = session.connection()
    shown = conn.execute(
        select(col(Presence.ticket_id)).where(col(Presence.console_id) == console_id)
    ).scalar()
    conn.execute(
        update(Presence)
        .where(col(Presence.console_id) == console_id)
        .values(ticket_id=None, doing="viewing")
    )
    if shown is not None:
        announce(conn, [shown])


def others(
    session: Session,
    numbers: Sequence[int],
    console_id: str,
    *,
    me: str | None = None,
    now: datetime | None = None,
) -> dict[int, list[Here]]:
    """Who else shows each of tickets `numbers` now: by ticket number, one entry per actor
    (replying wins over viewing), never this console and never `me` on another console."""
    if not numbers:
        return {}
    since = (now or utcnow()) - timedelta(seconds=EXPIRE_SECONDS)
    rows = session.execute(
        select(col(Ticket.number), col(Presence.actor), col(Presence.doing))
        .join(Ticket, col(Ticket.id) == Presence.ticket_id)
        .where(
            col(Ticket.number).in_(list(numbers)),
            col(Presence.console_id) != console_id,
            col(Presence.seen_at) >= since,
        )
        .order_by(col(Presence.actor))
    ).all()
    found: dict[int, dict[str, str]] = {}
    for number, actor, doing in rows:
        if actor == me:
            continue
        seen = found.setdefault(number, {})
        if seen.get(actor) != "replying":
            seen[actor] = doing
    return {n: [Here(a, d) for a, d in seen.items()] for n, seen in found.items()}


def present(*, now: datetime | None = None, minutes: float) -> Select[Any]:
    """The actors of the consoles that beat within the last `minutes`: agents at the desk.
    Everyone else is away (desk.digest mails them)."""
    since = (now or utcnow()) - timedelta(minutes=minutes)
    return select(col(Presence.actor)).where(col(Presence.seen_at) >= since).distinct()
