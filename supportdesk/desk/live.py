"""Waiting for the store to change: what a console's worker calls to stay current.

On PostgreSQL the server announces every committed change (LISTEN/NOTIFY, see
store/listen.py), so a wait ends within milliseconds of another agent's commit. When that
connection drops, waiting falls back to reading the change mark (`views.change_mark`) every
`poll_seconds`, and tries to listen again every `retry_seconds` on its own. SQLite has no
notices: there it is the change-mark poll alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from supportdesk.desk import views
from supportdesk.store.engine import Store
from supportdesk.store.listen import ALL, PRESENCE, Listener, ListenLost


@dataclass(frozen=True)
class Changed:
    """Something committed since the last wait."""

    tickets: frozenset[int] | None
    """The tickets it touched, or None when unknown or too many to name (refresh all)."""
    presence_only: bool = False
    """Only who is on `tickets` changed (desk.presence): the open ticket's header, not the
    list or the counts, needs reading again."""

    def touches(self, ticket_id: int | None) -> bool:
        return self.tickets is None or ticket_id in self.tickets


class ChangeFeed:
    """One waiter's view of the store's changes; not shared between threads."""

    def __init__(
        self, store: Store, *, poll_seconds: float = 1.0, retry_seconds: float = 2.0
    ) -> None:
        self.store = store
        self.poll_seconds = poll_seconds
        self.retry_seconds = retry_seconds
        self._listener: Listener | None = None
        self._next_try = 0.0
        self._mark: int | None = None
        self._next_poll = 0.0
        # Until the first LISTEN, changes go unannounced: that one reports "read everything".
        self._lost = True

    @property
    def live(self) -> bool:
        """Whether changes are announced right now (False: polling the change mark)."""
        return self._listener is not None

    def wait(self, timeout: float) -> Changed | None:
        """Block up to `timeout` seconds for a committed change; None if none came."""
        deadline = time.monotonic() + timeout
        if self._try_listen() and self._lost:
            # Back after a gap: whatever committed between the last poll and the LISTEN
            # was announced to nobody, so read everything once.
            self._lost = False
            return Changed(tickets=None)
        if self._listener is not None:
            try:
                payloads = self._listener.wait(max(0.0, deadline - time.monotonic()))
            except ListenLost:
                self._drop()
                return Changed(tickets=None)  # notices in flight went with the connection
            return _changed(payloads) if payloads else None
        return self._poll(deadline)

    def close(self) -> None:
        self._drop()
        self._next_try = float("inf")

    def _try_listen(self) -> bool:
        """Listen if not yet (and not tried too recently); True if this call started it."""
        if self._listener is not None or self.store.dialect != "postgresql":
            return False
        now = time.monotonic()
        if now < self._next_try:
            return False
        self._next_try = now + self.retry_seconds
        try:
            self._listener = Listener(self.store.engine)
        except Exception:  # the server is away: poll until it is back
            self._listener = None
            return False
        return True

    def _drop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
            self._lost = True
            self._next_try = time.monotonic() + self.retry_seconds
            self._mark = None

    def _poll(self, deadline: float) -> Changed | None:
        while True:
            now = time.monotonic()
            if now >= self._next_poll:
                self._next_poll = now + self.poll_seconds
                mark = self._read_mark()
                if mark is not None:
                    before, self._mark = self._mark, mark
                    if before is not None and mark != before:
                        return Changed(tickets=None)
            now = time.monotonic()
            if now >= deadline:
                return None
            time.sleep(min(self._next_poll, deadline) - now)

    def _read_mark(self) -> int | None:
        try:
            with self.store.session() as session:
                return views.change_mark(session)
        except Exception:  # a busy or restarting store: the next poll tries again
            return None


def _changed(payloads: list[str]) -> Changed:
    tickets: set[int] = set()
    presence_only = True
    for payload in payloads:
        if payload.startswith(PRESENCE):
            payload = payload.removeprefix(PRESENCE)
        else:
            presence_only = False
        if payload == ALL:
            return Changed(tickets=None)
        try:
            tickets.update(int(part) for part in payload.split(",") if part)
        except ValueError:
            return Changed(tickets=None)
    return Changed(tickets=frozenset(tickets), presence_only=presence_only)
