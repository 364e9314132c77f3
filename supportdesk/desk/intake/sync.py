"""IMAP folders into the store: only new UIDs, in batches, each committed with its position.

Per (mailbox, folder) the store keeps a SyncState row. Every batch of messages commits in the
same transaction as the row's new `last_uid`, so a sync killed at any instant resumes exactly
where the store says it stopped: nothing is lost and nothing is imported twice.

Fast paths, because most syncs find nothing: where the server has CONDSTORE, an unchanged
HIGHESTMODSEQ means the folder is exactly as we left it, and nothing but EXAMINE is sent.
Otherwise one `UID SEARCH UID last+1:*` answers the question (none for an empty folder); it is
cheap on every server and, unlike comparing UIDNEXT, also right on servers (Microsoft 365)
that leave UIDNEXT stale. Neither needs the store opened: a sync that finds nothing reads the
folders' positions with plain sqlite3 (`StoreAccess`, `supportdesk.store.quick`), so a cron
job run every minute costs next to nothing.

`mark-seen` flags a batch once it is downloaded, before it commits (a crash in between leaves
mail seen but not imported, and the next sync imports it anyway: it goes by UID, never by flags);
`move` moves it just after (a crash in between leaves imported mail behind, which the next
sync moves: in a `move` folder everything at or below the position is imported already).

A changed UIDVALIDITY means every UID we know is meaningless. The folder is then re-listed
by Message-ID and size (headers only); a message stored under that id with that size is not
downloaded again, and the rest go through the normal ingest, which de-duplicates by content:
a reused Message-ID with other content is kept as its own message.
The new UIDVALIDITY is stored only when the re-match is complete, so an interrupted re-match
simply starts over, cheaply, with what it imported already counting as known.
"""

from __future__ import annotations

import threading
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from supportdesk.desk.intake.parsing import ParsePool
from supportdesk.desk.intake.summary import Summary
from supportdesk.errors import NotFoundError, SupportdeskError
from supportdesk.i18n import _
from supportdesk.mail import imap
from supportdesk.mail.imap import FolderInfo, ImapError
from supportdesk.store.quick import Position

if TYPE_CHECKING:
    from imapclient import IMAPClient
    from sqlmodel import Session

    from supportdesk.config import Mailbox, SyncSettings
    from supportdesk.desk.ingest import Source
    from supportdesk.desk.intake.parsing import Parsing
    from supportdesk.desk.intake.pipeline import Ingestor
    from supportdesk.store import Store

MAX_BATCH_BYTES = 16 * 1024 * 1024
MAX_OVERSIZE_HEADER = 256 * 1024
SEARCH_WINDOW = 50_000
"""UIDs per SEARCH: imaplib refuses response lines over 1 MB (~120k UIDs)."""
ACTION_CHUNK = 500
SEEN = b"\\Seen"
DELETED = b"\\Deleted"


class Progress(Protocol):
    """Where a folder's progress goes (a rich bar on a terminal, nowhere otherwise)."""

    def begin(self, label: str, total: int) -> None: ...

    def advance(self, count: int) -> None: ...

    def end(self) -> None: ...


@dataclass
class FolderResult:
    """One folder's sync: what the summary table and `--json` report."""

    mailbox: str
    folder: str
    summary: Summary = field(default_factory=Summary)
    new_uids: int = 0
    downloaded: int = 0
    known: int = 0
    """After a UIDVALIDITY change: messages matched by Message-ID, not downloaded again."""
    uidvalidity_changed: bool = False
    seconds: float = 0.0
    error: str | None = None
    temporary: bool = False
    stopped: bool = False

    def as_dict(self) -> dict[str, object]:
        data = {k: v for k, v in self.__dict__.items() if k != "summary"}
        data.update(self.summary.as_dict())
        return data


class Overtaken(Exception):
    """Another sync committed this folder's position first; ours is rolled back."""


class StoreAccess:
    """How a sync reaches the store: lazily, so a sync that finds nothing never opens it.

    Folder positions come from a quick read (`supportdesk.store.quick`, plain sqlite3) taken
    before the sync, each used once; the store itself, with SQLAlchemy, its migration check
    and the ingest pipeline, is opened only when a folder has something to write. Once it is
    open, positions are read from it, as they always were.
    """

    def __init__(
        self,
        opener: Callable[[], Store],
        positions: dict[str, dict[str, Position]] | None = None,
    ) -> None:
        self._opener = opener
        self._store: Store | None = None
        self._quick = positions or {}
        self._used: set[tuple[str, str]] = set()

    @classmethod
    def of(cls, store: Store) -> StoreAccess:
        access = cls(lambda: store)
        access._store = store
        return access

    @property
    def opened(self) -> bool:
        return self._store is not None

    def store(self) -> Store:
        if self._store is None:
            self._store = self._opener()
        return self._store

    def position(self, mailbox: str, folder: str) -> Position | None:
        """The folder's stored position; None before its first sync."""
        folders = self._quick.get(mailbox)
        if self._store is None and folders is not None and (mailbox, folder) not in self._used:
            self._used.add((mailbox, folder))
            return folders.get(folder)
        return _stored_position(self.store(), mailbox, folder)


class FolderSyncer:
    """Syncs the folders of one mailbox into one store, over a client the caller owns.

    `store` may be a `StoreAccess` and `ingestor` a function making one: then neither is
    opened until a folder has mail to import or a position to write. `pool`, the ingestor's
    parse workers, is then given too, so the download can start before the store opens.
    """

    def __init__(
        self,
        store: Store | StoreAccess,
        ingestor: Ingestor | Callable[[], Ingestor],
        mailbox: Mailbox,
        settings: SyncSettings,
        *,
        progress: Progress | None = None,
        stop: threading.Event | None = None,
        pool: ParsePool | None = None,
    ) -> None:
        self.access = store if isinstance(store, StoreAccess) else StoreAccess.of(store)
        self._ingestor = ingestor
        self._pool = pool
        self.mailbox = mailbox
        self.settings = settings
        self.progress = progress
        self.stop = stop or threading.Event()

    @property
    def store(self) -> Store:
        return self.access.store()

    @property
    def pool(self) -> ParsePool:
        return self._pool if self._pool is not None else self.ingestor.pool

    @property
    def ingestor(self) -> Ingestor:
        if callable(self._ingestor):
            self._ingestor = self._ingestor()
        return self._ingestor

    def sync(self, client: IMAPClient, folder: str) -> FolderResult:
        """Bring the store up to date with `folder`; IMAP failures raise ImapError."""
        started = time.monotonic()
        result = FolderResult(self.mailbox.name, folder)
        try:
            with imap.errors_as_imap(self.mailbox):
                self._sync(client, folder, result)
        except Overtaken:
            raise ImapError(
                _(
                    "mailbox {name!r}: another sync of folder {folder!r} ran at "
                    "the same time and got there first; nothing was doubled"
                ).format(name=self.mailbox.name, folder=folder),
                kind="busy",
                temporary=True,
            ) from None
        finally:
            result.seconds = time.monotonic() - started
        return result

    def _sync(self, client: IMAPClient, folder: str, result: FolderResult) -> None:
        acting = self.mailbox.after_import != "leave"
        if self.mailbox.after_import == "move" and not client.folder_exists(self.mailbox.move_to):
            raise imap.missing_folder(client, self.mailbox, self.mailbox.move_to or "")
        position = self.access.position(self.mailbox.name, folder)
        info = imap.open_folder(client, self.mailbox, folder, readonly=not acting)
        if position is not None and position.uidvalidity != info.uidvalidity:
            self._rematch(client, info, position, result)
            return
        last = position.last_uid if position else 0
        if self.mailbox.after_import == "move" and last and info.exists:
            self._finish_moves(client, last)
        if (
            position is not None
            and info.highestmodseq is not None
            and position.highestmodseq == info.highestmodseq
        ):
            return
        uids = uids_above(client, last, info) if info.exists else array("Q")
        result.new_uids = len(uids)
        if not uids:
            if position is None or position.highestmodseq != info.highestmodseq:
                self._commit([], info, position, last, info.highestmodseq, result)
            return
        self._import(client, info, position, uids, result)

    # ---- the normal path ----------------------------------------------------------------

    def _import(
        self,
        client: IMAPClient,
        info: FolderInfo,
        position: Position | None,
        uids: Sequence[int],
        result: FolderResult,
    ) -> None:
        """Download, import and commit in batches, the next batch downloading meanwhile.

        The download runs one batch ahead in a thread (`_Ahead`) and hands each batch to the
        parse workers: the server, the socket and the other cores work while this thread
        writes. The first batch is on its way while the store and the ingest pipeline load.
        Crash safety is unchanged, since nothing is written for a batch before it has been
        downloaded whole and `mark-seen` flags a batch as soon as it is downloaded, which is
        still before it commits. The client is used by one thread at a time: `move` waits
        for the download in flight.
        """
        # Forked before the download thread exists (a fork must not copy a held lock) and
        # before the store's machinery is imported (the workers need none of it).
        self.pool.start(len(uids))
        self._begin(f"{self.mailbox.name}/{info.name}", len(uids))
        lock = threading.Lock()
        batches = _Ahead(self._downloads(client, info, uids, result, lock))
        from supportdesk.desk.ingest import Source

        try:
            for chunk, present, raws, parsing in batches:
                if self.stop.is_set():
                    result.stopped = True
                    return
                last = chunk[-1]
                # HIGHESTMODSEQ vouches for the whole folder, so it is stored only with
                # the final batch; an interrupted run must not look complete.
                modseq = info.highestmodseq if last == uids[-1] else None
                items = [
                    (raw, Source(self.mailbox.name, info.name, info.uidvalidity, uid))
                    for uid, raw in zip(present, raws, strict=True)
                ]
                del raws
                position = self._commit(items, info, position, last, modseq, result, parsing)
                del items, parsing
                with lock:
                    self._move(client, present)
                if self.progress is not None:
                    self.progress.advance(len(chunk))
        finally:
            batches.close()
            self._end()

    def _downloads(
        self,
        client: IMAPClient,
        info: FolderInfo,
        uids: Sequence[int],
        result: FolderResult,
        lock: threading.Lock,
    ) -> Iterator[tuple[list[int], list[int], list[bytes], Parsing]]:
        """Each batch of `uids`: the UIDs, those the server returned, their bytes, and
        their parse, already started in the worker processes. Flagged \\Seen where configured."""
        for group in _chunks(uids, self.settings.batch_size):
            if self.stop.is_set():
                return
            with lock:
                sizes = self._sizes(client, group)
            for chunk in self._by_bytes(group, sizes):
                if self.stop.is_set():
                    return
                with lock:
                    downloaded = self._download(client, chunk, sizes, info, result)
                    present = [uid for uid in chunk if uid in downloaded]
                    self._mark_seen(client, present)
                raws = [downloaded[uid] for uid in present]
                del downloaded
                yield chunk, present, raws, self.pool.parse(raws)

    def _commit(
        self,
        items: list[tuple[bytes, Source]],
        info: FolderInfo,
        expected: Position | None,
        last_uid: int,
        highestmodseq: int | None,
        result: FolderResult,
        parsing: Parsing | None = None,
    ) -> Position:
        new = Position(info.uidvalidity, last_uid, highestmodseq)
        writer = self._writer(info, expected, new)
        if items:
            self.ingestor.ingest_batch(
                items, before_commit=writer, summary=result.summary, parsing=parsing
            )
        else:
            with self.store.session(write=True) as session:
                writer(session)
        return new

    def _writer(
        self, info: FolderInfo, expected: Position | None, new: Position
    ) -> Callable[[Session], None]:
        from sqlalchemy import select
        from sqlmodel import col

        from supportdesk.store.models import SyncState, utcnow

        def write(session: Session) -> None:
            row = (
                session.execute(
                    select(SyncState)
                    .where(
                        col(SyncState.mailbox) == self.mailbox.name,
                        col(SyncState.folder) == info.name,
                    )
                    .with_for_update()
                )
                .scalars()
                .first()
            )
            if row is None:
                if expected is not None:
                    raise Overtaken
                row = SyncState(mailbox=self.mailbox.name, folder=info.name)
            elif expected is None or (row.uidvalidity, row.last_uid) != (
                expected.uidvalidity,
                expected.last_uid,
            ):
                raise Overtaken
            row.uidvalidity = new.uidvalidity
            row.last_uid = new.last_uid
            row.uidnext = info.uidnext
            row.highestmodseq = new.highestmodseq
            row.updated_at = utcnow()
            session.add(row)

        return write

    def _sizes(self, client: IMAPClient, uids: Sequence[int]) -> dict[int, int]:
        data = client.fetch(list(uids), ["RFC822.SIZE"])
        return {uid: int(item.get(b"RFC822.SIZE", 0)) for uid, item in data.items()}

    def _by_bytes(self, uids: Sequence[int], sizes: dict[int, int]) -> Iterator[list[int]]:
        """Runs of present UIDs, in order, each at most MAX_BATCH_BYTES (or one message)."""
        chunk: list[int] = []
        total = 0
        for uid in uids:
            if uid not in sizes:
                continue
            size = min(sizes[uid], MAX_OVERSIZE_HEADER)
            if sizes[uid] <= self.settings.max_message_bytes:
                size = sizes[uid]
            if chunk and total + size > MAX_BATCH_BYTES:
                yield chunk
                chunk, total = [], 0
            chunk.append(uid)
            total += size
        if chunk:
            yield chunk

    def _download(
        self,
        client: IMAPClient,
        uids: Sequence[int],
        sizes: dict[int, int],
        info: FolderInfo,
        result: FolderResult,
    ) -> dict[int, bytes]:
        limit = self.settings.max_message_bytes
        whole = [uid for uid in uids if sizes[uid] <= limit]
        huge = [uid for uid in uids if sizes[uid] > limit]
        raws: dict[int, bytes] = {}
        if whole:
            for uid, item in client.fetch(whole, ["BODY.PEEK[]"]).items():
                body = item.get(b"BODY[]")
                if isinstance(body, bytes):
                    raws[uid] = body
            result.downloaded += len(raws)
        if huge:
            wanted = f"BODY.PEEK[HEADER]<0.{MAX_OVERSIZE_HEADER}>"
            for uid, item in client.fetch(huge, [wanted]).items():
                header = next((v for k, v in item.items() if k.startswith(b"BODY[HEADER]")), b"")
                raws[uid] = oversize_stand_in(header, sizes[uid], limit, info, uid)
                result.summary.oversize += 1
        for uid in uids:
            if uid not in raws and uid in sizes:
                result.summary.errors.append(
                    f"{info.name} UID {uid}: the server returned no content; skipped"
                )
        return raws

    # ---- after import: mark seen or move --------------------------------------------------

    def _mark_seen(self, client: IMAPClient, uids: Sequence[int]) -> None:
        """Flag before the commit: a crash in between leaves mail seen but not yet imported,
        and the next sync imports it all the same, because it goes by UID, never by flags."""
        if self.mailbox.after_import != "mark-seen":
            return
        for chunk in _chunks(uids, ACTION_CHUNK):
            client.add_flags(list(chunk), [SEEN], silent=True)

    def _move(self, client: IMAPClient, uids: Sequence[int]) -> None:
        """Move after the commit, never before: moved mail is out of reach of this folder's sync."""
        if self.mailbox.after_import != "move":
            return
        target = self.mailbox.move_to or ""
        for part in _chunks(uids, ACTION_CHUNK):
            chunk = list(part)
            if client.has_capability("MOVE"):
                client.move(chunk, target)
                continue
            client.copy(chunk, target)
            client.add_flags(chunk, [DELETED], silent=True)
            if client.has_capability("UIDPLUS"):
                client.uid_expunge(chunk)
            else:
                client.expunge()

    def _finish_moves(self, client: IMAPClient, last: int) -> None:
        """Anything at or below the position is imported: move what a crash left behind."""
        pending = client.search(["UID", f"1:{last}"])
        self._move(client, sorted(uid for uid in pending if uid <= last))

    # ---- UIDVALIDITY changed --------------------------------------------------------------

    def _rematch(
        self, client: IMAPClient, info: FolderInfo, old: Position, result: FolderResult
    ) -> None:
        from supportdesk.desk.ingest import Source

        result.uidvalidity_changed = True
        uids = uids_above(client, 0, info)
        result.new_uids = len(uids)
        self._begin(f"{self.mailbox.name}/{info.name} (re-matching)", len(uids))
        try:
            for group in _chunks(uids, self.settings.batch_size):
                if self.stop.is_set():
                    result.stopped = True
                    return
                listing = client.fetch(
                    list(group), ["RFC822.SIZE", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]
                )
                ids = {uid: _message_id(item) for uid, item in listing.items()}
                known = self._known_ids({i for i in ids.values() if i})
                listed = {uid: int(item.get(b"RFC822.SIZE", 0)) for uid, item in listing.items()}
                sizes = {
                    uid: size
                    for uid, size in listed.items()
                    if not self._is_known(ids[uid], size, known)
                }
                result.known += len(listing) - len(sizes)
                for chunk in self._by_bytes(group, sizes):
                    raws = self._download(client, chunk, sizes, info, result)
                    items = [
                        (raws[uid], Source(self.mailbox.name, info.name, info.uidvalidity, uid))
                        for uid in chunk
                        if uid in raws
                    ]
                    if items:
                        self.ingestor.ingest_batch(items, summary=result.summary)
                self._mark_seen(client, sorted(listing))
                self._move(client, sorted(listing))
                if self.progress is not None:
                    self.progress.advance(len(group))
            self._commit([], info, old, uids[-1] if uids else 0, info.highestmodseq, result)
        finally:
            self._end()

    def _known_ids(self, message_ids: set[str]) -> dict[str, set[int]]:
        """The stored sizes of each Message-ID: the id alone cannot tell a copy we hold from
        another message reusing it (issue 9: a reused id with other content is its own mail)."""
        if not message_ids:
            return {}
        from sqlalchemy import select
        from sqlmodel import col

        from supportdesk.store.models import Message

        known: dict[str, set[int]] = {}
        with self.store.session() as session:
            rows = session.execute(
                select(col(Message.message_id), col(Message.size)).where(
                    col(Message.message_id).in_(sorted(message_ids))
                )
            )
            for message_id, size in rows:
                known.setdefault(message_id, set()).add(size)
        return known

    def _is_known(self, message_id: str | None, size: int, known: dict[str, set[int]]) -> bool:
        """Skip the download only for a copy of the same size as one stored under the same id.

        A different size may be another message reusing the id, so it is downloaded and ingest
        decides by content (a copy stored with other line endings is then a duplicate, at the
        cost of one download). An oversize message was stored as a stand-in of another size;
        its id alone identifies it.
        """
        if message_id is None or message_id not in known:
            return False
        return size in known[message_id] or size > self.settings.max_message_bytes

    def _begin(self, label: str, total: int) -> None:
        if self.progress is not None:
            self.progress.begin(label, total)

    def _end(self) -> None:
        if self.progress is not None:
            self.progress.end()


def _message_id(item: dict[bytes, object]) -> str | None:
    """The Message-ID the parser would store, or None when it would have to invent one."""
    from supportdesk.mail.parse import SYNTHETIC_DOMAIN, parse_message

    header = next((v for k, v in item.items() if k.startswith(b"BODY[HEADER.FIELDS")), b"")
    if not isinstance(header, bytes) or not header.strip():
        return None
    found = parse_message(header.rstrip(b"\r\n") + b"\r\n\r\n").message_id
    return None if found.endswith(f"@{SYNTHETIC_DOMAIN}>") else found


def oversize_stand_in(header: bytes, size: int, limit: int, info: FolderInfo, uid: int) -> bytes:
    """What is stored for a message over the size limit: its headers and a note saying so.

    The original body type is kept under X-Supportdesk-Original-* names so the stand-in still
    parses as the plain-text note it is, and its Message-ID is the original's, so a later
    re-sync recognises it.
    """
    head = header.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    lines: list[bytes] = []
    for line in head.splitlines():
        if line[:1] in (b" ", b"\t") and lines:
            lines[-1] += b"\r\n" + line
        else:
            lines.append(line)
    kept = []
    for line in lines:
        name = line.split(b":", 1)[0].strip().lower()
        if name in (b"content-type", b"content-transfer-encoding", b"mime-version"):
            line = b"X-Supportdesk-Original-" + line.lstrip()
        kept.append(line)
    note = (
        f"[supportdesk] This message is {size:,} bytes, over the {limit:,}-byte limit "
        "(sync.max_message_bytes), so only its headers were downloaded. The whole message "
        f"is still on the server: folder {info.name}, UIDVALIDITY {info.uidvalidity}, "
        f"UID {uid}.\r\n"
    )
    return (
        b"\r\n".join(kept)
        + b"\r\nX-Supportdesk-Oversize: "
        + str(size).encode()
        + b"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        + b"Content-Transfer-Encoding: 8bit\r\n\r\n"
        + note.encode()
    )


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def uids_above(client: IMAPClient, last: int, info: FolderInfo) -> array[int]:
    """UIDs above `last`, in order, searched in windows to stay under imaplib's line cap."""
    found: array[int] = array("Q")
    low = last + 1
    top = info.uidnext - 1 if info.uidnext else 0
    while low <= top:
        high = min(low + SEARCH_WINDOW - 1, top)
        found.extend(sorted(client.search(["UID", f"{low}:{high}"])))
        low = high + 1
    # `n:*` always matches the highest UID, even one below n: filter.
    found.extend(sorted(uid for uid in client.search(["UID", f"{low}:*"]) if uid >= low))
    return found


def _stored_position(store: Store, mailbox: str, folder: str) -> Position | None:
    from sqlalchemy import select
    from sqlmodel import col

    from supportdesk.store.models import SyncState

    with store.session() as session:
        row = (
            session.execute(
                select(SyncState).where(
                    col(SyncState.mailbox) == mailbox, col(SyncState.folder) == folder
                )
            )
            .scalars()
            .first()
        )
        if row is None:
            return None
        return Position(row.uidvalidity, row.last_uid, row.highestmodseq)


T = TypeVar("T")
_END = object()


class _Ahead(Generic[T]):
    """Iterates `source` one item ahead in a thread: the next item is made while the caller
    works on this one. `close` lets the item in the making finish (a FETCH cannot be cut
    short without losing the connection) and stops there."""

    def __init__(self, source: Iterator[T]) -> None:
        self._source = source
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="sync-download")
        self._next: Future[object] = self._thread.submit(next, source, _END)

    def __iter__(self) -> _Ahead[T]:
        return self

    def __next__(self) -> T:
        item = self._next.result()
        if item is _END:
            raise StopIteration
        self._next = self._thread.submit(next, self._source, _END)
        return item  # type: ignore[return-value]

    def close(self) -> None:
        self._thread.shutdown(wait=True, cancel_futures=True)


# ---- whole mailboxes ------------------------------------------------------------------------


def ensure_default_queue(store: Store, queue: str) -> None:
    """The queue new tickets land in must exist; it is named in config, so create it."""
    from supportdesk.desk import directory

    with store.session() as session:
        try:
            directory.get_queue(session, queue)
            return
        except NotFoundError:
            pass
    with store.session(write=True) as session:
        directory.ensure_queue(session, queue)


def sync_mailbox(
    store: Store | StoreAccess,
    mailbox: Mailbox,
    settings: SyncSettings,
    *,
    default_queue: str,
    our_addresses: frozenset[str],
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    workers: int | None = None,
) -> list[FolderResult]:
    """Sync every folder of `mailbox`; a folder that fails is reported and the rest go on.

    With a `StoreAccess`, the store and the ingest pipeline are opened only if some folder
    has something to write: a sync that finds nothing new reads two rows with sqlite3.
    """
    access = store if isinstance(store, StoreAccess) else StoreAccess.of(store)
    if access.opened:
        ensure_default_queue(access.store(), default_queue)
    results: list[FolderResult] = []
    client: IMAPClient | None = None
    stop = stop or threading.Event()
    pool = ParsePool(workers, our_addresses)

    def make_ingestor() -> Ingestor:
        from supportdesk.desk.intake.pipeline import Ingestor

        ensure_default_queue(access.store(), default_queue)
        return Ingestor(
            access.store(), default_queue=default_queue, our_addresses=our_addresses, pool=pool
        )

    syncer = FolderSyncer(
        access, make_ingestor, mailbox, settings, progress=progress, stop=stop, pool=pool
    )
    try:
        for index, folder in enumerate(mailbox.folders):
            if stop.is_set():
                break
            try:
                if client is None:
                    client = imap.connect(mailbox)
                results.append(syncer.sync(client, folder))
            except SupportdeskError as exc:
                temporary = isinstance(exc, ImapError) and exc.temporary
                results.append(
                    FolderResult(mailbox.name, folder, error=str(exc), temporary=temporary)
                )
                if client is None:
                    # Could not connect at all: the other folders would say the same.
                    for rest in mailbox.folders[index + 1 :]:
                        results.append(
                            FolderResult(mailbox.name, rest, error=str(exc), temporary=temporary)
                        )
                    break
                if not isinstance(exc, ImapError) or exc.connection_lost:
                    imap.close(client, polite=False)
                    client = None
    finally:
        if client is not None:
            imap.close(client)
        pool.close()
    return results
