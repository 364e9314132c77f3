"""What telling the agent costs a bulk reassignment: the same change with and without the
notifications, on SQLite and PostgreSQL side by side.

    .venv/bin/python bench/notify_bench.py [--tickets 100000] [--rounds 3]
        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test] [--no-pg]

Each round reassigns every ticket of a tickets-only store (bulk_bench.build) to one agent
twice, undoing after each: once by a lead (one notification for the agent for the whole
batch since revision 0014, one INSERT ... SELECT counting the batch's events; before it one
per ticket) and once by the agent themself (no notification: the same events and updates,
nothing else). The difference of the medians is the cost of
the notifications. On PostgreSQL the store lives in a throwaway schema, dropped after.
Prints the load average beside the figures: on a shared machine the wall clock wanders.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import func, select, true  # noqa: E402

from bench.bulk_bench import build  # noqa: E402
from supportdesk.desk import bulk, directory  # noqa: E402
from supportdesk.desk.events import Change  # noqa: E402
from supportdesk.desk.undo import undo_batch  # noqa: E402
from supportdesk.store import Store, open_store  # noqa: E402
from supportdesk.store.models import Notification  # noqa: E402

R = TypeVar("R")
AGENT = "bench-notify"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def notified(store: Store) -> int:
    with store.session() as s:
        return int(s.execute(select(func.count()).select_from(Notification)).scalar_one())


def reassign(store: Store, actor: str) -> tuple[float, float, int]:
    """(wall, CPU) seconds of one reassignment of every ticket by `actor`, committed, and
    the notifications it wrote; then undone, untimed."""
    before = notified(store)
    change = Change.by(actor)
    start, cpu = time.perf_counter(), time.process_time()
    with store.session(write=True) as s:
        result = bulk.assign(s, bulk.ids_for(s, true()), AGENT, change)
    wall, used = time.perf_counter() - start, time.process_time() - cpu
    with store.session(write=True) as s:
        undo_batch(s, change.batch_id)
    assert result.changed > 0
    return wall, used, notified(store) - before


def measure(store: Store, tickets: int, rounds: int) -> dict[str, list[tuple[float, float]]]:
    build(store, tickets)
    with store.session(write=True) as s:
        directory.add_agent(s, AGENT, email=f"{AGENT}@bench.example")
    reassign(store, f"agent:{AGENT}")  # a warm-up, not counted: caches, plans
    runs: dict[str, list[tuple[float, float]]] = {"told": [], "not told": []}
    for i in range(rounds):
        # Alternating which goes first, so neither always meets the other's leftovers.
        for label in ("told", "not told") if i % 2 == 0 else ("not told", "told"):
            actor = "agent:bench-lead" if label == "told" else f"agent:{AGENT}"
            wall, cpu, written = reassign(store, actor)
            assert written == (1 if label == "told" else 0), (label, written)
            runs[label].append((wall, cpu))
    return runs


def report(backend: str, runs: dict[str, list[tuple[float, float]]]) -> None:
    medians = {k: statistics.median(w for w, _ in v) for k, v in runs.items()}
    cpus = {k: statistics.median(c for _, c in v) for k, v in runs.items()}
    for label, values in runs.items():
        each = " ".join(f"{w:.2f}" for w, _ in values)
        print(
            f"{backend:>10} {label:>9}: median {medians[label]:5.2f} s, "
            f"CPU {cpus[label]:5.2f} s (runs {each})"
        )
    print(
        f"{backend:>10} notifications cost: {medians['told'] - medians['not told']:+.2f} s wall "
        f"({cpus['told'] - cpus['not told']:+.2f} s CPU in this process)"
    )


def on_both(measure: Callable[[Store], R], pg: str | None, name: str) -> dict[str, R]:
    """`measure` run on a fresh SQLite store, then (unless `pg` is None) on a throwaway
    PostgreSQL schema, dropped after; its results by backend name."""
    results: dict[str, R] = {}
    with tempfile.TemporaryDirectory(prefix=f"{name}-") as work:
        store = open_store(f"sqlite:///{Path(work) / 'store.sqlite'}", create=True)
        try:
            results["SQLite"] = measure(store)
        finally:
            store.dispose()
    if pg is not None:
        admin = sa.create_engine(pg, isolation_level="AUTOCOMMIT")
        schema = f"{name.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        try:
            store = open_store(f"{pg}?options=-csearch_path%3D{schema}", create=True)
            try:
                results["PostgreSQL"] = measure(store)
            finally:
                store.dispose()
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            admin.dispose()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg", default=os.environ.get("SUPPORTDESK_TEST_PG_URL", PG_URL))
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args(argv)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    results = on_both(
        lambda store: measure(store, args.tickets, args.rounds),
        None if args.no_pg else args.pg,
        "notify-bench",
    )
    print(f"{args.tickets} tickets reassigned per run, {args.rounds} rounds")
    print(f"load average before: {load}, after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for backend, runs in results.items():
        report(backend, runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
