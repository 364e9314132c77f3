"""The ticket list: one line per ticket, drawn line by line, fed in pages from the store.

It never holds more than a few pages of rows. It knows how many tickets the view has (a
count starts once the first page is in: a quick one first, shown as an estimate when it is
one, then the exact one), sizes its scroll area to match once the exact count is in, and when
lines on screen have no row yet it draws placeholders and asks a worker for the pages
around the viewport. A view that opens leaves the last one on screen until its first page is
in and the screen shows the ticket under the cursor (or `UNVEIL_WAIT` has passed), then is
drawn whole in the frame that draws that ticket: a frame of placeholders, then one of rows,
each cost about as much as the ticket's and came between the key and what the agent waits for.
Only one page fetch runs at a time: requests made while it runs are folded into the next
one, so holding Page Down over 100,000 tickets never piles up queries. The first line is a
header naming the columns; it stays put while the rows scroll under it.

On a refresh (another process changed something, or the agent did) the cursor keeps its
ticket, wherever the change moved it: a change of priority or status reorders the list, and
the row under the cursor would otherwise be another customer's ticket. The list holds only
a window, so the ticket's new row is asked of the store (desk.views.ticket_position) in the
worker that counts the view; until the pages there arrive, the old ones stay on screen with
the cursor where it was. A ticket that left the view (it no longer matches) hands the cursor
to its neighbour. With `stay_on_row` the cursor keeps its row instead. Either way the list
says what happened (`Relocated`), so the ticket under the cursor never changes unnoticed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events, work
from textual.binding import BindingType
from textual.content import Content
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip
from textual.timer import Timer
from textual.worker import get_current_worker

from supportdesk.dates import age, age_width
from supportdesk.desk.query import Count
from supportdesk.desk.views import TicketRow
from supportdesk.errors import ReadCancelled, SupportdeskError
from supportdesk.i18n import N_, _, ngettext
from supportdesk.tui.bindings import bindings
from supportdesk.tui.data import DeskData, FirstPage, Source, view_label
from supportdesk.tui.format import fit, priority_label, sla_cue, status_label
from supportdesk.tui.memory import release_heap
from supportdesk.tui.widgets.scrolling import LineView, set_virtual_size

PAGE_SIZE = 50
CACHE_PAGES = 24
HEADER_LINES = 1
_NOTHING = -1  # no ticket announced yet in this view
_RETRIES = 2  # times a followed ticket is looked for again when the list moved meanwhile
UNVEIL_WAIT = 0.025
"""Seconds an opened view's rows wait, once in, for the ticket under the cursor to draw them
in the same frame (its read and layout usually take less)."""


@dataclass(frozen=True)
class Column:
    """One column of the list: its title, its width in terminal cells, how it aligns.

    `title` names the column in code too, so it stays the English message id; the header
    translates it as it draws (`heading`).
    """

    title: str
    width: int
    right: bool = False
    gap: int = 1  # blank cells after it

    @property
    def heading(self) -> str:
        """The title as the header shows it, in the current language."""
        return _(self.title) if self.title not in ("", "#") else self.title


def columns(width: int) -> list[Column]:
    """The columns for a list `width` cells wide; the subject takes what the others leave.

    The header and every row are cut from this one list, so they cannot disagree.
    """
    requester = 18 if width >= 100 else 0
    assignee = 10 if width >= 80 else 0
    before = [Column("", 2, gap=0), Column("#", 6, right=True), Column(N_("status"), 8)]
    before.append(Column(N_("priority"), 8))
    after = []
    if requester:
        after.append(Column(N_("requester"), requester))
    if assignee:
        after.append(Column(N_("assignee"), assignee))
    after += [Column(N_("updated"), age_width(), right=True), Column("", 1, gap=0)]
    used = sum(c.width + c.gap for c in [*before, *after]) + 1
    return [*before, Column(N_("subject"), max(8, width - used)), *after]


@dataclass
class _PageLoaded(Message, bubble=False):
    generation: int
    page: int
    rows: list[TicketRow]
    drafted: set[int]
    others: dict[int, str]


@dataclass
class _Counted(Message, bubble=False):
    generation: int
    total: int
    follow: int | None = None
    place: int | None = None  # the followed ticket's row now; None: not in the view


@dataclass
class _Estimated(Message, bubble=False):
    generation: int
    count: Count
    source: Source


@dataclass
class _FetchDone(Message, bubble=False):
    generation: int


@dataclass
class _Failed(Message, bubble=False):
    generation: int
    error: SupportdeskError


@dataclass
class _Follow:
    """A ticket the cursor is kept on while the view is read again."""

    number: int
    row: int  # where the cursor was
    line: int  # and on which line of the screen
    target: int | None = None  # where the cursor goes once that page is fresh
    place: int | None = None  # the ticket's row in the new order (None: it left)
    retries: int = 0
    lost: bool = False  # it kept moving while the list was read: not found on screen


class TicketList(LineView, can_focus=True):
    """A window onto a view of any size; see the module docstring."""

    DEFAULT_CSS = """
    TicketList {
        overflow-x: hidden;
        scrollbar-gutter: stable;
    }
    TicketList > .ticket-list--header { color: $text-muted; text-style: bold; }
    TicketList > .ticket-list--cursor { background: $surface-lighten-2; }
    TicketList:focus > .ticket-list--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
    }
    TicketList > .ticket-list--marked { color: $accent; text-style: bold; }
    TicketList > .ticket-list--draft { color: $warning; text-style: bold; }
    TicketList > .ticket-list--placeholder { color: $text-disabled; }
    TicketList > .ticket-list--muted { color: $text-muted; }
    TicketList > .ticket-list--sla-breached { color: $sla-overdue; text-style: bold; }
    TicketList > .ticket-list--sla-due-soon { color: $sla-due-soon; text-style: bold; }
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
        "ticket-list--header",
        "ticket-list--cursor",
        "ticket-list--marked",
        "ticket-list--draft",
        "ticket-list--placeholder",
        "ticket-list--muted",
        "ticket-list--sla-breached",
        "ticket-list--sla-due-soon",
        *(
            f"ticket-list--status-{s}"
            for s in ("new", "open", "pending", "on-hold", "solved", "closed")
        ),
        *(f"ticket-list--priority-{p}" for p in ("low", "normal", "high", "urgent")),
    }

    BINDINGS: ClassVar[list[BindingType]] = bindings("list")

    @dataclass
    class Highlighted(Message):
        """The cursor rests on a different ticket, or its row was read again (None: empty).

        `moved`: a key or click moved the cursor there (a held key passes many tickets);
        otherwise a view opened or was read again, and the ticket is wanted at once.
        """

        row: TicketRow | None
        moved: bool = False

    @dataclass
    class Opened(Message):
        """The agent pressed Enter on a ticket: they want to read it."""

        row: TicketRow

    @dataclass
    class Failed(Message):
        """The view's query cannot run (a saved search naming a deleted queue, say)."""

        error: SupportdeskError

    @dataclass
    class Relocated(Message):
        """A refresh moved the ticket the cursor was on, or took it out of the view.

        `place` is its row now (None: it left the view); `cursor` the row the cursor is on
        and `now` the ticket there. With the default following, `now` is the same ticket
        unless it left; with `stayed`, the cursor kept its row and `now` may be another.
        `lost`: it kept moving while the list was read, so the cursor could not follow it.
        """

        number: int
        was: int
        place: int | None
        cursor: int
        now: TicketRow | None
        stayed: bool
        lost: bool = False

    def __init__(self, data: DeskData, *, stay_on_row: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.data = data
        self.stay_on_row = stay_on_row
        self.source: Source | None = None
        self.total: int | None = None
        self.estimate: Count | None = None
        """The quick count shown until `total`, the exact one, arrives (see `_count`)."""
        self.cursor = 0
        self._to_last = False
        """`G` came before the count: the cursor goes to the last row once it is known."""
        self.marked: dict[int, TicketRow] = {}
        self.drafted: set[int] = set()
        """Tickets the agent has a draft reply on (the ✎ beside the number)."""
        self.others: dict[int, str] = {}
        """Tickets someone else has open on a team store: "replying" (✉) or "viewing" (◦)."""
        self.now = data.now()
        self._generation = 0
        self._pages: OrderedDict[int, list[TicketRow]] = OrderedDict()
        self._stale: dict[int, list[TicketRow]] = {}
        self._fetching: int | None = None
        self._pending = False
        self._follow: _Follow | None = None
        self._announced: int | None = _NOTHING
        self._announced_row: TicketRow | None = None
        self._moving = False
        self._count_after_rows: tuple[int, Source] | None = None
        """The view's count, started once its first rows are in (see `show`)."""
        self._exact_after_ticket: tuple[int, Source] | None = None
        """The exact count behind an estimate, started once the screen has shown the ticket
        under the cursor (see `ticket_shown`)."""
        self._ticket_shown = -1
        """The generation whose ticket the screen has shown (see `ticket_shown`)."""
        self._veiled = False
        """A view opened and is not drawn yet: the last view's lines stay (see `show`)."""
        self._old: list[TicketRow | None] = []
        """The rows on screen when the last view was left, top first: drawn while veiled."""
        self._unveil_timer: Timer | None = None
        self.answer: Callable[[TicketRow | None], object] | None = None
        """Called with the row under the cursor (None: the view is empty) in the turn that
        put it there, before the
        `Highlighted` message that follows: the screen shows a ticket it already holds then,
        so one frame draws the cursor and the ticket (the message came a frame later)."""

    # -- what other widgets ask --------------------------------------------------------------

    @property
    def current_row(self) -> TicketRow | None:
        return self.row_at(self.cursor)

    @property
    def is_settled(self) -> bool:
        """Whether every line on screen shows fresh data (tests and benchmarks wait on it)."""
        if self.source is None or self.total is None or self._fetching is not None:
            return False
        if self._veiled:
            return False
        if self._follow is not None:
            return False
        return all(p in self._pages for p in self._wanted_pages())

    def row_at(self, index: int) -> TicketRow | None:
        """The row drawn at `index`: fresh, else the last one read there.

        While a followed ticket's new row is not known yet, what was on screen stays there,
        so the cursor and the rows around it keep showing one consistent moment.
        """
        page, slot = divmod(index, PAGE_SIZE)
        first, second = (self._stale, self._pages) if self._follow else (self._pages, self._stale)
        rows = first.get(page)
        if rows is None:
            rows = second.get(page)
        if rows is None or slot >= len(rows):
            return None
        return rows[slot]

    @property
    def page_size(self) -> int:
        """How many rows a page holds: what a first page read for `show` must hold."""
        return PAGE_SIZE

    @property
    def visible_rows(self) -> int:
        """How many rows fit under the header."""
        return max(1, self.scrollable_content_region.height - HEADER_LINES)

    # -- what the screen tells it ------------------------------------------------------------

    def show(self, source: Source, first: FirstPage | None = None) -> None:
        """Switch to another view: start at its top.

        Until its first page is in and its ticket shows (see `unveil`), what the screen shows
        stays: the title, the rows, the count. `first`: that page, already read with `source`
        as it is (a search reads it where it checks its query, so it is compiled once).
        """
        self.source = source = self.data.fresh(source) if first is None else source
        self.now = source.now
        self._generation += 1
        if not self._veiled:  # else the view on screen is still the one before
            top = round(self.scroll_offset.y)
            self._old = [self.row_at(top + line) for line in range(self.visible_rows)]
        self._veiled = True
        if self._unveil_timer is not None:
            self._unveil_timer.stop()
            self._unveil_timer = None
        self._pages.clear()
        self._stale.clear()
        self.total = None
        self.estimate = None
        self.cursor = 0
        self._to_last = False
        self._follow = None
        self._moving = False  # a view that opens wants its ticket at once
        self._announced = _NOTHING
        self._announced_row = None
        if self.scroll_offset.y:
            self.scroll_to(y=0, animate=False)  # its lines are drawn from the old rows there
        # The old height stays until the first page or the count says the new one: shrinking
        # to nothing first would hide the scrollbar and lay out the desk twice per view.
        # Rows first: the count (an estimate, then the exact one) starts once the first page
        # is in, so the two never share the store and the cores while the agent waits.
        self.workers.cancel_group(self, "ticket-list-count")  # the last view's exact count
        self._count_after_rows = (self._generation, source)
        self._exact_after_ticket = None
        if first is not None:
            rows, drafted, others = first
            self.on__page_loaded(_PageLoaded(self._generation, 0, rows, drafted, others))
        self._request()

    def unveil(self) -> None:
        """Draw the view that opened, whole: called once its ticket shows (in the same turn,
        so one frame draws both), its first page failed, or `UNVEIL_WAIT` after that page."""
        if self._unveil_timer is not None:
            self._unveil_timer.stop()
            self._unveil_timer = None
        if not self._veiled:
            return
        self._veiled = False
        self._old = []
        if self.source is not None:
            self.border_title = Text(view_label(self.source.key, self.source.label))
        self._set_height()
        self.refresh()

    def ticket_shown(self, number: int | None) -> None:
        """The screen shows ticket `number` (None: no ticket); if it is the one under the
        cursor, an exact count may start now.

        The exact count behind an estimate (a common word: 40-90 ms of a core at a million
        messages) waits for this, so it never shares the two cores with the reading and
        drawing of the ticket the agent waits for after a search or a switch of view.
        """
        if number != self._announced:
            return  # the last view's ticket, or one the cursor has left
        if self._unveil_timer is not None:
            self.unveil()  # the first page is in: rows and ticket show in one frame
        self._ticket_shown = self._generation
        due = self._exact_after_ticket
        self._exact_after_ticket = None
        if due is not None and due[0] == self._generation:
            self._count_exactly(*due)

    def reload(self) -> None:
        """Read the view again, keeping the cursor on its ticket (see the module docstring)."""
        if self.source is None:
            return
        self.source = self.data.fresh(self.source)
        self.now = self.source.now
        self._generation += 1
        if self._follow is None:
            self._stale = {**self._stale, **self._pages}
        self._pages.clear()  # while following, the stale pages are what the screen shows
        if self._follow is not None:  # still looking for it from the last reload
            self._follow.target = self._follow.place = None
        elif self._announced not in (None, _NOTHING):
            assert self._announced is not None
            self._follow = _Follow(
                self._announced, self.cursor, self.cursor - round(self.scroll_offset.y)
            )
        self._count(self._generation, self.source, self._follow.number if self._follow else None)
        # The pages on screen now are read meanwhile: where the ticket did not move far
        # (the usual case) they are the ones it lands on, so it lands as soon as it is placed.
        self._request()

    def move_to(self, index: int) -> None:
        self._unveil_for_a_key()
        self._to_last = False  # any move is where the agent wants to be now
        if self._follow is not None:
            self._follow = None  # the agent moves on: that is where they want to be
            self._request_soon()
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
        # Kept until announced: a move onto a page not read yet is announced when its rows
        # come, and a held key must stay a held key then too (the screen waits on it).
        self._moving = True
        self._announce()

    def _unveil_for_a_key(self) -> None:
        """A key or click acts on the view that opened: draw it first, so the row acted on
        is the one on screen, not one of the last view's rows still shown (see `show`)."""
        if self._veiled:
            self.unveil()

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
        self.move_to(self.cursor + max(1, self.visible_rows - 1))

    def action_page_up(self) -> None:
        self.move_to(self.cursor - max(1, self.visible_rows - 1))

    def action_first(self) -> None:
        self.move_to(0)

    def action_last(self) -> None:
        """The last ticket; before the count is known, the last one read, and the true last
        once the count comes (unless the agent moves on meanwhile)."""
        self.move_to(10**12)
        self._to_last = self.total is None

    def action_toggle_mark(self) -> None:
        self._unveil_for_a_key()
        row = self.current_row
        if row is None:
            return
        if self.marked.pop(row.number, None) is None:
            self.marked[row.number] = row
        self._refresh_row(self.cursor)
        self._update_subtitle()
        self.move_to(self.cursor + 1)

    def action_open(self) -> None:
        self._unveil_for_a_key()
        row = self.current_row
        if row is not None:
            self.post_message(self.Opened(row))

    def on_click(self, event: events.Click) -> None:
        self._unveil_for_a_key()
        self.focus()
        if event.y >= HEADER_LINES:
            self.move_to(round(self.scroll_offset.y) + event.y - HEADER_LINES)

    # -- drawing -----------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y < HEADER_LINES:
            return self._header_strip(width)
        index = self.scroll_offset.y + y - HEADER_LINES
        base = self.base_style
        if self._veiled:  # the last view's row there, if it had one (see `show`)
            line = y - HEADER_LINES
            old = self._old[line] if line < len(self._old) else None
            if old is not None:
                return self._row_strip(old, -1, width)
            return Strip.blank(width, base)
        total = self.total if self.total is not None else self._extent()
        if index >= total:
            if index == 0 and self.total == 0:
                empty = "  " + _("no tickets in this view")
                return self._strip([(empty, "ticket-list--muted")], width)
            return Strip.blank(width, base)
        row = self.row_at(index)
        if row is None:
            self._request_soon()
            loading = f"  {'·' * 6}  " + _("loading…")
            return self._strip([(loading, "ticket-list--placeholder")], width)
        return self._row_strip(row, index, width)

    def _header_strip(self, width: int) -> Strip:
        cells: list[tuple[str, str | None]] = [
            (fit(c.heading, c.width, right=c.right) + " " * c.gap, "ticket-list--header")
            for c in columns(width)
        ]
        return self._strip(cells, width)

    def _row_strip(self, row: TicketRow, index: int, width: int) -> Strip:
        marked = row.number in self.marked
        drafted = row.number in self.drafted
        other = {"replying": "✉", "viewing": "◦"}.get(self.others.get(row.number, ""), "")
        cue = ("●" if marked else " ") + ("✎" if drafted else other)
        values: dict[str, tuple[str, str | None]] = {
            "": (
                cue.rstrip(),
                "ticket-list--marked" if marked else "ticket-list--draft" if drafted else None,
            ),
            "#": (str(row.number), None),
            "status": (status_label(row.status), f"ticket-list--status-{row.status}"),
            "priority": (priority_label(row.priority), f"ticket-list--priority-{row.priority}"),
            "subject": (
                row.subject or _("(no subject)"),
                "ticket-list--marked" if marked else None,
            ),
            "requester": (row.requester_name or row.requester_email, None),
            "assignee": (row.assignee or "-", "ticket-list--muted"),
            "updated": (age(row.updated_at, self.now), "ticket-list--muted"),
        }
        cue_text, cue_style = sla_cue(row, self.now)
        cells: list[tuple[str, str | None]] = []
        for position, column in enumerate(columns(width)):
            component: str | None
            if column.title == "" and position:
                text, component = cue_text, cue_style
            else:
                text, component = values[column.title]
            cell = fit(text, column.width, right=column.right) + " " * column.gap
            cells.append((cell, component))
        if index == self.cursor:
            cursor = self.get_component_rich_style("ticket-list--cursor")
            return self._strip([(text, None) for text, _ in cells], width, cursor)
        return self._strip(cells, width)

    def _strip(
        self, cells: list[tuple[str, str | None]], width: int, base: Style | None = None
    ) -> Strip:
        base = base or self.base_style
        segments = [
            Segment(text, base + self._style(component) if component else base)
            for text, component in cells
        ]
        return Strip(segments).adjust_cell_length(width, base)

    def _style(self, component: str) -> Style:
        return self.get_component_rich_style(component, partial=True, default=Style())

    def _refresh_row(self, index: int) -> None:
        self.refresh_line(index + HEADER_LINES)

    def _ensure_visible(self) -> None:
        top = round(self.scroll_offset.y)
        height = self.visible_rows
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False)

    def _update_subtitle(self) -> None:
        known = self.total if self.total is not None else self._extent()
        if self.total is not None:
            counted = Count.exactly(self.total).label()
        else:
            shown = self.estimate or Count.at_least(known)
            counted = _("{count} (counting…)").format(count=shown.label())
        position = (
            _("{row} of {count}").format(row=f"{self.cursor + 1:,}", count=counted)
            if known
            else "0"
        )
        marks = ""
        if self.marked:
            selected = len(self.marked)
            marks = " · " + ngettext("{count} selected", "{count} selected", selected).format(
                count=selected
            )
        self._show_subtitle(position + marks)

    def _show_subtitle(self, text: str) -> None:
        """Put `text` in the bottom border, repainting that line only.

        Setting `border_subtitle` repaints every line of the list, and the subtitle ("12 of
        3,405") changes with every move of the cursor: that was most of the cost of a key.
        """
        content = Content(text)
        if self._border_subtitle == content:
            return
        if not self.is_mounted or not self.outer_size.height:
            self.border_subtitle = content
            return
        self._border_subtitle = content
        offset = self.content_offset
        bottom = self.outer_size.height - 1 - offset.y
        self.refresh(Region(-offset.x, bottom, self.outer_size.width, 1))

    def relabel(self) -> None:
        """Draw the header, title and rows again in the current language."""
        if self.source is not None:
            self.border_title = Text(view_label(self.source.key, self.source.label))
        self._update_subtitle()
        self.refresh()

    def _extent(self) -> int:
        """How many rows are known to exist before the count arrives."""
        pages = self._pages or self._stale
        return max(
            (page * PAGE_SIZE + len(rows) for page, rows in pages.items() if rows), default=0
        )

    def _set_height(self) -> None:
        """Size the scroll area to the rows known; repaint only the lines on screen that
        this brings in or takes away (a count that comes after the first page changes none
        of them when the view is longer than the screen)."""
        if self._veiled:
            return  # `unveil` sizes it
        rows = self.total if self.total is not None else self._extent()
        old = max(0, self.virtual_size.height - HEADER_LINES)
        size = Size(self.scrollable_content_region.width, rows + HEADER_LINES)
        set_virtual_size(self, size, repaint=False)
        self._update_subtitle()
        top = round(self.scroll_offset.y)
        start = max(min(old, rows), top)
        end = min(max(old, rows), top + self.visible_rows)
        if rows == 0:
            self.refresh()  # the line that says the view is empty
        elif end > start:
            self.refresh_lines(start + HEADER_LINES, end - start)

    def on_resize(self, event: events.Resize) -> None:
        self._set_height()
        self._request_soon()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._request_soon()

    # -- fetching ----------------------------------------------------------------------------

    def _wanted_pages(self) -> list[int]:
        top = round(self.scroll_offset.y)
        cursor = self.cursor
        follow = self._follow
        if follow is not None and follow.target is not None:  # where the screen is going
            cursor = follow.target
            top = self._top_for(cursor, follow.line)
        bottom = top + self.visible_rows
        first = max(0, top - PAGE_SIZE // 2) // PAGE_SIZE
        last = (bottom + PAGE_SIZE // 2) // PAGE_SIZE
        if self.total is not None:
            last = min(last, max(0, self.total - 1) // PAGE_SIZE)
        wanted = list(range(first, last + 1))
        cursor_page = cursor // PAGE_SIZE
        if cursor_page not in wanted:
            wanted.append(cursor_page)
        return wanted

    def _top_for(self, cursor: int, line: int) -> int:
        """The scroll offset that puts row `cursor` on screen line `line`, within bounds."""
        rows = self.total if self.total is not None else self._extent()
        top = max(0, min(cursor - line, rows - self.visible_rows))
        return min(max(top, cursor - self.visible_rows + 1), cursor)

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
                numbers = [r.number for r in rows]
                drafted = self.data.drafted(numbers)
                others = self.data.others_on(numbers)
                self.post_message(_PageLoaded(generation, page, rows, drafted, others))
        except SupportdeskError as exc:
            self.post_message(_Failed(generation, exc))
        finally:
            self.post_message(_FetchDone(generation))

    @work(thread=True, exclusive=True, group="ticket-list-count")
    def _count(self, generation: int, source: Source, follow: int | None = None) -> None:
        """Count the view: a quick figure first; if that was an estimate, the exact one
        follows once the ticket under the cursor shows (see `ticket_shown`).

        The exact count of a common word takes hundreds of milliseconds at a million
        messages; the estimate shows meanwhile, marked as one.
        """
        try:
            if follow is None:
                quick = self.data.quick_count(source)
                if quick.is_exact:
                    self.post_message(_Counted(generation, quick.value))
                else:
                    self.post_message(_Estimated(generation, quick, source))
            else:
                total, place = self.data.count_and_place(source, follow)
                self.post_message(_Counted(generation, total, follow, place))
        except ReadCancelled:
            pass  # a newer view replaced this count: its own count follows
        except SupportdeskError as exc:
            self.post_message(_Failed(generation, exc))
        finally:
            release_heap()  # a count is the console's biggest read (see tui/memory.py)

    @work(thread=True, exclusive=True, group="ticket-list-count")
    def _count_exactly(self, generation: int, source: Source) -> None:
        """The exact count behind an estimate; a newer view cancels it before it starts."""
        try:
            self.post_message(_Counted(generation, self.data.count(source)))
        except ReadCancelled:
            pass  # a newer view replaced this count: its own count follows
        except SupportdeskError as exc:
            self.post_message(_Failed(generation, exc))
        finally:
            release_heap()

    def on__page_loaded(self, message: _PageLoaded) -> None:
        if message.generation != self._generation:
            return
        self._pages[message.page] = message.rows
        self.drafted -= {r.number for r in message.rows}
        self.drafted |= message.drafted
        for row in message.rows:
            self.others.pop(row.number, None)
        self.others.update(message.others)
        while len(self._pages) > CACHE_PAGES:
            self._pages.popitem(last=False)
        if self._follow is not None:
            self._start_count()
            if self._follow.target is not None and self._new_screen_ready():
                self._land()
            return  # the old rows stay on screen until then
        self._stale.pop(message.page, None)
        if self._veiled:
            if self._unveil_timer is None:
                self._unveil_timer = self.set_timer(UNVEIL_WAIT, self.unveil)
        else:
            if self.total is None:
                self._set_height()
            self.refresh_lines(message.page * PAGE_SIZE + HEADER_LINES, PAGE_SIZE)
        due = self._count_after_rows
        if (
            message.page == 0
            and len(message.rows) < PAGE_SIZE
            and due
            and due[0] == self._generation
        ):
            # A first page that is not full is the whole view: its length is the count, and
            # an empty view (Breached, most of the day) need not wait 50 ms more for a count.
            self._count_after_rows = None
            self.on__counted(_Counted(message.generation, len(message.rows)))
        self._announce()
        self._start_count()

    def _start_count(self) -> None:
        """Count the view whose first rows just came (see `show`)."""
        due = self._count_after_rows
        self._count_after_rows = None
        if due is not None and due[0] == self._generation:
            self._count(*due)

    def on__estimated(self, message: _Estimated) -> None:
        if message.generation == self._generation and self.total is None:
            self.estimate = message.count
            self._update_subtitle()
            if self._ticket_shown == message.generation:
                self._count_exactly(message.generation, message.source)
            else:
                self._exact_after_ticket = (message.generation, message.source)

    def on__counted(self, message: _Counted) -> None:
        if message.generation != self._generation:
            return
        self.total = message.total
        follow = self._follow
        if follow is not None and follow.number == message.follow:
            follow.place = message.place
            last = max(0, self.total - 1)
            stay = self.stay_on_row or message.place is None
            follow.target = min(follow.row, last) if stay else message.place
        elif self.total and self.cursor >= self.total:
            self.cursor = self.total - 1
            self._refresh_row(self.cursor)
        self._set_height()
        if follow is not None and follow.target is not None and self._new_screen_ready():
            self._land()  # an empty view, or pages already here
        elif self._to_last and follow is None and self.total:
            self.move_to(self.total - 1)
        self._request_soon()
        if self.total == 0:
            self._announce()

    def on__fetch_done(self, message: _FetchDone) -> None:
        if self._fetching == message.generation:
            self._fetching = None
        if message.generation == self._generation and self._follow is None:
            if all(p in self._pages for p in self._wanted_pages()):
                if self._stale and not self._veiled:
                    self.refresh()  # lines drawn from rows read before (unveil draws them all)
                self._stale.clear()
            self._announce()
        self._request()

    def on__failed(self, message: _Failed) -> None:
        if message.generation == self._generation:
            self._count_after_rows = self._exact_after_ticket = None
            self._follow = None
            self.total = 0
            self.unveil()  # nothing to wait for: the view is drawn now, empty
            self._set_height()
            self.post_message(self.Failed(message.error))

    def _new_screen_ready(self) -> bool:
        """Whether every page the screen shows once the cursor follows its ticket is fresh."""
        return all(p in self._pages for p in self._wanted_pages()) or self.total == 0

    def _land(self) -> None:
        """The followed ticket's new screen is here: put the cursor on it, on the same line.

        If the list changed again between the count and the page (the ticket is not on the
        row the count gave), it is looked for once more rather than guessed.
        """
        follow = self._follow
        assert follow is not None and follow.target is not None
        target = follow.target
        if follow.place is not None and not self.stay_on_row:
            row = self._fresh_row(target)
            if row is None or row.number != follow.number:
                if follow.retries < _RETRIES:
                    follow.retries += 1
                    self.reload()
                    return
                found = self._find_fresh(follow.number)
                follow.lost = found is None
                follow.place = target = found if found is not None else min(target, follow.row)
        self._follow = None
        self.cursor = target
        self.scroll_to(y=self._top_for(target, follow.line), animate=False, immediate=True)
        self._stale.clear()
        self._update_subtitle()
        self.refresh()
        now = self._fresh_row(target)
        if follow.place != follow.row or follow.lost:
            self.post_message(
                self.Relocated(
                    number=follow.number,
                    was=follow.row,
                    place=follow.place,
                    cursor=target,
                    now=now,
                    stayed=self.stay_on_row,
                    lost=follow.lost,
                )
            )
        self._announce()
        self._request_soon()

    def _find_fresh(self, number: int) -> int | None:
        """The row of ticket `number` among the fresh pages, if one of them holds it."""
        for page, rows in self._pages.items():
            for slot, row in enumerate(rows):
                if row.number == number:
                    return page * PAGE_SIZE + slot
        return None

    def _fresh_row(self, index: int) -> TicketRow | None:
        rows = self._pages.get(index // PAGE_SIZE)
        slot = index % PAGE_SIZE
        return rows[slot] if rows is not None and slot < len(rows) else None

    def _announce(self) -> None:
        """Tell the screen which ticket is under the cursor, from fresh rows only."""
        if self._follow is not None:
            return
        if self.total == 0:
            if self._announced is not None:
                self._announced = None
                self._announced_row = None
                if self.answer is not None:
                    self.answer(None)
                self.post_message(self.Highlighted(None))
            return
        row = self._fresh_row(self.cursor)
        if row is None:
            return
        if row.number != self._announced or row != self._announced_row:
            self._announced = row.number
            self._announced_row = row
            if self.answer is not None:
                self.answer(row)
            self.post_message(self.Highlighted(row, moved=self._moving))
            self._moving = False
