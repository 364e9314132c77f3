"""From raw messages to tickets in batches: parse on every core, ingest in one transaction.

Sync and import both feed this. A batch's messages, their ticket changes and whatever the
caller adds in `before_commit` (an IMAP folder's position, an import's progress) commit
together, so a process killed at any instant leaves either the whole batch or none of it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field

from sqlmodel import Session

from supportdesk.desk.events import Change
from supportdesk.desk.ingest import INGEST_ACTOR, IngestResult, Source, ingest
from supportdesk.mail.parse import ParsedMessage, parse_message
from supportdesk.store import Store

# Below this many messages a batch is parsed in-process: starting workers costs more.
_POOL_THRESHOLD = 16


@dataclass
class Summary:
    """What a sync or an import did, for people (a table) and scripts (JSON)."""

    messages: int = 0
    new_tickets: int = 0
    follow_ups: int = 0
    reopened: int = 0
    robots: int = 0
    quarantined: int = 0
    duplicates: int = 0
    oversize: int = 0
    errors: list[str] = field(default_factory=list)

    def count(self, result: IngestResult) -> None:
        if result.outcome == "duplicate":
            self.duplicates += 1
            return
        self.messages += 1
        if result.outcome == "new_ticket":
            self.new_tickets += 1
        elif result.outcome in ("follow_up", "reopened"):
            self.follow_ups += 1
            self.reopened += result.outcome == "reopened"
        elif result.outcome == "quarantined":
            self.quarantined += 1
        if result.robot:
            self.robots += 1

    def merge(self, other: Summary) -> None:
        for name in (
            "messages",
            "new_tickets",
            "follow_ups",
            "reopened",
            "robots",
            "quarantined",
            "duplicates",
            "oversize",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


class Ingestor:
    """Parses and ingests batches of raw messages into one store."""

    def __init__(
        self,
        store: Store,
        *,
        default_queue: str,
        our_addresses: frozenset[str] = frozenset(),
        workers: int | None = None,
        actor: str = INGEST_ACTOR,
    ) -> None:
        self.store = store
        self.default_queue = default_queue
        self.our_addresses = frozenset(a.lower() for a in our_addresses)
        self.actor = actor
        self._workers = workers if workers is not None else (os.cpu_count() or 1)
        self._pool: Executor | None = None

    def parse_all(self, raws: Sequence[bytes]) -> list[ParsedMessage]:
        if self._workers <= 1 or len(raws) < _POOL_THRESHOLD:
            return [parse_message(raw, our_addresses=self.our_addresses) for raw in raws]
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self._workers)
        chunk = max(1, len(raws) // (self._workers * 4))
        return list(self._pool.map(_parse, raws, [self.our_addresses] * len(raws), chunksize=chunk))

    def ingest_batch(
        self,
        items: Sequence[tuple[bytes, Source]],
        *,
        before_commit: Callable[[Session], None] | None = None,
        summary: Summary | None = None,
    ) -> list[IngestResult]:
        """Ingest `items` and run `before_commit` in the same transaction."""
        parsed = self.parse_all([raw for raw, _ in items])
        results: list[IngestResult] = []
        change = Change.by(self.actor)
        with self.store.session(write=True) as session:
            for (raw, source), message in zip(items, parsed, strict=True):
                results.append(
                    ingest(
                        session,
                        message,
                        raw,
                        default_queue=self.default_queue,
                        our_addresses=self.our_addresses,
                        source=source,
                        change=change,
                    )
                )
            if before_commit is not None:
                before_commit(session)
        if summary is not None:
            for result in results:
                summary.count(result)
        return results

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Ingestor:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _parse(raw: bytes, our_addresses: frozenset[str]) -> ParsedMessage:
    return parse_message(raw, our_addresses=our_addresses)
