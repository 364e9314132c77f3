"""100,000 tickets: the first screen comes up, the end is reachable, memory stays small."""

from __future__ import annotations

import shutil
from pathlib import Path

from supportdesk.store import open_store
from supportdesk.store.engine import sqlite_url
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.widgets.ticket_list import CACHE_PAGES, PAGE_SIZE
from tests.tui.conftest import SIZE, ready, screen_text, wait_until

ACTIVE = sum(1 for n in range(1, 100_001) if n % 6 < 4)  # bigstore: 4 of 6 statuses active


async def test_first_screen_and_scrolling_to_the_end(big_template: Path, tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    shutil.copyfile(big_template, path)
    store = open_store(sqlite_url(path))
    try:
        app = SupportdeskApp(store, me="alice")
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            tl = app.desk.ticket_list
            assert tl.total == ACTIVE
            assert f"1 of {ACTIVE:,}" in screen_text(app)
            assert tl.row_at(0).number == 99_999  # type: ignore[union-attr]
            await pilot.press("G")
            await ready(pilot)
            assert tl.cursor == ACTIVE - 1
            assert tl.row_at(tl.cursor).number == 1  # type: ignore[union-attr]
            assert f"{ACTIVE:,} of {ACTIVE:,}" in screen_text(app)
            for _ in range(3):
                await pilot.press("pageup")
            await ready(pilot)
            assert tl.row_at(tl.cursor) is not None
            assert len(tl._pages) <= CACHE_PAGES  # never more than a few pages in memory
            await pilot.press("slash")
            app.desk.search.input.value = "sort:number"
            await pilot.press("enter")
            await wait_until(pilot, lambda: tl.source.key == "search", what="the search")
            await ready(pilot)
            assert tl.total == 100_000
            tl.move_to(50_000)
            await ready(pilot)
            assert tl.row_at(50_000).number == 50_001  # type: ignore[union-attr]
            assert all(
                page * PAGE_SIZE <= 50_000 + 200 for page in tl._pages
            )  # fetched around the viewport, not everything before it
    finally:
        store.dispose()
