"""The ticket list: one line per ticket, drawn line by line, fed in pages from the store.

It never holds more than a few pages of rows. It knows how many tickets the view has (a
count runs beside the first page), sizes its scroll area to match, and when lines on screen
have no row yet it draws placeholders and asks a worker for the pages around the viewport.
Only one page fetch runs at a time: requests made while it runs are folded into the next
one, so holding Page Down over 100,000 tickets never piles up queries.

On a refresh (another process changed something, or the agent did) the old pages stay on
screen until the new ones arrive, and the cursor follows the ticket it was on, so nobody
loses their place.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events, work
from textual.binding import BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import get_current_worker

from supportdesk.desk.views import TicketRow
from supportdesk.errors import SupportdeskError
from supportdesk.text import age
from supportdesk.tui.bindings import bindings
from supportdesk.tui.data import DeskData, Source
from supportdesk.tui.format import fit, is_overdue

PAGE_SIZE = 50
CACHE_PAGES = 24
_NOTHING = -1  # no ticket announced yet in this view


@dataclass
class _PageLoaded(Message, bubble=False):
    generation: int
    page: int
    rows: list[TicketRow]


@dataclass
class _Counted(Message, bubble=False):
    generation: int
    total: int


@dataclass
class _FetchDone(Message, bubble=False):
    generation: int


@dataclass
class _Failed(Message, bubble=False):
    generation: int
    error: SupportdeskError


class TicketList(ScrollView, can_focus=True):
    """A window onto a view of any size; see the module docstring."""

    DEFAULT_CSS = """
    TicketList {
        overflow-x: hidden;
        scrollbar-gutter: stable;
    }
    TicketList > .ticket-list--cursor { background: $surface-lighten-2; }
    TicketList:focus > .ticket-list--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
    }
    TicketList > .ticket-list--marked { color: $accent; text-style: bold; }
    TicketList > .ticket-list--placeholder { color: $text-disabled; }
    TicketList > .ticket-list--muted { color: $text-muted; }
    TicketList > .ticket-list--overdue { color: $sla-overdue; text-style: bold; }
    TicketList > .ticket-list--status-new { color: $status-new; text-style: bold; }
    TicketList > .ticket-list--status-open { color: $status-open; }
    TicketList > .ticket-list--status-pending { color: $status-pending; }
    TicketList > .ticket-list--status-on-hold { color: $status-on-hold; }
    TicketList > .ticket-list--status-solved { color: $status-solved; }
    TicketList > .ticket-list--status-closed { color: $status-closed; }
    TicketList > .ticket-list--priority-low { color: $priority-low; }
    TicketList > .ticket-list--priority-normal { color: $priority-normal; }
    TicketList > .ticket-list--priority-high { color: $priority-high; }
    TicketList > .ticket-list--priority-urgent { color: $priority-urgent; text-style: bold; }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "ticket-list--cursor",
        "ticket-list--marked",
        "ticket-list--placeholder",
        "ticket-list--muted",
        "ticket-list--overdue",
        *(
            f"ticket-list--status-{s}"
            for s in ("new", "open", "pending", "on-hold", "solved", "closed")
        ),
        *(f"ticket-list--priority-{p}" for p in ("low", "normal", "high", "urgent")),
    }

    BINDINGS: ClassVar[list[BindingType]] = bindings("list")

    @dataclass
    class Highlighted(Message):
        """The cursor rests on a different ticket (None: the view is empty)."""

        row: TicketRow | None

    @dataclass
    class Opened(Message):
        """The agent pressed Enter on a ticket: they want to read it."""

        row: TicketRow

    @dataclass
    class Failed(Message):
        """The view's query cannot run (a saved search naming a deleted queue, say)."""

        error: SupportdeskError

    def __init__(self, data: DeskData, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.data = data
        self.source: Source | None = None
        self.total: int | None = None
        self.cursor = 0
        self.marked: dict[int, TicketRow] = {}
        self.now = data.now()
        self._generation = 0
        self._pages: OrderedDict[int, list[TicketRow]] = OrderedDict()
        self._stale: dict[int, list[TicketRow]] = {}
        self._fetching: int | None = None
        self._pending = False
        self._follow: int | None = None
        self._announced: int | None = _NOTHING

    # -- what other widgets ask --------------------------------------------------------------

    @property
    def current_row(self) -> TicketRow | None:
        return self.row_at(self.cursor)

    @property
    def is_settled(self) -> bool:
        """Whether every line on screen shows fresh data (tests and benchmarks wait on it)."""
        if self.source is None or self.total is None or self._fetching is not None:
            return False
        return all(p in self._pages for p in self._wanted_pages())

    def row_at(self, index: int) -> TicketRow | None:
        page, slot = divmod(index, PAGE_SIZE)
        rows = self._pages.get(page)
        if rows is None:
            rows = self._stale.get(page)
        if rows is None or slot >= len(rows):
            return None
        return rows[slot]

    # -- what the screen tells it ------------------------------------------------------------

    def show(self, source: Source) -> None:
        """Switch to another view: start at its top."""
        self.source = source = self.data.fresh(source)
        self.now = source.now
        self._generation += 1
        self._pages.clear()
        self._stale.clear()
        self.total = None
        self.cursor = 0
        self._follow = None
        self._announced = _NOTHING
        self.border_title = Text(source.label)
        self.scroll_to(y=0, animate=False)
        self._set_height()
        self._count(self._generation, source)
        self._request()

    def reload(self) -> None:
        """Read the view again, keeping the cursor on its ticket and the page on screen."""
        if self.source is None:
            return
        self.source = self.data.fresh(self.source)
        self.now = self.source.now
        self._generation += 1
        self._stale = dict(self._pages)
        self._pages.clear()
        self._follow = self._announced if self._announced not in (None, _NOTHING) else None
        self._count(self._generation, self.source)
        self._request()

    def move_to(self, index: int) -> None:
        last = (self.total if self.total is not None else self._extent()) - 1
        index = max(0, min(index, last))
        if index == self.cursor:
            self._announce()
            return
        old = self.cursor
        self.cursor = index
        self._refresh_row(old)
        self._refresh_row(index)
        self._ensure_visible()
        self._update_subtitle()
        self._announce()

    def clear_marks(self) -> None:
        self.marked.clear()
        self.refresh()
        self._update_subtitle()

    # -- keys --------------------------------------------------------------------------------

    def action_cursor_down(self) -> None:
        self.move_to(self.cursor + 1)

    def action_cursor_up(self) -> None:
        self.move_to(self.cursor - 1)

    def action_page_down(self) -> None:
        self.move_to(self.cursor + max(1, self.size.height - 1))

    def action_page_up(self) -> None:
        self.move_to(self.cursor - max(1, self.size.height - 1))

    def action_first(self) -> None:
        self.move_to(0)

    def action_last(self) -> None:
        self.move_to(10**12)

    def action_toggle_mark(self) -> None:
        row = self.current_row
        if row is None:
            return
        if self.marked.pop(row.number, None) is None:
            self.marked[row.number] = row
        self._refresh_row(self.cursor)
        self._update_subtitle()
        self.move_to(self.cursor + 1)

    def action_open(self) -> None:
        row = self.current_row
        if row is not None:
            self.post_message(self.Opened(row))

    def on_click(self, event: events.Click) -> None:
        self.focus()
        self.move_to(self.scroll_offset.y + event.y)

    # -- drawing -----------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        index = self.scroll_offset.y + y
        base = self.rich_style
        total = self.total if self.total is not None else self._extent()
        if index >= total:
            if index == 0 and self.total == 0:
                return self._strip([("  no tickets in this view", "ticket-list--muted")], width)
            return Strip.blank(width, base)
        row = self.row_at(index)
        if row is None:
            self._request_soon()
            return self._strip([(f"  {'·' * 6}  loading…", "ticket-list--placeholder")], width)
        return self._row_strip(row, index, width)

    def _row_strip(self, row: TicketRow, index: int, width: int) -> Strip:
        marked = row.number in self.marked
        overdue = is_overdue(row, self.now)
        requester_w = 18 if width >= 100 else 0
        assignee_w = 10 if width >= 80 else 0
        fixed = 2 + 7 + 9 + 8 + 6 + 3 + (requester_w + 1 if requester_w else 0)
        fixed += assignee_w + 1 if assignee_w else 0
        subject_w = max(8, width - fixed)
        cells: list[tuple[str, str | None]] = [
            ("● " if marked else "  ", "ticket-list--marked" if marked else None),
            (fit(str(row.number), 6, right=True) + " ", None),
            (fit(row.status, 8) + " ", f"ticket-list--status-{row.status}"),
            (fit(row.priority, 7) + " ", f"ticket-list--priority-{row.priority}"),
            (
                fit(row.subject or "(no subject)", subject_w) + " ",
                "ticket-list--marked" if marked else None,
            ),
        ]
        if requester_w:
            cells.append((fit(row.requester_name or row.requester_email, requester_w) + " ", None))
        if assignee_w:
            cells.append((fit(row.assignee or "-", assignee_w) + " ", "ticket-list--muted"))
        cells.append((fit(age(row.updated_at, self.now), 5, right=True), "ticket-list--muted"))
        cells.append((" !" if overdue else "  ", "ticket-list--overdue"))
        if index == self.cursor:
            cursor = self.get_component_rich_style("ticket-list--cursor")
            return self._strip([(text, None) for text, _ in cells], width, cursor)
        return self._strip(cells, width)

    def _strip(
        self, cells: list[tuple[str, str | None]], width: int, base: Style | None = None
    ) -> Strip:
        base = base or self.rich_style
        segments = [
            Segment(text, base + self._style(component) if component else base)
            for text, component in cells
        ]
        return Strip(segments).adjust_cell_length(width, base)

    def _style(self, component: str) -> Style:
        return self.get_component_rich_style(component, partial=True, default=Style())

    def _refresh_row(self, index: int) -> None:
        self.refresh_line(index)

    def _ensure_visible(self) -> None:
        top = self.scroll_offset.y
        height = max(1, self.scrollable_content_region.height)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False)

    def _update_subtitle(self) -> None:
        known = self.total if self.total is not None else self._extent()
        counted = f"{self.total:,}" if self.total is not None else f"{known:,}+ (counting…)"
        position = f"{self.cursor + 1:,} of {counted}" if known else "0"
        marks = f" · {len(self.marked)} selected" if self.marked else ""
        self.border_subtitle = Text(position + marks)

    def _extent(self) -> int:
        """How many rows are known to exist before the count arrives."""
        pages = self._pages or self._stale
        return max(
            (page * PAGE_SIZE + len(rows) for page, rows in pages.items() if rows), default=0
        )

    def _set_height(self) -> None:
        rows = self.total if self.total is not None else self._extent()
        self.virtual_size = Size(self.scrollable_content_region.width, rows)
        self._update_subtitle()
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self._set_height()
        self._request_soon()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._request_soon()

    # -- fetching ----------------------------------------------------------------------------

    def _wanted_pages(self) -> list[int]:
        top = self.scroll_offset.y
        bottom = top + max(1, self.size.height)
        first = max(0, top - PAGE_SIZE // 2) // PAGE_SIZE
        last = (bottom + PAGE_SIZE // 2) // PAGE_SIZE
        if self.total is not None:
            last = min(last, max(0, self.total - 1) // PAGE_SIZE)
        wanted = list(range(first, last + 1))
        cursor_page = self.cursor // PAGE_SIZE
        if cursor_page not in wanted:
            wanted.append(cursor_page)
        return wanted

    def _request_soon(self) -> None:
        if not self._pending:
            self._pending = True
            self.call_after_refresh(self._request)

    def _request(self) -> None:
        self._pending = False
        if self.source is None:
            return
        if self._fetching == self._generation:
            self._pending = True  # run again when this fetch is done
            return
        missing = [p for p in self._wanted_pages() if p not in self._pages]
        if not missing:
            return
        self._fetching = self._generation
        self._fetch(self._generation, self.source, missing, self.total)

    @work(thread=True, exclusive=True, group="ticket-list-pages")
    def _fetch(self, generation: int, source: Source, pages: list[int], total: int | None) -> None:
        worker = get_current_worker()
        try:
            for page in pages:
                if worker.is_cancelled:
                    break
                rows = self.data.page(source, page * PAGE_SIZE, PAGE_SIZE, total)
                self.post_message(_PageLoaded(generation, page, rows))
        except SupportdeskError as exc:
            self.post_message(_Failed(generation, exc))
        finally:
            self.post_message(_FetchDone(generation))

    @work(thread=True, exclusive=True, group="ticket-list-count")
    def _count(self, generation: int, source: Source) -> None:
        try:
            self.post_message(_Counted(generation, self.data.count(source)))
        except SupportdeskError as exc:
            self.post_message(_Failed(generation, exc))

    def on__page_loaded(self, message: _PageLoaded) -> None:
        if message.generation != self._generation:
            return
        self._pages[message.page] = message.rows
        self._stale.pop(message.page, None)
        while len(self._pages) > CACHE_PAGES:
            self._pages.popitem(last=False)
        if self.total is None:
            self._set_height()
        if self._follow is not None:
            self._try_follow()
        first = message.page * PAGE_SIZE
        self.refresh_lines(first, PAGE_SIZE)
        if self._follow is None:
            self._announce()

    def on__counted(self, message: _Counted) -> None:
        if message.generation != self._generation:
            return
        self.total = message.total
        if self.total and self.cursor >= self.total:
            self.cursor = self.total - 1
        self._set_height()
        self._request_soon()
        if self.total == 0:
            self._announce()

    def on__fetch_done(self, message: _FetchDone) -> None:
        if self._fetching == message.generation:
            self._fetching = None
        if message.generation == self._generation:
            self._follow = None
            if all(p in self._pages for p in self._wanted_pages()):
                self._stale.clear()
                self.refresh()
            self._announce()
        self._request()

    def on__failed(self, message: _Failed) -> None:
        if message.generation == self._generation:
            self.total = 0
            self._set_height()
            self.post_message(self.Failed(message.error))

    def _try_follow(self) -> None:
        for page, rows in self._pages.items():
            for slot, row in enumerate(rows):
                if row.number == self._follow:
                    index = page * PAGE_SIZE + slot
                    delta = index - self.cursor
                    self._follow = None
                    self.cursor = index
                    if delta:
                        self.scroll_to(y=self.scroll_offset.y + delta, animate=False)
                    self._update_subtitle()
                    self.refresh()
                    return

    def _announce(self) -> None:
        if self.total == 0:
            if self._announced is not None:
                self._announced = None
                self.post_message(self.Highlighted(None))
            return
        page = self.cursor // PAGE_SIZE
        rows = self._pages.get(page)
        slot = self.cursor % PAGE_SIZE
        if rows is None or slot >= len(rows):
            return
        row = rows[slot]
        if row.number != self._announced:
            self._announced = row.number
            self.post_message(self.Highlighted(row))
