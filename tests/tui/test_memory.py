"""The console's memory stays bounded: freed heap goes back to the system (tui/memory.py),
and the footer's rebuilt keys are let go."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets._footer import FooterKey

from supportdesk.tui import memory
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.memory import TRIM_EVERY, release_heap
from supportdesk.tui.widgets.footer import DeskFooter
from tests.tui.conftest import SIZE, ready, wait_until

glibc = pytest.mark.skipif(
    os.environ.get("CI") != "true"
    and (not sys.platform.startswith("linux") or memory._malloc_trim() is None),
    reason="malloc_trim is glibc's (CI runs on glibc: there it must run)",
)


def _anon_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    raise AssertionError("no RssAnon in /proc/self/status")


def test_a_burst_of_big_reads_trims_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(memory, "_trim", calls.append)
    monkeypatch.setattr(memory, "_loaded", True)
    monkeypatch.setattr(memory, "_last", -TRIM_EVERY)
    assert release_heap(now=100.0)
    assert not release_heap(now=100.0 + TRIM_EVERY / 2)
    assert release_heap(now=100.0 + TRIM_EVERY)
    assert calls == [0, 0]


@glibc
def test_memory_freed_on_a_worker_thread_goes_back_to_the_system(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a worker thread frees stays in its malloc arena, resident, until trimmed."""
    monkeypatch.setattr(memory, "_last", -TRIM_EVERY)
    kept: list[bytearray] = []

    def churn() -> None:
        blocks = [bytearray(64 * 1024) for _ in range(1200)]  # 75 MiB below mmap's threshold
        kept.extend(blocks[::100])  # a few survivors pin the arena's top
        blocks.clear()

    thread = threading.Thread(target=churn)
    thread.start()
    thread.join()
    before = _anon_kib()
    assert release_heap()
    assert before - _anon_kib() > 32 * 1024
    assert len(kept) == 12


async def test_the_footer_forgets_the_keys_it_rebuilt(
    make_app: Callable[..., SupportdeskApp],
) -> None:
    """Every focus change rebuilds the footer's keys; the old ones are not kept alive."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        footer = app.desk.query_one(DeskFooter)
        for _ in range(4):
            app.desk.search.input.focus()
            await pilot.pause(0.05)
            app.desk.ticket_list.focus()
            await pilot.pause(0.05)
        await wait_until(pilot, lambda: not footer._rebuild_queued, what="the last rebuild")
        await pilot.pause(0.1)
        keys = list(footer.query(FooterKey))
        bound = getattr(footer, "__watchers", {}).get("compact", [])
        assert keys
        assert len(bound) <= len(keys)
