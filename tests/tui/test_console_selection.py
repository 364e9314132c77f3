"""The cursor keeps its ticket when the list reorders, and never changes ticket unannounced.

Issue 8, item 3: All open → G → p → high moved the ticket to the top (the list is sorted by
update) while the cursor stayed on the last row, now another customer's ticket, so the next
key acted on the wrong one. These drive the console as an agent would, on a real store, and
check both what the screen shows and what the store did.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from rich.cells import cell_len

from supportdesk.config import load_settings
from supportdesk.desk import tickets
from supportdesk.desk.events import Change
from supportdesk.errors import ConfigError
from supportdesk.store import Store
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.widgets.ticket_list import TicketList
from tests.tui.conftest import SIZE, is_ready, ready, screen_text, wait_until
from tests.tui.test_console_actions import detail, pick

BOB = Change.by("agent:bob")


def other_priority(current: str) -> str:
    return next(p for p in ("urgent", "high", "low") if p != current)


async def cursor_on(pilot: object, tl: TicketList, number: int, row: int) -> None:
    """Wait until the settled list has ticket `number` under the cursor, on row `row`."""
    app: SupportdeskApp = pilot.app  # type: ignore[attr-defined]
    await wait_until(
        pilot,  # type: ignore[arg-type]
        lambda: (
            is_ready(app)
            and tl.cursor == row
            and (found := tl.row_at(row)) is not None
            and found.number == number
            and app.desk.current is not None
            and app.desk.current.number == number
        ),
        what=f"#{number} under the cursor on row {row}",
    )


async def said(pilot: object, app: SupportdeskApp, text: str) -> None:
    """Wait for the status line to say `text` (it is told by a message after the move)."""
    await wait_until(pilot, lambda: app.desk.status.said == text, what=f"status {text!r}")  # type: ignore[arg-type]


def list_lines(app: SupportdeskApp) -> list[str]:
    """The lines of the ticket list on screen, header first, without the borders."""
    lines = screen_text(app).splitlines()
    start = next(i for i, line in enumerate(lines) if "╭─ " in line and "│" in line) + 1
    region = app.desk.ticket_list.scrollable_content_region  # no border, no scrollbar
    return [_cells(line, region.x, region.width) for line in lines[start : start + region.height]]


def _cells(line: str, start: int, width: int) -> str:
    """The part of `line` from cell `start`, `width` cells wide (wide characters count two)."""
    out, position = [], 0
    for char in line:
        if start <= position < start + width:
            out.append(char)
        position += cell_len(char)
    return "".join(out)


async def test_an_action_that_reorders_the_list_keeps_the_cursor_on_its_ticket(
    make_app: Callable[..., SupportdeskApp], demo_store: Store
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        tl = app.desk.ticket_list
        await pilot.press("G")
        await ready(pilot)
        total = tl.total
        assert total is not None and total > tl.visible_rows  # the top is off screen
        assert tl.cursor == total - 1
        acted = app.desk.current
        assert acted is not None
        wanted = other_priority(acted.priority)
        await pilot.press("p")
        await pick(pilot, wanted)
        await wait_until(pilot, lambda: detail(demo_store, acted.number).row.priority == wanted)
        await cursor_on(pilot, tl, acted.number, 0)  # it is the newest update now: row 1
        assert app.desk.detail is not None and app.desk.detail.row.number == acted.number
        await said(
            pilot, app, f"#{acted.number} moved from row {total} to row 1; the cursor followed it"
        )
        assert f"1 of {total}" in screen_text(app)

        # The next key acts on the same ticket, not on the one that took its old row.
        neighbour = tl.row_at(total - 1)
        assert neighbour is not None and neighbour.number != acted.number
        again = other_priority(wanted)
        await pilot.press("p")
        await pick(pilot, again)
        await wait_until(pilot, lambda: detail(demo_store, acted.number).row.priority == again)
        assert detail(demo_store, neighbour.number).row.version == neighbour.version


async def test_a_live_refresh_that_reorders_keeps_cursor_and_selection_on_their_tickets(
    make_app: Callable[..., SupportdeskApp], other_session: Store
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        tl = app.desk.ticket_list
        selected = tl.row_at(0)
        assert selected is not None
        await pilot.press("space", "j", "j")  # select row 1's ticket; cursor on row 4
        await ready(pilot)
        reading = app.desk.current
        assert reading is not None and tl.cursor == 3
        assert tl.total is not None
        last = tl.row_at(tl.total - 1) or tl.data.page(tl.source, tl.total - 1, 1, None)[0]  # type: ignore[arg-type]

        # Another process bumps a ticket from the bottom to the top: everything shifts down.
        with other_session.session(write=True) as session:
            tickets.set_priority(session, last.number, other_priority(last.priority), BOB)
        await cursor_on(pilot, tl, reading.number, 4)
        assert set(tl.marked) == {selected.number}
        marked_lines = [line for line in list_lines(app) if "●" in line]
        assert len(marked_lines) == 1 and f" {selected.number} " in marked_lines[0]
        assert tl.row_at(1).number == selected.number  # type: ignore[union-attr]
        assert app.desk.status.said == ""  # a shift by one is not worth a word

        # Then it changes the ticket being read: it goes to the top and the cursor with it.
        with other_session.session(write=True) as session:
            tickets.set_priority(session, reading.number, other_priority(reading.priority), BOB)
        await cursor_on(pilot, tl, reading.number, 0)
        await said(
            pilot, app, f"#{reading.number} moved from row 5 to row 1; the cursor followed it"
        )
        marked_lines = [line for line in list_lines(app) if "●" in line]
        assert len(marked_lines) == 1 and f" {selected.number} " in marked_lines[0]


async def test_a_ticket_that_leaves_the_view_hands_the_cursor_to_its_neighbour_and_says_so(
    make_app: Callable[..., SupportdeskApp], demo_store: Store, other_session: Store
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        tl = app.desk.ticket_list
        await pilot.press("j", "j")
        await ready(pilot)
        gone, after = tl.row_at(2), tl.row_at(3)
        assert gone is not None and after is not None
        assert app.desk.current is not None and app.desk.current.number == gone.number

        # Solved by someone else: "All open" no longer holds it.
        with other_session.session(write=True) as session:
            tickets.set_status(session, gone.number, "solved", BOB)
        await cursor_on(pilot, tl, after.number, 2)
        await said(
            pilot,
            app,
            f"#{gone.number} left this view (it no longer matches); "
            f"the cursor is on the next ticket, #{after.number}",
        )

        # Solved by the agent: the same.
        following = tl.row_at(3)
        assert following is not None
        await pilot.press("s")
        await pick(pilot, "solved")
        await wait_until(pilot, lambda: detail(demo_store, after.number).row.status == "solved")
        await cursor_on(pilot, tl, following.number, 2)
        await wait_until(
            pilot, lambda: app.desk.status.said.startswith(f"#{after.number} left this view")
        )


async def test_the_last_ticket_leaving_an_empty_view_says_so(
    make_app: Callable[..., SupportdeskApp], other_session: Store, demo_store: Store
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("slash")
        number = app.desk.current.number  # type: ignore[union-attr]
        app.desk.search.input.value = f"#{number} status:active"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.desk.ticket_list.total == 1, what="one ticket")
        await ready(pilot)
        with other_session.session(write=True) as session:
            tickets.set_status(session, number, "solved", BOB)
        await wait_until(pilot, lambda: app.desk.ticket_list.total == 0, what="an empty view")
        await ready(pilot)
        assert app.desk.current is None
        await said(pilot, app, f"#{number} left this view; the view is empty now")


async def test_stay_on_row_keeps_the_row_and_says_which_ticket_it_shows_now(
    make_app: Callable[..., SupportdeskApp], demo_store: Store
) -> None:
    app = make_app(selection="stay")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        tl = app.desk.ticket_list
        await pilot.press("G")
        await ready(pilot)
        total = tl.total
        acted = app.desk.current
        assert total is not None and acted is not None
        wanted = other_priority(acted.priority)
        await pilot.press("p")
        await pick(pilot, wanted)
        await wait_until(pilot, lambda: detail(demo_store, acted.number).row.priority == wanted)
        await wait_until(pilot, lambda: app.desk.status.said != "", what="the status line")
        await ready(pilot)
        now = tl.row_at(total - 1)
        assert now is not None and now.number != acted.number
        assert tl.cursor == total - 1
        assert app.desk.current is not None and app.desk.current.number == now.number
        assert app.desk.detail is not None and app.desk.detail.row.number == now.number
        await said(
            pilot,
            app,
            f"#{acted.number} moved to row 1; row {total} now shows #{now.number} "
            "(the cursor stays on its row)",
        )


def test_the_selection_setting_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[console]\nselection = "stay"\n', encoding="utf-8")
    assert load_settings(path).console.selection == "stay"
    path.write_text('[console]\nselection = "sideways"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"console\.selection") as caught:
        load_settings(path)
    assert "\n" not in str(caught.value) and "follow" in str(caught.value)


async def test_the_list_has_column_headers_that_stay_and_line_up_in_cells(
    make_app: Callable[..., SupportdeskApp],
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        lines = list_lines(app)
        header = lines[0]
        titles = ["#", "status", "priority", "subject", "requester", "assignee", "updated"]
        assert header.split() == titles
        wide = [line for line in lines[1:] if cell_len(line) != len(line)]
        assert wide, "the demo has Japanese subjects: some rows hold wide characters"
        status_at = cell_len(header[: header.index("status")])
        updated_end = cell_len(header[: header.index("updated") + len("updated")])
        for line in lines[1:]:
            assert line[status_at : status_at + 1].strip(), line  # status starts there
            age_end = cell_len(line.rstrip(" !◔").rstrip())  # less the SLA cue
            assert age_end == updated_end, line  # ages end under "updated", in cells
        await pilot.press("G")
        await ready(pilot)
        assert list_lines(app)[0] == header  # still on top after scrolling
        assert app.desk.ticket_list.scroll_offset.y > 0
