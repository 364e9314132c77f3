"""The search bar, the sidebar's views and saving a search as a view."""

from __future__ import annotations

import threading
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from textual._xterm_parser import XTermParser
from textual.message import Message
from textual.widgets import Input

from supportdesk.config import load_settings
from supportdesk.desk.query import Count
from supportdesk.desk.views import TicketRow
from supportdesk.store import Store
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.data import DeskData, Source
from supportdesk.tui.screens.modals import AskScreen
from tests.tui.conftest import SIZE, ready, screen_text, wait_until


async def test_a_bad_query_is_shown_inline_with_its_position(
    make_app: Callable[..., SupportdeskApp],
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        before = app.desk.ticket_list.source
        await pilot.press("slash", "ctrl+u", *"stauts:open", "enter")
        await wait_until(pilot, lambda: app.desk.search.has_class("-error"), what="the error")
        text = screen_text(app)
        assert "unknown field 'stauts' (did you mean 'status'?)" in text
        assert "^ unknown field" in text
        assert app.desk.ticket_list.source is before  # the list did not change


async def test_an_unknown_queue_is_reported_at_its_position(
    make_app: Callable[..., SupportdeskApp],
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("slash", "ctrl+u")
        app.desk.search.input.value = "refund queue:biling"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.desk.search.has_class("-error"), what="the error")
        lines = screen_text(app).splitlines()
        caret = next(line for line in lines if "^ unknown queue 'biling'" in line)
        query = next(line for line in lines if "│ refund queue:biling" in line)
        assert caret.index("^") == query.index("biling")


async def test_a_search_fills_the_list_and_esc_returns(
    make_app: Callable[..., SupportdeskApp],
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("slash")
        app.desk.search.input.value = "queue:billing status:active"
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: app.desk.ticket_list.source.key == "search" and app.desk.ticket_list.is_settled,
        )
        tl = app.desk.ticket_list
        rows = [tl.row_at(i) for i in range(tl.total or 0)]
        assert rows and all(r and r.queue == "billing" for r in rows)
        await pilot.press("slash", "escape")
        assert tl.has_focus


async def test_the_sidebar_opens_views_with_counts(
    make_app: Callable[..., SupportdeskApp],
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: bool(app.desk.sidebar.entries), what="the sidebar")
        entries = app.desk.sidebar.entries
        assert {"mine", "unassigned", "open", "pending", "solved", "quarantine"} <= set(entries)
        assert "queue:billing" in entries
        app.desk.sidebar.focus()
        app.desk.sidebar.highlighted = app.desk.sidebar.get_option_index("unassigned")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.desk.ticket_list.source.key == "unassigned")
        await ready(pilot)
        tl = app.desk.ticket_list
        assert Count.exactly(tl.total or 0) == entries["unassigned"].count
        assert all(tl.row_at(i).assignee is None for i in range(tl.total))  # type: ignore[union-attr]
        await pilot.press("right_square_bracket")
        await wait_until(pilot, lambda: app.desk.ticket_list.source.key == "open")


async def test_save_search_appends_to_the_config_and_adds_a_view(
    make_app: Callable[..., SupportdeskApp], config_path: Path
) -> None:
    original = config_path.read_text(encoding="utf-8")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("slash")
        app.desk.search.input.value = 'tag:vip "refund"'
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.desk.ticket_list.source.key == "search")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, AskScreen), what="the name")
        await pilot.press(*"VIP", "enter")
        await wait_until(pilot, lambda: "saved:VIP" in app.desk.sidebar.entries, what="the view")
    text = config_path.read_text(encoding="utf-8")
    assert text.startswith(original)  # comments and layout kept
    assert tomllib.loads(text)["saved_searches"] == [{"name": "VIP", "query": 'tag:vip "refund"'}]
    settings = load_settings(config_path)
    assert settings.agent == "alice" and settings.bulk.confirm_above == 10


async def test_saving_a_taken_name_is_refused_and_the_file_untouched(
    make_app: Callable[..., SupportdeskApp], config_path: Path, demo_store: Store
) -> None:
    config_path.write_text(
        config_path.read_text() + '\n[[saved_searches]]\nname = "VIP"\nquery = "tag:vip"\n'
    )
    before = config_path.read_bytes()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("slash")
        app.desk.search.input.value = "status:new"
        await pilot.press("enter", "ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, AskScreen), what="the name")
        await pilot.press(*"VIP", "enter")
        await wait_until(
            pilot, lambda: any("exists already" in n.message for n in app._notifications)
        )
    assert config_path.read_bytes() == before


async def test_a_query_put_in_the_bar_lays_out_nothing_and_still_scrolls(
    make_app: Callable[..., SupportdeskApp],
) -> None:
    """Every view opened puts its query in the bar: that repaints the bar and sets how far
    it scrolls, without a layout of the whole desk (unless its scrollbar comes or goes); a
    query longer than the bar still shows its end, where the cursor is."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: app.desk.ticket_list.total is not None, what="the count")
        await pilot.pause(0.3)  # the count's own repaint and layout are not the bar's
        desk = app.desk
        layouts: list[bool] = []
        layout = desk._refresh_layout

        def counted(*args: object, **kwargs: object) -> None:
            layouts.append(desk._layout_required)  # not a scroll's reflow of what shows
            layout(*args, **kwargs)  # type: ignore[arg-type]

        desk._refresh_layout = counted  # type: ignore[method-assign]
        field = desk.search.input
        for query in ("assignee:none status:active", "queue:billing status:open,pending"):
            desk.search.show_query(query)
            await pilot.pause(0.1)
            assert field.virtual_size.width == field.content_width
        assert not any(layouts)
        desk.search.show_query("queue:billing status:open,pending assignee:me " * 6 + "refund")
        await pilot.pause(0.1)
        assert field.virtual_size.width == field.content_width > field.size.width
        assert "refund" in screen_text(app)


async def test_typing_past_the_bars_width_scrolls_to_the_cursor_and_announces_changes(
    make_app: Callable[..., SupportdeskApp],
) -> None:
    """The bar keeps all of Input's behaviour on a new value: it follows the cursor past its
    width (the end of a long query stays visible) and posts Input.Changed per key."""
    changed: list[str] = []

    def hook(message: Message) -> None:
        if isinstance(message, Input.Changed) and message.input.id == "search-input":
            changed.append(message.value)

    app = make_app()
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await ready(pilot)
        await pilot.press("slash", "ctrl+u")
        field = app.desk.search.input
        await wait_until(pilot, lambda: field.has_focus, what="the search bar")
        changed.clear()
        width = field.scrollable_content_region.width
        query = "queue:billing " * (width // 14 + 2) + "refund"
        assert len(query) > width
        await pilot.press(*query)
        await pilot.pause(0.1)
        assert field.value == query
        assert field.scroll_x > 0
        assert field.scroll_x + width >= len(query)
        assert changed and changed[-1] == query


async def test_keys_that_came_at_once_edit_the_bar_in_the_order_typed(
    make_app: Callable[..., SupportdeskApp],
) -> None:
    """Keys that queue up while the desk is busy (a view loading) keep their order: a
    backspace, which Input handles through a binding, once ran only after the characters
    typed after it (the console bench's search flake: its query erased by late backspaces)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("slash")
        field = app.desk.search.input
        await wait_until(pilot, lambda: field.has_focus, what="the search bar")
        field.value = "order"
        field.cursor_position = len("order")
        assert app._driver is not None
        for event in XTermParser().feed("\x7f" * 8 + "refunx\x7fd"):
            app._driver.send_message(event)  # all before the app handles the first
        await pilot.pause(0.1)
        assert field.value == "refund"


async def test_keys_that_came_at_once_edit_the_note_editor_in_the_order_typed(
    make_app: Callable[..., SupportdeskApp],
) -> None:
    """The same for the note editor (TextArea handles backspace through a binding too)."""
    from textual.widgets import TextArea

    from supportdesk.tui.screens.modals import NoteScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, NoteScreen), what="the note")
        area = app.screen.query_one("#note-text", TextArea)
        await wait_until(pilot, lambda: area.has_focus, what="the note editor")
        area.insert("order")
        assert app._driver is not None
        for event in XTermParser().feed("\x7f" * 8 + "refunx\x7fd"):
            app._driver.send_message(event)
        await pilot.pause(0.1)
        assert area.text == "refund"


async def test_after_a_search_the_footer_shows_the_lists_keys_once_its_ticket_shows(
    make_app: Callable[..., SupportdeskApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Enter moves the focus to the list; the footer's rebuild for it waits for the
    search's ticket (it laid the desk out while the agent waited), then follows."""
    from textual.widgets._footer import FooterKey

    from supportdesk.desk.views import TicketDetail
    from supportdesk.tui.data import DeskData
    from supportdesk.tui.widgets import footer

    reading = threading.Event()
    held = [False]
    waiting = threading.Event()
    detail = DeskData.detail

    def read(self: DeskData, number: int, *, background: bool = False) -> TicketDetail:
        if held[0] and not background:  # a read ahead beside the cursor is not held
            waiting.set()
            reading.wait(timeout=30)
        return detail(self, number, background=background)

    monkeypatch.setattr(DeskData, "detail", read)
    monkeypatch.setattr(footer, "HOLD_LONGEST", 30.0)  # only the ticket releases it here
    app = make_app()

    def keys() -> set[str]:
        return {k.description for k in app.screen.query(FooterKey) if k.description}

    try:
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            tl = app.desk.ticket_list
            tl.move_to(3)  # off the ticket the search lists first
            await ready(pilot)
            await pilot.press("slash")
            await wait_until(pilot, lambda: "Take" not in keys(), what="the search bar's keys")
            held[0] = True
            await pilot.press("ctrl+u", *"status:open,pending", "enter")
            # The search reads its first ticket with its first page: its rows wait for it.
            await wait_until(pilot, waiting.is_set, what="the search's ticket read")
            await pilot.pause(0.1)
            assert "Take" not in keys()  # not rebuilt while the ticket is read
            reading.set()
            await wait_until(
                pilot,
                lambda: tl.source is not None and tl.source.key == "search" and tl.has_focus,
                what="the search's list",
            )
            await wait_until(pilot, lambda: "Take" in keys(), what="the list's keys")
    finally:
        reading.set()


async def test_a_search_compiles_its_query_once_before_its_rows_show(
    make_app: Callable[..., SupportdeskApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check of a query reads its first page: the rows show after one compile, with no
    page read by the list (which reads the pages around it once they are on screen)."""
    from supportdesk.desk.query import matching

    compiled: list[str] = []
    gate = threading.Event()
    compile_query = matching.compile_query
    page, quick = DeskData.page, DeskData.quick_count

    def counting(query: object, *args: object, **kwargs: object) -> object:
        if getattr(query, "source", "") == "status:open,pending":  # not the views read ahead
            compiled.append("compile")
        return compile_query(query, *args, **kwargs)  # type: ignore[arg-type]

    def held_page(
        self: DeskData, source: Source, offset: int, limit: int, total: int | None
    ) -> list[TicketRow]:
        gate.wait(timeout=30)
        return page(self, source, offset, limit, total)

    def held_count(self: DeskData, source: Source) -> Count:
        gate.wait(timeout=30)
        return quick(self, source)

    app = make_app()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            monkeypatch.setattr(matching, "compile_query", counting)
            monkeypatch.setattr(DeskData, "page", held_page)
            monkeypatch.setattr(DeskData, "quick_count", held_count)
            tl = app.desk.ticket_list
            await pilot.press("slash", "ctrl+u", *"status:open,pending", "enter")
            await wait_until(
                pilot,
                lambda: (
                    tl.source is not None
                    and tl.source.query == "status:open,pending"
                    and tl.row_at(0) is not None
                ),
                what="the search's rows",
            )
            assert compiled == ["compile"]
            assert "loading…" not in screen_text(app)
            gate.set()
            await ready(pilot)
    finally:
        gate.set()


async def test_a_search_that_comes_after_another_view_was_picked_is_dropped(
    make_app: Callable[..., SupportdeskApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The agent searched, then pressed `]` before the search was checked: the view they
    went to stays, the search's late result does not replace it."""
    from supportdesk.tui.screens.desk import FirstRead

    gate = threading.Event()
    first_page = DeskData.first_page
    checked: list[FirstRead] = []

    def held(self: DeskData, source: Source, limit: int, **kwargs: bool) -> object:
        if source.key == "search":
            gate.wait(timeout=30)
        return first_page(self, source, limit, **kwargs)

    def hook(message: Message) -> None:
        fresh = all(message is not m for m in checked)
        if isinstance(message, FirstRead) and message.search and fresh:
            checked.append(message)

    app = make_app()
    try:
        async with app.run_test(size=SIZE, message_hook=hook) as pilot:
            await ready(pilot)
            monkeypatch.setattr(DeskData, "first_page", held)
            tl = app.desk.ticket_list
            before = tl.source
            assert before is not None
            await pilot.press("slash", "ctrl+u", *"status:open,pending", "enter")
            tl.focus()
            await pilot.press("right_square_bracket")
            await wait_until(
                pilot, lambda: tl.source is not before and tl.is_settled, what="the next view"
            )
            picked = tl.source
            assert picked is not None and picked.key != "search"
            gate.set()
            await wait_until(pilot, lambda: bool(checked), what="the search's result")
            await pilot.pause()
            await ready(pilot)
            assert tl.source is picked
            assert app.desk.sidebar.current == picked.key
    finally:
        gate.set()
