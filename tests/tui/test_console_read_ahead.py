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
from supportdesk.tui.data import DeskData
from supportdesk.tui.screens import desk as desk_module
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
        await pilot.press("j")
        # Shown in the key's own turn, before any worker could have read it.
        assert desk.detail is not None and desk.detail.row.number == following.number
        await ready(pilot)
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
