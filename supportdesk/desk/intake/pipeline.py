"""From raw messages to tickets in batches: parse on every core, ingest in one transaction.

Sync and import both feed this. A batch's messages, their ticket changes and whatever the
caller adds in `before_commit` (an IMAP folder's position, an import's progress) commit
together, so a process killed at any instant leaves either the whole batch or none of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from sqlmodel import Session

from supportdesk.desk.csat import ratings
from supportdesk.desk.csat.setup import CSAT_SETUP, CsatSetup
from supportdesk.desk.events import Change
from supportdesk.desk.ingest import INGEST_ACTOR, IngestBatch, IngestResult, Source, ingest
from supportdesk.desk.intake.parsing import ParsePool, Parsing
from supportdesk.desk.intake.summary import Summary
from supportdesk.errors import SecretError
from supportdesk.mail.parse import ParsedMessage
from supportdesk.store import Store
from supportdesk.store.models import utcnow

if TYPE_CHECKING:
    from supportdesk.desk.rules.engine import Fired

INGEST_CACHE_KIB = 16 * 1024
"""SQLite page cache of a connection that ingests. The store's default (64 MiB, for the
console's queries over big stores) would make a first sync of 10,000 messages hold 60 MB
more, for no measurable speed: ingest touches the newest pages, which the OS caches anyway."""


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
        pool: ParsePool | None = None,
    ) -> None:
        """`pool`: parse workers the caller owns (and closes), for the same `our_addresses`."""
        self.store = store
        self.default_queue = default_queue
        self.our_addresses = frozenset(a.lower() for a in our_addresses)
        self.actor = actor
        self.pool = pool if pool is not None else ParsePool(workers, self.our_addresses)
        self._own_pool = pool is None

    def parse_all(self, raws: Sequence[bytes]) -> list[ParsedMessage]:
        return [message for group in self.parse_groups(raws) for message in group]

    def parse_groups(self, raws: Sequence[bytes]) -> Iterator[list[ParsedMessage]]:
        """The parsed messages in order, in groups as they become ready."""
        return self.parse(raws).groups()

    def parse(self, raws: Sequence[bytes]) -> Parsing:
        """Start parsing `raws`, for `ingest_batch` (see ParsePool.parse)."""
        return self.pool.parse(raws)

    def ingest_batch(
        self,
        items: Sequence[tuple[bytes, Source]],
        *,
        before_commit: Callable[[Session], None] | None = None,
        summary: Summary | None = None,
        parsing: Parsing | None = None,
        accept: Callable[[int, ParsedMessage], bool] | None = None,
    ) -> list[IngestResult]:
        """Ingest `items` and run `before_commit` in the same transaction.

        `parsing` is their parse, when the caller started it (`parse`) already. `accept`
        hears each parsed message with its index in `items`; one it declines is not stored
        and has no result (file import declines what is not mail at all).
        """
        results: list[IngestResult] = []
        parsed: list[ParsedMessage] = []
        index = -1
        change = Change.by(self.actor)
        pending = iter(items)
        if parsing is None:  # started before the write lock is taken, not under it
            parsing = self.parse([raw for raw, _ in items])
        key_ready = self._rating_key(items)
        with self.store.session(write=True) as session:
            if self.store.dialect == "sqlite":
                session.connection().exec_driver_sql(f"PRAGMA cache_size = -{INGEST_CACHE_KIB}")
            # One batch: Message-IDs, references and senders read in a few queries per
            # group, the rows written table by table when the batch is done.
            with IngestBatch(session) as batch:
                for group in parsing.groups():
                    batch.prefetch(group)
                    for message in group:
                        raw, source = next(pending)
                        index += 1
                        if accept is not None and not accept(index, message):
                            continue
                        parsed.append(message)
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
            if key_ready:
                ratings.retry_waiting(session, our_addresses=self.our_addresses)
            fired = _run_rules(session, results, parsed)
            if before_commit is not None:
                before_commit(session)
        if summary is not None:
            for result in results:
                summary.count(result)
            summary.count_rules(fired)
        return results

    def _rating_key(self, items: Sequence[tuple[bytes, Source]]) -> bool:
        """Read the rating key now, before the write lock, when a mail may be a rating (a
        key command may take seconds); whether it can be read."""
        setup = self.store.info.get(CSAT_SETUP)
        if not isinstance(setup, CsatSetup) or not setup.enabled:
            return False
        if not any(ratings.might_rate(raw) for raw, _ in items):
            return False
        try:
            setup.key()
        except SecretError:
            return False  # the rating mails wait for it (desk.csat.ratings)
        return True

    def close(self) -> None:
        if self._own_pool:
            self.pool.close()

    def __enter__(self) -> Ingestor:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _run_rules(
    session: Session, results: Sequence[IngestResult], parsed: Sequence[ParsedMessage]
) -> list[Fired]:
    """Routing rules for the batch's new tickets and customer replies, in the same transaction.

    The rule set is read once per batch; with no rules for mail, nothing more is asked.
    """
    from supportdesk.desk.rules.engine import acknowledges, apply_ingest_rules
    from supportdesk.desk.rules.storage import load_rules

    rules = [r for r in load_rules(session) if r.trigger in ("new_ticket", "customer_message")]
    if not rules and not acknowledges(session):
        return []
    now = utcnow()
    fired: list[Fired] = []
    for result, message in zip(results, parsed, strict=True):
        fired.extend(apply_ingest_rules(session, result, message, now, rules=rules))
    return fired
