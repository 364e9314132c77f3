"""Engines and sessions for SQLite and PostgreSQL, set up so several processes share one store.

SQLite gets WAL (readers never block the writer), foreign keys and a busy timeout on every
connection: sync, console and CLI run at once without "database is locked" reaching a person.

WAL checkpoints run beside the writers, not inside them. SQLite's automatic checkpoint runs
in the commit that crosses its threshold, so that one commit (one press of send in every 25
or so) waited 20-30 ms for the copy and the fsyncs. A store that writes starts a PASSIVE
checkpoint on a thread of its own every CHECKPOINT_EVERY write transactions (a passive
checkpoint never blocks a writer, and fsyncs the log as before), and the automatic one,
at a higher threshold, only catches what a short-lived process leaves behind.

Memory is bounded per connection: a read transaction runs with a small page cache
(READ_CACHE_KIB) and no memory-mapped I/O, a write transaction with a larger one
(WRITE_CACHE_KIB, for bulk changes that touch every ticket). Each pooled connection keeps
what it cached, so a long-lived reader such as the console, whose workers hold a handful of
connections, used to grow by the whole 64 MiB per connection as broad searches passed
through (420 MB after a few searches on a 1,000,000-message store); now it stays near
READ_CACHE_KIB per connection. The operating system's file cache still holds the pages a
smaller cache lets go, so a page read again costs a copy, not a disk read.

Reads a person waits for go first (`Store.priority`): on SQLite a read opened as
`session(background=True)` (a count, the sidebar, a look for notifications) pauses inside
SQLite, between two steps of its query, while a foreground read (the page or the ticket a
key asked for) is running, so on a machine whose other core is busy with a writer the key's
read does not share its core with the console's own refresh.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlmodel import Session

from supportdesk.errors import ReadCancelled, StoreError
from supportdesk.i18n import _

if TYPE_CHECKING:
    import psycopg

BUSY_TIMEOUT_MS = 10_000
INSUFFICIENT_PRIVILEGE = "42501"
NO_PASSWORD = "no password supplied"
"""libpq's words when the server wants a password and none was given."""
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}
CHECKPOINT_EVERY = 16
"""Write transactions between background checkpoints: a reply writes about 40 pages, so
about as often as SQLite's default threshold of 1000 pages did."""
AUTOCHECKPOINT_PAGES = 4000
"""SQLite's own checkpoint (in the committing transaction): the net under the background
one, for processes that exit before CHECKPOINT_EVERY writes or write big batches."""
READ_CACHE_KIB = 8 * 1024
"""SQLite page cache of a connection while it reads (see the module docstring)."""
WRITE_CACHE_KIB = 64 * 1024
"""SQLite page cache of a connection while it writes: a bulk change's pages stay in memory
instead of spilling into the log before the commit."""
MMAP_BYTES = 0
"""No memory-mapped reads: mapped pages count in the process's resident memory and are not
bounded by the cache size."""


BACKGROUND_STEP = 50_000
"""SQLite virtual-machine steps between two looks of a background read at the foreground
ones (about half a millisecond of its work)."""
BACKGROUND_PAUSE_MAX = 1.0
"""Seconds a background transaction pauses at most in all: under a stream of keys a count
or a refresh still comes, late."""
FOREGROUND_TAIL = 0.05
"""Seconds background reads stay paused after a foreground read ends: the UI thread draws
what it read then."""


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute(f"PRAGMA cache_size = -{READ_CACHE_KIB}")
    cursor.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
    cursor.execute("PRAGMA temp_store = MEMORY")
    cursor.close()


PARALLEL_WORKERS = 0
"""PostgreSQL parallel workers per query for the store's sessions: none. Every query the
console and the CLI send returns a page or a count; a plan with workers waits for them to
start, which on a busy server cost more than the work: a common word's first page took
121 ms with two workers doing 13 ms each (1,000,000 messages, load 6 on two cores), a rare
word's 66 ms for 0.1 ms of work. A session setting, so no server configuration is needed."""


def _on_postgres_connect(dbapi_connection: Any, _record: Any) -> None:
    """A preference, not a requirement: a server that refuses the setting (a managed one,
    a pooler) keeps its default and the connection still works."""
    import psycopg

    # In autocommit the SET is one round trip; in a transaction it was three (BEGIN, SET,
    # COMMIT), on each of the connections a console opens as it starts.
    dbapi_connection.autocommit = True
    try:
        dbapi_connection.execute(f"SET max_parallel_workers_per_gather = {PARALLEL_WORKERS}")
    except psycopg.Error:
        pass
    finally:
        dbapi_connection.autocommit = False


def _on_sqlite_begin(conn: Any) -> None:
    # pysqlite's implicit transactions defer BEGIN until the first write, which breaks
    # read-then-write isolation; IMMEDIATE is taken only for sessions opened as writers.
    writer = bool(conn.info.get("writer"))
    cache = WRITE_CACHE_KIB if writer else READ_CACHE_KIB
    if conn.info.get("cache_kib") != cache:  # `info` lives as long as the DBAPI connection
        conn.exec_driver_sql(f"PRAGMA cache_size = -{cache}")
        conn.info["cache_kib"] = cache
    conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")


def make_engine(
    url: str,
    *,
    password: Callable[[], str | None] | None = None,
    password_when_asked: Callable[[], str | None] | None = None,
) -> Engine:
    """An engine for `url`, with the per-backend settings the store relies on.

    For a PostgreSQL URL that carries no password (a team member's comes from a command or
    the keyring, never the URL): `password` is asked once, at the first connection;
    `password_when_asked` only if the server then says it needs one, so a store reached by
    peer, certificate or ~/.pgpass never touches the keyring (which may be locked, or prompt).
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(
            _("database_url {url!r} is not a database URL: {exc}").format(url=url, exc=exc)
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed, connect_args={"check_same_thread": False, "isolation_level": None}
        )
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            # No server-side prepared statements: a generic plan cannot see how rare a
            # search term is, and a rare-word search then reads every match.
            # Keepalives: a connection to a server that vanished (a network gone, not a
            # server closing it) is noticed within half a minute, not the system's two hours;
            # the feeder election and the listener rely on that.
            engine = create_engine(
                parsed,
                pool_pre_ping=True,
                connect_args={"prepare_threshold": None, **KEEPALIVES},
            )
        except ModuleNotFoundError as exc:
            raise StoreError(
                _("PostgreSQL driver missing ({name}); install psycopg").format(name=exc.name)
            ) from None
        event.listen(engine, "connect", _on_postgres_connect)
        if parsed.password is None and (password or password_when_asked) is not None:
            event.listen(engine, "do_connect", _PasswordOnConnect(password, password_when_asked))
        return engine
    raise StoreError(
        _("database_url {url!r}: only sqlite:/// and postgresql:// are supported").format(url=url)
    )


class _PasswordOnConnect:
    """Fills in the password when a connection is made, asking each source at most once."""

    def __init__(
        self,
        given: Callable[[], str | None] | None,
        when_asked: Callable[[], str | None] | None,
    ) -> None:
        self.given = given
        self.when_asked = when_asked
        self.password: str | None = None
        # The console's workers, poll and listener connect at once: one asks, the rest wait.
        self._lock = threading.Lock()

    def __call__(self, dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        with self._lock:
            return self._connect(dialect, cargs, cparams)

    def _connect(self, dialect: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        if self.given is not None:
            self.password, self.given = self.given(), None
        if self.password is not None:
            cparams.setdefault("password", self.password)
            return None
        if self.when_asked is None:
            return None
        try:
            return dialect.connect(*cargs, **cparams)
        except dialect.loaded_dbapi.OperationalError as exc:
            if NO_PASSWORD not in str(exc):
                raise
            source, self.when_asked = self.when_asked, None
            self.password = source()
            if self.password is None:
                raise
        cparams["password"] = self.password
        return None


class Priority:
    """Foreground reads in flight, which background reads on SQLite yield to.

    Counted, not locked: a background read pauses between two steps of its query while any
    foreground read runs and for FOREGROUND_TAIL after, up to BACKGROUND_PAUSE_MAX per
    transaction. A paused read waits on a condition that the end of a foreground read
    notifies, so it takes no database lock and leaves the GIL free meanwhile. It does keep
    its read transaction and snapshot open up to BACKGROUND_PAUSE_MAX longer: writers are
    not blocked, but the WAL cannot restart from its beginning (a checkpoint cannot get past
    that snapshot) until it ends, so the log may grow a little more under steady writes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ended = threading.Condition(self._lock)
        """Notified when a foreground read ends: the paused reads look again."""
        self._running = 0
        self._until = 0.0
        self.pauses = 0
        """Times a background read paused (tests)."""
        self.cancelled: Callable[[], bool] = _never
        """Whether the work on the calling thread was cancelled (a console sets this to its
        workers' flag): a background read then stops where it is (ReadCancelled)."""

    @property
    def busy(self) -> bool:
        """Whether background reads should wait now."""
        return self._running > 0 or time.monotonic() < self._until

    @contextmanager
    def foreground(self) -> Iterator[None]:
        """Mark a read a person is waiting for, for its duration."""
        with self._lock:
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                self._until = max(self._until, time.monotonic() + FOREGROUND_TAIL)
                self._ended.notify_all()

    def hold(self, seconds: float) -> None:
        """Keep background reads paused for `seconds` (a key was pressed: its reads start
        within a few milliseconds, and its screen is drawn after them)."""
        with self._lock:
            self._until = max(self._until, time.monotonic() + seconds)

    def yielder(self) -> _Yielder:
        """A progress handler for one background transaction (see _Yielder)."""
        return _Yielder(self)


def _never() -> bool:
    return False


class _Yielder:
    """A background transaction's progress handler: waits while its Priority is `busy`, and
    interrupts the query (once) when the work that asked for it was cancelled."""

    def __init__(self, priority: Priority) -> None:
        self.priority = priority
        self.deadline = time.monotonic() + BACKGROUND_PAUSE_MAX
        self.interrupted = False

    def __call__(self) -> int:
        priority = self.priority
        if self.interrupted:
            return 0  # the rollback after the interrupt runs to its end
        if priority.cancelled():
            self.interrupted = True
            return 1
        if not priority.busy:
            return 0
        deadline = self.deadline
        with priority._lock:
            priority.pauses += 1
            while True:
                now = time.monotonic()
                if now >= deadline:
                    break
                if priority._running > 0:
                    priority._ended.wait(deadline - now)  # woken when a foreground read ends
                elif now < priority._until:
                    priority._ended.wait(min(priority._until, deadline) - now)
                else:
                    break
        if priority.cancelled():  # cancelled while it waited
            self.interrupted = True
            return 1
        return 0


@dataclass
class Store:
    """An open store: one engine, and sessions that know whether they will write."""

    engine: Engine
    url: str
    info: dict[str, Any] = field(default_factory=dict)
    """Facts every session of this store carries in `session.info`, e.g. how replies are
    sent (`mail_setup`), for domain code that runs deep inside ingest (rules' replies)."""
    _checkpoints: _Checkpointer | None = field(default=None, init=False, repr=False)
    priority: Priority = field(default_factory=Priority, init=False, repr=False)
    """Which reads wait for which (see Priority); shared by every session of this store."""

    def __post_init__(self) -> None:
        database = self.engine.url.database
        if self.engine.dialect.name == "sqlite" and database and database != ":memory:":
            self._checkpoints = _Checkpointer(str(Path(database).expanduser()))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self, *, write: bool = False, background: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error.

        A `background` read on SQLite yields to foreground ones (see Priority).

        Writers on SQLite take the write lock up front (BEGIN IMMEDIATE), so a read followed
        by a write in the same transaction can never be overtaken by another process.
        A pool with no free connection after its wait is a StoreError: the caller (a
        console worker among many) says so, where SQLAlchemy's TimeoutError would be a crash.
        """
        try:
            connection = self.engine.connect()
        except PoolTimeoutError as exc:
            raise StoreError(
                _("the store is busy: no free database connection; try again in a moment")
            ) from exc
        with connection as conn:
            conn.info["writer"] = write
            yielding = None
            yielder = None
            if background and not write and self.dialect == "sqlite":
                yielding = conn.connection.dbapi_connection
                assert yielding is not None
                yielder = self.priority.yielder()
                yielding.set_progress_handler(yielder, BACKGROUND_STEP)
            session = Session(bind=conn, expire_on_commit=False)
            session.info.update(self.info)
            try:
                yield session
                session.commit()
                if write and self._checkpoints is not None:
                    self._checkpoints.wrote()
            except DBAPIError as exc:
                session.rollback()
                if yielder is not None and yielder.interrupted:
                    # SQLite's "interrupted": the handler stopped a cancelled worker's read.
                    raise ReadCancelled(str(exc.orig)) from exc
                if getattr(exc.orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE:
                    # A team store's server said no (see store/team.py): a person's limit,
                    # not a bug, so one clear line instead of a traceback.
                    said = str(exc.orig).strip().splitlines()[0]
                    raise StoreError(
                        _("the team store refused this: {said}").format(said=said)
                    ) from exc
                raise
            except BaseException:
                session.rollback()
                raise
            finally:
                try:
                    if yielding is not None:
                        # Before the connection goes back to the pool, where the next session
                        # (a writer, a key's read) must not pause. A connection that is
                        # already broken has no handler to keep: never raise over the error
                        # that broke it.
                        with contextlib.suppress(sqlite3.Error):
                            yielding.set_progress_handler(None, 0)
                finally:
                    session.close()
                    conn.info["writer"] = False

    def dispose(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.wait()
        self.engine.dispose()


class _Checkpointer:
    """PASSIVE WAL checkpoints on a daemon thread, one at a time, every CHECKPOINT_EVERY
    write transactions. A checkpoint that fails (the file went away, a busy lock) is left to
    the next one or to SQLite's automatic checkpoint: nothing depends on it but the log size."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.writes = 0
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def wrote(self) -> None:
        with self.lock:
            self.writes += 1
            if self.writes < CHECKPOINT_EVERY or (self.thread and self.thread.is_alive()):
                return
            self.writes = 0
            self.thread = threading.Thread(
                target=self._checkpoint, name="sqlite-checkpoint", daemon=True
            )
            self.thread.start()

    def _checkpoint(self) -> None:
        try:
            # mode=rw: never create a file where a store was removed meanwhile.
            conn = sqlite3.connect(
                f"file:{quote(self.path)}?mode=rw", uri=True, isolation_level=None, timeout=0
            )
        except sqlite3.Error:
            return
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error:
            pass
        finally:
            conn.close()

    def wait(self) -> None:
        with self.lock:
            thread = self.thread
        if thread is not None:
            thread.join()


def own_connection(engine: Engine) -> psycopg.Connection[Any]:
    """A PostgreSQL connection of the caller's own, in autocommit, outside the pool.

    For state that lives as long as a connection (a LISTEN, an advisory lock): a pooled
    connection is reset when returned, which would end both without a word.
    """
    import psycopg

    proxied = engine.raw_connection()
    proxied.detach()  # closed by its owner, never returned to the pool
    conn = proxied.dbapi_connection
    if not isinstance(conn, psycopg.Connection):
        proxied.close()
        raise StoreError(_("a connection of its own needs a PostgreSQL store"))
    conn.rollback()
    conn.autocommit = True
    return conn
