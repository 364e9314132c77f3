"""Remapping keys from config, the help screen that lists them, and the command palette."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.message import Message

from supportdesk.keymap import keymap_problems
from supportdesk.store import Store, open_store
from supportdesk.store.engine import sqlite_url
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.commands import commands
from supportdesk.tui.data import DeskData, FirstPage, Source
from supportdesk.tui.keys import catalogue, display_keys, normalise_keys
from supportdesk.tui.screens.help import HelpScreen
from supportdesk.tui.screens.modals import PickScreen
from tests.tui.bigstore import build_big_store
from tests.tui.conftest import SIZE, notes, open_ticket, palette, ready, screen_text, wait_until
from tests.tui.test_console_actions import detail, first


def test_every_binding_has_a_unique_id_per_place_and_a_description() -> None:
    infos = catalogue()
    assert infos and all(info.description for info in infos)
    ids = {info.id for info in infos}
    assert {"ticket.assign_me", "nav.next", "list.down", "app.help", "app.quit"} <= ids


def test_unknown_ids_are_found_with_a_suggestion() -> None:
    problems = keymap_problems({"ticket.assign_me": "x", "ticket.asign_me": "y"})
    assert len(problems) == 1
    assert "'ticket.asign_me'" in problems[0] and "did you mean 'ticket.assign_me'" in problems[0]


async def test_remapped_key_works_and_help_shows_it(
    make_app: Callable[..., SupportdeskApp], demo_store: Store
) -> None:
    number = first(demo_store, "status:active -assignee:alice -assignee:none")
    app = make_app(keymap={"ticket.assign_me": "ctrl+t", "no.such": "z"})
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert any("no.such" in n for n in notes(app))
        await open_ticket(pilot, number)
        await pilot.press("a")  # the old key no longer takes the ticket
        await pilot.pause(0.3)
        assert detail(demo_store, number).row.assignee != "alice"
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: detail(demo_store, number).row.assignee == "alice")
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        text = screen_text(app)
        line = next(line for line in text.splitlines() if "ticket.assign_me" in line)
        assert "ctrl+t" in line and "Take" in line
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.desk, what="help to close")
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help on ?")


async def test_palette_ticket_commands_only_with_a_ticket(
    make_app: Callable[..., SupportdeskApp], demo_store: Store
) -> None:
    number = first(demo_store, "status:active -assignee:alice -assignee:none")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("slash")
        app.desk.search.input.value = "subject:no-such-ticket-anywhere"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.desk.ticket_list.total == 0, what="empty view")
        await wait_until(pilot, lambda: app.desk.current is None, what="no ticket")
        names = [name for name, _, _ in commands(app, app.desk)]
        assert not any(name.startswith("ticket:") for name in names)
        assert "view: unassigned" in names and "app: help" in names

        await open_ticket(pilot, number)
        names = [name for name, _, _ in commands(app, app.desk)]
        assert {"ticket: assign to me", "ticket: set status…", "ticket: merge into…"} <= set(names)
        await palette(pilot, "ticket: assign to me")
        await pilot.press("enter")
        await wait_until(pilot, lambda: detail(demo_store, number).row.assignee == "alice")
        await wait_until(pilot, lambda: not isinstance(app.screen, CommandPalette))

        await palette(pilot, "ticket: set status")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PickScreen), what="status picker")
        await pilot.press("escape")

        await wait_until(pilot, lambda: app.screen is app.desk)
        await palette(pilot, "view: unassigned")
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: (
                app.desk.ticket_list.source is not None
                and app.desk.ticket_list.source.key == "unassigned"
            ),
            what="the unassigned view",
        )


def test_keys_are_shown_as_typed() -> None:
    assert display_keys("right_square_bracket") == "]"
    assert display_keys("slash") == "/"
    assert display_keys("f1,question_mark") == "f1, ?"
    assert display_keys("u,ctrl+z") == "u, ctrl+z"
    assert normalise_keys("],ctrl+n, j") == "right_square_bracket,ctrl+n,j"


async def test_help_footer_and_palette_show_keys_as_typed(
    make_app: Callable[..., SupportdeskApp],
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        # The footer is rebuilt once the focus settles, which may be after the first ticket.
        await wait_until(pilot, lambda: "/ Search" in screen_text(app).splitlines()[-1])
        footer = screen_text(app).splitlines()[-1]
        assert "/ Search" in footer and "ctrl+p palette" in footer and "slash" not in footer
        names = {name: help_text for name, _, help_text in commands(app, app.desk)}
        assert names["ticket: assign to me"].endswith(" · a")
        assert names["view: next"].endswith(" · ]")
        assert names["desk: undo"].endswith(" · u, ctrl+z")
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        text = screen_text(app)
        assert "right_square_bracket" not in text and "slash" not in text
        next_view = next(line for line in text.splitlines() if "Next view" in line)
        assert re.search(r"\s\]\s+Next view\s", next_view)
        search = next(line for line in text.splitlines() if "search.focus" in line)
        assert re.search(r"\s/\s+Search\s", search)
        hint = " ".join(line.strip(" │▊▎█") for line in text.splitlines())
        assert "ctrl+p opens the command palette." in hint  # the whole hint, not clipped
        for key_id in ("ticket.note_edit", "ticket.note_delete"):
            assert key_id in text


async def test_keymap_takes_keys_written_as_shown(
    make_app: Callable[..., SupportdeskApp],
) -> None:
    app = make_app(keymap={"view.next": "#"})
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert not any("keymap" in n for n in notes(app))
        before = app.desk.ticket_list.source.key  # type: ignore[union-attr]
        await pilot.press("number_sign")
        await wait_until(
            pilot,
            lambda: app.desk.ticket_list.source.key != before,  # type: ignore[union-attr]
            what="the next view",
        )


async def test_a_move_onto_a_page_not_read_yet_is_still_announced_as_a_move(
    make_app: Callable[..., SupportdeskApp], tmp_path: Path
) -> None:
    """G lands on rows still to be read: when they come, the ticket is announced as moved to
    (so a held key keeps the screen's pause before reading it), not as a view opening."""
    from supportdesk.tui.widgets.ticket_list import PAGE_SIZE, TicketList

    seen: list[TicketList.Highlighted] = []

    def hook(message: Message) -> None:
        if isinstance(message, TicketList.Highlighted) and all(message is not m for m in seen):
            seen.append(message)  # once, not once per widget it bubbles through

    build_big_store(tmp_path / "many.db", tickets=400)
    store = open_store(sqlite_url(tmp_path / "many.db"))
    app = make_app(store=store)
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await ready(pilot)
        tl = app.desk.ticket_list
        assert tl.total is not None and tl.total > PAGE_SIZE, tl.total
        last = tl.total - 1
        assert last // PAGE_SIZE not in tl._pages
        seen.clear()
        await pilot.press("G")
        await wait_until(
            pilot,
            lambda: any(m.row is not None and m.row == tl._fresh_row(last) for m in seen),
            what="the last ticket announced",
        )
        assert [m.moved for m in seen] == [True]
    store.dispose()


async def test_the_sidebar_marks_the_view_a_key_switched_to(
    make_app: Callable[..., SupportdeskApp],
) -> None:
    """Only the two views whose mark changed are drawn again; each must show it."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        sidebar = app.desk.sidebar
        await wait_until(pilot, lambda: bool(sidebar.entries), what="the sidebar's views")

        def bold(key: str) -> bool:
            label = sidebar.entries[key].label
            line = sidebar._index_to_line[sidebar.get_option_index(key)]
            strip = sidebar.render_line(line - round(sidebar.scroll_offset.y))
            return any(
                label[:4] in segment.text and bool(segment.style and segment.style.bold)
                for segment in strip
            )

        before = sidebar.current
        assert before is not None and bold(before)
        app.desk.ticket_list.focus()
        await pilot.press("right_square_bracket")
        await wait_until(pilot, lambda: sidebar.current != before, what="the next view")
        await ready(pilot)
        assert sidebar.current is not None and bold(sidebar.current)
        assert not bold(before)


async def test_the_thread_stays_put_from_ticket_to_ticket(
    make_app: Callable[..., SupportdeskApp],
) -> None:
    """The header keeps three lines at the least: a state that wraps on one ticket and not
    on the next neither moves the thread nor lays the desk out again."""
    from supportdesk.tui.widgets.thread import HEADER_LINES, ThreadHeader, ThreadView

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        desk = app.desk
        desk.ticket_list.focus()
        header, thread = desk.query_one(ThreadHeader), desk.query_one(ThreadView)
        tops, heights = set(), set()
        for _ in range(6):
            number = desk.current.number if desk.current else None
            await pilot.press("j")
            await wait_until(
                pilot,
                lambda n=number: desk.current is not None and desk.current.number != n,
                what="the next ticket",
            )
            await ready(pilot)
            tops.add(thread.region.y)
            heights.add(header.outer_size.height)
        assert heights == {HEADER_LINES + 1}  # and its border
        assert len(tops) == 1


async def test_a_view_that_opens_leaves_the_last_one_on_screen_until_its_first_page(
    make_app: Callable[..., SupportdeskApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No frame of placeholders between `]` and the new view's rows: the last view's title,
    rows and count stay until the first page is in, then the new view is drawn whole."""
    gate = threading.Event()
    holding = threading.Event()
    asked = threading.Event()
    first_page = DeskData.first_page

    def held(self: DeskData, source: Source, limit: int, *, background: bool = False) -> FirstPage:
        if holding.is_set() and not background:
            asked.set()
            gate.wait(timeout=30)
        return first_page(self, source, limit, background=background)

    monkeypatch.setattr(DeskData, "first_page", held)
    app = make_app()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            tl = app.desk.ticket_list
            before = screen_text(app)
            old_title = str(tl.border_title)
            first = tl.row_at(0)
            assert first is not None and old_title in before
            holding.set()
            tl.focus()
            await pilot.press("right_square_bracket")
            await wait_until(pilot, asked.is_set, what="the next view's first page to be asked for")
            await pilot.pause(0.2)  # past VIEW_FEEDBACK: the sidebar marks it, the list stays
            during = screen_text(app)
            assert "loading…" not in during
            assert str(tl.border_title) == old_title and old_title in during
            # Number and subject: the age beside them may turn a minute meanwhile.
            number, subject = f" {first.number} ", first.subject[:12]
            assert any(number in line and subject in line for line in before.splitlines())
            assert any(number in line and subject in line for line in during.splitlines())
            holding.clear()
            gate.set()
            await ready(pilot)
            assert str(tl.border_title) != old_title
            after = screen_text(app)
            assert str(tl.border_title) in after and "loading…" not in after
            assert tl.source is not None and tl.source.key != "open"
    finally:
        gate.set()


@pytest.mark.parametrize("act", ["mark", "open", "down", "note"])
async def test_a_key_in_the_veiled_window_draws_the_view_it_acts_on(
    make_app: Callable[..., SupportdeskApp], act: str
) -> None:
    """Between a view's first page and its drawing, the last view's rows are on screen: a key
    that acts on a row draws the new view first, so the row it acts on is the one shown."""
    from supportdesk.tui.widgets.ticket_list import HEADER_LINES, PAGE_SIZE

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        desk, tl = app.desk, app.desk.ticket_list
        await wait_until(pilot, lambda: bool(desk.sidebar.entries), what="the sidebar's views")
        old = tl.row_at(0)
        assert old is not None and tl.source is not None
        source = first_rows = None
        for entry in desk.sidebar.entries.values():
            if entry.key == tl.source.key:
                continue
            candidate = desk.data.fresh(Source(entry.key, entry.label, entry.query))
            page = desk.data.first_page(candidate, PAGE_SIZE)
            if page[0] and page[0][0].number != old.number:
                source, first_rows = candidate, page
                break
        assert source is not None and first_rows is not None
        tl.focus()
        tl.show(source, first_rows)  # the first page is in, the view not drawn yet
        assert tl._veiled
        new = first_rows[0][0]
        if act == "mark":
            tl.action_toggle_mark()
            assert list(tl.marked) == [new.number]
        elif act == "open":
            tl.action_open()
        elif act == "down":
            tl.action_cursor_down()
        else:
            desk.action_note()
        assert not tl._veiled
        strip = tl.render_line(HEADER_LINES)
        assert f" {new.number} " in "".join(segment.text for segment in strip)
        await pilot.pause()
        if act == "note":
            await pilot.press("escape")


@pytest.mark.parametrize("cursor", [0, 150])
async def test_views_opened_one_after_another_leave_the_rows_on_screen_until_drawn(
    make_app: Callable[..., SupportdeskApp], tmp_path: Path, cursor: int
) -> None:
    """`]]` opens a view while the one before is not drawn yet, and a view may be left
    scrolled down: either way the rows the agent saw stay on screen, as they were."""
    from supportdesk.tui.widgets.ticket_list import HEADER_LINES

    build_big_store(tmp_path / "many.db", tickets=400)
    store = open_store(sqlite_url(tmp_path / "many.db"))
    app = make_app(store=store)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        tl = app.desk.ticket_list
        tl.focus()
        tl.move_to(cursor)
        await wait_until(pilot, lambda: tl.is_settled, what="the rows around the cursor")
        await ready(pilot)
        top = round(tl.scroll_offset.y)
        assert (top > 0) == (cursor > 0)
        shown = [tl.row_at(top + line) for line in range(tl.visible_rows)]
        assert all(row is not None for row in shown)

        def lines() -> list[str]:
            return [
                "".join(s.text for s in tl.render_line(HEADER_LINES + line))
                for line in range(len(shown))
            ]

        data = app.desk.data
        tl.show(data.fresh(Source("search", "Search", "status:open,pending")))
        during = lines()
        tl.show(data.fresh(Source("search", "Search", "status:pending")))
        again = lines()
        for drawn in (during, again):
            assert all(
                row is not None and f" {row.number} " in text
                for row, text in zip(shown, drawn, strict=True)
            )
        await ready(pilot)
    store.dispose()


async def test_the_sidebar_highlight_follows_the_view_redrawing_only_its_two_options(
    make_app: Callable[..., SupportdeskApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`]` moves the sidebar's highlight to the view it opens, drawing the option it left
    and the one it reached again, not the whole sidebar."""
    from supportdesk.tui.widgets.sidebar import Sidebar

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        sidebar = app.desk.sidebar
        before = sidebar.highlighted
        assert before is not None
        whole: list[int] = []
        refresh = Sidebar.refresh

        def spied(self: Sidebar, *regions: object, **kwargs: object) -> object:
            if not regions:
                whole.append(1)
            return refresh(self, *regions, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(Sidebar, "refresh", spied)
        tl = app.desk.ticket_list
        title = tl.source
        await pilot.press("right_square_bracket")
        await wait_until(pilot, lambda: tl.source != title, what="the next view")
        await ready(pilot)
        assert tl.source is not None
        assert sidebar.highlighted == sidebar.get_option_index(tl.source.key) != before
        assert sidebar.current == tl.source.key
        assert not whole
