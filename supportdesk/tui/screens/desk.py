"""The desk: views on the left, the ticket list and search above, the thread and customer below.

Reading happens here: opening views and searches, loading the selected ticket, and noticing
changes made by other processes. On SQLite a tiny worker reads the store's change mark every
`poll_seconds`; on PostgreSQL a worker waits for the server's change notices
(`desk.live.ChangeFeed`, which polls the mark itself while it cannot listen). Either way the
counts, the list and the open ticket are then read again in place. No timer does anything
else, so an idle console costs next to nothing.

What a key will want is read before it comes, in the background lane (reads a key asks for
go first): the tickets beside the cursor once a ticket shows (`_read_ahead_around`), and each
sidebar view's first page and first ticket in the pauses between keys (`_views_ahead_now`).
A key that finds its ticket or view read draws it in the turn it is handled, so one frame
shows the cursor and the thread, with no read between. Whatever was read ahead is forgotten
the moment a change is seen (`_forget_ahead`), before the refresh that waits for a pause in
the keys; after the start's one round, none of it is read while the agent is away
(`_agent_active`), however often the store changes.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.console import Console
from textual import work
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Header
from textual.worker import get_current_worker

from supportdesk import linebreak
from supportdesk.desk import presence
from supportdesk.desk.handle import StoreError
from supportdesk.desk.handle_time import TicketHandleTime
from supportdesk.desk.live import Changed, ChangeFeed
from supportdesk.desk.notifications import NotificationInfo, short_batch
from supportdesk.desk.presence import Here
from supportdesk.desk.query import parse
from supportdesk.desk.views import TicketDetail, TicketRow
from supportdesk.errors import QueryError, ReadCancelled, SupportdeskError
from supportdesk.i18n import N_, _, ngettext
from supportdesk.tui.bindings import bindings
from supportdesk.tui.data import (
    ACTIVE_QUERY,
    DeskData,
    FirstPage,
    NotificationState,
    SavedView,
    Source,
    ViewCount,
    view_label,
)
from supportdesk.tui.memory import release_heap
from supportdesk.tui.saved import append_saved_search
from supportdesk.tui.screens.ticket_actions import TicketActionsScreen
from supportdesk.tui.widgets.customer import CustomerPanel
from supportdesk.tui.widgets.footer import DeskFooter
from supportdesk.tui.widgets.search_bar import SearchBar
from supportdesk.tui.widgets.sidebar import Sidebar
from supportdesk.tui.widgets.status_line import StatusLine
from supportdesk.tui.widgets.thread import LaidOut, Pane, ThreadHeader, ThreadView, lay_out
from supportdesk.tui.widgets.ticket_list import TicketList

if TYPE_CHECKING:
    from supportdesk.tui.screens.notifications import Choice

LISTEN_TICK = 0.5
"""Longest a wait blocks: how soon the listening thread notices the console closing."""
REFRESH_QUIET = 0.3
"""Seconds without a key before a change seen by the poll is read (see `_typing`)."""
REFRESH_WAIT_MAX = 2.0
"""Seconds a seen change waits at most for a pause in the keys."""
READ_AHEAD_KEEP = 4
"""Tickets kept read ahead: the two beside the cursor, and the two it just left."""
READ_AHEAD_ACTIVE = 60.0
"""Seconds after the agent's last key, click or scroll that the console still reads ahead
(`_agent_active`)."""
VIEWS_AHEAD_RECHECK = 2.0
"""A view read ahead longer ago than this is shown, then its list read again (`_recheck`)
once the agent has stayed on it VIEWS_AHEAD_STAY."""
VIEWS_AHEAD_STAY = 0.3
"""Seconds without a key on a view shown as read ahead before its list is read again."""
READ_AHEAD_AFTER = 0.04
"""Seconds after a ticket shows before the ones beside it are read (`_read_ahead_around`)."""
VIEWS_AHEAD_QUIET = 0.1
"""Seconds without a key before the views' first screens are read ahead (`_views_ahead_now`):
a pause between two keys, as an agent reading tickets leaves many."""
VIEWS_AHEAD_FRESH = 30.0
"""Seconds a view read ahead is shown as read: its relative times (`due:<2h`, ages) are as
of its read, as a view opened that long ago shows them."""
VIEW_FEEDBACK = 0.05
"""Seconds a view's first page and ticket may take before the sidebar marks it anyway."""
DETAIL_DELAY = 0.05  # a held j/k key does not start a read per ticket it passes
GC_AFTER_SECONDS = 10.0
"""The console starts with the garbage collector off until its first page is on screen (its
widgets and styles are many young objects, collected over and over otherwise); this is how
long at most it stays off."""
FIRST_FRAME_PAINT = 0.05
"""How long the rest of the start waits after the first ticket's thread is laid out: a fixed
delay, a best effort for that frame to be drawn first (Textual draws at most every 1/60 s),
not a sign that it was."""
NOTIFICATIONS_SECONDS = 15.0
"""How often the unread count is read besides after each change: an SLA warning changes
no ticket, so on SQLite no change mark announces it."""


@dataclass
class SidebarLoaded(Message):
    """The sidebar's counts; None when its read was cancelled (nothing to show, but the
    next refresh may read them again)."""

    entries: list[ViewCount] | None
    agents: list[str]
    queues: list[str]


@dataclass
class DetailLoaded(Message):
    number: int
    detail: TicketDetail | None
    error: SupportdeskError | None = None
    others: tuple[Here, ...] = ()
    handled: TicketHandleTime | None = None
    laid: LaidOut | None = None
    load: int = 0
    """Which `_load_detail` call read it (DeskScreen._detail_loads)."""


@dataclass(frozen=True)
class Prepared:
    """A ticket read and laid out by a worker, ready for the UI thread to draw."""

    detail: TicketDetail
    others: tuple[Here, ...] = ()
    handled: TicketHandleTime | None = None
    laid: LaidOut | None = None
    started: float = 0.0
    """time.monotonic() when its read began (see HandleTimer.read_is_current)."""


@dataclass
class ReadAhead(Message):
    """A ticket next to the one shown, read before a key asks for it (`_read_ahead`)."""

    prepared: Prepared
    epoch: int


@dataclass(frozen=True)
class ViewAhead:
    """A view's first page and first ticket, read before `[`/`]` or the sidebar opens it."""

    source: Source
    first: FirstPage
    prepared: Prepared | None
    epoch: int
    read_at: float
    """time.monotonic() of the read: the view's relative times (`due:<2h`) are as of then."""


@dataclass
class ViewReadAhead(Message):
    view: ViewAhead | None
    """None: the view could not be read."""
    epoch: int
    key: str


@dataclass
class StoreChecked(Message):
    mark: int | None  # None: the store could not be read this time (locked, restarting)
    views: list[ViewCount] | None = None
    """With the first mark: the sidebar's views without their counts (`DeskData.views`)."""


@dataclass
class StoreChanged(Message):
    """Another session committed a change (a PostgreSQL notice, or the feed's poll)."""

    changed: Changed


@dataclass
class NotificationsChecked(Message):
    state: NotificationState


@dataclass
class NotificationsLoaded(Message):
    found: list[NotificationInfo]


@dataclass
class NotificationOpened(Message):
    query: str | None
    """What to show: `#<number>` (a ticket) or `batch:<id>` (a bulk assignment's tickets)."""
    error: SupportdeskError | None = None


@dataclass
class FirstRead(Message):
    """A view's or a search's first page and the ticket on its first row (`_read_first`)."""

    source: Source
    error: SupportdeskError | None = None
    first: FirstPage | None = None
    turn: int = 0
    """The desk's `_turn` when the view or search was asked for (see `on_first_read`)."""
    prepared: Prepared | None = None
    """The first row's ticket, read with the page: list and thread come in one frame."""
    epoch: int = 0
    search: bool = False


@dataclass
class SearchSaved(Message):
    name: str
    saved: list[SavedView] | None = None
    error: SupportdeskError | None = None


class DeskScreen(TicketActionsScreen):
    """The one main screen of the console."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("desk")

    def __init__(
        self,
        data: DeskData,
        *,
        saved: list[SavedView],
        config_path: Path | None,
        poll_seconds: float = 1.0,
        stay_on_row: bool = False,
    ) -> None:
        super().__init__(data)
        self.stay_on_row = stay_on_row
        self.saved = saved
        self.config_path = config_path
        self.poll_seconds = poll_seconds
        self._mark: int | None = None
        self._change_seen: float | None = None
        """When a poll first saw the change a deferred refresh is for (see `_typing`)."""
        self._polling = False
        self._sidebar_loading = False
        self._sidebar_again = False
        self._detail_timer: Timer | None = None
        self._detail_started = 0.0
        self._key_detail = False
        """A key's ticket read is waiting (`_detail_timer`) or running: a refresh that
        replaces it reads in the foreground lane too, not the background one."""
        self._detail_loads = 0
        """`_load_detail` calls so far: the newest one's DetailLoaded ends `_key_detail`."""
        self._sidebar_waits = False
        self.others: tuple[Here, ...] = ()
        self._composing_on: int | None = None
        self._told: tuple[int | None, str] | None = None
        self._team = data.shared
        self.listeners: list[Callable[[], None]] = []
        """Called whenever the desk reads the store again (the report screen's refresh)."""
        self._notified_upto: int | None = None
        self._checking_notifications = False
        self._refresh_due = False
        """PostgreSQL announced a change that waits for a pause in the keys (`_typing`)."""
        self._quiet_timer: Timer | None = None
        """The one timer pending for `_refresh_due` (`_refresh_when_quiet`)."""
        self._poll_timer: Timer | None = None
        """The one poll pending for a pause in the keys (`_typing`)."""
        self._ahead: OrderedDict[int, Prepared] = OrderedDict()
        """Tickets read ahead of the keys (`_read_ahead_around`), newest last."""
        self._epoch = 0
        """Changes seen so far (`_forget_ahead`): a read ahead from before one is dropped."""
        self._ahead_timer: Timer | None = None
        self._views_ahead: dict[str, ViewAhead] = {}
        """Views read ahead of `[`/`]` by key (`_views_ahead_now`)."""
        self._views_timer: Timer | None = None
        self._views_failed: set[str] = set()
        """Views whose read ahead failed since the last change: not tried again until one."""
        self._start_round = True
        """The start's one round of reading ahead, before any key (`_agent_active`)."""
        self._view_key = "open"
        """The view shown, or being read to be shown (`[`/`]` step from it)."""
        self._feedback_timer: Timer | None = None
        self._heading = 1
        self._cursor_was = 0
        self._turn = 0
        """Counts views shown and searches submitted: a search's result is for the turn it
        was submitted in, and a later one (another view, a newer search) drops it."""

    def compose(self) -> Iterator[Widget]:
        yield Header()
        with Horizontal(id="body"):
            yield Sidebar(id="sidebar")
            with Vertical(id="main"):
                yield SearchBar(id="search")
                yield TicketList(self.data, stay_on_row=self.stay_on_row, id="tickets")
                with Horizontal(id="reading"):
                    with Vertical(id="reading-pane"):
                        yield ThreadHeader(id="thread-header")
                        yield ThreadView(id="thread")
                    yield CustomerPanel(id="customer")
        yield StatusLine(id="status")
        yield DeskFooter(held=True)

    def on_mount(self) -> None:
        self.set_timer(GC_AFTER_SECONDS, gc.enable)  # should the first page never come
        self.ticket_list.answer = self._answer
        self.ticket_list.focus()
        self.sidebar.mark_current("open")
        self.search.show_query(ACTIVE_QUERY)
        self._poll()  # the first mark comes before the first read, so no change slips between
        if self._team:
            self.set_interval(presence.BEAT_SECONDS, self._heartbeat)
        if self.data.store.dialect == "postgresql":
            # The server announces each commit; the feed polls by itself while it cannot.
            self._listen(ChangeFeed(self.data.store, poll_seconds=self.poll_seconds))
        else:
            self.set_interval(self.poll_seconds, self._poll)
        if self.data.me:  # the first look: 50 ms after the first thread (_sidebar_after_first_page)
            self.set_interval(NOTIFICATIONS_SECONDS, self._look_for_notifications)

    def _first_read(self) -> None:
        """The first page and its first ticket first: the sidebar's counts are read a fixed
        FIRST_FRAME_PAINT after its thread is laid out (`_sidebar_after_first_page`)."""
        self._sidebar_waits = True
        self.open_source(Source("open", "All open", ACTIVE_QUERY))

    @property
    def thread(self) -> ThreadView:
        return self.query_one(ThreadView)

    @property
    def search(self) -> SearchBar:
        return self.query_one(SearchBar)

    @property
    def sidebar(self) -> Sidebar:
        return self.query_one(Sidebar)

    @property
    def status(self) -> StatusLine:
        return self.query_one(StatusLine)

    # -- views and search --------------------------------------------------------------------

    def open_source(self, source: Source) -> None:
        """Open a view: its first page and first ticket are read in one worker and shown in
        one frame with the sidebar's mark and the query (`on_first_read`); only a read
        slower than VIEW_FEEDBACK shows the mark and the query before them. A view read
        ahead (`_views_ahead_now`) is shown at once, without a read."""
        self._view_key = source.key
        ahead = self._views_ahead.get(source.key)
        if (
            ahead is not None
            and ahead.epoch == self._epoch
            and ahead.source.query == source.query
            and time.monotonic() - ahead.read_at < VIEWS_AHEAD_FRESH
        ):
            if self._feedback_timer is not None:
                self._feedback_timer.stop()
                self._feedback_timer = None
            self.workers.cancel_group(self, "first-read")
            self._turn += 1
            self.on_first_read(
                FirstRead(
                    ahead.source,
                    first=ahead.first,
                    turn=self._turn,
                    prepared=ahead.prepared,
                    epoch=ahead.epoch,
                )
            )
            if time.monotonic() - ahead.read_at > VIEWS_AHEAD_RECHECK:
                # Its relative times (a due time, an age) are as of its read, and presence
                # notices do not forget it: read it again, the cursor kept on its ticket,
                # once the agent stays on it (not for each view `]` passes on its way).
                turn = self._turn
                self.set_timer(VIEWS_AHEAD_STAY, lambda: self._recheck(turn))
            return
        self._open(self.data.fresh(source), search=False)
        if self._feedback_timer is not None:
            self._feedback_timer.stop()
            self._feedback_timer = None
        if self.sidebar.current != source.key:  # else it is marked already (the first view)
            turn = self._turn
            self._feedback_timer = self.set_timer(
                VIEW_FEEDBACK, lambda: self._feedback(source, turn)
            )

    def _recheck(self, turn: int) -> None:
        if turn != self._turn:
            return
        wait = VIEWS_AHEAD_STAY - (time.monotonic() - self.data.last_key)
        if wait > 0:  # the agent is moving through the view: when the keys pause
            self.set_timer(wait, lambda: self._recheck(turn))
            return
        self.ticket_list.reload()

    def _feedback(self, source: Source, turn: int) -> None:
        """The view asked for is still being read: say which one it is meanwhile."""
        self._feedback_timer = None
        if turn == self._turn:
            self.sidebar.mark_current(source.key)
            self.search.show_query(source.query)
            self.status.show_view(view_label(source.key, source.label), source.query)

    def _open(self, source: Source, *, search: bool) -> None:
        self._turn += 1
        thread = self.thread
        self._read_first(
            source,
            self.ticket_list.page_size,
            self._turn,
            (thread.pane, thread.expanded, self.app.console, self._epoch),
            search,
        )

    def _show_list(self, source: Source, first: FirstPage | None = None) -> None:
        self._turn += 1
        self.status.show_view(view_label(source.key, source.label), source.query)
        self.ticket_list.show(source, first)

    def on_sidebar_chosen(self, message: Sidebar.Chosen) -> None:
        entry = message.entry
        self.open_source(Source(entry.key, entry.label, entry.query))
        self.ticket_list.focus()

    def on_search_bar_submitted(self, message: SearchBar.Submitted) -> None:
        text = message.query.strip() or ACTIVE_QUERY
        try:
            parse(text)
        except QueryError as exc:
            self.search.show_error(text, exc)
            return
        self._view_key = "search"
        self._open(self.data.fresh(Source("search", "Search", text)), search=True)

    @work(thread=True, exclusive=True, group="first-read")
    def _read_first(
        self,
        source: Source,
        page_size: int,
        turn: int,
        layout: tuple[Pane, bool, Console, int],
        search: bool,
    ) -> None:
        """Read the first page, which checks a search's query too: the list starts from
        that page, so the query is compiled and the store asked once before the rows show,
        not twice. Its first ticket is read and laid out here too (for `layout`: pane,
        quotes, console and the epoch read in), so rows and thread show in one frame."""
        pane, expanded, console, epoch = layout
        try:
            first = self.data.first_page(source, page_size)
        except SupportdeskError as exc:
            self.post_message(FirstRead(source, exc, turn=turn, search=search))
            return
        prepared = None
        rows = first[0]
        with contextlib.suppress(SupportdeskError, StoreError):  # the list reads it again
            if rows:
                prepared = self._prepare(rows[0].number, pane, expanded, console, background=False)
        self.post_message(
            FirstRead(source, first=first, turn=turn, prepared=prepared, epoch=epoch, search=search)
        )

    def on_first_read(self, message: FirstRead) -> None:
        if message.turn != self._turn:
            return  # the agent went to another view, or searched again, meanwhile
        if self._feedback_timer is not None:
            self._feedback_timer.stop()
            self._feedback_timer = None
        error = message.error
        source = message.source
        if not message.search and error is not None:
            # The list reads it again and says what went wrong, as with any page it reads.
            self.sidebar.mark_current(source.key)
            self.search.show_query(source.query)
            self._show_list(source)
        elif error is not None:
            if isinstance(error, QueryError):
                self.search.show_error(source.query, error)
            else:
                self.search.show_problem(str(error))
            self._stay_on_shown_view()
        else:
            self.search.clear_error()
            if self.search.value.strip() != source.query:
                self.search.show_query(source.query)
            self.sidebar.mark_current(source.key)
            if message.prepared is not None:
                self.on_read_ahead(ReadAhead(message.prepared, message.epoch))
            if message.search:
                self.query_one(DeskFooter).hold()  # the list's keys once its ticket shows
            self._show_list(source, message.first)
            if message.epoch != self._epoch:
                # A change was seen while the page was read (and the refresh it brought
                # read the view on screen then): read this one again.
                self.ticket_list.reload()
            if message.search:
                self.ticket_list.focus()
            self._views_ahead_soon()

    def _stay_on_shown_view(self) -> None:
        """A search failed: the desk stays on the view the list shows, which a view asked
        for just before (and dropped by the search) may have marked; at the start, before
        any view is shown, the first one is opened again."""
        shown = self.ticket_list.source
        if shown is None:
            self.open_source(Source("open", "All open", ACTIVE_QUERY))
            return
        self._view_key = shown.key
        if shown.key != "search":
            self.sidebar.mark_current(shown.key)
        self.status.show_view(view_label(shown.key, shown.label), shown.query)

    def on_search_bar_left(self, message: SearchBar.Left) -> None:
        self.ticket_list.focus()

    def on_ticket_list_failed(self, message: TicketList.Failed) -> None:
        self._sidebar_after_first_page()
        self.query_one(DeskFooter).release()
        if isinstance(message.error, QueryError) and self.ticket_list.source:
            self.search.show_error(self.ticket_list.source.query, message.error)
        else:
            self.search.show_problem(str(message.error))

    def action_search(self) -> None:
        self.search.input.focus()

    def action_save_search(self) -> None:
        query = self.search.value.strip()
        if not query:
            self.notify(_("type a search first, then save it"), markup=False)
            return
        try:
            parse(query)
        except QueryError as exc:
            self.search.show_error(query, exc)
            return
        if self.config_path is None:
            self.notify(_("no config file to save into"), severity="error", markup=False)
            return

        def named(name: str | None) -> None:
            if name and name.strip():
                self._save_search(name.strip(), query)

        from supportdesk.tui.screens.modals import AskScreen

        self.app.push_screen(
            AskScreen(
                _("Save this search as a view"),
                placeholder=_("name shown in the sidebar"),
                hint=_("query: {query}").format(query=query),
            ),
            named,
        )

    @work(thread=True, exclusive=True, group="config")
    def _save_search(self, name: str, query: str) -> None:
        assert self.config_path is not None
        try:
            saved = append_saved_search(self.config_path, name, query)
        except SupportdeskError as exc:
            self.post_message(SearchSaved(name, error=exc))
        else:
            self.post_message(SearchSaved(name, [SavedView(s.name, s.query) for s in saved]))

    def on_search_saved(self, message: SearchSaved) -> None:
        if message.error is not None or message.saved is None:
            self.notify(str(message.error), title=_("Not saved"), severity="error", markup=False)
            return
        self.saved = message.saved
        self.notify(
            _("saved as the view {name} in {path}").format(
                name=repr(message.name), path=self.config_path
            ),
            markup=False,
        )
        self._refresh_sidebar()

    def action_next_view(self) -> None:
        self._step_view(1)

    def action_previous_view(self) -> None:
        self._step_view(-1)

    def _step_view(self, step: int) -> None:
        entry = self.sidebar.neighbour(step, self._view_key)
        if entry is not None:
            self.open_source(Source(entry.key, entry.label, entry.query))

    # -- moving and reading ------------------------------------------------------------------

    def action_next_ticket(self) -> None:
        self.ticket_list.action_cursor_down()

    def action_previous_ticket(self) -> None:
        self.ticket_list.action_cursor_up()

    def action_first_ticket(self) -> None:
        self.ticket_list.action_first()

    def action_last_ticket(self) -> None:
        self.ticket_list.action_last()

    def action_toggle_quotes(self) -> None:
        self.thread.toggle_quotes()

    def action_back(self) -> None:
        if self.ticket_list.marked:
            self.ticket_list.clear_marks()
            self.notify(_("selection cleared"), markup=False)
        elif not self.ticket_list.has_focus:
            self.ticket_list.focus()

    def action_reload(self) -> None:
        self.refresh_everything()

    def action_reports(self) -> None:
        from supportdesk.tui.screens.reports import ReportScreen

        if not any(isinstance(s, ReportScreen) for s in self.app.screen_stack):
            self.app.push_screen(ReportScreen(self.data))

    def on_ticket_list_opened(self, message: TicketList.Opened) -> None:
        self.thread.focus()

    def _answer(self, row: TicketRow | None) -> None:
        """The list's cursor came to `row` (TicketList.answer; None: the view is empty): a
        ticket read ahead shows now, in the turn of the key or page that moved it, and so
        does an empty view's word; its `Highlighted` then finds it shown."""
        if row is None:
            self.current = None
            self._show_detail(None, N_("No tickets in this view"))
            self._ticket_shown(None)
            return
        if self.current is not None and row.number == self.current.number:
            return
        if self._take_ready(row) is not None:
            self._heading_from_cursor()
            self.current = row
            self._show_ready(row)

    def _heading_from_cursor(self) -> None:
        cursor = self.ticket_list.cursor
        if cursor != self._cursor_was:
            self._heading = 1 if cursor > self._cursor_was else -1
            self._cursor_was = cursor

    def on_ticket_list_highlighted(self, message: TicketList.Highlighted) -> None:
        same = bool(message.row and self.current and message.row.number == self.current.number)
        self.current = message.row
        if same:
            self._ticket_shown(message.row.number if message.row else None)
            return  # the same ticket read again: the refresh that read it reloads its thread
        if message.row is None:
            self._show_detail(None, N_("No tickets in this view"))
            self._ticket_shown(None)
            return
        self._heading_from_cursor()
        if self._show_ready(message.row):
            return
        # Only a key that moves the cursor may be held down; a view that opens (a search, a
        # switch) or a list read again wants its ticket at once.
        self._schedule_detail(message.row.number, DETAIL_DELAY if message.moved else 0)

    def _ticket_shown(self, number: int | None) -> None:
        """The screen shows ticket `number` (None: none): what waited for it may run."""
        self.ticket_list.ticket_shown(number)
        self.query_one(DeskFooter).release()

    def _schedule_detail(self, number: int, delay: float, *, background: bool = False) -> None:
        """Load a ticket now, unless tickets are flying past: then wait until they stop.

        `background`: a refresh reads it again, not a key; its reads yield to a key's. Not
        when it replaces a key's read still waiting or running (the exclusive worker cancels
        that one): the agent asked for that ticket and waits for it. A refresh's read does
        not count as tickets flying past: the key after it reads its ticket at once (it
        waited `delay` when a refresh came just before it, often while another process
        writes)."""
        refresh = background
        if background and self._key_detail:
            background = False
        self._key_detail = not background
        now = time.monotonic()
        busy = now - self._detail_started < delay * 2
        if self._detail_timer is not None:
            self._detail_timer.stop()
            self._detail_timer = None
        if delay <= 0 or not busy:
            if not refresh:
                self._detail_started = now
            self._detail_loads += 1
            thread = self.thread
            self._load_detail(
                number,
                thread.pane,
                thread.expanded,
                self.app.console,
                background,
                self._detail_loads,
            )
        else:
            self._detail_timer = self.set_timer(delay, lambda: self._schedule_detail(number, 0))

    @work(thread=True, exclusive=True, group="detail")
    def _load_detail(
        self,
        number: int,
        pane: Pane,
        expanded: bool,
        console: Console,
        background: bool = False,
        load: int = 0,
    ) -> None:
        """Read the ticket and lay its thread out for `pane`, all off the UI thread, which
        then only draws it. Foreground work, unless a refresh asked (`background`): the
        background reads wait for it. One that a newer read replaced lays nothing out."""
        try:
            ready = self._prepare(number, pane, expanded, console, background=background)
            if ready is None:
                return
            self.post_message(
                DetailLoaded(
                    number,
                    ready.detail,
                    others=ready.others,
                    handled=ready.handled,
                    laid=ready.laid,
                    load=load,
                )
            )
        except ReadCancelled:
            return  # a newer read replaced this one: it tells what it read
        except SupportdeskError as exc:
            self.post_message(DetailLoaded(number, None, exc, load=load))

    def _prepare(
        self, number: int, pane: Pane, expanded: bool, console: Console, *, background: bool
    ) -> Prepared | None:
        """Ticket `number` read and laid out, in a worker (None: the worker was cancelled)."""
        started = time.monotonic()
        lane = contextlib.nullcontext() if background else self.data.foreground()
        with lane:
            if self._team:
                detail, others = self.data.detail_and_others(number, background=background)
            else:
                detail, others = self.data.detail(number, background=background), ()
            handled = self.data.handle_time(number, background=background) if self.data.me else None
            if get_current_worker().is_cancelled:
                return None
            laid = None
            if pane.width > 0:
                laid = lay_out(detail, expanded=expanded, pane=pane, console=console)
            else:  # not drawn yet: at least BudouX's phrases are found here
                linebreak.warm(
                    [m.body_text for m in detail.messages] + [n.body for n in detail.notes]
                )
        return Prepared(detail, others, handled, laid, started)

    def _read_ahead_around(self) -> None:
        """Read the tickets beside the cursor before a key asks for them, so `j`/`k` draw
        the next thread in the frame that moves the cursor, with no read in between. Once
        the frame that shows this ticket is drawn (READ_AHEAD_AFTER): started beside it, the
        reads took turns on the GIL with its drawing."""
        if self._ahead_timer is not None:
            self._ahead_timer.stop()
        self._ahead_timer = self.set_timer(READ_AHEAD_AFTER, self._read_ahead_now)

    def _agent_active(self) -> bool:
        """Whether the console reads ahead: the agent pressed a key, clicked or scrolled in
        the last READ_AHEAD_ACTIVE seconds, or it is the start's one round. An idle console
        reads nothing ahead however often the store changes (an import, a sync)."""
        if self._start_round:
            return True
        return time.monotonic() - self.data.last_active < READ_AHEAD_ACTIVE

    def _read_ahead_now(self) -> None:
        self._ahead_timer = None
        if not self._agent_active():
            return
        wait = READ_AHEAD_AFTER - (time.monotonic() - self.data.last_key)
        if wait > 0:  # a key came since (`]` after `]`): its frame first
            self._ahead_timer = self.set_timer(wait, self._read_ahead_now)
            return
        cursor = self.ticket_list.cursor
        ahead = (1, -1) if self._heading >= 0 else (-1, 1)
        numbers = []
        for step in ahead:
            row = self.ticket_list.row_at(cursor + step) if cursor + step >= 0 else None
            if row is not None and self._take_ready(row) is None:
                numbers.append(row.number)
        if numbers:
            thread = self.thread
            self._read_ahead(numbers, thread.pane, thread.expanded, self.app.console, self._epoch)
        self._views_ahead_soon()  # the views after the tickets (a view may wait 30 s)

    @work(thread=True, exclusive=True, group="read-ahead", exit_on_error=False)
    def _read_ahead(
        self, numbers: list[int], pane: Pane, expanded: bool, console: Console, epoch: int
    ) -> None:
        """Background reads (they wait while a key's read runs); a newer call cancels it.
        Nobody asked for these: one that fails ends quietly, the key reads it then."""
        began = time.monotonic()
        try:
            with contextlib.suppress(ReadCancelled, SupportdeskError, StoreError):
                for number in numbers:
                    if self.data.last_key > began:
                        return  # a key came: the ticket it shows reads ahead again
                    ready = self._prepare(number, pane, expanded, console, background=True)
                    if ready is None:
                        return
                    self.post_message(ReadAhead(ready, epoch))
        finally:
            release_heap()

    def on_read_ahead(self, message: ReadAhead) -> None:
        if message.epoch != self._epoch:
            return  # read before a change this console has seen since
        ready = message.prepared
        number = ready.detail.row.number
        self._ahead[number] = ready
        self._ahead.move_to_end(number)
        while len(self._ahead) > READ_AHEAD_KEEP:
            self._ahead.popitem(last=False)
        if (
            self.current is not None
            and self.current.number == number
            and (self.detail is None or self.detail.row.number != number)
        ):
            self._show_ready(self.current)  # a key came while it was read: show it now

    def _take_ready(self, row: TicketRow) -> Prepared | None:
        """The ticket under the cursor read ahead for this thread pane, if it still is what
        the list's row says (an older read would show an older ticket)."""
        ready = self._ahead.get(row.number)
        if ready is None or ready.detail.row != row or not self._usable(ready):
            return None
        return ready

    def _usable(self, ready: Prepared) -> bool:
        """Whether `ready` can be shown as it was read: laid out for this pane and quotes,
        and holding the handle time this console wrote for it since."""
        laid = ready.laid
        if laid is not None:
            thread = self.thread
            if laid.expanded != thread.expanded or laid.width != thread.pane.width_for(
                len(laid.lines)
            ):
                return False
        handling = self.app.handling  # type: ignore[attr-defined]
        return bool(handling.read_is_current(ready.detail.row.number, ready.started))

    def _show_ready(self, row: TicketRow) -> bool:
        """Show the ticket under the cursor from what was read ahead; False if nothing was.

        On a team's store who else has it open is as of that read (a notice that only
        presence changed keeps what was read ahead): the move's own presence beat comes
        back as such a notice, which reads the open ticket again (`on_store_changed`)."""
        ready = self._take_ready(row)
        if ready is None:
            return False
        if self._detail_timer is not None:
            self._detail_timer.stop()
            self._detail_timer = None
        self.workers.cancel_group(self, "detail")  # a key's read of another ticket
        self._key_detail = False
        self._detail_started = time.monotonic()
        self.others = ready.others
        self._show_detail(ready.detail, None, ready.handled, ready.laid)
        self._ticket_shown(row.number)
        if not self._sidebar_waits:  # else the rest of the start does both
            self._beat()
            self._read_ahead_around()
        return True

    def _forget_ahead(self) -> None:
        """The store changed (or this console changed it): what was read ahead may be old."""
        self._epoch += 1
        self._ahead.clear()
        self._views_ahead.clear()
        self._views_failed.clear()
        # What they are reading now would be dropped: stop them (a background read is
        # interrupted on SQLite).
        self.workers.cancel_group(self, "read-ahead")
        self.workers.cancel_group(self, "views-ahead")

    def _views_ahead_soon(self) -> None:
        """Read the views' first screens ahead once the keys pause (`_views_ahead_now`)."""
        if self._views_timer is None and not self._sidebar_waits:
            self._views_timer = self.set_timer(VIEWS_AHEAD_QUIET, self._views_ahead_now)

    def _views_ahead_now(self) -> None:
        """Each sidebar view's first page and first ticket, read in the background lane while
        the agent does not type, nearest views first: `[`/`]` then draw a view without a
        read. After the tickets beside the cursor are read and after a view opens (so after
        the start's first ticket too), when the keys have paused VIEWS_AHEAD_QUIET and the
        agent is at the console (`_agent_active`); a view read more than half
        VIEWS_AHEAD_FRESH ago is read again then. Background reads wait while a key's read
        runs, and a key stops the rest (not the one under way)."""
        self._views_timer = None
        if not self._agent_active():
            return
        quiet = VIEWS_AHEAD_QUIET - (time.monotonic() - self.data.last_key)
        if quiet > 0:
            self._views_timer = self.set_timer(quiet, self._views_ahead_now)
            return
        keys = list(self.sidebar.entries)
        if not keys:
            return
        self._start_round = False
        here = keys.index(self._view_key) if self._view_key in keys else 0
        near = sorted(
            range(len(keys)), key=lambda i: min((i - here) % len(keys), (here - i) % len(keys))
        )
        now = time.monotonic()
        wanted = []
        for index in near:
            entry = self.sidebar.entries[keys[index]]
            ahead = self._views_ahead.get(entry.key)
            fresh = (
                ahead is not None
                and ahead.epoch == self._epoch
                and ahead.source.query == entry.query
                and now - ahead.read_at < VIEWS_AHEAD_FRESH / 2
            )
            failed = entry.key in self._views_failed
            if entry.key != self._view_key and not fresh and not failed:
                wanted.append(Source(entry.key, entry.label, entry.query))
        if wanted:
            thread = self.thread
            self._read_views_ahead(
                wanted,
                self.ticket_list.page_size,
                (thread.pane, thread.expanded, self.app.console, self._epoch),
            )

    @work(thread=True, exclusive=True, group="views-ahead", exit_on_error=False)
    def _read_views_ahead(
        self, sources: list[Source], page_size: int, layout: tuple[Pane, bool, Console, int]
    ) -> None:
        """Background reads (a key's go first). Nobody asked for these: a view that fails to
        read is not read ahead again until the next change, and anything else that goes
        wrong ends the reads quietly (opening the view reads it and says what is wrong)."""
        pane, expanded, console, epoch = layout
        worker = get_current_worker()
        try:
            for source in sources:
                if worker.is_cancelled or time.monotonic() - self.data.last_key < VIEWS_AHEAD_QUIET:
                    return  # a key came: the rest wait for the next pause
                source = self.data.fresh(source)
                read_at = time.monotonic()
                try:
                    first = self.data.first_page(source, page_size, background=True)
                    rows = first[0]
                    prepared = None
                    if rows:
                        prepared = self._prepare(
                            rows[0].number, pane, expanded, console, background=True
                        )
                        if prepared is None:
                            return
                except ReadCancelled:
                    return
                except (SupportdeskError, StoreError):
                    self.post_message(ViewReadAhead(None, epoch, source.key))
                    continue
                view = ViewAhead(source, first, prepared, epoch, read_at)
                self.post_message(ViewReadAhead(view, epoch, source.key))
        finally:
            release_heap()

    def on_view_read_ahead(self, message: ViewReadAhead) -> None:
        if message.epoch != self._epoch:
            return
        if message.view is None:
            self._views_failed.add(message.key)
        else:
            self._views_ahead[message.key] = message.view

    def on_detail_loaded(self, message: DetailLoaded) -> None:
        if message.load == self._detail_loads and self._detail_timer is None:
            self._key_detail = False  # the last read asked for is done
        if self.current is None or self.current.number != message.number:
            return
        self.others = message.others
        self._show_detail(
            message.detail,
            str(message.error) if message.error else None,
            message.handled,
            message.laid,
        )
        self._ticket_shown(message.number)
        if not self._sidebar_waits:  # the first ticket's beat waits for the first frame
            self._beat()
        if message.detail is not None and not self._sidebar_waits:
            self._read_ahead_around()

    def _show_detail(
        self,
        detail: TicketDetail | None,
        note: str | None,
        handled: TicketHandleTime | None = None,
        laid: LaidOut | None = None,
    ) -> None:
        self.detail = detail
        handling = self.app.handling  # type: ignore[attr-defined]
        handling.show(detail.row.number if detail is not None else None)
        if handled is not None and detail is not None:
            # What this console counted and has not written yet is the agent's too.
            extra = handling.unwritten(detail.row.number)
            handled = TicketHandleTime(handled.mine + extra, handled.total + extra)
        self.thread.show(detail, note=note, laid=laid)
        self.query_one(ThreadHeader).show(detail, self.others, handled, self.data.now())
        self.query_one(CustomerPanel).show(detail, self.data.now())
        if self._sidebar_waits:
            # A few frames later, not `call_after_refresh`: the thread's widgets tell the
            # screen they changed on their own turn, often after that callback has run.
            self.set_timer(FIRST_FRAME_PAINT, self._sidebar_after_first_page)

    def _sidebar_after_first_page(self) -> None:
        """The rest of the start, FIRST_FRAME_PAINT (a fixed 50 ms timer) after the first
        ticket's thread (or the word that the view is empty) is laid out, or at once when
        the first page fails: the footer's keys, the sidebar's counts, the first look for
        notifications, the first presence beat and the collector. A best effort to let that
        frame be drawn first, not a check that it was. Started with the first page, they
        took the cores and the GIL from the thread's read, which came last (~90 ms of CPU
        before the first frame at a million messages)."""
        if self._sidebar_waits:
            self._sidebar_waits = False
            self.app.favour_keys()  # type: ignore[attr-defined]
            self.query_one(DeskFooter).begin()
            gc.enable()  # `supportdesk console` starts without it (cli.fastpath.run_console)
            self._refresh_sidebar()
            if self.data.me:
                self._look_for_notifications()
            # Its write, and on PostgreSQL the notice it sends back to this console's own
            # listener (another read of the open ticket), came before the first frame.
            self._beat()
            if self.detail is not None:
                self._read_ahead_around()

    def on_ticket_list_relocated(self, message: TicketList.Relocated) -> None:
        """Say where the ticket the agent was on went, so the cursor never moves unnoticed."""
        number, now = message.number, message.now
        if message.lost:
            shows = (
                _("the cursor is on #{number}").format(number=now.number)
                if now
                else _("nothing is under the cursor")
            )
            self.status.say(
                _("#{number} kept moving while the list was read; {shows}").format(
                    number=number, shows=shows
                )
            )
        elif message.stayed:
            if now is not None and now.number == number:
                return
            where = (
                _("left this view")
                if message.place is None
                else _("moved to row {row}").format(row=f"{message.place + 1:,}")
            )
            shows = (
                _("row {row} now shows #{number}").format(
                    row=f"{message.cursor + 1:,}", number=now.number
                )
                if now
                else _("view empty")
            )
            self.status.say(
                _("#{number} {where}; {shows} (the cursor stays on its row)").format(
                    number=number, where=where, shows=shows
                )
            )
        elif message.place is None:
            if now is None:
                self.status.say(
                    _("#{number} left this view; the view is empty now").format(number=number)
                )
            else:
                self.status.say(
                    _(
                        "#{number} left this view (it no longer matches); "
                        "the cursor is on the next ticket, #{next}"
                    ).format(number=number, next=now.number)
                )
        elif abs(message.place - message.was) > 1:
            self.status.say(
                _("#{number} moved from row {was} to row {row}; the cursor followed it").format(
                    number=number, was=f"{message.was + 1:,}", row=f"{message.place + 1:,}"
                )
            )

    # -- language ----------------------------------------------------------------------------

    def relabel(self) -> None:
        """Draw every part of the desk again in the current language (nothing is read again)."""
        self._forget_ahead()  # laid out in the last language
        self.sidebar.relabel()
        self.search.relabel()
        self.ticket_list.relabel()
        source = self.ticket_list.source
        if source is not None and not self.status.said:
            self.status.show_view(view_label(source.key, source.label), source.query)
        self.thread.relabel()
        self.query_one(ThreadHeader).show(self.detail, self.others)
        self.query_one(CustomerPanel).show(self.detail, self.data.now())

    # -- keeping up with the store -----------------------------------------------------------

    def after_change(self, numbers: tuple[int, ...]) -> None:
        self.refresh_everything()

    def refresh_everything(self) -> None:
        """Read counts, the list and the open ticket again, without moving the agent."""
        self._forget_ahead()
        self._refresh_due = False  # a notice waiting for a pause in the keys is read now too
        if self._quiet_timer is not None:
            self._quiet_timer.stop()
            self._quiet_timer = None
        self.ticket_list.reload()
        self._refresh_sidebar()
        if self.current is not None:
            self._schedule_detail(self.current.number, 0, background=True)
        for listener in list(self.listeners):
            listener()
        self._look_for_notifications()

    # -- notifications (desk.notifications) --------------------------------------------------

    def _look_for_notifications(self) -> None:
        if self.data.me and not self._checking_notifications:
            self._checking_notifications = True
            self._check_notifications(self._notified_upto)

    @work(thread=True, exclusive=True, group="notifications")
    def _check_notifications(self, after: int | None) -> None:
        try:
            self.post_message(NotificationsChecked(self.data.notification_state(after)))
        except (SupportdeskError, StoreError):
            self.post_message(NotificationsChecked(NotificationState(-1, -1, ())))

    def on_notifications_checked(self, message: NotificationsChecked) -> None:
        self._checking_notifications = False
        state = message.state
        if state.unread < 0:
            return  # the store was busy: the next look tries again
        from supportdesk.tui.app import SupportdeskApp  # the app module imports this one

        app = self.app
        assert isinstance(app, SupportdeskApp)
        app.show_unread(state.unread)
        if self._notified_upto is not None:
            from supportdesk.tui.screens.notifications import toast_text

            for found in state.fresh:  # a bulk change tells a few, not 100,000 times
                title, body = toast_text(found)
                self.notify(body, title=title, markup=False, timeout=8)
                app.desktop.send(title, body)
            if state.arrived > len(state.fresh):
                more = state.arrived - len(state.fresh)
                self.notify(
                    ngettext(
                        "and {count} more notification", "and {count} more notifications", more
                    ).format(count=more),
                    markup=False,
                )
        self._notified_upto = max(state.newest, self._notified_upto or 0)

    def action_notifications(self) -> None:
        if not self.data.me:
            self.notify(_("set `agent` in the config file to receive notifications"), markup=False)
            return
        self._load_notifications()

    @work(thread=True, exclusive=True, group="notifications-list")
    def _load_notifications(self) -> None:
        try:
            self.post_message(NotificationsLoaded(self.data.notifications()))
        except (SupportdeskError, StoreError) as exc:
            self.post_message(NotificationOpened(None, SupportdeskError(str(exc))))

    def on_notifications_loaded(self, message: NotificationsLoaded) -> None:
        from supportdesk.tui.screens.notifications import NotificationsScreen

        def chosen(choice: Choice | None) -> None:
            if choice is not None:
                self._open_notification(choice.id)

        self.app.push_screen(NotificationsScreen(message.found, self.data.now()), chosen)

    @work(thread=True, exclusive=True, group="notifications-open")
    def _open_notification(self, notification_id: int | None) -> None:
        try:
            if notification_id is None:
                self.data.read_all_notifications()
                self.post_message(NotificationOpened(None))
            else:
                self.post_message(NotificationOpened(self.data.open_notification(notification_id)))
        except SupportdeskError as exc:
            self.post_message(NotificationOpened(None, exc))

    def on_notification_opened(self, message: NotificationOpened) -> None:
        if message.error is not None:
            self.notify(str(message.error), severity="error", markup=False)
        elif message.query is not None:
            query = message.query
            if query.startswith("batch:"):
                batch = query.removeprefix("batch:").split()[0]
                label = _("batch {batch}").format(batch=short_batch(batch))
                self.open_source(Source("batch", label, query))
            else:
                self.open_source(Source("ticket", query, query))
            self.ticket_list.focus()
        self._look_for_notifications()

    def _refresh_sidebar(self) -> None:
        if self._sidebar_loading:
            self._sidebar_again = True
            return
        self._sidebar_loading = True
        self._load_sidebar(list(self.saved))

    @work(thread=True, exclusive=True, group="sidebar")
    def _load_sidebar(self, saved: list[SavedView]) -> None:
        try:
            loaded = SidebarLoaded(self.data.sidebar(saved), self.data.agents(), self.data.queues())
        except (ReadCancelled, StoreError):
            # Without a word, but said: a refresh waits while the sidebar is being read, so
            # the flag must come down (the next refresh reads it again).
            loaded = SidebarLoaded(None, [], [])
        self.post_message(loaded)

    def on_sidebar_loaded(self, message: SidebarLoaded) -> None:
        self._sidebar_loading = False
        if message.entries is not None:
            self.sidebar.set_views(message.entries)
            self.agents = message.agents
            self.queues = message.queues
        if self._sidebar_again:
            self._sidebar_again = False
            self._refresh_sidebar()

    def _poll(self) -> None:
        if not self._polling:
            self._polling = True
            self._check_store(list(self.saved) if self._mark is None else None)

    @work(thread=True, exclusive=True, group="poll")
    def _check_store(self, saved: list[SavedView] | None = None) -> None:
        """Read the change mark; before the first read, also the views (`saved`: the saved
        searches), so the sidebar lists them and `[`/`]` step through them from the first
        frame, while their counts wait (`_sidebar_after_first_page`)."""
        try:
            mark: int | None = self.data.change_mark()
        except StoreError:
            mark = None  # try again at the next tick; a busy store is no reason to stop
        entries = None
        if saved is not None:
            with contextlib.suppress(StoreError):  # the counts bring them later
                entries = self.data.views(saved)
        self.post_message(StoreChecked(mark, entries))

    def replying_now(self, number: int) -> list[str]:
        if self.detail is None or self.detail.row.number != number:
            return []
        return [here.actor for here in self.others if here.doing == "replying"]

    def composing(self, number: int | None) -> None:
        self._composing_on = number
        self._beat()

    def _heartbeat(self) -> None:
        """Still here; and read the list and the open ticket again, so others' presence shows
        in the list and a console that died (and so said nothing) drops out once it expires."""
        self._beat(again=True)
        self.ticket_list.reload()  # the list's ◦ and ✉ follow within a beat
        if self.current is not None:  # not a key's read: the next key's waits for nothing
            self._schedule_detail(self.current.number, 0, background=True)

    def _beat(self, *, again: bool = False) -> None:
        """Tell the other consoles where this one is: at once when that changed, and every
        BEAT_SECONDS (`again`) that it is still there."""
        if not self._team:
            return
        number = self.current.number if self.current is not None else None
        doing = "replying" if number is not None and number == self._composing_on else "viewing"
        if (number, doing) == self._told and not again:
            return
        self._told = (number, doing)
        self._send_beat(number, doing)

    @work(thread=True, exclusive=True, group="presence")
    def _send_beat(self, number: int | None, doing: str) -> None:
        try:
            self.data.beat(number, doing)
        except (SupportdeskError, StoreError):
            self._told = None  # presence is a courtesy: the next beat tries again

    def on_unmount(self) -> None:
        if not self._team:
            return
        with contextlib.suppress(Exception):  # closing: a store that is gone has no one to tell
            self.data.leave()

    @work(thread=True, exclusive=True, group="listen")
    def _listen(self, feed: ChangeFeed) -> None:
        worker = get_current_worker()
        try:
            while not worker.is_cancelled:
                changed = feed.wait(LISTEN_TICK)
                if changed is not None and not worker.is_cancelled:
                    self.post_message(StoreChanged(changed))
        finally:
            feed.close()

    def on_store_changed(self, message: StoreChanged) -> None:
        if self._mark is None:  # the first read, still to come, sees it anyway
            return
        if not message.changed.presence_only:
            self._forget_ahead()  # at once, though the refresh may wait for a pause in the keys
            self._refresh_due = True
            if self._quiet_timer is None:  # else the pending timer's look takes this one too
                self._refresh_when_quiet()
        elif self.current is not None:  # someone came or went: only the header can tell
            self._schedule_detail(self.current.number, 0, background=True)

    def on_store_checked(self, message: StoreChecked) -> None:
        self._polling = False
        if message.views is not None and not self.sidebar.entries:
            self.sidebar.set_views(message.views)
        if self._mark is None:
            self._mark = message.mark if message.mark is not None else -1
            self._first_read()
        elif message.mark is not None and message.mark != self._mark:
            self._forget_ahead()  # at once, though the refresh may wait for a pause in the keys
            if not self.ticket_list.is_settled or self._sidebar_loading:
                # The last refresh is still being read: while another process writes without
                # pause, piling reads up would only take turns away from the agent's keys.
                # The mark is kept as it was, so the next tick sees the change again.
                return
            if self._typing():
                return
            self._mark = message.mark
            self._change_seen = None
            self.refresh_everything()

    def _refresh_when_quiet(self) -> None:
        """A change the server announced (PostgreSQL) waits for a pause in the keys as one
        the poll sees does; many notices while the agent types make one refresh, with one
        timer (`_quiet_timer`) pending for them all, not one per notice."""
        self._quiet_timer = None
        if not self._refresh_due:
            return
        quiet = self._quiet_left()
        if quiet > 0:
            self._quiet_timer = self.set_timer(quiet, self._refresh_when_quiet)
            return
        self._refresh_due = False
        self._change_seen = None
        self.refresh_everything()

    def _typing(self) -> bool:
        """Whether a refresh waits for a pause in the agent's keys: while another process
        writes, every poll sees a change, and a refresh's reads beside a key's made that key
        wait for them. It waits REFRESH_QUIET after the last key, REFRESH_WAIT_MAX at most
        from when the change was first seen, so live updates still come while typing. One
        poll is pending for the pause (sooner than the next tick), not one per tick."""
        quiet = self._quiet_left()
        if quiet <= 0:
            return False
        if self._poll_timer is None:
            self._poll_timer = self.set_timer(quiet, self._poll_after_pause)
        return True

    def _poll_after_pause(self) -> None:
        self._poll_timer = None
        self._poll()

    def _quiet_left(self) -> float:
        """How long a refresh still waits for a pause in the keys (0: not at all; `_typing`)."""
        now = time.monotonic()
        if self._change_seen is None:
            self._change_seen = now
        quiet = REFRESH_QUIET - (now - self.data.last_key)
        if quiet <= 0 or now - self._change_seen >= REFRESH_WAIT_MAX:
            return 0.0
        return quiet
