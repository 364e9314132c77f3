"""WAL checkpoints run on a thread of their own, not in the commit that crosses a threshold."""

from __future__ import annotations

from pathlib import Path

from supportdesk.store import Store
from supportdesk.store.engine import AUTOCHECKPOINT_PAGES, CHECKPOINT_EVERY, _Checkpointer
from supportdesk.store.models import StoreMeta


def _write(store: Store, first: int, count: int) -> None:
    for i in range(first, first + count):
        with store.session(write=True) as s:
            s.add(StoreMeta(key=f"filler-{i}", value="x" * 40_000))


def test_every_few_writes_a_background_checkpoint_copies_the_log_into_the_file(
    sqlite_store: Store,
) -> None:
    path = Path(str(sqlite_store.engine.url.database))
    with sqlite_store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == AUTOCHECKPOINT_PAGES
    before = path.stat().st_size
    _write(sqlite_store, 0, CHECKPOINT_EVERY - 1)
    assert sqlite_store._checkpoints is not None
    sqlite_store._checkpoints.wait()
    # About 150 pages so far, all in the log: SQLite's own checkpoint waits for 4000.
    assert path.stat().st_size == before
    _write(sqlite_store, CHECKPOINT_EVERY - 1, 1)
    sqlite_store._checkpoints.wait()
    assert path.stat().st_size > before + CHECKPOINT_EVERY * 40_000
    with sqlite_store.session() as s:
        assert s.get(StoreMeta, f"filler-{CHECKPOINT_EVERY - 1}") is not None


def test_a_checkpoint_of_a_store_that_was_removed_creates_no_file(tmp_path: Path) -> None:
    gone = tmp_path / "gone.db"
    checkpoints = _Checkpointer(str(gone))
    for _ in range(CHECKPOINT_EVERY):
        checkpoints.wrote()
    checkpoints.wait()
    assert checkpoints.thread is not None
    assert not gone.exists()
