"""A bulk change that waits for another session's ticket lock writes the event and the undo
from the value that session committed, on PostgreSQL where sessions really run at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import Connection, text
from sqlmodel import Session

from supportdesk.desk import bulk, directory, tickets, undo
from supportdesk.desk.bulk import BulkResult
from supportdesk.desk.events import Change
from supportdesk.store import Store


def seed(store: Store) -> list[int]:
    change = Change.by("agent:seed")
    with store.session(write=True) as s:
        for name in ("billing", "sales", "support"):
            directory.ensure_queue(s, name)
        for handle in ("alice", "bob", "carol"):
            directory.add_agent(s, handle, email=f"{handle}@desk.example")
        return [
            tickets.create_ticket(
                s,
                subject=f"Ticket {i}",
                requester_email=f"c{i}@acme.example",
                queue="billing",
                change=change,
                assignee="alice",
            ).id
            or 0
            for i in range(3)
        ]


def _wait_until_blocked(other: Connection, pid: int) -> None:
    """Until the bulk's backend waits for the row lock `other` holds (60 s at most)."""
    for _ in range(6000):
        waiting = other.execute(
            text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        ).scalar_one_or_none()
        if waiting == "Lock":
            return
        time.sleep(0.01)
    raise AssertionError("the bulk change never waited for the other session's lock")


def _bulk_behind(
    store: Store, conflicting: str, run: Callable[[Session], BulkResult]
) -> BulkResult:
    """Run `run` while another connection holds `conflicting` uncommitted, then commit it."""
    done: dict[str, BulkResult] = {}
    failed: list[BaseException] = []
    pid: list[int] = []
    started = threading.Event()

    def worker() -> None:
        try:
            with store.session(write=True) as s:
                pid.append(s.execute(text("SELECT pg_backend_pid()")).scalar_one())
                started.set()
                done["result"] = run(s)
        except BaseException as exc:
            failed.append(exc)
            started.set()

    with store.engine.connect() as other:
        other.execute(text(conflicting))
        thread = threading.Thread(target=worker)
        thread.start()
        started.wait(60)
        if pid:
            _wait_until_blocked(other, pid[0])
        other.commit()
        thread.join(60)
    if failed:
        raise failed[0]
    return done["result"]


def _events(store: Store, batch: str) -> list[tuple[int, str | None, str | None]]:
    with store.session() as s:
        rows = s.execute(
            text(
                "SELECT ticket_id, old_value, new_value FROM events "
                "WHERE batch_id = :b ORDER BY ticket_id"
            ),
            {"b": batch},
        ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def test_reassign_behind_a_committed_change_records_and_undoes_it(pg_store: Store) -> None:
    ids = seed(pg_store)
    result = _bulk_behind(
        pg_store,
        f"UPDATE tickets SET assignee_id = (SELECT id FROM agents WHERE handle = 'carol'), "
        f"version = version + 1 WHERE id = {ids[0]}",
        lambda s: bulk.assign(s, ids, "bob", Change.by("agent:lead")),
    )
    assert _events(pg_store, result.batch_id) == [
        (ids[0], "carol", "bob"),
        (ids[1], "alice", "bob"),
        (ids[2], "alice", "bob"),
    ]
    with pg_store.session(write=True) as s:
        undo.undo_batch(s, result.batch_id)
    with pg_store.session() as s:
        handles = s.execute(
            text(
                "SELECT a.handle FROM tickets AS t LEFT JOIN agents AS a "
                "ON a.id = t.assignee_id ORDER BY t.id"
            )
        ).scalars()
        assert list(handles) == ["carol", "alice", "alice"]


def test_move_behind_a_committed_change_records_and_undoes_it(pg_store: Store) -> None:
    ids = seed(pg_store)
    result = _bulk_behind(
        pg_store,
        f"UPDATE tickets SET queue_id = (SELECT id FROM queues WHERE name = 'sales'), "
        f"version = version + 1 WHERE id = {ids[0]}",
        lambda s: bulk.move(s, ids, "support", Change.by("agent:lead")),
    )
    assert result.changed == 3
    assert _events(pg_store, result.batch_id) == [
        (ids[0], "sales", "support"),
        (ids[1], "billing", "support"),
        (ids[2], "billing", "support"),
    ]
    with pg_store.session(write=True) as s:
        undo.undo_batch(s, result.batch_id)
    with pg_store.session() as s:
        names = s.execute(
            text(
                "SELECT q.name FROM tickets AS t JOIN queues AS q "
                "ON q.id = t.queue_id ORDER BY t.id"
            )
        ).scalars()
        assert list(names) == ["sales", "billing", "billing"]


def test_a_ticket_that_starts_matching_while_the_bulk_waits_is_left_alone(
    pg_store: Store,
) -> None:
    """Assigning to bob skips the ticket bob has. If another session hands it to alice while
    the bulk waits for a lock on another of its tickets, the bulk must not take it: it was
    not in the bulk's snapshot, so it has no event and must have no change either."""
    ids = seed(pg_store)
    with pg_store.session(write=True) as s:
        bulk.assign(s, [ids[0]], "bob", Change.by("agent:seed"))
    result = _bulk_behind(
        pg_store,
        "UPDATE tickets SET assignee_id = CASE WHEN id = "
        f"{ids[0]} THEN (SELECT id FROM agents WHERE handle = 'alice') ELSE assignee_id END, "
        f"version = version + 1 WHERE id IN ({ids[0]}, {ids[1]})",
        lambda s: bulk.assign(s, ids, "bob", Change.by("agent:lead")),
    )
    assert result.changed == 2
    assert _events(pg_store, result.batch_id) == [
        (ids[1], "alice", "bob"),
        (ids[2], "alice", "bob"),
    ]
    with pg_store.session() as s:
        handles = s.execute(
            text(
                "SELECT a.handle FROM tickets AS t JOIN agents AS a ON a.id = t.assignee_id "
                "ORDER BY t.id"
            )
        ).scalars()
        assert list(handles) == ["alice", "bob", "bob"]


def test_versions_recorded_match_the_tickets_after_a_wait(pg_store: Store) -> None:
    """Each event carries its ticket's version after the change, counted from the version
    the other session committed while the bulk waited (undo compares against it)."""
    ids = seed(pg_store)
    result = _bulk_behind(
        pg_store,
        f"UPDATE tickets SET version = version + 5 WHERE id = {ids[1]}",
        lambda s: bulk.set_priority(s, ids, "high", Change.by("agent:lead")),
    )
    assert result.changed == 3
    with pg_store.session() as s:
        rows = s.execute(
            text(
                "SELECT e.version, t.version FROM events AS e JOIN tickets AS t "
                "ON t.id = e.ticket_id WHERE e.batch_id = :b ORDER BY e.ticket_id"
            ),
            {"b": result.batch_id},
        ).all()
    assert [r[0] for r in rows] == [r[1] for r in rows]
    assert rows[1][0] == rows[0][0] + 5
