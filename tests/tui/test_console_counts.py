"""The list's "1 of N": rows first, a marked estimate while the exact count runs, then exact.

The thresholds are lowered so that the demo store's common words count as a million
messages' would; the exact count is held back by a gate so the state in between can be seen
(and keys pressed in it), and let through to see the exact figure replace the estimate.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from textual.pilot import Pilot

from supportdesk.desk.query import Matching
from supportdesk.desk.query import compile as compiler
from supportdesk.desk.query import matching as matching_module
from supportdesk.store import Store, search
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.data import DeskData, Source
from tests.tui.conftest import SIZE, ready, screen_text, wait_until


@pytest.fixture
def estimating(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "SELECTIVE_LIMIT", 0)
    monkeypatch.setattr(compiler, "PER_TICKET_MAX", 0)
    monkeypatch.setattr(compiler, "SMALL_SET", 0)
    monkeypatch.setattr(compiler, "POSTGRES_SMALL_SET", 0)
    monkeypatch.setattr(matching_module, "COUNT_SAMPLE", 10)
    monkeypatch.setattr(matching_module, "POSTGRES_COUNT_SAMPLE", 10)
    monkeypatch.setattr(search, "NEWEST_SAMPLE", 5)
    monkeypatch.setattr(search, "POSTGRES_NEWEST_SAMPLE", 5)
    monkeypatch.setattr(search, "NEWEST_MIN_TICKETS", 1)


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Exact counts wait until the test sets this (the store's own count, only later)."""
    opened = threading.Event()
    exact = DeskData.count

    def held(self: DeskData, source: Source) -> int:
        opened.wait(timeout=30)
        return exact(self, source)

    monkeypatch.setattr(DeskData, "count", held)
    return opened


async def search_for(pilot: Pilot, query: str, shown: Callable[[], bool]) -> None:
    """Type `query` into the search bar and wait until its view shows what `shown` asks."""
    app: SupportdeskApp = pilot.app  # type: ignore[assignment]
    tl = app.desk.ticket_list
    await pilot.press("slash", "ctrl+u", *query, "enter")
    await wait_until(
        pilot,
        lambda: tl.source is not None and tl.source.query == query and shown(),
        what=f"the view of {query!r}",
    )


async def test_a_common_word_shows_rows_and_an_estimate_then_the_exact_count(
    make_app: Callable[..., SupportdeskApp],
    demo_store: Store,
    estimating: None,
    gate: threading.Event,
) -> None:
    with demo_store.session() as session:
        # The demo plays out three months ending now: "order" is in 25-39 tickets at any
        # hour, "refund" in as few as 10, which is no longer above the threshold.
        exact = Matching(session, "order", me="alice").count()
    assert exact > 10
    app = make_app()
    try:
        async with app.run_test(size=SIZE) as pilot:
            tl = app.desk.ticket_list
            await search_for(
                pilot, "order", lambda: tl.estimate is not None and tl.row_at(0) is not None
            )
            assert tl.total is None  # the exact count is still running
            assert tl.estimate is not None and tl.estimate.kind == "about"
            text = screen_text(app)
            assert f"1 of {tl.estimate.label()} (counting…)" in text
            assert tl.estimate.label().startswith("≈")
            tl.focus()
            await pilot.press("j")  # keys work while it counts
            await wait_until(pilot, lambda: tl.cursor == 1, what="the cursor to move")
            gate.set()
            await wait_until(pilot, lambda: tl.total == exact, what="the exact count")
            await ready(pilot)
            text = screen_text(app)
            assert f"2 of {exact:,}" in text
            assert "≈" not in text
    finally:
        gate.set()


async def test_a_view_without_words_is_counted_exactly_at_once(
    make_app: Callable[..., SupportdeskApp], estimating: None, gate: threading.Event
) -> None:
    """No estimate and no second count when the exact one is as cheap (ticket columns only)."""
    app = make_app()
    try:
        async with app.run_test(size=SIZE) as pilot:
            tl = app.desk.ticket_list
            await search_for(pilot, "status:open,pending", lambda: tl.total is not None)
            assert tl.estimate is None
            assert f"1 of {tl.total:,}" in screen_text(app)
    finally:
        gate.set()


def test_a_saved_search_in_the_sidebar_shows_its_estimate_as_one(
    demo_store: Store, estimating: None
) -> None:
    from supportdesk.tui.data import SavedView
    from supportdesk.tui.widgets.sidebar import _prompt

    entries = DeskData(demo_store, "alice").sidebar([SavedView("Orders", "order")])
    saved = next(e for e in entries if e.key == "saved:Orders")
    assert saved.count is not None and saved.count.kind == "about"
    assert "≈" in _prompt(saved, current=False).plain
    standard = next(e for e in entries if e.key == "open")
    assert standard.count is not None and standard.count.is_exact
