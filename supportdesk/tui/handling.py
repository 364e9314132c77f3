"""The console's handle-time counter: what the agent does feeds it, workers write it down.

The app tells it about keys, clicks, scrolls and the terminal's focus, the desk about the
ticket on screen; it counts in memory (desk.handle_time.HandleClock) and writes what it
counted in a thread worker when the ticket changes, when the agent goes idle, every
FLUSH_SECONDS and when the console closes. A key press only moves a timestamp.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from textual.timer import Timer

from supportdesk.desk.handle_time import FLUSH_SECONDS, IDLE_SECONDS, HandleClock

CLOSE_WAIT_SECONDS = 15.0
"""Longest the console's exit waits for a handle-time write on its way: longer than
SQLite's busy timeout (10 s), so a write waiting on another process's lock ends first."""

if TYPE_CHECKING:
    from supportdesk.tui.app import SupportdeskApp


class HandleTimer:
    """One console's handle time; inert without an agent to credit it to."""

    def __init__(
        self,
        app: SupportdeskApp,
        clock: Callable[[], datetime],
        idle_seconds: float = IDLE_SECONDS,
        flush_seconds: float = FLUSH_SECONDS,
    ) -> None:
        self.app = app
        self.counter = HandleClock(clock, idle_seconds)
        self.flush_seconds = flush_seconds
        self.enabled = app.data.me is not None
        self.writes = 0
        """Flushes that reached the store, for tests that a key press writes nothing."""
        self.failed_writes = 0
        """Flushes the store refused; their seconds went back to the counter."""
        self._shown: int | None = None
        self._hidden = False
        self._idle_timer: Timer | None = None
        self._clock = clock
        self._writing = False
        self._written = threading.Event()
        self._written.set()
        self._closing = False
        self._in_flight: frozenset[int] = frozenset()
        """Tickets whose counted seconds a write is taking to the store right now."""
        self._written_at: dict[int, float] = {}
        """time.monotonic() after this console's last write for each ticket committed."""

    def start(self) -> None:
        if self.enabled:
            self.app.set_interval(self.flush_seconds, self.flush)

    # -- what happens in the console

    def show(self, number: int | None) -> None:
        """The desk shows ticket `number` (None: none); leaving a ticket writes its time."""
        self._shown = number
        self._apply()

    def hide(self, hidden: bool) -> None:
        """A screen that is not about the ticket (the reports) covers the desk, or left."""
        self._hidden = hidden
        self._apply()

    def _apply(self) -> None:
        number = None if self._hidden else self._shown
        if number != self.counter.ticket:
            self.counter.opened(number)
            self.flush()
            self._arm()

    def active(self) -> None:
        self.counter.active()
        self._arm()

    def focused(self, focus: bool) -> None:
        self.counter.focused(focus)
        if not focus:
            self.flush()
        self._arm()

    def _arm(self) -> None:
        """Write when the time stops running: the agent went idle. One timer at a time, so
        a key press only moves the limit; the timer looks at it again when it fires."""
        if not self.enabled or self._idle_timer is not None:
            return
        stops = self.counter.idle_at()
        if stops is not None:
            delay = max((stops - self._clock()).total_seconds(), 0.0) + 0.05
            self._idle_timer = self.app.set_timer(delay, self._idle_check)

    def _idle_check(self) -> None:
        self._idle_timer = None
        stops = self.counter.idle_at()
        if stops is not None and stops > self._clock():
            self._arm()  # the agent did something since: wait for the new limit
        else:
            self.flush()

    # -- writing

    def read_is_current(self, number: int, started: float) -> bool:
        """Whether a read of ticket `number`'s handle time that started at `started`
        (time.monotonic()) holds all this console wrote for it: no write of it was on its
        way then or since (a ticket read ahead of the keys is shown from such a read)."""
        return number not in self._in_flight and self._written_at.get(number, -1.0) < started

    def unwritten(self, number: int) -> int:
        """Seconds on ticket `number` not in the store yet, for showing its time live."""
        return self.counter.unwritten(number) if self.enabled else 0

    def flush(self) -> None:
        """Write what was counted, unless a write is still on its way: then the seconds stay
        in the counter for the next flush.

        One write at a time: while another process holds the store's write lock (a bulk
        change, an import) a write waits for it, holding a pooled connection, and one per
        ticket opened meanwhile used up the pool, so the reads a key needs waited too.
        """
        if not self.enabled or self._writing:
            return
        counted = self.counter.take()
        if counted:
            self._writing = True
            self._in_flight = frozenset(counted)
            self._written.clear()
            self.app.run_worker(
                lambda: self._write_or_give_back(counted),
                thread=True,
                group="handle-time",
                exit_on_error=False,
            )

    def _write_or_give_back(self, counted: dict[int, int]) -> None:
        """In the worker: a write that failed (a locked or unreachable store) hands the
        seconds back to the counter, on the UI thread, for the next flush to try again."""
        try:
            if self._write(counted):
                done = time.monotonic()
                for number in counted:
                    self._written_at[number] = done
            elif self._closing:  # the UI thread waits in close() for this: no round trip
                self.counter.give_back(counted)
            else:
                self.app.call_from_thread(self.counter.give_back, counted)
        finally:
            self._in_flight = frozenset()
            self._writing = False
            self._written.set()

    def _write(self, counted: dict[int, int]) -> bool:
        try:
            self.app.data.record_handle_time(counted)
        except Exception:  # any failure: the seconds are kept and tried again
            self.failed_writes += 1
            return False
        self.writes += 1
        return True

    async def close(self) -> None:
        """The console is closing: write what is left, off the UI thread, and wait for it.
        Nothing retries after this: a store that fails now loses these seconds.

        A flush's write still on its way is waited for first: if it fails, its seconds are
        back in the counter and written here with the rest.
        """
        self._closing = True
        # Bounded: a worker cancelled before it started never sets it.
        await asyncio.to_thread(self._written.wait, CLOSE_WAIT_SECONDS)
        counted = self.counter.take()
        if counted and self.enabled:
            await asyncio.to_thread(self._write, counted)
