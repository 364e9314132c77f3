"""Every truncating and wrapping part of the console, over a table of strings that are hard to
lay out (tests/widths.py): the ticket list, the sidebar, the status line, the thread header,
the thread, the customer panel and the search bar's caret. Each check reads the lines the
console would send to the terminal and asserts columns line up and nothing is cut in half.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rich.cells import cell_len
from rich.text import Text
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget

from supportdesk import i18n
from supportdesk.desk import tickets
from supportdesk.desk.events import Change
from supportdesk.desk.messages import NewMessage, add_message
from supportdesk.desk.statuses import STATUSES
from supportdesk.linebreak import wrap
from supportdesk.store import Store
from supportdesk.text import one_line
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.data import SavedView
from supportdesk.tui.format import status_label
from supportdesk.tui.widgets.customer import CustomerPanel
from supportdesk.tui.widgets.search_bar import error_text
from supportdesk.tui.widgets.sidebar import COUNT_WIDTH, LABEL_WIDTH
from supportdesk.tui.widgets.thread import ThreadHeader, ThreadView
from supportdesk.tui.widgets.ticket_list import columns
from tests.tui.conftest import SIZE, open_ticket, ready, wait_until
from tests.widths import TRICKY, cell_slice, graphemes, is_whole_start


def tricky_tickets(store: Store) -> dict[str, int]:
    """One ticket per tricky string: in its subject (long enough to be cut), requester name
    and body (long enough to wrap)."""
    change = Change.by("mail:someone@example.com")
    numbers: dict[str, int] = {}
    with store.session(write=True) as session:
        for key, value in TRICKY.items():
            ticket = tickets.create_ticket(
                session,
                subject=f"{value} {value}",
                requester_email=f"{key}@example.com",
                requester_name=value,
                queue="billing",
                change=change,
            )
            add_message(
                session,
                ticket,
                NewMessage(
                    raw=f"From: {key}@example.com\r\n\r\nx".encode(),
                    message_id=f"<{key}@example.com>",
                    from_name=value,
                    from_address=f"{key}@example.com",
                    subject=value,
                    body_text=f"{value} {value} {value}\n{value}{value}",
                ),
                change,
            )
            numbers[key] = ticket.number
    return numbers


def lines_of(widget: Widget) -> list[str]:
    """The lines `widget` shows, exactly as composed for the terminal, cut to its content."""
    region: Region = widget.content_region
    strips = widget.app.screen._compositor.render_strips()
    return [
        "".join(s.text for s in strips[y].crop(region.x, region.right)._segments)
        for y in range(region.y, region.bottom)
    ]


async def open_and_settle(pilot: Pilot, number: int) -> None:
    app: SupportdeskApp = pilot.app  # type: ignore[assignment]
    await open_ticket(pilot, number)
    await wait_until(
        pilot,
        lambda: app.desk.thread.detail is not None and app.desk.thread.detail.row.number == number,
        what="the thread",
    )
    await pilot.pause(0.1)


@pytest.fixture
def numbers(demo_store: Store) -> dict[str, int]:
    return tricky_tickets(demo_store)


AGES = {"en": r" *(now|\d+[mhdw])", "ja": r" *(今|\d+(秒|分|時間|日|週間|か月|年)前)"}


@pytest.fixture
def language(request: pytest.FixtureRequest) -> Iterator[str]:
    before = i18n.current_language()
    i18n.set_language(request.param)
    yield request.param
    i18n.set_language(before)


@pytest.mark.parametrize(
    ("size", "language"),
    [(SIZE, "en"), ((100, 40), "en"), ((80, 30), "en"), (SIZE, "ja"), ((80, 30), "ja")],
    indirect=["language"],
)
async def test_list_columns_stay_aligned_and_cut_whole_characters(
    make_app: Callable[..., SupportdeskApp],
    numbers: dict[str, int],
    size: tuple[int, int],
    language: str,
) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        # The demo's open tickets first: ages from minutes to weeks, each in its column.
        widget = app.desk.ticket_list
        cols = columns(widget.scrollable_content_region.width)
        start = sum(c.width + c.gap for c in cols[:-2])
        rows = [line for line in lines_of(widget)[1:] if line.strip()]
        ages = [cell_slice(line, start, start + cols[-2].width) for line in rows]
        assert len(ages) > 5 and all(re.fullmatch(AGES[language], a) for a in ages), ages
        assert len(set(ages)) > 1, ages
        for key, number in numbers.items():
            await open_and_settle(pilot, number)
            widget = app.desk.ticket_list
            shown = lines_of(widget)
            width = widget.scrollable_content_region.width
            cols = columns(width)
            header, row = shown[0], shown[1]
            assert cell_len(row) == cell_len(header) == widget.content_region.width
            start = 0
            cut: dict[str, str] = {}
            for column in cols:
                end = start + column.width
                title = cell_slice(header, start, end).strip()
                assert title == column.heading, (key, size, header)
                cut[column.title] = cell_slice(row, start, end)
                start = end + column.gap
            assert cut["#"].strip() == str(number) and cut["#"].endswith(str(number))
            assert cut["status"].strip() in {status_label(s) for s in STATUSES}
            assert re.fullmatch(AGES[language], cut["updated"]), cut["updated"]
            subject = one_line(f"{TRICKY[key]} {TRICKY[key]}")
            assert is_whole_start(cut["subject"].rstrip(), subject), (key, cut["subject"])
            if "requester" in cut:
                assert is_whole_start(cut["requester"].rstrip(), TRICKY[key]), cut["requester"]


async def test_sidebar_counts_line_up_under_tricky_names(
    make_app: Callable[..., SupportdeskApp], numbers: dict[str, int]
) -> None:
    saved = [SavedView(value, "status:open") for value in TRICKY.values()]
    app = make_app(saved=saved)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        sidebar = app.desk.sidebar
        await wait_until(
            pilot,
            lambda: sum(1 for line in lines_of(sidebar) if re.search(r"\d\s*$", line)) >= 8,
            what="counts in the sidebar",
        )
        rows = [line for line in lines_of(sidebar) if re.search(r"[\d-]\s*$", line)]
        ends = {cell_len(line.rstrip()) for line in rows}
        assert len(ends) == 1, rows  # every count ends in the same column
        offset = min(len(line) - len(line.lstrip()) for line in rows)
        labels = [cell_slice(line, offset, offset + LABEL_WIDTH).rstrip() for line in rows]
        for value in TRICKY.values():
            assert any(is_whole_start(label, value) for label in labels), (value, labels)
        for line in rows:
            count = cell_slice(line, offset + LABEL_WIDTH, offset + LABEL_WIDTH + COUNT_WIDTH)
            assert re.fullmatch(r" *(\d[\d,.kM≈~]*|-)", count), line


async def test_status_line_cuts_on_a_whole_character(
    make_app: Callable[..., SupportdeskApp],
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 30)) as pilot:
        await ready(pilot)
        for value in TRICKY.values():
            said = " ".join([value] * 6)
            app.desk.status.say(said)
            await pilot.pause(0.05)
            (line,) = lines_of(app.desk.status)
            assert cell_len(line) == app.desk.status.content_region.width
            shown = line.rstrip()
            assert one_line(said).startswith(shown), (shown, said)
            assert "".join(graphemes(one_line(said))[: len(graphemes(shown))]) == shown


async def test_thread_header_customer_panel_and_thread_wrap_whole_characters(
    make_app: Callable[..., SupportdeskApp], numbers: dict[str, int]
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        for key, number in numbers.items():
            value = TRICKY[key]
            await open_and_settle(pilot, number)
            header = app.desk.query_one(ThreadHeader)
            shown = [line.rstrip() for line in lines_of(header)]
            flat = "".join("".join(line.split()) for line in shown)
            subject = "".join(one_line(f"{value} {value}").split())
            assert flat.startswith(subject), (key, shown)  # wrapped, nothing lost or split
            pieces = wrap(_text(one_line(f"{value} {value}")), app.console, header.size.width)
            expected = [p.plain.rstrip() for p in pieces]
            assert shown[: len(expected)] == expected  # Japanese between phrases, as the thread

            panel = app.desk.query_one(CustomerPanel)
            lines = lines_of(panel)
            width = panel.content_region.width
            assert all(cell_len(line) == width for line in lines)
            flat_panel = "".join("".join(line.split()) for line in lines)
            # The name is cut at 40 cells, then wrapped to the panel: whole, in order.
            assert "".join(one_line(value, 40).split()) in flat_panel, (key, lines)
            assert cell_len(one_line(value, 40)) <= 40

            thread = app.desk.query_one(ThreadView)
            width = thread.scrollable_content_region.width
            for y in range(thread.size.height):
                assert thread.render_line(y).cell_length == width
            body = f"{value} {value} {value}\n{value}{value}"
            for paragraph in body.split("\n"):
                pieces = wrap(_text(paragraph), app.console, width - 2)
                assert all(p.cell_len <= width - 2 for p in pieces), key
                assert "".join(p.plain for p in pieces).replace(" ", "") == paragraph.replace(
                    " ", ""
                )
                for piece in pieces:  # each piece is whole graphemes of the paragraph
                    assert "".join(graphemes(piece.plain)) == piece.plain
                rendered = "\n".join(lines_of(thread))
                assert pieces[0].plain.strip() in rendered or len(pieces) > thread.size.height


def _text(plain: str) -> Text:
    return Text(plain)


def test_search_caret_sits_under_the_bad_term_in_cells() -> None:
    from supportdesk.desk.query import parse
    from supportdesk.errors import QueryError

    for prefix in ("返金 ", "ｶﾞｲﾄﾞ ", "é ", "👍🏽 ", "plain "):
        query = prefix + "status:nonsense"
        with pytest.raises(QueryError) as caught:
            parse(query)
        first, caret = error_text(query, caught.value).plain.split("\n")[:2]
        column = cell_len(caret[: caret.index("^")])
        term = caught.value.token
        assert cell_len(first[: first.index(term)]) == column, (prefix, first, caret)


async def test_the_thread_is_wrapped_in_its_worker_as_the_pane_would_wrap_it(
    make_app: Callable[..., SupportdeskApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening a ticket wraps its timeline in the worker that reads it, off the UI thread,
    to the lines the pane itself lays out."""
    import threading

    from supportdesk.tui.screens import desk

    where: list[bool] = []
    laid_out = desk.lay_out

    def spied(*args: Any, **kwargs: Any) -> Any:
        where.append(threading.current_thread() is threading.main_thread())
        return laid_out(*args, **kwargs)

    monkeypatch.setattr(desk, "lay_out", spied)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        thread = app.desk.query_one(ThreadView)
        where.clear()
        await pilot.press("j")
        await ready(pilot)
        await pilot.pause(0.1)  # a scrollbar that came with it narrows the pane: laid out again
        assert where and not any(where)  # the ticket, and those read ahead beside it
        shown = [(kind, text.plain if text else None) for kind, text in thread._lines]
        thread._layout()
        assert [(kind, text.plain if text else None) for kind, text in thread._lines] == shown


async def test_threads_long_and_short_are_wrapped_once_in_their_worker(
    make_app: Callable[..., SupportdeskApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The thread's scrollbar is always there (app.tcss): one that came with a long thread
    and went with a short one laid the whole desk out again. The worker wraps for the width
    it leaves, so the UI thread never wraps a thread again when it shows."""
    wrapped: list[int] = []
    layout = ThreadView._layout

    def counted(self: ThreadView) -> None:
        wrapped.append(len(self._lines))
        layout(self)

    monkeypatch.setattr(ThreadView, "_layout", counted)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        thread = app.desk.query_one(ThreadView)
        tl = app.desk.ticket_list
        lengths: set[bool] = set()
        for _ in range(min(20, (tl.total or 1) - 1)):
            wrapped.clear()
            await pilot.press("j")
            await ready(pilot)
            await pilot.pause(0.05)
            assert thread.show_vertical_scrollbar and tl.show_vertical_scrollbar
            assert wrapped == [], "the UI thread wrapped the thread again"
            lengths.add(len(thread._lines) > thread.scrollable_content_region.height)
            shown = [(kind, text.plain if text else None) for kind, text in thread._lines]
            layout(thread)
            assert [(k, t.plain if t else None) for k, t in thread._lines] == shown
        assert lengths == {True, False}, "the demo's tickets should hold long and short threads"
