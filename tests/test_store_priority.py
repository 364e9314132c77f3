"""Background reads yield to the foreground ones a person waits for (store.engine.Priority)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from supportdesk.errors import ReadCancelled
from supportdesk.store import Store
from supportdesk.store import engine as engine_module
from supportdesk.tui import data as data_module

ROWS = 1_000_000
# About ten million SQLite steps: the progress handler is called hundreds of times.
SLOW = text(
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < :rows) "
    "SELECT count(*) FROM c"
)


class _Read(threading.Thread):
    def __init__(self, store: Store, *, background: bool) -> None:
        super().__init__(daemon=True)
        self.store = store
        self.background = background
        self.result: int | None = None

    def run(self) -> None:
        with self.store.session(background=self.background) as session:
            self.result = session.execute(SLOW, {"rows": ROWS}).scalar_one()


def _wait_for(condition: object, reader: _Read) -> None:
    """Until `condition()` holds or the reader is done (no timing asserted)."""
    done = threading.Event()
    while not condition() and reader.is_alive():  # type: ignore[operator]
        done.wait(0.001)


def test_a_background_read_waits_while_a_foreground_one_runs_then_finishes(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "BACKGROUND_PAUSE_MAX", 600.0)
    priority = sqlite_store.priority
    reader = _Read(sqlite_store, background=True)
    with priority.foreground():
        reader.start()
        _wait_for(lambda: priority.pauses > 0, reader)
        assert priority.pauses > 0
        assert reader.is_alive()  # paused, not done: the foreground read is still running
        assert reader.result is None
    reader.join()
    assert reader.result == ROWS


def test_a_background_read_pauses_only_so_long_in_all(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "BACKGROUND_PAUSE_MAX", 0.01)
    priority = sqlite_store.priority
    reader = _Read(sqlite_store, background=True)
    with priority.foreground():  # never ends while the read runs: it goes on regardless
        reader.start()
        reader.join()
    assert priority.pauses > 0
    assert reader.result == ROWS


def test_ordinary_reads_never_pause_and_background_ones_run_freely_when_nothing_waits(
    sqlite_store: Store,
) -> None:
    priority = sqlite_store.priority
    reader = _Read(sqlite_store, background=False)
    with priority.foreground():
        reader.start()
        reader.join()
    assert reader.result == ROWS
    assert priority.pauses == 0
    priority._until = 0.0  # the foreground's tail is over
    background = _Read(sqlite_store, background=True)
    background.start()
    background.join()
    assert background.result == ROWS
    assert priority.pauses == 0
    # The handler goes with its transaction: the pooled connection then reads freely.
    with priority.foreground():
        again = _Read(sqlite_store, background=False)
        again.start()
        again.join()
    assert again.result == ROWS
    assert priority.pauses == 0


def test_a_key_holds_the_background_for_a_moment(sqlite_store: Store) -> None:
    priority = sqlite_store.priority
    priority.hold(600.0)
    assert priority.busy
    priority._until = 0.0
    assert not priority.busy


@pytest.mark.postgres
def test_background_reads_on_postgresql_are_ordinary_ones(pg_store: Store) -> None:
    with pg_store.priority.foreground(), pg_store.session(background=True) as session:
        assert session.execute(text("SELECT 1")).scalar_one() == 1
    assert pg_store.priority.pauses == 0


def _dbapi(session: object) -> object:
    return session.connection().connection.dbapi_connection  # type: ignore[attr-defined]


def test_a_writer_never_pauses_even_when_asked_for_the_background(sqlite_store: Store) -> None:
    priority = sqlite_store.priority
    with priority.foreground(), sqlite_store.session(write=True, background=True) as session:
        assert session.execute(SLOW, {"rows": ROWS}).scalar_one() == ROWS
    assert priority.pauses == 0


def test_a_writer_after_a_background_read_on_the_same_connection_never_pauses(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "BACKGROUND_PAUSE_MAX", 0.01)
    priority = sqlite_store.priority
    with priority.foreground():
        with sqlite_store.session(background=True) as session:
            assert session.execute(SLOW, {"rows": ROWS}).scalar_one() == ROWS
            background = _dbapi(session)
        assert priority.pauses > 0  # it had a handler
        priority.pauses = 0
        with sqlite_store.session(write=True) as session:
            assert _dbapi(session) is background  # the same pooled connection
            assert session.execute(SLOW, {"rows": ROWS}).scalar_one() == ROWS
    assert priority.pauses == 0


def test_a_cancelled_workers_background_read_stops_as_a_cancelled_read(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store.priority, "cancelled", lambda: True)
    with pytest.raises(ReadCancelled), sqlite_store.session(background=True) as session:
        session.execute(SLOW, {"rows": ROWS}).scalar_one()
    # Only background reads stop; the connection reads on afterwards.
    with sqlite_store.session() as session:
        assert session.execute(SLOW, {"rows": ROWS}).scalar_one() == ROWS
    with sqlite_store.session(write=True, background=True) as session:
        assert session.execute(SLOW, {"rows": ROWS}).scalar_one() == ROWS


def test_the_console_tells_the_store_when_its_worker_was_cancelled(sqlite_store: Store) -> None:
    data_module.DeskData(sqlite_store, None)  # type: ignore[arg-type]
    assert sqlite_store.priority.cancelled is data_module._worker_cancelled
    assert not sqlite_store.priority.cancelled()  # not in a worker: never cancelled
