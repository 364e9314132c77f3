"""Report benchmark: each `supportdesk report` grouping over the 100,000-ticket store.

    .venv/bin/python bench/report_bench.py [--store FILE | --url URL] [--days 30] [--rounds 3]

Works on a copy: bench/out/report-store.sqlite (copy the lead's store there first, `cp`,
never write to the shared one). The copy is upgraded to this schema on open; then every
queue gets an SLA policy (timed: that is the set-based due-time computation over every
ticket, `sla import`), a bulk status change and its undo are timed with the policies in place
(the due-time refresh runs inside both), and each report (by day, week, agent, queue, and
by day narrowed by a query) runs `--rounds` times over the last `--days` days of the store's
tickets. Prints seconds per run and the median. Target: each report under 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from sqlmodel import col  # noqa: E402

from supportdesk.desk import bulk, directory, reports  # noqa: E402
from supportdesk.desk.events import Change  # noqa: E402
from supportdesk.desk.query import Matching  # noqa: E402
from supportdesk.desk.sla import storage  # noqa: E402
from supportdesk.desk.undo import undo_batch  # noqa: E402
from supportdesk.store import open_store  # noqa: E402
from supportdesk.store.models import Ticket  # noqa: E402

STORE = ROOT / "bench" / "out" / "report-store.sqlite"
TARGET_S = 1.0
POLICY = """\
[[sla]]
queue = "{queue}"
timezone = "Europe/Berlin"
holidays = [2026-12-25, 2026-12-26]
first_response = "4h"
next_response = "8h"
resolution = "40h"

[sla.priority.urgent]
first_response = "1h"
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=STORE)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--url",
        help="a PostgreSQL store instead (e.g. store_bench's kept schema, at the schema head)",
    )
    args = parser.parse_args()
    if args.url:
        store = open_store(args.url)
    elif not args.store.exists():
        print(f"no store at {args.store}: copy the bench store there first (cp)")
        return 2
    else:
        store = open_store(f"sqlite:///{args.store}")
    with store.session(write=True) as s:
        queues = [q.name for q in directory.list_queues(s)]
        tickets = s.execute(select(func.count()).select_from(Ticket)).scalar_one()
        newest = s.execute(select(func.max(Ticket.created_at))).scalar_one()
        start = time.perf_counter()
        text = "\n".join(POLICY.format(queue=q) for q in queues)
        storage.set_policies(s, text, origin="bench", at=newest)
        took = time.perf_counter() - start
    print(f"{tickets:,} tickets, {len(queues)} queues; newest ticket {newest:%Y-%m-%d %H:%M}")
    print(f"sla set: policies for {len(queues)} queues, due times of every ticket: {took:.2f} s")
    with store.session(write=True) as s:
        due = s.execute(select(func.count(col(Ticket.sla_due)))).scalar_one()
        breached = s.execute(
            select(func.count()).where(col(Ticket.sla_breached).is_(True))
        ).scalar_one()
    print(f"  tickets with a due time: {due:,}; breached: {breached:,}")

    with store.session(write=True) as s:
        ids = Matching(s, "status:open", me=None).ids()
        start = time.perf_counter()
        result = bulk.set_status(s, ids, "pending", Change.by("bench", at=newest))
        paused = time.perf_counter() - start
    with store.session(write=True) as s:
        start = time.perf_counter()
        undo_batch(s, result.batch_id, at=newest + timedelta(hours=1))
        resumed = time.perf_counter() - start
    print(
        f"bulk status pending of {result.changed:,} open tickets: {paused:.2f} s; "
        f"its undo: {resumed:.2f} s (due-time refresh included in both)"
    )

    until = newest + timedelta(seconds=1)
    since = until - timedelta(days=args.days)
    cases = [
        ("by day", "day", ""),
        ("by week", "week", ""),
        ("by agent", "agent", ""),
        ("by queue", "queue", ""),
        ("by day, priority:>=high", "day", "priority:>=high"),
    ]
    print(f"\nreports over {since:%Y-%m-%d} .. {until:%Y-%m-%d} ({args.days} days)")
    worst = 0.0
    for label, by, query in cases:
        times = []
        for _ in range(args.rounds):
            with store.session() as s:
                where = Matching(s, query, me=None).where() if query else None
                start = time.perf_counter()
                report = reports.build(s, since, until, by, where)  # type: ignore[arg-type]
                times.append(time.perf_counter() - start)
        median = statistics.median(times)
        worst = max(worst, median)
        runs = " ".join(f"{t:.2f}" for t in times)
        verdict = "PASS" if median < TARGET_S else "MISS"
        print(
            f"  {label:<28} {len(report.rows):>4} rows  runs {runs}  "
            f"median {median:.2f} s  {verdict}"
        )
    store.dispose()
    return 0 if worst < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
