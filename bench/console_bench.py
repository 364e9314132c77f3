"""Console benchmark: time what an agent waits for, headless, on a store of busy-year size.

    .venv/bin/python bench/console_bench.py [--path FILE] [--repeat N] [--idle SECONDS]

The store is the one `bench/store_bench.py` builds (100,000 tickets, 1,000,000 messages, at
bench/out/store-100000-1000000-1.sqlite); without it, a 100,000-ticket store without messages
is built with tests/tui/bigstore.py. The console only reads it.

Each step is timed from the key press (or the app's creation) until the screen is settled:
the list shows fresh rows and the thread shows the ticket under the cursor, which is what a
person waits for. Keys are posted as a terminal driver posts them (`App.simulate_key`);
`--pilot` uses `Pilot.press` instead, which also waits for every widget to go idle and so
adds Textual's test-harness overhead (tens of ms) to each figure. Steps:

- start to ready: create the app, run it headless, until the first view and ticket show;
- open ticket: press j, until the next ticket's thread is shown;
- switch view: press ], until the next sidebar view's first page and ticket are shown;
- scroll to end: press G, until the last ticket of "All open" is shown;
- reload at end: there, press ctrl+r (what a change seen by the live refresh does), until
  the list is read again with the cursor on its ticket: the far end is where finding the
  ticket's row again costs the most (every ticket ahead of it is counted).

Then the console sits idle for `--idle` seconds and the process's CPU time is reported
(resource.getrusage), which includes the once-a-second change check.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual.pilot import Pilot  # noqa: E402

from supportdesk.store import open_store  # noqa: E402
from supportdesk.store.engine import sqlite_url  # noqa: E402
from supportdesk.tui.app import SupportdeskApp  # noqa: E402
from supportdesk.tui.data import ACTIVE_QUERY, DeskData, Source  # noqa: E402

DEFAULT_STORE = ROOT / "bench" / "out" / "store-100000-1000000-1.sqlite"
FALLBACK_STORE = ROOT / "bench" / "out" / "console-100000.sqlite"
SIZE = (160, 48)
TIMEOUT = 60.0


def is_ready(app: SupportdeskApp) -> bool:
    """The list shows fresh rows and the thread the ticket under the cursor."""
    desk = app.desk
    if app.screen is not desk or not desk.ticket_list.is_settled:
        return False
    if desk.current is None:
        return desk.ticket_list.total == 0
    return desk.detail is not None and desk.detail.row.number == desk.current.number


def _on_cursor_row(app: SupportdeskApp) -> bool:
    """The screen has taken in the ticket under the list's cursor (not only the list)."""
    row = app.desk.ticket_list.row_at(app.desk.ticket_list.cursor)
    current = app.desk.current
    return (
        is_ready(app) and row is not None and current is not None and current.number == row.number
    )


async def settle(pilot: Pilot, condition: Callable[[], bool]) -> None:
    """Yield to the app in small steps until `condition` holds."""
    deadline = time.perf_counter() + TIMEOUT
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the console did not settle")
        await asyncio.sleep(0.001)  # the app runs in this loop: sleeping lets it work


async def press(pilot: Pilot, key: str, use_pilot: bool) -> None:
    if use_pilot:
        await pilot.press(key)
    else:
        pilot.app.simulate_key(key)


async def run_session(
    store_path: Path, me: str | None, samples: dict[str, list[float]], steps: int, use_pilot: bool
) -> None:
    store = open_store(sqlite_url(store_path))
    try:
        started = time.perf_counter()
        app = SupportdeskApp(store, me=me, user_themes_dir=ROOT / "bench" / "out" / "no-themes")
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, lambda: is_ready(app))
            samples["start to ready"].append(time.perf_counter() - started)
            desk = app.desk
            for _ in range(steps):
                before = desk.current.number if desk.current else None
                t = time.perf_counter()
                await press(pilot, "j", use_pilot)
                await settle(
                    pilot,
                    lambda before=before: (
                        desk.current is not None and desk.current.number != before and is_ready(app)
                    ),
                )
                samples["open ticket"].append(time.perf_counter() - t)
                await pilot.pause(0.15)  # past the held-key debounce: one press, as a reader
            for _ in range(steps):
                key = desk.ticket_list.source.key if desk.ticket_list.source else None
                t = time.perf_counter()
                await press(pilot, "right_square_bracket", use_pilot)
                await settle(
                    pilot,
                    lambda key=key: (
                        desk.ticket_list.source is not None
                        and desk.ticket_list.source.key != key
                        and is_ready(app)
                    ),
                )
                samples["switch view"].append(time.perf_counter() - t)
            desk.open_source(Source("open", "All open", ACTIVE_QUERY))
            await settle(pilot, lambda: is_ready(app))
            for _ in range(max(1, steps // 2)):
                t = time.perf_counter()
                await press(pilot, "G", use_pilot)
                await settle(
                    pilot,
                    lambda: (
                        desk.ticket_list.total is not None
                        and desk.ticket_list.cursor == desk.ticket_list.total - 1
                        and is_ready(app)
                    ),
                )
                samples["scroll to end"].append(time.perf_counter() - t)
                await settle(pilot, lambda: _on_cursor_row(app))  # the thread caught up
                generation = desk.ticket_list._generation
                number = desk.current.number  # type: ignore[union-attr]
                t = time.perf_counter()
                await press(pilot, "ctrl+r", use_pilot)
                await settle(
                    pilot,
                    lambda generation=generation, number=number: (
                        desk.ticket_list._generation > generation
                        and is_ready(app)
                        and desk.current is not None
                        and desk.current.number == number
                        and desk.ticket_list.cursor == (desk.ticket_list.total or 0) - 1
                    ),
                )
                samples["reload at end"].append(time.perf_counter() - t)
                await press(pilot, "g", use_pilot)
                await settle(pilot, lambda: desk.ticket_list.cursor == 0 and is_ready(app))
    finally:
        store.dispose()


async def idle_cpu(store_path: Path, me: str | None, seconds: float) -> tuple[float, float]:
    """CPU seconds used by the whole process while the settled console sat idle."""
    store = open_store(sqlite_url(store_path))
    try:
        app = SupportdeskApp(store, me=me, user_themes_dir=ROOT / "bench" / "out" / "no-themes")
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, lambda: is_ready(app))
            await pilot.pause(1.0)
            before = resource.getrusage(resource.RUSAGE_SELF)
            wall = time.perf_counter()
            await asyncio.sleep(seconds)
            after = resource.getrusage(resource.RUSAGE_SELF)
            wall = time.perf_counter() - wall
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            return cpu, wall
    finally:
        store.dispose()


def pick_agent(store_path: Path) -> str | None:
    store = open_store(sqlite_url(store_path))
    try:
        agents = DeskData(store, None).agents()
        return agents[0] if agents else None
    finally:
        store.dispose()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", type=Path, help=f"SQLite store (default {DEFAULT_STORE})")
    parser.add_argument("--repeat", type=int, default=5, help="console sessions (default 5)")
    parser.add_argument("--steps", type=int, default=10, help="presses per step per session")
    parser.add_argument("--pilot", action="store_true", help="press keys with Pilot.press")
    parser.add_argument("--idle", type=float, default=10.0, help="idle seconds to measure")
    args = parser.parse_args(argv)

    path = args.path or (DEFAULT_STORE if DEFAULT_STORE.exists() else FALLBACK_STORE)
    if not path.exists():
        from tests.tui.bigstore import build_big_store

        print(f"building a 100,000-ticket store at {path} …", flush=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        build_big_store(path)
    me = pick_agent(path)
    print(f"store: {path} ({path.stat().st_size / 1e9:.2f} GB); agent: {me}; size {SIZE}")

    samples: dict[str, list[float]] = {
        "start to ready": [],
        "open ticket": [],
        "switch view": [],
        "scroll to end": [],
        "reload at end": [],
    }
    for _ in range(args.repeat):
        asyncio.run(run_session(path, me, samples, args.steps, args.pilot))
    print(f"{'step':<16}{'n':>4}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for name, values in samples.items():
        print(
            f"{name:<16}{len(values):>4}"
            f"{statistics.median(values) * 1000:>10.1f}"
            f"{percentile(values, 0.95) * 1000:>10.1f}"
            f"{max(values) * 1000:>10.1f}"
        )
    if args.idle > 0:
        cpu, wall = asyncio.run(idle_cpu(path, me, args.idle))
        print(f"idle: {cpu:.3f} s CPU over {wall:.1f} s ({cpu / wall * 100:.2f}% of one core)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
