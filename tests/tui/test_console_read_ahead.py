"""Tickets beside the cursor are read before a key asks for them (screens/desk.py
`_read_ahead_around`), and a view's or search's first ticket with its first page: the key
then draws cursor and thread in one frame. What was read ahead never outlives a change."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from supportdesk.desk import tickets
from supportdesk.desk.events import Change
from supportdesk.desk.views import TicketDetail
from supportdesk.store import Store
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.data import DeskData, Source
from supportdesk.tui.screens import desk as desk_module
from supportdesk.tui.widgets.thread import ThreadHeader
from supportdesk.tui.widgets.ticket_list import TicketList
from tests.tui.conftest import SIZE, ready, wait_until


def _reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, bool]]:
    """Every ticket read from now on: (number, background)."""
    reads: list[tuple[int, bool]] = []
    detail = DeskData.detail

    def spied(self: DeskData, number: int, *, background: bool = False) -> TicketDetail:
        reads.append((number, background))
        return detail(self, number, background=background)

    monkeypatch.setattr(DeskData, "detail", spied)
    return reads


async def test_j_shows_the_ticket_read_ahead_without_reading_it(
    make_app: Callable[..., SupportdeskApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = _reads(monkeypatch)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        desk = app.desk
        following = desk.ticket_list.row_at(1)
        assert following is not None
        await wait_until(pilot, lambda: following.number in desk._ahead, what="the read ahead")
        assert (following.number, True) in reads  # in the background lane
        reads.clear()
        # Shown in the key's own turn: already on screen when the list's message about the
        # cursor (which the desk handles a turn later) comes.
        on_arrival: list[int | None] = []
        highlighted = desk_module.DeskScreen.on_ticket_list_highlighted

        def spied(self: desk_module.DeskScreen, message: object) -> None:
            on_arrival.append(self.detail.row.number if self.detail else None)
            highlighted(self, message)  # type: ignore[arg-type]

        monkeypatch.setattr(desk_module.DeskScreen, "on_ticket_list_highlighted", spied)
        await pilot.press("j")
        await ready(pilot)
        assert on_arrival and on_arrival[0] == following.number
        assert (following.number, False) not in reads
        # and the next one is read ahead in turn
        after = desk.ticket_list.row_at(2)
        assert after is not None
        await wait_until(pilot, lambda: after.number in desk._ahead, what="the next read ahead")


async def test_a_change_seen_forgets_what_was_read_ahead_before_the_list_is_read_again(
    make_app: Callable[..., SupportdeskApp],
    other_session: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another process changes the ticket below the cursor after it was read ahead; the
    poll sees the change while the agent types (the refresh waits for a pause): `j` shows
    the ticket as it is now, not as it was read."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        desk = app.desk
        following = desk.ticket_list.row_at(1)
        assert following is not None and following.priority != "urgent"
        await wait_until(pilot, lambda: following.number in desk._ahead, what="the read ahead")
        monkeypatch.setattr(desk_module, "REFRESH_QUIET", 600.0)
        monkeypatch.setattr(desk_module, "REFRESH_WAIT_MAX", 600.0)
        app.data.last_key = time.monotonic()  # the agent is typing: the refresh waits
        epoch = desk._epoch
        with other_session.session(write=True) as session:
            tickets.set_priority(session, following.number, "urgent", Change.by("agent:bob"))
        await wait_until(pilot, lambda: desk._epoch > epoch, what="the poll to see the change")
        assert not desk._ahead
        listed = desk.ticket_list.row_at(1)
        assert listed is not None and listed.priority != "urgent"  # the list is not read yet
        await pilot.press("j")
        await wait_until(
            pilot,
            lambda: desk.detail is not None and desk.detail.row.number == following.number,
            what="the ticket below",
        )
        assert desk.detail is not None and desk.detail.row.priority == "urgent"


async def test_a_search_reads_its_first_ticket_with_its_first_page(
    make_app: Callable[..., SupportdeskApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One worker reads the page and the ticket on its first row: no read of its own."""
    loads: list[int] = []
    load = desk_module.DeskScreen._load_detail

    def spied(self: desk_module.DeskScreen, number: int, *args: object, **kwargs: object) -> object:
        loads.append(number)
        return load(self, number, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(desk_module.DeskScreen, "_load_detail", spied)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        desk = app.desk
        tl = desk.ticket_list
        loads.clear()
        await pilot.press("slash", "ctrl+u", *"status:pending", "enter")
        await wait_until(
            pilot,
            lambda: tl.source is not None and tl.source.key == "search" and tl.is_settled,
            what="the search's rows",
        )
        first = tl.row_at(0)
        assert first is not None and first.status == "pending"
        await ready(pilot)
        assert desk.detail is not None and desk.detail.row.number == first.number
        assert first.number not in loads


async def test_a_ticket_whose_handle_time_was_written_after_its_read_ahead_is_read_again(
    make_app: Callable[..., SupportdeskApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Leaving a ticket writes the seconds counted on it; a read ahead of it from before
    that write would show its handle time without them."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        desk = app.desk
        following = desk.ticket_list.row_at(1)
        assert following is not None
        await wait_until(pilot, lambda: following.number in desk._ahead, what="the read ahead")
        app.handling._write_or_give_back({following.number: 300})  # as a flush's worker does
        await pilot.press("j")
        header = desk.query_one(ThreadHeader)
        await wait_until(
            pilot,
            lambda: (
                header._shown[0] is not None and header._shown[0].row.number == following.number
            ),
            what="the ticket below",
        )
        await ready(pilot)
        handled = header._shown[2]
        assert handled is not None and handled.mine >= 300


async def test_a_failed_search_leaves_the_desk_on_the_view_it_shows(
    make_app: Callable[..., SupportdeskApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`]` asked for the next view, its read still on its way, then a search that fails:
    the sidebar marks the view the list shows, and the next `]` goes on from there."""
    import threading

    from supportdesk.tui.data import FirstPage

    gate = threading.Event()
    first_page = DeskData.first_page

    def held(self: DeskData, source: Source, limit: int, **kwargs: bool) -> FirstPage:
        if source.key != "search" and not kwargs.get("background"):
            gate.wait(timeout=30)
        return first_page(self, source, limit, **kwargs)

    # No view read ahead: `]` must read its view (a pause would have let one be read).
    monkeypatch.setattr(desk_module.DeskScreen, "_views_ahead_soon", lambda self: None)
    app = make_app()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            desk = app.desk
            tl = desk.ticket_list
            shown = tl.source
            assert shown is not None
            monkeypatch.setattr(DeskData, "first_page", held)
            await pilot.press("right_square_bracket")
            await pilot.pause(0.2)  # past VIEW_FEEDBACK: the sidebar marks the view asked for
            assert desk.sidebar.current != shown.key
            await pilot.press("slash", "ctrl+u", *"queue:nosuchqueue", "enter")
            await wait_until(pilot, lambda: desk.search.has_class("-error"), what="the error")
            gate.set()
            await pilot.pause(0.3)
            assert tl.source is shown
            assert desk.sidebar.current == shown.key
            following = desk.sidebar.neighbour(1, shown.key)
            assert following is not None
            tl.focus()
            await pilot.press("right_square_bracket")
            await wait_until(
                pilot,
                lambda: tl.source is not None and tl.source.key == following.key,
                what="the view after the one shown",
            )
    finally:
        gate.set()


async def test_a_change_seen_while_a_view_is_read_is_read_again(
    make_app: Callable[..., SupportdeskApp],
    other_session: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The view's page was read, its ticket is being read, another process changes the
    view's first ticket and the poll sees it: the view shows the change once it opens."""
    import threading

    gate = threading.Event()
    waiting = threading.Event()
    holding = [False]
    detail = DeskData.detail

    def held(self: DeskData, number: int, *, background: bool = False) -> TicketDetail:
        if holding[0] and not background:
            waiting.set()
            gate.wait(timeout=30)
        return detail(self, number, background=background)

    # No view read ahead: `]` must read its view (a pause would have let one be read).
    monkeypatch.setattr(desk_module.DeskScreen, "_views_ahead_soon", lambda self: None)
    app = make_app()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            desk = app.desk
            tl = desk.ticket_list
            monkeypatch.setattr(DeskData, "detail", held)
            holding[0] = True
            await pilot.press("right_square_bracket")
            await wait_until(pilot, waiting.is_set, what="the view's ticket read")
            holding[0] = False
            source = desk.sidebar.neighbour(0, desk._view_key)
            assert source is not None
            with app.data.store.session() as session:
                from supportdesk.desk.query import Matching

                first = Matching(session, source.query, me="alice").page(0, 1)[0]
            epoch = desk._epoch
            with other_session.session(write=True) as session:
                tickets.set_priority(session, first.number, "urgent", Change.by("agent:bob"))
            await wait_until(pilot, lambda: desk._epoch > epoch, what="the poll to see it")
            gate.set()
            await wait_until(
                pilot,
                lambda: (
                    (row := tl.row_at(0)) is not None
                    and row.number == first.number
                    and row.priority == "urgent"
                ),
                what="the changed ticket in the view",
            )
    finally:
        gate.set()


async def test_a_view_read_ahead_opens_without_a_read_until_a_change_is_seen(
    make_app: Callable[..., SupportdeskApp],
    other_session: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from supportdesk.tui.data import FirstPage

    monkeypatch.setattr(desk_module, "VIEWS_AHEAD_QUIET", 0.05)
    asked: list[tuple[str, bool]] = []
    first_page = DeskData.first_page

    def spied(self: DeskData, source: Source, limit: int, **kwargs: bool) -> FirstPage:
        asked.append((source.key, bool(kwargs.get("background"))))
        return first_page(self, source, limit, **kwargs)

    monkeypatch.setattr(DeskData, "first_page", spied)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        desk = app.desk
        tl = desk.ticket_list
        following = desk.sidebar.neighbour(1, desk._view_key)
        assert following is not None
        await wait_until(pilot, lambda: following.key in desk._views_ahead, what="views ahead")
        assert (following.key, True) in asked  # in the background lane
        asked.clear()
        await pilot.press("right_square_bracket")
        await ready(pilot)
        assert tl.source is not None and tl.source.key == following.key
        assert (following.key, False) not in asked
        first = tl.row_at(0)
        assert first is not None and desk.detail is not None
        assert desk.detail.row.number == first.number
        # Another process changes something: every view read ahead is forgotten at once.
        assert desk._views_ahead
        epoch = desk._epoch
        with other_session.session(write=True) as session:
            tickets.set_priority(session, first.number, "urgent", Change.by("agent:bob"))
        await wait_until(pilot, lambda: desk._epoch > epoch, what="the poll to see it")
        stale = [v for v in desk._views_ahead.values() if v.epoch != desk._epoch]
        assert not stale


async def test_an_idle_console_reads_nothing_ahead_however_often_the_store_changes(
    make_app: Callable[..., SupportdeskApp],
    other_session: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from supportdesk.tui.data import FirstPage

    asked: list[str] = []
    first_page = DeskData.first_page

    def spied(self: DeskData, source: Source, limit: int, **kwargs: bool) -> FirstPage:
        if kwargs.get("background"):
            asked.append(source.key)
        return first_page(self, source, limit, **kwargs)

    monkeypatch.setattr(DeskData, "first_page", spied)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        desk = app.desk
        others = len(desk.sidebar.entries) - 1
        await wait_until(
            pilot,
            lambda: len(desk._views_ahead) + len(desk._views_failed) == others,
            what="the start's round",
        )
        await pilot.pause(0.1)
        idle = time.monotonic() - desk_module.READ_AHEAD_ACTIVE - 1
        app.data.last_key = app.data.last_active = idle
        asked.clear()
        row = desk.ticket_list.row_at(2)
        assert row is not None
        for priority in ("urgent", "low", "high"):
            epoch = desk._epoch
            with other_session.session(write=True) as session:
                tickets.set_priority(session, row.number, priority, Change.by("agent:bob"))
            await wait_until(pilot, lambda e=epoch: desk._epoch > e, what="the poll to see it")
            await pilot.pause(0.3)
        assert asked == []
        # The agent is back: a click on a ticket in the list (the app marks a click as it
        # marks a key, `DeskData.touched`; Pilot's clicks go to the screen, past the app's
        # own handler, so the test marks it): views are read ahead in the next pause.
        app.data.touched()
        await pilot.click("#tickets", offset=(12, 4))
        await wait_until(pilot, lambda: bool(asked), what="views read ahead again")


async def test_a_view_read_ahead_a_while_ago_is_shown_then_read_again(
    make_app: Callable[..., SupportdeskApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its relative times are as of its read: the list reads it again once the agent has
    stayed on it a moment."""
    monkeypatch.setattr(desk_module, "VIEWS_AHEAD_RECHECK", 0.0)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        desk = app.desk
        tl = desk.ticket_list
        following = desk.sidebar.neighbour(1, desk._view_key)
        assert following is not None
        await wait_until(pilot, lambda: following.key in desk._views_ahead, what="views ahead")
        ahead = desk._views_ahead[following.key]
        shown: list[object] = []
        show = TicketList.show

        def spied(self: TicketList, source: Source, first: object = None) -> None:
            shown.append(source)
            show(self, source, first)  # type: ignore[arg-type]

        monkeypatch.setattr(TicketList, "show", spied)
        await pilot.press("right_square_bracket")
        assert shown == [ahead.source]  # shown as read ahead, in the key's turn
        await wait_until(  # and read again, once the agent stays on it
            pilot,
            lambda: tl.source is not None and tl.source.now > ahead.source.now,
            what="the view read again",
        )
        await ready(pilot)
        assert tl.source is not None and tl.source.key == following.key
