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

from supportdesk.desk.query import Count, Matching
from supportdesk.desk.query import compile as compiler
from supportdesk.desk.query import matching as matching_module
from supportdesk.desk.views import TicketDetail, TicketRow
from supportdesk.store import Store, search
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.data import DeskData, FirstPage, Source
from supportdesk.tui.widgets import ticket_list
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
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 5 rows: the demo's views are longer than their first page, so they are
    counted (a first page that is not full is the whole view, and its count)."""
    monkeypatch.setattr(ticket_list, "PAGE_SIZE", 5)


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
    small_pages: None,
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


async def test_g_before_the_count_lands_on_the_last_ticket_once_it_is_counted(
    make_app: Callable[..., SupportdeskApp],
    demo_store: Store,
    estimating: None,
    gate: threading.Event,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`G` while only an estimate is known goes to the last row read, then to the true last
    ticket when the count comes; a key pressed in between keeps the cursor where it is."""
    from supportdesk.tui.widgets import ticket_list

    monkeypatch.setattr(ticket_list, "PAGE_SIZE", 5)  # fewer rows read than "order" has
    with demo_store.session() as session:
        exact = Matching(session, "order", me="alice").count()
    assert exact > 10
    app = make_app()
    try:
        async with app.run_test(size=SIZE) as pilot:
            tl = app.desk.ticket_list
            await search_for(
                pilot, "order", lambda: tl.estimate is not None and tl.row_at(0) is not None
            )
            assert tl.total is None
            tl.focus()
            await pilot.press("G")
            await wait_until(pilot, lambda: tl.cursor > 0, what="G to move the cursor")
            assert tl.cursor < exact - 1  # only what was read so far
            gate.set()
            await wait_until(pilot, lambda: tl.total == exact, what="the exact count")
            await wait_until(pilot, lambda: tl.cursor == exact - 1, what="the last ticket")
            await ready(pilot)
            assert f"{exact:,} of {exact:,}" in screen_text(app)
            gate.clear()
            await search_for(
                pilot, "order", lambda: tl.estimate is not None and tl.row_at(0) is not None
            )
            tl.focus()
            await pilot.press("G", "k")  # moved on before the count: stays where it went
            await wait_until(pilot, lambda: tl.cursor > 0, what="the keys to move the cursor")
            held = tl.cursor
            gate.set()
            await wait_until(pilot, lambda: tl.total == exact, what="the exact count")
            await ready(pilot)
            assert tl.cursor == held
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


async def test_rows_and_the_ticket_come_before_the_count(
    make_app: Callable[..., SupportdeskApp], monkeypatch: pytest.MonkeyPatch, small_pages: None
) -> None:
    """A view's count starts once its first page is in: the rows and the thread of the first
    ticket show while the count is held back, at start and for a search."""
    calls: list[str] = []
    held = threading.Event()
    page, first_page, quick = DeskData.page, DeskData.first_page, DeskData.quick_count

    def paged(
        self: DeskData, source: Source, offset: int, limit: int, total: int | None
    ) -> list[TicketRow]:
        rows = page(self, source, offset, limit, total)
        calls.append("page")
        return rows

    def first_paged(
        self: DeskData, source: Source, limit: int, *, background: bool = False
    ) -> FirstPage:
        first = first_page(self, source, limit, background=background)
        if not background:  # a search's or a view's, not one read ahead
            calls.append("page")
        return first

    def counted(self: DeskData, source: Source) -> Count:
        calls.append("count")
        held.wait(timeout=30)
        return quick(self, source)

    monkeypatch.setattr(DeskData, "page", paged)
    monkeypatch.setattr(DeskData, "first_page", first_paged)
    monkeypatch.setattr(DeskData, "quick_count", counted)
    app = make_app()

    def shown() -> bool:
        row = app.desk.ticket_list.row_at(0)
        detail = app.desk.detail
        return row is not None and detail is not None and detail.row.number == row.number

    try:
        async with app.run_test(size=SIZE) as pilot:
            tl = app.desk.ticket_list
            await wait_until(pilot, shown, what="the first view's rows and ticket")
            assert tl.total is None
            assert calls[0] == "page"
            assert "(counting…)" in screen_text(app)
            held.set()
            await wait_until(pilot, lambda: tl.total is not None, what="the count")
            held.clear()
            calls.clear()
            await search_for(pilot, "status:open,pending", shown)
            assert tl.total is None
            assert calls[0] == "page"
            held.set()
            await wait_until(pilot, lambda: tl.total is not None, what="the search's count")
            assert f"1 of {tl.total:,}" in screen_text(app)
    finally:
        held.set()


async def test_a_view_opened_reads_its_ticket_at_once_a_moving_cursor_waits(
    make_app: Callable[..., SupportdeskApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pause that lets a held j/k pass tickets without reading each follows keys that
    move the cursor only: a view that opens shows its first ticket without it. (Without
    reading ahead, which would show a ticket beside the cursor without any read.)"""
    from supportdesk.tui.screens import desk

    monkeypatch.setattr(desk.DeskScreen, "_read_ahead_around", lambda self: None)
    delays: list[float] = []
    schedule = desk.DeskScreen._schedule_detail

    def spied(self: desk.DeskScreen, number: int, delay: float) -> None:
        delays.append(delay)
        schedule(self, number, delay)

    monkeypatch.setattr(desk.DeskScreen, "_schedule_detail", spied)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        title = app.desk.ticket_list.source
        delays.clear()
        await pilot.press("right_square_bracket")
        await wait_until(pilot, lambda: app.desk.ticket_list.source != title, what="next view")
        await ready(pilot)
        # Read with the view's first page, in the same worker: no pause, no read of its own.
        assert delays == []
        tl = app.desk.ticket_list
        assert app.desk.detail is not None and tl.row_at(0) is not None
        assert app.desk.detail.row.number == tl.row_at(0).number  # type: ignore[union-attr]
        delays.clear()
        await pilot.press("j")
        await ready(pilot)
        assert delays == [desk.DETAIL_DELAY]


async def test_a_key_is_answered_while_earlier_workers_still_run(
    make_app: Callable[..., SupportdeskApp],
) -> None:
    """Workers that have not returned (exact counts of searches already replaced, a write
    waiting for another process's lock) take a thread each: as many as Python's default
    pool for this machine holds, and j still shows the next ticket."""
    import os

    app = make_app()
    released = threading.Event()
    busy = min(32, (os.cpu_count() or 1) + 4)  # concurrent.futures' default
    try:
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            for _ in range(busy):
                app.run_worker(lambda: released.wait(30), thread=True, group="slow-count")
            await pilot.pause(0.1)
            before = app.desk.current.number  # type: ignore[union-attr]
            await pilot.press("j")
            await wait_until(
                pilot,
                lambda: app.desk.detail is not None and app.desk.detail.row.number != before,
                what="the next ticket beside the busy workers",
            )
            await ready(pilot)
    finally:
        released.set()


async def test_the_exact_count_waits_for_the_ticket_under_the_cursor(
    make_app: Callable[..., SupportdeskApp],
    estimating: None,
    monkeypatch: pytest.MonkeyPatch,
    small_pages: None,
) -> None:
    """Behind an estimate, the exact count starts only once the ticket shows: it would share
    the cores with the read and the drawing the agent waits for."""
    calls: list[str] = []
    reading = threading.Event()
    detail, exact = DeskData.detail, DeskData.count

    def read(self: DeskData, number: int, *, background: bool = False) -> TicketDetail:
        if background:  # a read ahead of the keys, beside the cursor
            return detail(self, number, background=background)
        if calls and calls[-1] == "search":
            calls.append("reading")
            reading.wait(timeout=30)
        calls.append("detail")
        return detail(self, number, background=background)

    def counted(self: DeskData, source: Source) -> int:
        calls.append("exact")
        return exact(self, source)

    monkeypatch.setattr(DeskData, "detail", read)
    monkeypatch.setattr(DeskData, "count", counted)
    app = make_app()
    try:
        async with app.run_test(size=SIZE) as pilot:
            tl = app.desk.ticket_list
            await ready(pilot)
            tl.move_to(5)  # off the ticket the search lists first
            sixth = tl.current_row
            await wait_until(
                pilot,
                lambda: (
                    sixth is not None
                    and app.desk.detail is not None
                    and app.desk.detail.row.number == sixth.number
                ),
                what="the sixth ticket",
            )
            calls.append("search")
            # The search reads its first ticket with its first page (one frame shows both).
            await pilot.press("slash", "ctrl+u", *"order", "enter")
            await wait_until(pilot, lambda: calls[-1] == "reading", what="the search's ticket")
            await pilot.pause(0.2)
            assert calls[-1] == "reading"  # neither the ticket nor the exact count yet
            assert tl.source is not None and tl.source.query != "order"  # the last view stays
            reading.set()
            await wait_until(pilot, lambda: tl.total is not None, what="the exact count")
            assert tl.estimate is not None  # the quick count was an estimate
            assert calls[-3:] == ["reading", "detail", "exact"]
    finally:
        reading.set()


async def test_a_view_within_its_first_page_is_counted_by_that_page(
    make_app: Callable[..., SupportdeskApp], demo_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first page that is not full is the whole view: no count is read for it (an empty
    view, Breached most of the day, waited for one after its empty page)."""
    with demo_store.session() as session:
        exact = Matching(session, "status:open,pending", me="alice").count()
    assert 0 < exact < ticket_list.PAGE_SIZE
    counted: list[str] = []
    quick = DeskData.quick_count

    def counting(self: DeskData, source: Source) -> Count:
        counted.append(source.query)
        return quick(self, source)

    monkeypatch.setattr(DeskData, "quick_count", counting)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        tl = app.desk.ticket_list
        await search_for(pilot, "xylophonic", lambda: tl.total is not None)
        assert tl.total == 0 and "xylophonic" not in counted
        assert "no tickets in this view" in screen_text(app)
        await search_for(pilot, "status:open,pending", lambda: tl.total is not None)
        assert tl.total == exact
        assert "status:open,pending" not in counted
        assert f"1 of {tl.total}" in screen_text(app)


async def test_a_view_of_exactly_one_page_is_counted_and_right(
    make_app: Callable[..., SupportdeskApp], demo_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full first page may be the whole view: it is counted as a longer one is, and the
    count says no more rows than it holds."""
    with demo_store.session() as session:
        exact = Matching(session, "status:open,pending", me="alice").count()
    assert exact > 1
    monkeypatch.setattr(ticket_list, "PAGE_SIZE", exact)
    counted: list[str] = []
    quick = DeskData.quick_count

    def counting(self: DeskData, source: Source) -> Count:
        counted.append(source.query)
        return quick(self, source)

    monkeypatch.setattr(DeskData, "quick_count", counting)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        tl = app.desk.ticket_list
        await search_for(pilot, "status:open,pending", lambda: tl.total is not None)
        assert "status:open,pending" in counted
        assert tl.total == exact
        assert f"1 of {exact}" in screen_text(app)
        await ready(pilot)
