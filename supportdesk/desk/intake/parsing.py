"""Parsing raw messages on every core: worker processes, and batches being parsed in them.

Kept apart from the ingest pipeline, which loads SQLAlchemy and the store's models: a sync
starts its workers and its first download before it has imported any of that, so the
imports happen while the first batch travels, and the forked workers stay small. Even the
parser is imported only when something is to be parsed: a sync that finds nothing does not
need it.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

    from supportdesk.mail.parse import ParsedMessage

POOL_THRESHOLD = 16
"""Below this many messages a batch is parsed in-process: starting workers costs more."""

ORPHAN_CHECK_SECONDS = 0.5
"""How often a worker looks whether its parent is gone, where the kernel cannot tell it."""


class Parsing:
    """One batch's messages being parsed, in worker processes or, for a few, right here."""

    def __init__(
        self,
        raws: Sequence[bytes],
        our_addresses: frozenset[str],
        futures: list[Future[list[ParsedMessage]]] | None = None,
    ) -> None:
        self._raws = raws if futures is None else ()
        self._our_addresses = our_addresses
        self._futures = futures

    def groups(self) -> Iterator[list[ParsedMessage]]:
        """The parsed messages in order, in groups as they become ready.

        Groups already parsed come as one: ingest reads what a group refers to in a few
        queries per group, and a sync's batches are mostly parsed before they are ingested.
        """
        if self._futures is None:
            from supportdesk.mail.parse import parse_message

            yield [parse_message(raw, our_addresses=self._our_addresses) for raw in self._raws]
            return
        futures = self._futures
        try:
            index = 0
            while index < len(futures):
                group = futures[index].result()
                index += 1
                while index < len(futures) and futures[index].done():
                    group = group + futures[index].result()
                    index += 1
                yield group
        finally:
            self.cancel()

    def cancel(self) -> None:
        for future in self._futures or ():
            future.cancel()


class ParsePool:
    """The parse workers of one sync or import, started on first need.

    `our_addresses` are our own mailbox addresses, for the robot verdict's X-Loop rule.
    """

    def __init__(
        self, workers: int | None = None, our_addresses: frozenset[str] = frozenset()
    ) -> None:
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self.our_addresses = frozenset(a.lower() for a in our_addresses)
        self._pool: ProcessPoolExecutor | None = None

    def start(self, messages: int) -> None:
        """Start the workers now if `messages` will need them.

        A sync calls this before its download thread starts: the workers are forked, and
        forking while another thread holds a lock (in the IMAP client, in logging) can leave
        a child waiting forever for it.
        """
        if self.workers > 1 and messages >= POOL_THRESHOLD:
            import supportdesk.mail.parse  # noqa: F401  (once, here, not in every worker)

            self._ready().submit(int).result()

    def parse(self, raws: Sequence[bytes]) -> Parsing:
        """Start parsing `raws`; safe to call from another thread than the one ingesting.

        With workers, every group is handed out at once and the caller ingests the first
        while the others are still being parsed: the cores never wait for each other.
        """
        our_addresses = self.our_addresses
        if self.workers <= 1 or len(raws) < POOL_THRESHOLD:
            return Parsing(raws, our_addresses)
        pool = self._ready()
        size = max(POOL_THRESHOLD // 2, -(-len(raws) // (self.workers * 3)))
        futures = [
            pool.submit(_parse_many, raws[start : start + size], our_addresses)
            for start in range(0, len(raws), size)
        ]
        return Parsing(raws, our_addresses, futures)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def _ready(self) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing  # loaded by the executor anyway
            from concurrent.futures import ProcessPoolExecutor

            context = multiprocessing.get_context()
            # A forkserver, not this process, is the workers' parent: they watch whichever.
            parent = None if context.get_start_method() == "forkserver" else os.getpid()
            # Linux ties the death signal to the forking *thread*: a pool forked from a thread
            # that ends first (a watcher's) would lose its workers while still in use.
            on_main = threading.current_thread() is threading.main_thread()
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=context,
                initializer=_die_with_parent,
                initargs=(parent, on_main),
            )
        return self._pool


def _die_with_parent(parent: int | None, death_signal: bool) -> None:
    """Make this worker end when the process that forked it ends, even by SIGKILL.

    A killed sync never closes the task queue (every worker holds its write end too), so an
    orphaned worker would wait on it forever. The kernel's death signal is immediate; the
    parent-pid watch covers other systems and pools forked from a passing thread.
    """
    if death_signal and parent is not None and sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    watched = os.getppid() if parent is None else parent
    if os.getppid() != watched:  # the parent died before the signal was armed
        os._exit(1)
    threading.Thread(target=_exit_when_orphaned, args=(watched,), daemon=True).start()


def _exit_when_orphaned(parent: int) -> None:
    tick = threading.Event()
    while not tick.wait(ORPHAN_CHECK_SECONDS):
        if os.getppid() != parent:
            os._exit(1)


def _parse_many(raws: Sequence[bytes], our_addresses: frozenset[str]) -> list[ParsedMessage]:
    from supportdesk.mail.parse import parse_message

    return [parse_message(raw, our_addresses=our_addresses) for raw in raws]
