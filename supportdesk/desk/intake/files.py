"""Feeding mail read from files (mbox, Maildir, .eml, stdin) to the store, in batches.

The sources in `supportdesk.mail.sources` only read bytes; this is where those bytes meet the
store: batches that each commit on their own, a message that cannot be stored reported and the
rest kept, and an unavailable store told apart from a broken message.

A file that is not mail at all (nothing at its start is a mail header: a README, a TNEF or
Word file, an empty file) is refused with the parser's reason and counted as an error, where
sync would store it: an IMAP server says what it holds is mail, a path given to import does
not. Malformed mail is still mail, and is imported with its problems recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from supportdesk.desk.ingest import Source
from supportdesk.desk.intake.pipeline import Ingestor, Summary
from supportdesk.mail.parse import ParsedMessage
from supportdesk.mail.sources import MailSource, RawMail, ReadProblem

BATCH_MESSAGES = 200
BATCH_BYTES = 16 * 1024 * 1024


@dataclass
class SourceReport:
    """One source as read: for the import summary."""

    path: str
    kind: str
    messages: int = 0
    style: str | None = None
    """For an mbox: mboxo/mboxrd (From_ lines), mboxcl2 (Content-Length) or mixed."""
    separators: dict[str, int] | None = None
    """For an mbox: envelope lines dated and undated, messages ended by Content-Length, and
    Content-Length headers that did not fit and were ignored."""


def import_sources(
    ingestor: Ingestor,
    sources: Iterable[MailSource],
    summary: Summary,
    *,
    batch_messages: int = BATCH_MESSAGES,
    batch_bytes: int = BATCH_BYTES,
    progress: Callable[[int, int], None] | None = None,
    reports: list[SourceReport] | None = None,
) -> list[SourceReport]:
    """Read every source and ingest what it holds, in batches that each commit on their own.

    A batch spans sources, so a folder of single files is parsed on every core like an mbox.
    `progress` hears (messages, bytes) after each batch. A store that is unavailable (locked,
    unreachable) stops the import with the store's exception: every later batch would fail
    too, and batches already committed stay, so running it again finishes the job. Pass
    `reports` to keep what was read up to such a stop.
    """
    reports = [] if reports is None else reports
    batch: list[RawMail] = []
    size = 0
    consumed = 0

    def flush() -> None:
        nonlocal size, consumed
        if batch:
            _ingest(ingestor, batch, summary)
        if progress is not None and (batch or consumed):
            progress(len(batch), consumed)
        batch.clear()
        size = consumed = 0

    for source in sources:
        report = SourceReport(source.label, source.kind)
        reports.append(report)
        for item in source:
            consumed += item.consumed
            if isinstance(item, ReadProblem):
                summary.errors.append(f"{item.label}: {item.reason}")
                continue
            report.messages += 1
            batch.append(item)
            size += len(item.raw)
            if len(batch) >= batch_messages or size >= batch_bytes:
                flush()
        if source.style is not None:
            report.style = source.style.name or None
            report.separators = source.style.as_dict()
    flush()
    return reports


def _ingest(ingestor: Ingestor, batch: list[RawMail], summary: Summary) -> None:
    # No IMAP position: a file has no UIDVALIDITY/UID, and the Message-ID (or the content
    # hash that stands in for one) is what recognises it on a second import.
    nowhere = Source()
    refused: list[str] = []

    def accept(index: int, message: ParsedMessage) -> bool:
        if message.not_mail:
            refused.append(f"{batch[index].label}: not imported: {message.not_mail}")
        return not message.not_mail

    try:
        ingestor.ingest_batch(
            [(mail.raw, nowhere) for mail in batch], summary=summary, accept=accept
        )
        summary.errors.extend(refused)
        return
    except Exception as exc:
        # Anything but an unavailable store is about one message: find it, keep the rest.
        if store_unavailable(exc):
            raise
        if len(batch) == 1:
            summary.errors.append(f"{batch[0].label}: not stored: {type(exc).__name__}: {exc}")
            return
    for mail in batch:
        _ingest(ingestor, [mail], summary)


def store_unavailable(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) says the store is out of reach for now, not broken.

    SQLite's "database is locked" after the busy timeout and a refused PostgreSQL connection
    both arrive as the driver's OperationalError; an MTA should try that delivery again later.
    """
    from sqlalchemy import exc as sa_exc

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(
            current, sa_exc.OperationalError | sa_exc.DisconnectionError | sa_exc.TimeoutError
        ):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        current = current.__cause__ or current.__context__
    return False
