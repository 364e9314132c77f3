"""What the notification digest costs the feeder: queueing one digest about a whole bulk
reassignment, and the look the sender takes on every drain when nothing is due.

    .venv/bin/python bench/digest_bench.py [--tickets 100000] [--rounds 5]
        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test] [--no-pg]

A tickets-only store (bulk_bench.build) gets one away agent; a lead reassigns every ticket
to them (one notification since revision 0014, which tells of a batch once; before it one
per ticket, so 100,000 unread rows are no longer what a bulk command leaves). Then, timed:
the first `queue_due` (marks them all mailed and queues one digest listing the newest 50),
`queue_due` again within the window
(nothing due), and `queue_due` past the window with nothing new (every notification is
unread but mailed: the worst case of the look). SQLite and PostgreSQL side by side; on
PostgreSQL the store lives in a throwaway schema, dropped after. Wall and CPU seconds (of
this process) with the load average: on a shared machine the wall clock wanders.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import true  # noqa: E402

from bench.bulk_bench import build  # noqa: E402
from bench.notify_bench import PG_URL, on_both  # noqa: E402
from supportdesk.config import Settings, parse_settings  # noqa: E402
from supportdesk.desk import bulk, digest, directory  # noqa: E402
from supportdesk.desk.events import Change  # noqa: E402
from supportdesk.store import Store  # noqa: E402
from supportdesk.store.models import utcnow  # noqa: E402

AGENT = "bench-away"
CONFIG = """[notifications]
digest_minutes = 30
[[mailboxes]]
name = "support"
address = "support@bench.example"
imap_host = "127.0.0.1"
smtp_host = "127.0.0.1"
"""


def timed(run: Callable[[], object]) -> tuple[float, float, object]:
    start, cpu = time.perf_counter(), time.process_time()
    result = run()
    return time.perf_counter() - start, time.process_time() - cpu, result


def measure(store: Store, tickets: int, rounds: int) -> dict[str, list[tuple[float, float]]]:
    settings: Settings = parse_settings(CONFIG, Path("/tmp/digest-bench.toml"))
    build(store, tickets)
    with store.session(write=True) as s:
        directory.add_agent(s, AGENT, email=f"{AGENT}@bench.example")
        bulk.assign(s, bulk.ids_for(s, true()), AGENT, Change.by("agent:bench-lead"))
    now = utcnow()

    def queue(at: timedelta) -> Callable[[], list[digest.Queued]]:
        def run() -> list[digest.Queued]:
            with store.session(write=True) as s:
                return digest.queue_due(s, settings, now + at).queued

        return run

    wall, cpu, first = timed(queue(timedelta()))
    assert isinstance(first, list) and [q.count for q in first] == [1], first
    runs: dict[str, list[tuple[float, float]]] = {
        "first digest": [(wall, cpu)],
        "within window": [],
        "past window": [],
    }
    for _ in range(rounds):
        for label, at in (
            ("within window", timedelta(minutes=5)),
            ("past window", timedelta(hours=1)),
        ):
            wall, cpu, found = timed(queue(at))
            assert found == [], found
            runs[label].append((wall, cpu))
    return runs


def report(backend: str, runs: dict[str, list[tuple[float, float]]]) -> None:
    for label, values in runs.items():
        wall = statistics.median(w for w, _ in values)
        cpu = statistics.median(c for _, c in values)
        each = " ".join(f"{w * 1000:.0f}" for w, _ in values)
        print(
            f"{backend:>10} {label:>13}: median {wall * 1000:7.1f} ms, CPU {cpu * 1000:7.1f} ms"
            f" (runs, ms: {each})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pg", default=os.environ.get("SUPPORTDESK_TEST_PG_URL", PG_URL))
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args(argv)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    results = on_both(
        lambda store: measure(store, args.tickets, args.rounds),
        None if args.no_pg else args.pg,
        "digest-bench",
    )
    print(f"{args.tickets} tickets reassigned to one away agent, {args.rounds} rounds")
    print(f"load average before: {load}, after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for backend, runs in results.items():
        report(backend, runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
