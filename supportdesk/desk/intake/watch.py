"""`sync --watch`: one thread per folder, each with its own connection, waiting in IDLE.

Why threads and one connection per folder: IDLE watches only the selected folder, and a
blocked folder (a slow batch, a reconnect) must not delay mail in the others. The threads
share nothing but the store, whose write lock orders their commits.

Time rules run from the watch's main thread once a minute (`rules_seconds`), each run one
batch in its own transaction, so `sync --watch` is all a desk needs beside the console.

Each thread loops: sync the folder, wait for the server to say something changed (IDLE, in
short `idle_check` slices so a stop request is seen within a second, re-issued every
`idle_refresh_minutes`; or a NOOP poll every `poll_seconds` where there is no IDLE), sync
again. Any failure drops the connection and retries after an exponential, capped, jittered
backoff; an unexpected exception (a bug) is reported with its traceback and retried the
same way, so one bad message cannot end the watch. A stop request lets the current batch
commit (or never start) and logs out.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from imapclient import IMAPClient

from supportdesk.config import Mailbox, SyncSettings
from supportdesk.desk.intake.pipeline import Ingestor
from supportdesk.desk.intake.sync import FolderResult, FolderSyncer, ensure_default_queue
from supportdesk.i18n import _
from supportdesk.mail import imap
from supportdesk.mail.imap import ImapError
from supportdesk.store import Store

if TYPE_CHECKING:
    from supportdesk.desk.rules.engine import Fired

IDLE_SLICE = 1.0
BACKOFF_FIRST = 1.0
BACKOFF_CAP = 300.0
STOP_GRACE = 15.0
_QUIET_EOF_LIMIT = 3


@dataclass(frozen=True)
class Target:
    mailbox: Mailbox
    folder: str
    default_queue: str


class Backoff:
    """Delays that double from BACKOFF_FIRST up to BACKOFF_CAP, each drawn from its upper half.

    The jitter keeps many clients that lost the same server from all coming back at once.
    """

    def __init__(self, first: float = BACKOFF_FIRST, cap: float = BACKOFF_CAP) -> None:
        self.first = first
        self.cap = cap
        self.failures = 0

    def next(self) -> float:
        ceiling = min(self.cap, self.first * 2**self.failures)
        self.failures += 1
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.failures = 0


class Watcher:
    """Keeps every target folder synced until `stop` is set."""

    def __init__(
        self,
        store: Store,
        settings: SyncSettings,
        targets: list[Target],
        *,
        our_addresses: frozenset[str],
        on_result: Callable[[FolderResult], None],
        on_error: Callable[[Target, Exception, float], None],
        on_rules: Callable[[list[Fired]], None] | None = None,
        on_rules_error: Callable[[Exception], None] | None = None,
        rules_seconds: float = 60.0,
        sla_warn_seconds: int | None = None,
    ) -> None:
        """`on_rules` hears what each run of the time rules did (None: time rules do not
        run here); `on_rules_error` a run that failed as a whole (the watch goes on);
        `sla_warn_seconds` is `[sla] warn_minutes` (None: the default)."""
        self.store = store
        self.settings = settings
        self.targets = targets
        self.our_addresses = our_addresses
        self.on_result = on_result
        self.on_error = on_error
        self.on_rules = on_rules
        self.on_rules_error = on_rules_error
        self.rules_seconds = rules_seconds
        self.sla_warn_seconds = sla_warn_seconds
        self._report = threading.Lock()

    def run(self, stop: threading.Event) -> None:
        """Watch until `stop` is set; returns once every thread has finished (or the grace ends)."""
        for queue in {t.default_queue for t in self.targets}:
            ensure_default_queue(self.store, queue)
        threads = [
            threading.Thread(
                target=self._watch,
                args=(target, stop),
                name=f"watch {target.mailbox.name}/{target.folder}",
                daemon=True,
            )
            for target in self.targets
        ]
        for thread in threads:
            thread.start()
        next_rules = time.monotonic() + self.rules_seconds
        while not stop.wait(min(1.0, self.rules_seconds)):
            if self.on_rules is not None and time.monotonic() >= next_rules:
                next_rules = time.monotonic() + self.rules_seconds
                self._time_rules()
        deadline = time.monotonic() + STOP_GRACE
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _time_rules(self) -> None:
        from supportdesk.desk.notifications import SLA_WARNING_SECONDS
        from supportdesk.desk.rules.engine import run_time_rules
        from supportdesk.store.models import utcnow

        assert self.on_rules is not None
        try:
            with self.store.session(write=True) as session:
                fired = run_time_rules(
                    session, utcnow(), warn_seconds=self.sla_warn_seconds or SLA_WARNING_SECONDS
                )
        except Exception as exc:  # a locked store, a bug: said, and tried again next time
            if self.on_rules_error is not None:
                self.on_rules_error(exc)
            return
        if fired:
            with self._report:
                self.on_rules(fired)

    def _watch(self, target: Target, stop: threading.Event) -> None:
        backoff = Backoff()
        with Ingestor(
            self.store,
            default_queue=target.default_queue,
            our_addresses=self.our_addresses,
            workers=1,  # new mail trickles in; worker processes would cost more than they save
        ) as ingestor:
            syncer = FolderSyncer(self.store, ingestor, target.mailbox, self.settings, stop=stop)
            while not stop.is_set():
                client: IMAPClient | None = None
                healthy = True
                try:
                    client = imap.connect(target.mailbox)
                    while not stop.is_set():
                        result = syncer.sync(client, target.folder)
                        backoff.reset()
                        self._emit(result)
                        if stop.is_set():
                            break
                        with imap.errors_as_imap(target.mailbox):
                            self._wait_for_change(client, target, stop)
                except Exception as exc:  # a watcher outlives any one failure, bugs included
                    healthy = not (isinstance(exc, ImapError) and exc.connection_lost)
                    if stop.is_set():
                        break
                    delay = backoff.next()
                    with self._report:
                        self.on_error(target, exc, delay)
                    stop.wait(delay)
                finally:
                    if client is not None:
                        imap.close(client, polite=healthy)

    def _emit(self, result: FolderResult) -> None:
        with self._report:
            self.on_result(result)

    def _wait_for_change(self, client: IMAPClient, target: Target, stop: threading.Event) -> None:
        """Return when the folder may have new mail, the refresh is due, or `stop` is set."""
        if not client.has_capability("IDLE"):
            stop.wait(self.settings.poll_seconds)
            if not stop.is_set():
                client.noop()
            return
        refresh_at = time.monotonic() + self.settings.idle_refresh_minutes * 60
        quiet_returns = 0
        client.idle()
        while not stop.is_set() and time.monotonic() < refresh_at:
            began = time.monotonic()
            responses = client.idle_check(timeout=IDLE_SLICE)
            # idle_check swallows EOF and returns at once with nothing: a closed socket.
            quick = not responses and time.monotonic() - began < IDLE_SLICE / 4
            quiet_returns = quiet_returns + 1 if quick else 0
            if any(_says_bye(r) for r in responses) or quiet_returns >= _QUIET_EOF_LIMIT:
                raise ImapError(
                    _(
                        "mailbox {name!r}: the server closed the connection while "
                        "watching {folder!r}"
                    ).format(name=target.mailbox.name, folder=target.folder),
                    kind="network",
                    temporary=True,
                )
            if any(_new_mail(r) for r in responses):
                break
        client.idle_done()


def _new_mail(response: tuple[object, ...]) -> bool:
    return len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT")


def _says_bye(response: tuple[object, ...]) -> bool:
    return bool(response) and response[0] == b"BYE"
