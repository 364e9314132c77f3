"""Time migration 0007 on SQLite: a copy of a store_bench store, its index as 0006 made it.

    .venv/bin/python bench/ja_migration_bench.py --path bench/out/store-10000-100000-1.sqlite \
        [--changed-every 100]

The copy is stepped down to 0006 and its FTS5 index rebuilt from the revision's frozen 0006
code, so the upgrade meets what a real 0006 store holds. `--changed-every N` first appends
text 0007 indexes differently (a spacing voicing mark, カ゛イド, and Greek capitals) to the
subject of every Nth message, so that share of messages is re-indexed. Printed: messages,
non-ASCII ones, seconds, load average; then FTS5's integrity check and how many messages
ガイド finds (the changed ones).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from supportdesk.store import migrate  # noqa: E402

REVISION = ROOT / "supportdesk/store/migrations/versions/0007_search_normalisation.py"


def revision() -> ModuleType:
    spec = importlib.util.spec_from_file_location("revision_0007", REVISION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", type=Path, required=True, help="SQLite store (copied first)")
    parser.add_argument("--changed-every", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.sqlite"
        shutil.copy(args.path, copy)
        engine = sa.create_engine(f"sqlite:///{copy}")
        migrate.downgrade(engine, "0006")
        old = revision()
        with engine.begin() as conn:
            total = conn.exec_driver_sql("SELECT count(*) FROM messages").scalar_one()
            if args.changed_every:
                conn.execute(
                    sa.text("UPDATE messages SET subject = subject || :extra WHERE id % :n = 0"),
                    {"extra": " カ\u309bイド ΑΘΗΝΑ", "n": args.changed_every},
                )
            conn.exec_driver_sql("INSERT INTO message_fts(message_fts) VALUES ('delete-all')")
            for batch in old._documents(conn, "1 = 1"):
                conn.execute(  # keyed by message id, as 0006 had it
                    sa.text("INSERT INTO message_fts(rowid, doc) VALUES (:id, :doc)"),
                    [{"id": i, "doc": doc} for i, doc, _ in batch],
                )
            non_ascii = conn.execute(
                sa.text(
                    "SELECT count(*) FROM messages WHERE "
                    + " OR ".join(
                        f"length(CAST({c} AS BLOB)) <> length({c})" for c in old.TEXT_COLUMNS
                    )
                )
            ).scalar_one()
        start = time.perf_counter()
        migrate.upgrade(engine, "0007")
        seconds = time.perf_counter() - start
        changed = f"every {args.changed_every}th changed" if args.changed_every else "none changed"
        print(
            f"{total:,} messages, {non_ascii:,} non-ASCII, {changed}: 0007 in {seconds:.2f} s; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO message_fts(message_fts, rank) VALUES ('integrity-check', 0)"
            )
            found = conn.exec_driver_sql(
                "SELECT count(*) FROM message_fts WHERE message_fts MATCH '\"ガ イ ド\"'"
            ).scalar_one()
        print(f"integrity-check passed; ガイド found in {found:,} messages")
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
