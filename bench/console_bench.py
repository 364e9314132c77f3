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

Real-terminal modes run `supportdesk console` as a whole process in a tmux pane of the same
size (bench/terminal.py) and time what its screen shows; each figure is printed beside its
goal (issue 15):

- `--terminal`: process start (the pane's shell, just before exec) to the first full frame
  (list rows, and the thread of the ticket under the cursor), then key to repaint for open
  ticket (j), switch view (]), search (Enter on a typed query, until its first ticket shows)
  and G (until the view's last ticket shows) and g;
- `--writer`: the same keys while another process writes to the same store (a loop of
  `supportdesk import` of a fresh mbox and a bulk `tickets assign` with its `undo`), on a
  copy of the store in bench/out/, starting 2 s after the console's first frame with the
  mail to import written beforehand; prints the worst key-to-repaint, and the five worst
  with the writer's step under way then and their time on CLOCK_MONOTONIC (to find them in
  a trace of the console: Python's perf_counter reads that clock in every process);
- `--rss`: the console's resident memory (VmRSS, the peak VmHWM, and its anonymous and
  file-backed parts) after each round of broad searches and G/g in four views, to see
  whether it stays bounded and flat; `--env NAME=VALUE` adds to the console's environment;
- `--terminal --start-only`: only the start (first frame, its CPU, then the sidebar counts),
  `--repeat` times;
- `--bare`: a bare Textual app's first frame in the same harness, the floor of the start.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual.pilot import Pilot  # noqa: E402

from bench.terminal import (  # noqa: E402
    Screen,
    TerminalTimeout,
    TmuxTerminal,
    cpu_seconds,
    rss_kb,
    rss_parts_kb,
)
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


STORE_URL: str | None = None
"""`--url`: a PostgreSQL store (the store_bench schema, say) instead of the SQLite file."""


def store_url(store_path: Path) -> str:
    return STORE_URL or sqlite_url(store_path)


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
    store = open_store(store_url(store_path))
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
    store = open_store(store_url(store_path))
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
    store = open_store(store_url(store_path))
    try:
        agents = DeskData(store, None).agents()
        return agents[0] if agents else None
    finally:
        store.dispose()


# -- a real terminal ------------------------------------------------------------------------

STATUS_WORDS = "new|open|pending|on-hold|solved|closed"
LIST_ROW = re.compile(rf"│[ ●✎]*?(\d+) +(?:{STATUS_WORDS}) +(?:low|normal|high|urgent) ")
THREAD_HEADER = re.compile(rf"#(\d+) · (?:{STATUS_WORDS}) · ")
LIST_TITLE = re.compile(r"╭─ (.+?) ─{2,}")
SIDEBAR_COUNT = re.compile(r"│All open +\d[\d,]*")
SEARCHES = ("status:open -refund", "order", "返金", "refund", "xylophonic", "order refund")
"""Broad searches: a negation, common words (in about half and a quarter of the messages), a
Japanese word, a rare word, two words. In this order on the bench store no two neighbours
(nor "All open" and the first) start with the same ticket, which is how a search's result
is told from the one before it on screen."""

GOALS = {
    "start to first frame": 800.0,
    "  its CPU time": None,
    "open ticket (j)": 40.0,
    "switch view (])": 60.0,
    "search (Enter)": 100.0,
    "G (last ticket)": None,
    "g (first ticket)": None,
}
"""Goals in ms (issue 15): start is a median, the keys a p95; None: no goal stated."""


@dataclass
class Seen:
    """What the console's screen shows, read from the text tmux captured."""

    rows: list[int]
    header: int | None
    title: str | None
    loading: bool
    empty: bool
    counted: bool

    @classmethod
    def of(cls, screen: Screen) -> Seen:
        text = "\n".join(screen)
        rows = [int(m.group(1)) for line in screen for m in [LIST_ROW.search(line)] if m]
        header = THREAD_HEADER.search(text)
        title = next((m.group(1) for line in screen for m in [LIST_TITLE.search(line)] if m), None)
        return cls(
            rows=rows,
            header=int(header.group(1)) if header else None,
            title=title,
            loading="loading…" in text,
            empty="No tickets in this view" in text,
            counted=SIDEBAR_COUNT.search(text) is not None,
        )

    @property
    def settled(self) -> bool:
        """Rows without placeholders and the thread of one of them (or an empty view)."""
        if self.loading:
            return False
        if self.empty:
            return not self.rows
        return bool(self.rows) and self.header in self.rows

    @property
    def first_frame(self) -> bool:
        """Settled with the cursor on the first row: what a view shows when it opens."""
        return self.settled and (self.empty or self.header == self.rows[0])


def first_and_last(store_path: Path, me: str | None, query: str) -> tuple[int | None, int | None]:
    """The first and last ticket numbers of `query` as the console orders it."""
    store = open_store(store_url(store_path))
    try:
        data = DeskData(store, me)
        source = Source("bench", "bench", query)
        total = data.count(source)
        if not total:
            return None, None
        first = data.page(source, 0, 1, total)[0].number
        last = data.page(source, total - 1, 1, total)[0].number
        return first, last
    finally:
        store.dispose()


def console_argv(store_path: Path) -> list[str]:
    config = ROOT / "bench" / "out" / "console-bench.toml"
    return [
        str(ROOT / ".venv" / "bin" / "supportdesk"),
        "--config",
        str(config),
        "--store",
        store_url(store_path) if STORE_URL else str(store_path),
        "console",
    ]


def write_config(me: str | None) -> None:
    config = ROOT / "bench" / "out" / "console-bench.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'agent = "{me}"\n' if me else "")


def start_console(term: TmuxTerminal, store_path: Path) -> tuple[float, Seen]:
    """Start the console; seconds from process start to its first full frame, and that frame."""
    env = {"TERM": "xterm-256color", "COLORTERM": "truecolor", "LANG": "C.UTF-8"}
    if SOURCE is not None:  # another checkout's code, for a figure before a change
        env["PYTHONPATH"] = str(SOURCE)
    env.update(CONSOLE_ENV)
    # As installed: bytecode is read from __pycache__ (see compile_sources), not compiled.
    started = term.start(console_argv(store_path), env=env, unset=["PYTHONDONTWRITEBYTECODE"])
    offset = time.time() - time.perf_counter()
    seen_at = term.wait(lambda screen: Seen.of(screen).first_frame)
    return seen_at + offset - started, Seen.of(term.last_screen)


SOURCE: Path | None = None
"""--source: the checkout whose supportdesk the console runs (default this one)."""

CONSOLE_ENV: dict[str, str] = {}
"""--env: more of the console's environment (e.g. MALLOC_ARENA_MAX=2, to compare)."""

KEY_CPU: dict[str, list[float]] = {}
"""CPU seconds the console used per timed key (all its threads), by step: unlike the wall
time, hardly changed by what else the machine runs."""


def timed_key(
    term: TmuxTerminal,
    keys: Sequence[str],
    done: Callable[[Seen], bool],
    *,
    timeout: float = 60.0,
    step: str | None = None,
) -> float:
    """Seconds from sending `keys` until the screen shows `done`; the CPU it took goes to
    KEY_CPU[step]."""
    assert term.program is not None
    cpu = cpu_seconds(term.program)
    sent = term.keys(*keys)
    seconds = term.wait(lambda screen: done(Seen.of(screen)), timeout) - sent
    if step is not None:
        KEY_CPU.setdefault(step, []).append(cpu_seconds(term.program) - cpu)
    return seconds


def search(term: TmuxTerminal, query: str, first: int | None, *, timed: bool = True) -> float:
    """Type `query` into the search bar and time Enter until its first ticket shows.

    Untimed, the result may look like the screen before it (no error for that).
    """
    # The footer is the sign of the input's focus (below): first let it show the list's keys
    # again, which after a search it does only once the search's ticket has shown.
    term.wait(lambda screen: "Select" in screen[-1])
    for attempt in range(5):
        if attempt:
            term.keys("Escape")  # start over from the list, the input's focus given again
        term.keys("/")
        # Keys sent before the input has the focus would go to the list (n opens a note...);
        # the footer shows the input's keys once it has it (not while it is being rebuilt).
        term.wait(lambda screen: "ctrl+z Undo" in screen[-1] and "Select" not in screen[-1])
        # One key clears the bar (ctrl+u deletes to the start). Not a burst of BSpace: a key
        # the input acts on through a binding (backspace) runs only once it has bubbled back
        # to the app, behind the keys queued there, while printable keys are taken at once;
        # backspaces left over after the bar looked empty then erased the typed query, before
        # the check (the bar kept its placeholder) or after it (Enter ran an empty search).
        term.keys("C-e", "C-u")
        term.wait(lambda screen: any("│/ search: " in line for line in screen))
        term.keys(query, literal=True)
        try:
            term.wait(lambda screen: any(f"│{query} " in line for line in screen), 10)
            break
        except TerminalTimeout:
            # Not seen since the bar is cleared with ctrl+u (see above); kept so that one
            # slow frame does not lose a run.
            if attempt == 4:
                raise
    if timed and first is not None and Seen.of(term.screen()).header == first:
        raise ValueError(f"search {query!r} starts with the ticket already shown: reorder")
    if first is None:
        return timed_key(term, ["Enter"], lambda seen: seen.title == "Search" and seen.empty)
    return timed_key(
        term,
        ["Enter"],
        lambda seen: (
            seen.title == "Search"
            and seen.settled
            and bool(seen.rows)
            and seen.rows[0] == first
            and seen.header == first
        ),
        step="search (Enter)" if timed else None,
    )


def terminal_session(
    store_path: Path,
    samples: dict[str, list[float]],
    steps: int,
    expected: dict[str, tuple[int | None, int | None]],
) -> None:
    term = TmuxTerminal(SIZE)
    try:
        startup, seen = start_console(term, store_path)
        samples["start to first frame"].append(startup)
        samples["  its CPU time"].append(cpu_seconds(term.pid))
        t = time.perf_counter()
        term.wait(lambda screen: Seen.of(screen).counted)
        samples.setdefault("then sidebar counts", []).append(time.perf_counter() - t)
        for _ in range(steps):  # the cursor stays within the rows on screen
            seen = Seen.of(term.screen())
            if seen.header is None or seen.header not in seen.rows:
                break
            index = seen.rows.index(seen.header)
            if index + 1 >= len(seen.rows):
                break
            following = seen.rows[index + 1]
            samples["open ticket (j)"].append(
                timed_key(
                    term,
                    ["j"],
                    lambda s, n=following: s.header == n and s.settled,
                    step="open ticket (j)",
                )
            )
            time.sleep(0.15)  # past the held-key debounce: one press, as a reader
        for _ in range(steps):
            title = Seen.of(term.screen()).title
            samples["switch view (])"].append(
                timed_key(
                    term,
                    ["]"],
                    lambda s, title=title: s.title != title and s.first_frame,
                    step="switch view (])",
                )
            )
        for query in SEARCHES:
            samples["search (Enter)"].append(search(term, query, expected[query][0]))
        first, last = expected[ACTIVE_QUERY]
        while Seen.of(term.screen()).title != "All open":
            title = Seen.of(term.last_screen).title
            term.keys("]")
            term.wait(lambda screen, title=title: Seen.of(screen).title != title)
            term.wait(lambda screen: Seen.of(screen).first_frame)
        for _ in range(max(1, steps // 2)):
            ends = (("G", last, "G (last ticket)"), ("g", first, "g (first ticket)"))
            for key, number, step in ends:
                samples[step].append(
                    timed_key(
                        term,
                        [key],
                        lambda s, n=number: s.header == n and n in s.rows and s.settled,
                        step=step,
                    )
                )
    finally:
        term.close()


def report(samples: dict[str, list[float]], goals: dict[str, float | None]) -> None:
    print(f"{'step':<24}{'n':>4}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}   goal")
    for name, values in samples.items():
        if not values:
            continue
        goal = goals.get(name)
        median = name.startswith(("start", " "))
        figure = statistics.median(values) if median else percentile(values, 0.95)
        verdict = ""
        if goal is not None:
            kind = "median" if median else "p95"
            verdict = f"{kind} < {goal:.0f} ms {'PASS' if figure * 1000 < goal else 'MISS'}"
        print(
            f"{name:<24}{len(values):>4}"
            f"{statistics.median(values) * 1000:>10.1f}"
            f"{percentile(values, 0.95) * 1000:>10.1f}"
            f"{max(values) * 1000:>10.1f}   {verdict}"
        )


def load_average() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def compile_sources() -> None:
    """Byte-compile supportdesk as an installed wheel is: a console start reads bytecode.

    This environment may set PYTHONDONTWRITEBYTECODE; without the .pyc files every start
    would compile a hundred modules from source (about half a second) that no user's does.
    """
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "supportdesk")], check=True
    )


def run_terminal(path: Path, me: str | None, repeat: int, steps: int) -> None:
    print(f"\nreal terminal (tmux {SIZE[0]}x{SIZE[1]}, whole process), {load_average()}")
    expected = {q: first_and_last(path, me, q) for q in (*SEARCHES, ACTIVE_QUERY)}
    samples: dict[str, list[float]] = {name: [] for name in GOALS}
    for _ in range(repeat):
        terminal_session(path, samples, steps, expected)
    report(samples, GOALS)
    print("console CPU per key (all its threads; 10 ms ticks):")
    for step, values in KEY_CPU.items():
        print(f"  {step:<22}mean {statistics.mean(values) * 1000:6.1f} ms over {len(values)}")
    print(f"  ({load_average()})")


def run_start_only(path: Path, repeat: int) -> None:
    """Only the start: process start to first full frame, its CPU time, then the counts."""
    print(f"\nstart only (tmux {SIZE[0]}x{SIZE[1]}, whole process), {load_average()}")
    samples: dict[str, list[float]] = {"start to first frame": [], "  its CPU time": []}
    for _ in range(repeat):
        term = TmuxTerminal(SIZE)
        try:
            startup, _seen = start_console(term, path)
            samples["start to first frame"].append(startup)
            samples["  its CPU time"].append(cpu_seconds(term.pid))
            t = time.perf_counter()
            term.wait(lambda screen: Seen.of(screen).counted)
            samples.setdefault("then sidebar counts", []).append(time.perf_counter() - t)
        finally:
            term.close()
    report(samples, GOALS)
    print(f"  ({load_average()})")


BARE_APP = """
from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static

class Bare(App[None]):
    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("bare textual first frame")
        yield Footer()

Bare().run()
"""


def run_bare(repeat: int) -> None:
    """The floor: a bare Textual app (header, one line, footer) in the same harness."""
    print(f"\nbare Textual app (tmux {SIZE[0]}x{SIZE[1]}, whole process), {load_average()}")
    samples: dict[str, list[float]] = {"bare first frame": [], "  its CPU time": []}
    env = {"TERM": "xterm-256color", "COLORTERM": "truecolor", "LANG": "C.UTF-8"}
    for _ in range(repeat):
        term = TmuxTerminal(SIZE)
        try:
            started = term.start(
                [str(ROOT / ".venv" / "bin" / "python"), "-c", BARE_APP],
                env=env,
                unset=["PYTHONDONTWRITEBYTECODE"],
            )
            offset = time.time() - time.perf_counter()
            seen_at = term.wait(
                lambda screen: any("bare textual first frame" in line for line in screen)
            )
            samples["bare first frame"].append(seen_at + offset - started)
            samples["  its CPU time"].append(cpu_seconds(term.pid))
        finally:
            term.close()
    report(samples, {})
    print(f"  ({load_average()})")


def on_last_row(seen: Seen) -> bool:
    """Settled with the cursor on the last row on screen (after G, the view's last)."""
    return seen.settled and bool(seen.rows) and seen.header == seen.rows[-1]


def run_rss(path: Path, rounds: int) -> None:
    """Resident memory after each round of broad searches and G/g in four views."""
    print(f"\nmemory (tmux, whole process), {load_average()}")
    me = pick_agent(path)
    expected = {q: first_and_last(path, me, q)[0] for q in SEARCHES}
    term = TmuxTerminal(SIZE)
    try:
        start_console(term, path)
        pid = term.pid
        rss, peak = rss_kb(pid)
        print(f"{'after':<28}{'RSS MB':>10}{'peak MB':>10}{'anon MB':>10}{'file MB':>10}")
        anon, mapped = rss_parts_kb(pid)
        print(
            f"{'first frame':<28}{rss / 1024:>10.0f}{peak / 1024:>10.0f}"
            f"{anon / 1024:>10.0f}{mapped / 1024:>10.0f}"
        )
        figures = []
        for round_ in range(1, rounds + 1):
            for query in SEARCHES:
                search(term, query, expected[query])
                term.keys("G")
                term.wait(lambda screen: on_last_row(Seen.of(screen)))
                term.keys("g")
                term.wait(lambda screen: Seen.of(screen).first_frame)
            term.keys("Escape")
            for _ in range(4):
                title = Seen.of(term.screen()).title
                term.keys("]")
                term.wait(lambda screen, title=title: Seen.of(screen).title != title)
                term.wait(lambda screen: Seen.of(screen).first_frame)
                term.keys("G")
                term.wait(lambda screen: on_last_row(Seen.of(screen)))
                term.keys("g")
                term.wait(lambda screen: Seen.of(screen).first_frame)
            rss, peak = rss_kb(pid)
            anon, mapped = rss_parts_kb(pid)
            figures.append(rss)
            print(
                f"{f'round {round_}':<28}{rss / 1024:>10.0f}{peak / 1024:>10.0f}"
                f"{anon / 1024:>10.0f}{mapped / 1024:>10.0f}",
                flush=True,
            )
        verdict = "PASS" if peak < 200 * 1024 else "MISS"
        growth = (figures[-1] - figures[0]) / 1024
        print(f"peak RSS {peak / 1024:.0f} MB: goal < 200 MB {verdict}; ", end="")
        print(f"round 1 to {rounds}: {growth:+.0f} MB (goal: flat)  ({load_average()})")
    finally:
        term.close()


SETTLE_SECONDS = 2.0
"""--writer: seconds between the console's first frame and the writer's start (its sidebar
counts and first look for notifications are read then, not beside the first keys)."""


class Writer(threading.Thread):
    """Another process writing to the store while the console runs: import, bulk, undo."""

    def __init__(self, path: Path, rounds: int) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.rounds = rounds
        self.log: list[str] = []
        self.phases: list[tuple[float, str]] = []
        self.error: str | None = None

    def _cli(self, *args: str) -> tuple[float, str]:
        command = [console_argv(self.path)[0], "--store", str(self.path), *args]
        started = time.perf_counter()
        self.phases.append((started, args[0] if args[0] != "tickets" else args[1]))
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
        return time.perf_counter() - started, done.stdout

    def _mbox(self, round_: int) -> Path:
        return ROOT / "bench" / "out" / f"console-writer-{round_}.mbox"

    def write_mboxes(self) -> None:
        """The mail to import, written before the keys start: writing it took this process's
        GIL from the thread that times the keys."""
        from bench.sync_bench import write_mbox

        for round_ in range(self.rounds):
            write_mbox(self._mbox(round_), 2000, 1000 + round_)

    def run(self) -> None:
        try:
            for round_ in range(self.rounds):
                mbox = self._mbox(round_)
                seconds, _ = self._cli("import", str(mbox), "--queue", "support", "--json")
                self.log.append(f"import 2,000 messages {seconds:.1f} s")
                mbox.unlink()
                seconds, out = self._cli("tickets", "assign", "trent", "all", "--yes", "--json")
                batch = json.loads(out)["batch_id"]
                self.log.append(f"assign every ticket {seconds:.1f} s")
                seconds, _ = self._cli("undo", batch, "--json")
                self.log.append(f"undo it {seconds:.1f} s")
        except (RuntimeError, OSError, ValueError, KeyError) as exc:
            self.error = str(exc)


def run_writer(path: Path, me: str | None, rounds: int) -> None:
    """Keys pressed in the console while another process imports and changes every ticket."""
    copy = ROOT / "bench" / "out" / "console-writer.sqlite"
    print(f"\nkeys while another process writes (tmux, a copy at {copy}), {load_average()}")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(path, copy)
    term = TmuxTerminal(SIZE)
    samples: dict[str, list[float]] = {"key while writing": []}
    try:
        writer = Writer(copy, rounds)
        writer.write_mboxes()  # here, not beside the keys: the bench times them in this process
        start_console(term, copy)
        time.sleep(SETTLE_SECONDS)  # the console's own start-up reads end first
        writer.start()
        keys = ["j", "j", "k", "]", "j", "k", "["]
        pressed = 0
        begun = time.perf_counter()
        pressed_at: list[tuple[float, str]] = []
        while writer.is_alive():
            key = keys[pressed % len(keys)]
            pressed += 1
            before = Seen.of(term.screen())
            if key in "jk":
                if before.header is None or before.header not in before.rows:
                    key = "g"
                    done: Callable[[Seen], bool] = lambda s: s.first_frame  # noqa: E731
                else:
                    done = lambda s, h=before.header: s.header != h and s.settled  # noqa: E731
            else:
                done = lambda s, t=before.title: s.title != t and s.first_frame  # noqa: E731
            pressed_at.append((time.perf_counter(), key))
            try:
                samples["key while writing"].append(timed_key(term, [key], done, timeout=30))
            except TerminalTimeout:
                samples["key while writing"].append(30.0)
            time.sleep(0.1)
        writer.join()
        for line in writer.log:
            print(f"  writer: {line}")
        if writer.error:
            print(f"  writer failed: {writer.error}")
        report(samples, {"key while writing": 150.0})
        keyed = zip(samples["key while writing"], pressed_at, strict=False)
        timed = sorted(keyed, reverse=True)[:5]
        print("worst keys (ms, key, seconds into the run, the writer's step then):")
        for seconds, (at, key) in timed:
            phase = max((p for p in writer.phases if p[0] <= at), default=(begun, "-"))
            print(
                f"  {seconds * 1000:6.0f}  {key}  {at - begun:6.1f} s  "
                f"{phase[1]} +{at - phase[0]:.1f} s  (clock {at:.3f})"
            )
        worst = max(samples["key while writing"], default=0.0) * 1000
        verdict = "PASS" if worst < 150 else "MISS"
        print(f"worst key {worst:.0f} ms: goal < 150 ms {verdict}  ({load_average()})")
    finally:
        term.close()


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
    parser.add_argument(
        "--terminal", action="store_true", help="time the whole console process in tmux"
    )
    parser.add_argument(
        "--writer", action="store_true", help="worst key latency while another process writes"
    )
    parser.add_argument("--rss", action="store_true", help="memory after searches and scrolls")
    parser.add_argument(
        "--start-only", action="store_true", help="with --terminal: only the start, no keys"
    )
    parser.add_argument(
        "--bare", action="store_true", help="a bare Textual app's first frame in tmux (the floor)"
    )
    parser.add_argument(
        "--source", type=Path, help="run the console from this checkout (a before figure)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="--rss rounds (default 3)")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="console environment"
    )
    parser.add_argument(
        "--writer-rounds", type=int, default=2, help="--writer: import/assign/undo rounds"
    )
    parser.add_argument(
        "--url",
        help="time the console on this PostgreSQL store instead (headless steps, or the "
        "start with --terminal --start-only), e.g. "
        "postgresql+psycopg://postgres@127.0.0.1/test?options=-csearch_path%%3Dsdbench_...",
    )
    args = parser.parse_args(argv)

    path = args.path or (DEFAULT_STORE if DEFAULT_STORE.exists() else FALLBACK_STORE)
    if args.url:
        if args.writer or args.rss or (args.terminal and not args.start_only):
            parser.error("--url times the headless steps and --terminal --start-only only")
        global STORE_URL
        STORE_URL = args.url
    elif not path.exists():
        from tests.tui.bigstore import build_big_store

        print(f"building a 100,000-ticket store at {path} …", flush=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        build_big_store(path)
    me = pick_agent(path)
    where = args.url or f"{path} ({path.stat().st_size / 1e9:.2f} GB)"
    print(f"store: {where}; agent: {me}; size {SIZE}; load {os.getloadavg()[0]:.2f}")
    if args.bare:
        run_bare(args.repeat)
        if not (args.terminal or args.writer or args.rss):
            return 0
    if args.terminal or args.writer or args.rss:
        global SOURCE
        SOURCE = args.source
        for item in args.env:
            name, _, value = item.partition("=")
            CONSOLE_ENV[name] = value
        write_config(me)
        compile_sources()
        if args.terminal and args.start_only:
            run_start_only(path, args.repeat)
        elif args.terminal:
            run_terminal(path, me, args.repeat, args.steps)
        if args.rss:
            run_rss(path, args.rounds)
        if args.writer:
            run_writer(path, me, args.writer_rounds)
        return 0

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
