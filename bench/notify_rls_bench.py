"""What the insert policy of revision 0007 costs an agent's bulk reassignment on a team store.

    .venv/bin/python bench/notify_rls_bench.py [--tickets 20000] [--rounds 3]

An agent role (alice) reassigns every ticket to bob, telling him (once for the batch since
revision 0014, checked against one event and one count of the batch's events; before it
per ticket), and undoes it;
once under the real policy (each row's event written by this login role, on the same
ticket, in the same name) and once with the policy swapped for WITH CHECK (true), the old,
forgeable one. The difference of the medians is the check's cost. Uses the test PostgreSQL
(SUPPORTDESK_TEST_PG_URL) and its throwaway schemas and roles, all dropped after. Prints
the load average beside the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import true  # noqa: E402

from bench.bulk_bench import build  # noqa: E402
from supportdesk.desk import bulk  # noqa: E402
from supportdesk.desk.events import Change  # noqa: E402
from supportdesk.desk.undo import undo_batch  # noqa: E402
from supportdesk.store import Store  # noqa: E402
from tests.conftest import PgSchemas  # noqa: E402
from tests.team_helpers import team_store  # noqa: E402


def _round(alice: Store, ids: list[int]) -> float:
    change = Change.by("agent:alice")
    started = time.perf_counter()
    with alice.session(write=True) as s:
        result = bulk.assign(s, ids, "bob", change)
    took = time.perf_counter() - started
    assert result.changed == len(ids)
    with alice.session(write=True) as s:
        undo_batch(s, change.batch_id)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    schemas = PgSchemas()
    try:
        with team_store(schemas) as crew:
            build(crew.owner, args.tickets)
            alice = crew.open_as(crew.add_agent("alice"))
            crew.add_agent("bob")
            with crew.owner.session() as s:
                ids = bulk.ids_for(s, true())
            with crew.owner.engine.begin() as conn:
                check = conn.exec_driver_sql(
                    "SELECT with_check FROM pg_policies WHERE policyname = 'notifications_tell'"
                    " AND schemaname = current_schema()"
                ).scalar_one()
            figures: dict[str, list[float]] = {"policy": [], "true": []}
            _round(alice, ids)  # warm
            # Interleaved, in alternating order: history grows with every round.
            for turn in range(args.rounds):
                pairs = [("policy", check), ("true", "true")]
                for name, policy in pairs if turn % 2 == 0 else pairs[::-1]:
                    with crew.owner.engine.begin() as conn:
                        conn.exec_driver_sql(
                            "ALTER POLICY notifications_tell ON notifications "
                            f"WITH CHECK ({policy})"
                        )
                    figures[name].append(_round(alice, ids))
            alice.dispose()
    finally:
        schemas.drop_all()
    load = os.getloadavg()
    with_check, without = (statistics.median(figures[k]) for k in ("policy", "true"))
    print(f"PostgreSQL, {len(ids)} tickets reassigned by an agent role, {args.rounds} rounds")
    print(f"  insert policy checked: {with_check:.3f} s median")
    print(f"  WITH CHECK (true):     {without:.3f} s median")
    print(f"  the check's cost:      {with_check - without:+.3f} s")
    print(f"  load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
