"""How soon a committed change reaches another session waiting on a team store.

One session commits a change (a note on a ticket) through the domain; another waits in
`desk.live.ChangeFeed.wait`, as the console's listening worker does. Printed: p50 / p95 / max
in milliseconds from the start of the change (its own write included) to the wake-up, on
PostgreSQL (the server's notice) and on SQLite (the change-mark poll at the console's
one-second interval), for comparison. What the console then reads is the console benchmark's
business (bench/console_bench.py).

    .venv/bin/python bench/team_live_bench.py [--url postgresql+psycopg://...] [--changes 200]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from supportdesk.desk import directory, tickets
from supportdesk.desk.events import Change
from supportdesk.desk.live import ChangeFeed
from supportdesk.store import Store, open_store
from supportdesk.store.engine import sqlite_url

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ACTOR = Change.by("agent:bench")


def seed(store: Store, count: int) -> list[int]:
    with store.session(write=True) as s:
        directory.ensure_queue(s, "general")
        return [
            tickets.create_ticket(
                s,
                subject=f"ticket {i}",
                requester_email=f"c{i}@example.com",
                queue="general",
                change=ACTOR,
            ).number
            for i in range(count)
        ]


def measure(
    writer: Store, reader: Store, change: Callable[[Store, int], None], count: int, poll: float
) -> list[float]:
    """Milliseconds from the start of each change (its write included) to the waiting
    session's wake-up."""
    feed = ChangeFeed(reader, poll_seconds=poll)
    took: list[float] = []
    try:
        feed.wait(0.01)  # listening (or the first mark read) before the first change
        for i in range(count):

            def commit(i: int = i) -> None:
                change(writer, i)

            started = time.perf_counter()
            thread = threading.Thread(target=commit)
            thread.start()
            while feed.wait(5.0) is None:
                pass
            at = time.perf_counter()
            thread.join()
            # The notice can reach the reader before the COMMIT's reply reaches the writer,
            # so time from the start of the change: the write itself is included.
            took.append((at - started) * 1000)
            while feed.wait(0.0 if feed.live else 0.001) is not None:
                pass  # anything else this change announced
    finally:
        feed.close()
    return took


def report(name: str, took: list[float]) -> None:
    took.sort()
    p95 = took[min(len(took) - 1, int(len(took) * 0.95))]
    print(
        f"{name:<42} n={len(took):<4} p50 {statistics.median(took):7.1f} ms   "
        f"p95 {p95:7.1f} ms   max {took[-1]:7.1f} ms"
    )


def run(url: str, count: int) -> None:
    numbers: list[int] = []

    def note(store: Store, i: int) -> None:
        with store.session(write=True) as s:
            tickets.add_note(s, numbers[i % len(numbers)], f"note {i}", ACTOR)

    writer = open_store(url, create=True)
    reader = open_store(url)
    try:
        numbers = seed(writer, 200)
        label = "postgresql" if writer.dialect == "postgresql" else "sqlite"
        report(f"{label}: one note", measure(writer, reader, note, count, 1.0))
    finally:
        reader.dispose()
        writer.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL server (a schema is made)")
    parser.add_argument("--changes", type=int, default=200)
    args = parser.parse_args()
    schema = f"sdlive_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(args.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        run(f"{args.url}?options=-csearch_path%3D{schema}", args.changes)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
    with tempfile.TemporaryDirectory() as folder:
        run(sqlite_url(Path(folder) / "live.db"), min(args.changes, 20))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
