"""Handle time: how long an agent actually works on a ticket in the console.

A ticket's time runs while it is open in the console, the console has the terminal's focus,
and the agent did something (a key, a click, a scroll) within the idle limit; it stops at the
moment focus leaves, or `idle` after the last thing the agent did. A terminal that does not
report focus counts as focused, so the idle limit alone closes the time off there.

`HandleClock` counts in memory, on the UI thread, without touching the store; the console
hands what it counted (`take`) to a worker that `record`s it, when the agent leaves the
ticket, goes idle, quits, or every few minutes: one write per flush, never one per key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from supportdesk.clock import utcnow
from supportdesk.store.models import Agent, HandleTime, Ticket, table_of

IDLE_SECONDS = 120
"""The default idle limit (`[console] idle_seconds`)."""
FLUSH_SECONDS = 300
"""The longest the console keeps counted time in memory before it writes it."""


class HandleClock:
    """What one console counted per ticket and has not yet written; see the module docstring.

    Every method takes the moment from `clock`, so tests drive it with a clock of their own.
    """

    def __init__(self, clock: Callable[[], datetime], idle_seconds: float = IDLE_SECONDS) -> None:
        self._clock = clock
        self.idle = timedelta(seconds=idle_seconds)
        self._ticket: int | None = None
        self._focused = True
        self._since = clock()
        self._active_until = self._since  # nothing counts before the agent does something
        self._counted: dict[int, float] = {}

    @property
    def ticket(self) -> int | None:
        return self._ticket

    def _settle(self) -> datetime:
        """Count the time since the last change of state up to now, or to the idle limit."""
        now = self._clock()
        if self._ticket is not None and self._focused:
            end = min(now, self._active_until)
            if end > self._since:
                seconds = (end - self._since).total_seconds()
                self._counted[self._ticket] = self._counted.get(self._ticket, 0.0) + seconds
        self._since = max(now, self._since)
        return now

    def opened(self, number: int | None) -> None:
        """The console shows ticket `number` now (None: no ticket)."""
        if number != self._ticket:
            self._settle()
            self._ticket = number

    def active(self) -> None:
        """The agent pressed a key, clicked or scrolled: they are here, and the terminal has
        their focus whatever it said."""
        now = self._settle()
        self._focused = True
        self._active_until = now + self.idle

    def focused(self, focus: bool) -> None:
        """The terminal gained or lost focus; gaining it counts as the agent being back."""
        if focus:
            self.active()
        else:
            self._settle()
            self._focused = False

    def idle_at(self) -> datetime | None:
        """When the time stops running unless the agent does something (None: not running)."""
        if self._ticket is None or not self._focused or self._active_until <= self._since:
            return None
        return self._active_until

    def unwritten(self, number: int) -> int:
        """Whole seconds counted on ticket `number` and not yet taken, the running part too."""
        self._settle()
        return int(self._counted.get(number, 0.0))

    def take(self) -> dict[int, int]:
        """The whole seconds counted per ticket, now forgotten; fractions stay for later."""
        self._settle()
        out: dict[int, int] = {}
        for number, seconds in list(self._counted.items()):
            whole = int(seconds)
            if whole:
                out[number] = whole
            rest = seconds - whole
            if rest:
                self._counted[number] = rest
            else:
                del self._counted[number]
        return out

    def give_back(self, counted: Mapping[int, int]) -> None:
        """Seconds `take` handed out that did not reach the store: counted again, so the
        next flush writes them."""
        for number, seconds in counted.items():
            self._counted[number] = self._counted.get(number, 0.0) + seconds


def day_of(at: datetime) -> datetime:
    """Midnight UTC of the day `at` falls on: the handle_time row it adds to."""
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, at.day, tzinfo=UTC)


def record(
    session: Session, handle: str, counted: Mapping[int, int], *, at: datetime | None = None
) -> int:
    """Add `counted` (seconds per ticket number) to agent `handle`'s time on the day of `at`,
    in one statement; tickets that are gone and an agent that is unknown count nothing.
    Returns the rows written."""
    counted = {n: s for n, s in counted.items() if s > 0}
    if not counted:
        return 0
    agent_id = session.execute(select(col(Agent.id)).where(col(Agent.handle) == handle)).scalar()
    if agent_id is None:
        return 0
    ids = dict(
        session.execute(
            select(col(Ticket.number), col(Ticket.id)).where(col(Ticket.number).in_(counted))
        ).all()
    )
    day = day_of(at or utcnow())
    rows = [
        {"agent_id": agent_id, "ticket_id": ids[n], "day": day, "seconds": s}
        for n, s in counted.items()
        if n in ids
    ]
    if not rows:
        return 0
    conn = session.connection()
    # Imported here: the console's first frame loads this module and no PostgreSQL code.
    table = table_of(HandleTime)
    stmt: Any
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table)
    else:
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        stmt = postgresql_insert(table)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["agent_id", "ticket_id", "day"],
            set_={"seconds": table.c.seconds + stmt.excluded.seconds},
        ),
        rows,
    )
    return len(rows)


@dataclass(frozen=True)
class TicketHandleTime:
    """A ticket's handle time in seconds: the agent's own and everyone's together."""

    mine: int
    total: int


def of_ticket(session: Session, number: int, handle: str | None) -> TicketHandleTime:
    """Ticket `number`'s handle time as stored, `handle`'s share and everyone's."""
    mine = func.coalesce(func.sum(col(HandleTime.seconds)).filter(col(Agent.handle) == handle), 0)
    total = func.coalesce(func.sum(col(HandleTime.seconds)), 0)
    row = session.execute(
        select(mine, total)
        .select_from(HandleTime)
        .join(Ticket, col(Ticket.id) == col(HandleTime.ticket_id))
        .join(Agent, col(Agent.id) == col(HandleTime.agent_id))
        .where(col(Ticket.number) == number)
    ).one()
    return TicketHandleTime(int(row[0]), int(row[1]))
