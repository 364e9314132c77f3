"""One feeder per team: of the `sync --watch` processes on one PostgreSQL store, one leads.

The leader holds a session-level advisory lock on a connection of its own. The server frees
it when that connection ends for any reason (the process killed, the machine gone once TCP
keepalives notice), so a standby that asks again every `retry_seconds` takes over within
seconds. A leader that loses its lock connection stops feeding at once and stands by again,
so two feeders never run together. Whatever the leader runs (IMAP, time rules, the outbox
sender) therefore runs once per team. On SQLite, one person's store, there is nothing to
elect: the work just runs.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

from supportdesk.store.engine import Store, own_connection

LOCK_CLASS = 0x5D_FEED
"""The first key of the advisory lock; the second is the store's schema name, hashed."""
RETRY_SECONDS = 1.0
CHECK_SECONDS = 1.0


class Leadership:
    """The feeder lock of one store, on its own connection (outside the pool)."""

    def __init__(self, store: Store) -> None:
        self._conn = own_connection(store.engine)
        # The server's side of the same: a leader whose machine vanished loses the lock in
        # about 25 s instead of the system's two hours of TCP silence.
        for name, value in (("idle", 10), ("interval", 5), ("count", 3)):
            self._conn.execute(f"SET tcp_keepalives_{name} = {value}")

    def try_lead(self) -> bool:
        row = self._conn.execute(
            "SELECT pg_try_advisory_lock(%s, hashtext(current_schema()))", (LOCK_CLASS,)
        ).fetchone()
        return bool(row and row[0])

    def held(self) -> bool:
        """Whether the lock's connection still answers (the lock lives exactly as long)."""
        try:
            self._conn.execute("SELECT 1").fetchone()
        except Exception:
            return False
        return True

    def close(self) -> None:
        """Let go: closing the connection releases the lock."""
        with contextlib.suppress(Exception):
            self._conn.close()


def lead_then_run(
    store: Store,
    stop: threading.Event,
    work: Callable[[threading.Event], None],
    *,
    on_standby: Callable[[], None] | None = None,
    on_lead: Callable[[], None] | None = None,
    on_lost: Callable[[], None] | None = None,
    retry_seconds: float = RETRY_SECONDS,
    check_seconds: float = CHECK_SECONDS,
) -> None:
    """Run `work(until)` whenever this process leads, until `stop` is set.

    `until` is set when `stop` is, or when the lead is lost (then this process stands by
    and may lead again later). `on_standby` is called once each time it starts waiting.
    """
    if store.dialect != "postgresql":
        work(stop)
        return
    waiting = False
    while not stop.is_set():
        lead = _try(store)
        if lead is None:
            if not waiting and on_standby is not None:
                on_standby()
            waiting = True
            stop.wait(retry_seconds)
            continue
        waiting = False
        if on_lead is not None:
            on_lead()
        until = threading.Event()
        watch = threading.Thread(
            target=_keep, args=(lead, stop, until, on_lost, check_seconds), daemon=True
        )
        watch.start()
        try:
            work(until)
        finally:
            until.set()
            watch.join()
            lead.close()


def _try(store: Store) -> Leadership | None:
    try:
        lead = Leadership(store)
    except Exception:  # the server is away: try again later, as a standby
        return None
    try:
        if lead.try_lead():
            return lead
    except Exception:
        pass
    lead.close()
    return None


def _keep(
    lead: Leadership,
    stop: threading.Event,
    until: threading.Event,
    on_lost: Callable[[], None] | None,
    check_seconds: float,
) -> None:
    while not until.is_set():
        if stop.wait(check_seconds):
            break
        if until.is_set():
            return
        if not lead.held():
            if on_lost is not None:
                on_lost()
            break
    until.set()
