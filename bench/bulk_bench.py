"""Bulk benchmark: reassign 100,000 tickets with their events, then undo it, and print seconds.

    .venv/bin/python bench/bulk_bench.py [--from-store FILE] [--tickets 100000] [--url URL]
        [--keep]

Where the tickets come from:

- by default, a copy of bench/out/store-100000-1000000-1.sqlite (made by store_bench.py) in a
  temporary directory: the real store, a million messages and its events beside the tickets,
  never modified in place;
- if that file is missing, or with `--tickets N --fresh`, a new SQLite store with N tickets
  and nothing else, loaded with core executemany inserts (this script times bulk changes,
  not loading);
- `--url postgresql+psycopg://...` builds the tickets-only store in that (empty) database.

What is timed is what `supportdesk tickets reassign --yes` and `supportdesk undo` do after
the prompt: find the ticket ids, one set-based bulk.assign (an event per ticket, one batch)
committed, then desk.undo.undo_batch committed. Both are checked against the events table
and the tickets. This runs `--rounds` times on the same store (each round adds 200,000
events) and prints every run and the median: the machine is shared and single runs wander
by a second or more. Target: under 5 s each.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, true  # noqa: E402
from sqlmodel import col  # noqa: E402

from supportdesk.desk import bulk, directory  # noqa: E402
from supportdesk.desk.events import Change  # noqa: E402
from supportdesk.desk.undo import undo_batch  # noqa: E402
from supportdesk.errors import NotFoundError  # noqa: E402
from supportdesk.store import Store, open_store  # noqa: E402
from supportdesk.store.models import Customer, Event, Ticket, utcnow  # noqa: E402

SOURCE = ROOT / "bench" / "out" / "store-100000-1000000-1.sqlite"
TARGET_S = 5.0
NEW_AGENT = "bench-bulk"


@contextmanager
def timed(label: str, figures: dict[str, float]) -> Iterator[None]:
    start = time.perf_counter()
    yield
    figures[label] = time.perf_counter() - start


def build(store: Store, count: int) -> None:
    """Tickets and the few rows they point at; spread over 20 agents so undo has variety."""
    with store.session(write=True) as s:
        queues = [directory.ensure_queue(s, f"q{i}").id for i in range(6)]
        agents = [
            directory.add_agent(s, f"agent{i}", email=f"agent{i}@bench.example").id
            for i in range(20)
        ]
        customer = directory.ensure_customer(s, "someone@bench.example").id
        assert customer is not None
    now = utcnow()
    rows = [
        {
            "number": n,
            "subject": f"ticket {n}",
            "status": "open",
            "priority": "normal",
            "queue_id": queues[n % 6],
            "assignee_id": None if n % 7 == 0 else agents[n % 20],
            "requester_id": customer,
            "created_at": now,
            "updated_at": now,
            "message_count": 0,
            "version": 1,
        }
        for n in range(1, count + 1)
    ]
    with store.session(write=True) as s:
        for start in range(0, count, 20_000):
            s.execute(Ticket.__table__.insert(), rows[start : start + 20_000])  # type: ignore[attr-defined]


def fingerprint(store: Store) -> tuple[int, int, int]:
    """Who holds each ticket, folded into numbers: equal before the change and after undo."""
    with store.session() as s:
        row = s.execute(
            select(
                func.count(),
                func.sum(func.coalesce(Ticket.assignee_id, 0) * (Ticket.id % 9973)),
                func.sum(Ticket.version),
            )
        ).one()
    return int(row[0]), int(row[1] or 0), int(row[2])


def run(store: Store) -> dict[str, float]:
    """One reassignment of every ticket and its undo, both checked."""
    figures: dict[str, float] = {}
    with store.session(write=True) as s:
        if s.execute(select(func.count()).select_from(Customer)).scalar_one() == 0:
            raise SystemExit("the store has no tickets to reassign")
        try:
            directory.get_agent(s, NEW_AGENT)
        except NotFoundError:
            directory.add_agent(s, NEW_AGENT, email=f"{NEW_AGENT}@bench.example")
    count, holders, versions = fingerprint(store)
    change = Change.by("bench:bulk")
    with timed("reassign", figures), store.session(write=True) as s:
        ids = bulk.ids_for(s, true())
        result = bulk.assign(s, ids, NEW_AGENT, change)
    with store.session() as s:
        events = s.execute(
            select(func.count()).where(col(Event.batch_id) == change.batch_id)
        ).scalar_one()
    assert result.changed == count == events, (result, count, events)
    with timed("undo", figures), store.session(write=True) as s:
        undone = undo_batch(s, change.batch_id)
    assert undone.events == count, undone
    after = fingerprint(store)
    assert after[:2] == (count, holders), "undo did not restore every assignee"
    assert after[2] == versions + 2 * count
    figures["tickets"] = count
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-store", type=Path, default=SOURCE)
    parser.add_argument("--fresh", action="store_true", help="Build a tickets-only store.")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--url", help="Build in this database instead (e.g. PostgreSQL).")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary store.")
    parser.add_argument(
        "--rounds", type=int, default=3, help="Reassign and undo this many times (median)."
    )
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bulk-bench-"))
    try:
        if args.url:
            store = open_store(args.url, create=True)
            build(store, args.tickets)
            source = f"{args.tickets} tickets built in {args.url}"
        elif args.fresh or not args.from_store.exists():
            path = work / "store.sqlite"
            store = open_store(f"sqlite:///{path}", create=True)
            start = time.perf_counter()
            build(store, args.tickets)
            source = f"{args.tickets} tickets built ({time.perf_counter() - start:.1f} s)"
        else:
            path = work / "store.sqlite"
            start = time.perf_counter()
            shutil.copyfile(args.from_store, path)
            source = f"copy of {args.from_store.name} ({time.perf_counter() - start:.1f} s)"
            store = open_store(f"sqlite:///{path}")
        try:
            rounds = [run(store) for _ in range(args.rounds)]
        finally:
            store.dispose()
    finally:
        if args.keep:
            print(f"store kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"store: {source}")
    print(f"tickets reassigned: {int(rounds[0]['tickets'])} (one event each, one batch)")
    worst = 0.0
    for label in ("reassign", "undo"):
        runs = [r[label] for r in rounds]
        median = statistics.median(runs)
        worst = max(worst, median)
        mark = "ok" if median < TARGET_S else "SLOW"
        each = " ".join(f"{t:.2f}" for t in runs)
        print(
            f"{label:>9}: median {median:6.2f} s   (target < {TARGET_S:.0f} s: {mark}; runs {each})"
        )
    return 0 if worst < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
