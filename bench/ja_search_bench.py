"""Japanese search benchmark: recall and precision over the test set, p95 latency at scale.

    .venv/bin/python bench/ja_search_bench.py [--url URL] [--path FILE [--upgrade]]
        [--pg-schema NAME] [--repeat 20]

Quality. The test set of tests/ja_search_data.py (96 tickets, 230 messages of Japanese
support mail, 37 queries with the tickets a person wants written down) is loaded through
the domain layer into a fresh SQLite file and a throwaway PostgreSQL schema, and every query
is run through the query language as the console runs it. Printed per query and overall:
precision (found tickets that are wanted) and recall (wanted tickets that are found).

Latency. With `--path`, a store built by bench/store_bench.py (1,000,000 messages; about 5%
of its customers write Japanese) is searched for Japanese words, as the console's first page
and as the count it shows beside it, and exactly (what a bulk change counts); p50 and p95 of
`--repeat` warm runs. `--upgrade` first migrates the store to this code's head and prints how
long that took (on SQLite 0007 re-indexes only the messages whose tokens change; see
bench/ja_migration_bench.py to time that from a real 0006 index): run it on a copy.
`--pg-schema` searches a PostgreSQL store built by store_bench --keep; with `--remigrate` it
first steps that store down to 0006 and times the upgrade back (the PostgreSQL side of 0007:
a scan of non-ASCII and long messages, re-indexing the ones that need it).
The load average is printed beside the figures: the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import sqlalchemy as sa  # noqa: E402
from store_bench import _exact_count, _first_page, _p95, _shown_count, _timed  # noqa: E402

from supportdesk.desk.query import Matching  # noqa: E402
from supportdesk.store import Store, migrate, open_store  # noqa: E402
from tests import ja_search_data as data  # noqa: E402

PG_BASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
EXACT_REPEAT = 3
# Words from store_bench's Japanese mail (common within it), one absent word whose two
# characters are everywhere (返品: 返 in 返金, 品 in 商品), a long katakana word, a phrase,
# two words, an exclusion, half-width input and a mixed-script pair.
LATENCY_QUERIES = (
    "返金",
    "請求",
    "配送",
    "ログイン",
    "パスワード",
    "領収書",
    "解約",
    "交換",
    "返品",
    "サブスクリプション",
    "ログインできません",
    "返金 請求",
    "status:open -返金",
    "ﾊﾟｽﾜｰﾄﾞ",
    "返金 refund",
)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def quality(store: Store, backend: str) -> tuple[float, float]:
    """Load the test set into `store`, run every query, print precision and recall."""
    keys = data.load(store)
    print(f"\nquality on {backend}: {len(data.TICKETS)} tickets, {len(data.messages())} messages")
    width = max(len(c.query) * 2 for c in data.CASES)
    print(f"{'query':<{width}} {'wanted':>6} {'found':>6} {'precision':>9} {'recall':>6}  note")
    precisions: list[float] = []
    recalls: list[float] = []
    relevant_total = found_total = wanted_total = 0
    with store.session() as session:
        for case in data.CASES:
            found = {keys[n] for n in Matching(session, case.query, me=None).numbers()}
            relevant = len(found & case.expected)
            precision = relevant / len(found) if found else 1.0
            recall = relevant / len(case.expected)
            precisions.append(precision)
            recalls.append(recall)
            relevant_total += relevant
            found_total += len(found)
            wanted_total += len(case.expected)
            note = "" if found == case.found else "UNEXPECTED (see the test)"
            if case.why and not note:
                note = "known limit: " + case.why.split(":")[0]
            pad = width - _cells(case.query)
            print(
                f"{case.query}{' ' * pad} {len(case.expected):6} {len(found):6} "
                f"{precision:9.2f} {recall:6.2f}  {note}"
            )
    perfect = sum(1 for p, r in zip(precisions, recalls, strict=True) if p == r == 1.0)
    macro_p, macro_r = statistics.mean(precisions), statistics.mean(recalls)
    print(
        f"{backend}: {perfect}/{len(data.CASES)} queries at precision and recall 1.0; "
        f"mean precision {macro_p:.3f}, mean recall {macro_r:.3f}; over all results "
        f"precision {relevant_total / found_total:.3f}, recall {relevant_total / wanted_total:.3f}"
    )
    return macro_p, macro_r


def _cells(value: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in value)


def quality_sqlite() -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/ja.sqlite", create=True)
        try:
            return quality(store, "sqlite")
        finally:
            store.dispose()


def quality_postgres(base_url: str) -> tuple[float, float]:
    schema = f"sdjabench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        store = open_store(f"{base_url}?options=-csearch_path%3D{schema}", create=True)
        try:
            return quality(store, "postgresql")
        finally:
            store.dispose()
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def latency(store: Store, repeat: int) -> None:
    """Page, shown count and exact count of each Japanese search; p50/p95 in ms."""
    with store.engine.connect() as conn:
        messages = conn.execute(sa.text("SELECT count(*) FROM messages")).scalar_one()
    print(
        f"\nJapanese searches on {store.dialect}, {messages:,} messages, {repeat} warm runs "
        f"(exact: {EXACT_REPEAT}); {load()}"
    )
    width = max(_cells(q) for q in LATENCY_QUERIES) + 2
    header = (
        f"{'query':<{width}} {'page p50/p95 ms':>16} {'count p50/p95 ms':>17} "
        f"{'shown':>9} {'exact p50 ms':>12} {'exact':>7}"
    )
    print(header)
    print("-" * len(header))
    pages: list[float] = []
    counts: list[float] = []
    for query in LATENCY_QUERIES:
        page, _ = _timed(store, partial(_first_page, text=query), repeat)
        shown_ms, shown = _timed(store, partial(_shown_count, text=query), repeat)
        exact_ms, exact = _timed(store, partial(_exact_count, text=query), EXACT_REPEAT)
        pages += page
        counts += shown_ms
        print(
            f"{query}{' ' * (width - _cells(query))} "
            f"{statistics.median(page):7.1f}/{_p95(page):7.1f}  "
            f"{statistics.median(shown_ms):8.1f}/{_p95(shown_ms):7.1f} {shown:>9} "
            f"{statistics.median(exact_ms):12.1f} {exact:>7,}",
            flush=True,
        )
    print(
        f"all Japanese searches together: page p95 {_p95(pages):.1f} ms, "
        f"count p95 {_p95(counts):.1f} ms; {load()}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=PG_BASE_URL, help="PostgreSQL for the quality run")
    parser.add_argument("--path", type=Path, help="SQLite store built by store_bench.py")
    parser.add_argument("--upgrade", action="store_true", help="migrate --path to head first")
    parser.add_argument("--pg-schema", help="PostgreSQL schema built by store_bench.py --keep")
    parser.add_argument(
        "--remigrate", action="store_true", help="time 0006 -> head on --pg-schema first"
    )
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args(argv)
    print(load())
    if not args.skip_quality:
        quality_sqlite()
        quality_postgres(args.url)
    if args.path:
        url = f"sqlite:///{args.path}"
        if args.upgrade:
            engine = sa.create_engine(url)
            before = migrate.current_revision(engine)
            start = time.perf_counter()
            migrate.upgrade(engine)
            seconds = time.perf_counter() - start
            print(
                f"\nmigrated {args.path.name} {before} -> {migrate.current_revision(engine)} "
                f"in {seconds:.1f} s; {load()}"
            )
            engine.dispose()
        store = open_store(url)
        try:
            latency(store, args.repeat)
        finally:
            store.dispose()
    if args.pg_schema:
        store = open_store(f"{args.url}?options=-csearch_path%3D{args.pg_schema}")
        try:
            if args.remigrate:
                migrate.downgrade(store.engine, "0006")
                start = time.perf_counter()
                migrate.upgrade(store.engine)
                print(
                    f"\nmigrated {args.pg_schema} 0006 -> {migrate.current_revision(store.engine)} "
                    f"in {time.perf_counter() - start:.1f} s; {load()}"
                )
            latency(store, args.repeat)
        finally:
            store.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
