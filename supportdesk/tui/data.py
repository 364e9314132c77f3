"""The console's reads from the store, called only from worker threads.

Each function opens its own short session, so a slow query never holds a connection the next
one needs, and returns plain values (the domain's frozen read models) that can cross back to
the UI thread in a message. Nothing here touches a widget.

What a key asks for (a page, a ticket) is read in the foreground; counts, the sidebar and
the look for notifications in the background, which on SQLite pauses while a foreground read
runs (store.engine.Priority): while another process writes, the console refreshes after
each of its commits, and those reads used to take turns on the cores with the key's.
"""

from __future__ import annotations

import getpass
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from textual.worker import NoActiveWorker, get_current_worker

from supportdesk.desk import directory, notifications, presence, views
from supportdesk.desk.notifications import NotificationInfo
from supportdesk.desk.query import Count, Matching
from supportdesk.desk.views import TicketDetail, TicketRow
from supportdesk.errors import SupportdeskError
from supportdesk.i18n import N_, _

if TYPE_CHECKING:
    from supportdesk.desk.canned import CannedMatch, RenderedCanned
    from supportdesk.desk.handle import Desk, Session
    from supportdesk.desk.handle_time import TicketHandleTime
    from supportdesk.desk.reports import ReportRow  # the report screen's: loaded with it

ACTIVE_QUERY = "status:active"
KEY_HOLD_SECONDS = 0.05
"""How long a key pauses the background reads before its own read has started."""

# The built-in views' names by view id, as English message ids: the sidebar, the list's
# title, the status line and the palette translate them when they draw, so a language
# switch renames them while the ids (and the queue and saved-search names) stay as they are.
VIEW_LABELS: dict[str, str] = {
    "mine": N_("My tickets"),
    "unassigned": N_("Unassigned"),
    "open": N_("All open"),
    "pending": N_("Pending"),
    "breaching": N_("Breaching soon"),
    "breached": N_("Breached"),
    "solved": N_("Recently solved"),
    "quarantine": N_("Quarantine"),
    "search": N_("Search"),
}
SECTIONS = (N_("Views"), N_("Queues"), N_("Saved"))


def view_label(key: str, label: str) -> str:
    """The name a view is shown under: a built-in one's in the current language, a queue's or
    saved search's as its owner wrote it."""
    builtin = VIEW_LABELS.get(key)
    return _(builtin) if builtin is not None else label


@dataclass(frozen=True)
class Source:
    """What the ticket list shows: a query, and the moment its relative ages are measured from.

    `now` is fixed when the view opens so that pages fetched seconds apart agree on what
    `updated:<7d` means; a refresh makes a new Source with a new `now`.
    """

    key: str
    label: str
    query: str
    now: datetime = field(default_factory=lambda: datetime.now().astimezone())


@dataclass(frozen=True)
class ViewCount:
    """One sidebar entry: the view and how many tickets it holds (None: not countable).

    A saved search's count is a quick one (see `Matching.quick_count`): it may be an
    estimate, and says so.
    """

    key: str
    label: str
    query: str
    section: str
    count: Count | None


@dataclass(frozen=True)
class ReportView:
    """The report screen's figures for one period: the team's and the agent's, over the whole
    period and per day, and how long first responses took (desk.reports)."""

    days: int
    since: datetime
    until: datetime
    team: ReportRow
    mine: ReportRow | None
    daily: list[ReportRow]
    responses: list[tuple[str, int]]
    my_responses: list[tuple[str, int]] | None


FirstPage = tuple[list[TicketRow], set[int], dict[int, str]]
"""A view's first rows, the ones among them the agent has a draft on, and who else has which
open (the list's marks)."""


@dataclass(frozen=True)
class SavedView:
    name: str
    query: str


def _worker_cancelled() -> bool:
    """Whether the console worker running this read was cancelled (a newer read replaced
    it, the console is closing): its background read stops (store.engine.Priority)."""
    try:
        return get_current_worker().is_cancelled
    except NoActiveWorker:
        return False


class DeskData:
    """Read access for the console: one store, one acting agent."""

    def __init__(
        self, store: Desk, me: str | None, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.store = store
        self.me = me
        self._clock = clock
        self.console_id = str(uuid.uuid4())
        """This console among the team's, for presence (desk.presence)."""
        self.last_key = -float("inf")
        """time.monotonic() of the agent's last key (`key_pressed`)."""
        self.last_active = -float("inf")
        """time.monotonic() of the agent's last key, click or scroll (`touched`)."""
        store.priority.cancelled = _worker_cancelled

    def foreground(self) -> AbstractContextManager[None]:
        """Mark work a person waits for (a key's read, and laying out what it read): the
        background reads pause meanwhile (see the module docstring)."""
        return self.store.priority.foreground()

    def key_pressed(self) -> None:
        """A key came: background reads wait a moment, until its own reads have started."""
        self.last_key = self.last_active = time.monotonic()
        self.store.priority.hold(KEY_HOLD_SECONDS)

    def touched(self) -> None:
        """The agent used the console (a key, a click, a scroll): the desk reads ahead for
        an agent at the console only."""
        self.last_active = time.monotonic()

    def now(self) -> datetime:
        """The console's clock: the real one, or a fixed one for tests and snapshots."""
        return self._clock() if self._clock is not None else datetime.now().astimezone()

    def fresh(self, source: Source) -> Source:
        """`source` measured from this moment, by the console's clock."""
        return replace(source, now=self.now())

    @property
    def actor(self) -> str:
        """Who the console's events name: the configured agent, else the OS user."""
        return f"agent:{self.me}" if self.me else f"console:{getpass.getuser()}"

    def matching(self, session: Session, source: Source) -> Matching:
        """The source's tickets, as this agent sees them at the source's moment."""
        return Matching(session, source.query, me=self.me, now=source.now)

    def count(self, source: Source) -> int:
        with self.store.session(background=True) as session:
            return self.matching(session, source).count()

    def quick_count(self, source: Source) -> Count:
        """The view's size within about a page's time: exact, or an estimate marked as one."""
        with self.store.session(background=True) as session:
            return self.matching(session, source).quick_count()

    def count_and_place(self, source: Source, number: int) -> tuple[int, int | None]:
        """The view's size and the row ticket `number` is on now (None: it left the view).

        One read transaction for both, so the row is a row of that size.
        """
        with self.store.session(background=True) as session:
            matching = self.matching(session, source)
            return matching.count(), matching.position(number)

    def first_page(self, source: Source, limit: int, *, background: bool = False) -> FirstPage:
        """Check the source's query and read its first `limit` rows, compiling it once (a
        search's): raises QueryError as `check` does. The rows come with the list's marks.
        `background`: a view read ahead of the keys (they go first)."""
        with self._read(background), self.store.session(background=background) as session:
            rows = self.matching(session, source).page(0, limit)
            numbers = [r.number for r in rows]
            drafted = views.tickets_with_drafts(session, numbers, self.actor)
        return rows, drafted, self.others_on(numbers)

    def page(self, source: Source, offset: int, limit: int, total: int | None) -> list[TicketRow]:
        """Rows offset..offset+limit of the source, read from whichever end is nearer."""
        with self.foreground(), self.store.session() as session:
            return self.matching(session, source).page(offset, limit, total=total)

    def _read(self, background: bool) -> AbstractContextManager[None]:
        """The lane of a read that is a key's (foreground) or a refresh's (background)."""
        return nullcontext() if background else self.foreground()

    def detail(self, number: int, *, background: bool = False) -> TicketDetail:
        with self._read(background), self.store.session(background=background) as session:
            return views.ticket_detail(session, number)

    @property
    def shared(self) -> bool:
        """A team's store (PostgreSQL): consoles show each other where they are."""
        return self.store.dialect == "postgresql"

    def detail_and_others(
        self, number: int, *, background: bool = False
    ) -> tuple[TicketDetail, tuple[presence.Here, ...]]:
        """The ticket, and who else has it open (see desk.presence), in one read."""
        with self._read(background), self.store.session(background=background) as session:
            detail = views.ticket_detail(session, number)
            here = presence.others(session, [number], self.console_id, me=self.actor)
        return detail, tuple(here.get(number, ()))

    def others_on(self, numbers: list[int]) -> dict[int, str]:
        """Which of these tickets someone else has open: "replying" or "viewing" (the list's
        ✉ and ◦); nothing on one person's store."""
        if not self.shared:
            return {}
        with self.store.session() as session:
            found = presence.others(session, numbers, self.console_id, me=self.actor)
        return {
            n: "replying" if any(h.doing == "replying" for h in here) else "viewing"
            for n, here in found.items()
        }

    def beat(self, number: int | None, doing: str) -> None:
        with self.store.session(write=True) as session:
            presence.beat(session, self.console_id, self.actor, number, doing)

    def leave(self) -> None:
        with self.store.session(write=True) as session:
            presence.leave(session, self.console_id)

    def report(self, days: int) -> ReportView:
        """The last `days` UTC days up to the end of today, by the console's clock, in one
        read transaction: the team's figures, the agent's (their tickets), and per day."""
        from supportdesk.desk import reports

        today = self.now().astimezone(UTC).date()
        until = datetime.combine(today, datetime.min.time(), tzinfo=UTC) + timedelta(days=1)
        since = until - timedelta(days=days)
        with self.store.session() as session:
            team = reports.build(session, since, until, "all").rows[0]
            daily = reports.build(session, since, until, "day").rows
            responses = reports.first_response_histogram(session, since, until)
            mine = my_responses = None
            if self.me:
                where = Matching(session, "assignee:me", me=self.me).where()
                mine = reports.build(session, since, until, "all", where).rows[0]
                # Their own time, as in a report by agent, not everyone's on their tickets.
                mine.handle_time_total = reports.agent_handle_time(session, since, until, self.me)
                my_responses = reports.first_response_histogram(session, since, until, where)
        return ReportView(days, since, until, team, mine, daily, responses, my_responses)

    def handle_time(self, number: int, *, background: bool = False) -> TicketHandleTime:
        """Ticket `number`'s recorded handle time: this agent's and everyone's."""
        from supportdesk.desk import handle_time

        with self._read(background), self.store.session(background=background) as session:
            return handle_time.of_ticket(session, number, self.me)

    def record_handle_time(self, counted: dict[int, int]) -> None:
        """Add the seconds counted per ticket to this agent's handle time (one transaction)."""
        from supportdesk.desk import handle_time

        if self.me is None:
            return
        with self.store.session(write=True) as session:
            handle_time.record(session, self.me, counted, at=self.now())

    def agents(self) -> list[str]:
        with self.store.session(background=True) as session:
            return [a.handle for a in directory.list_agents(session) if a.active]

    def queues(self) -> list[str]:
        with self.store.session(background=True) as session:
            return [q.name for q in directory.list_queues(session)]

    def views(self, saved: list[SavedView]) -> list[ViewCount]:
        """Every view without its count (the sidebar's first frame, and `[`/`]` from the
        start): one read of the queues, where the counts read every active ticket."""
        with self.store.session() as session:
            queues = sorted(directory.list_queues(session), key=lambda q: q.name)  # as overview
        return self._entries(
            saved, [q.name for q in queues], [q.name for q in queues if q.is_quarantine]
        )

    def sidebar(self, saved: list[SavedView]) -> list[ViewCount]:
        """Every view with its count: the standard ones, each queue, then saved searches."""
        with self.store.session(background=True) as session:
            overview = views.overview(session, me=self.me, now=self.now().astimezone(UTC))
            quarantine = [q.name for q in directory.list_queues(session) if q.is_quarantine]
            counts = {
                "mine": Count.exactly(overview.mine) if self.me else None,
                "unassigned": Count.exactly(overview.unassigned),
                "open": Count.exactly(overview.all_active),
                "pending": Count.exactly(overview.pending),
                "breaching": Count.exactly(overview.breaching_soon),
                "breached": Count.exactly(overview.breached),
                "solved": Count.exactly(overview.recently_solved),
                "quarantine": Count.exactly(overview.quarantine),
            }
            counts.update((f"queue:{q.name}", Count.exactly(q.active)) for q in overview.queues)
            for view in saved:
                source = Source(f"saved:{view.name}", view.name, view.query, self.now())
                try:
                    count: Count | None = self.matching(session, source).quick_count()
                except SupportdeskError:  # a broken saved search shows "?" and errors when opened
                    count = None
                counts[source.key] = count
        return self._entries(saved, [q.name for q in overview.queues], quarantine, counts)

    @staticmethod
    def _entries(
        saved: list[SavedView],
        queues: list[str],
        quarantine: list[str],
        counts: dict[str, Count | None] | None = None,
    ) -> list[ViewCount]:
        """The sidebar's views in order, each with its count from `counts` (none without)."""
        standard = [
            ("mine", "My tickets", f"assignee:me {ACTIVE_QUERY}"),
            ("unassigned", "Unassigned", f"assignee:none {ACTIVE_QUERY}"),
            ("open", "All open", ACTIVE_QUERY),
            ("pending", "Pending", "status:pending"),
            (
                "breaching",
                "Breaching soon",
                f"due:<{views.DUE_SOON_HOURS}h breached:no {ACTIVE_QUERY} sort:due",
            ),
            ("breached", "Breached", f"breached:yes {ACTIVE_QUERY} sort:due"),
            ("solved", "Recently solved", views.RECENTLY_SOLVED_QUERY),
        ]
        if quarantine:
            standard.append(
                ("quarantine", "Quarantine", f"queue:{','.join(quarantine)} {ACTIVE_QUERY}")
            )
        found = counts or {}
        entries = [
            ViewCount(key, label, query, "Views", found.get(key)) for key, label, query in standard
        ]
        entries.extend(
            ViewCount(
                f"queue:{name}",
                name,
                f"queue:{name} {ACTIVE_QUERY}",
                "Queues",
                found.get(f"queue:{name}"),
            )
            for name in queues
        )
        entries.extend(
            ViewCount(
                f"saved:{view.name}",
                view.name,
                view.query,
                "Saved",
                found.get(f"saved:{view.name}"),
            )
            for view in saved
        )
        return entries

    def save_attachments(self, number: int, folder: Path) -> list[Path]:
        from supportdesk.desk.attachments import save_attachments

        with self.store.session() as session:
            return save_attachments(session, number, folder)

    def drafted(self, numbers: list[int]) -> set[int]:
        """Which of these tickets the agent has a draft on (the list's ✎)."""
        with self.foreground(), self.store.session() as session:
            return views.tickets_with_drafts(session, numbers, self.actor)

    def change_mark(self) -> int:
        """A number that grows whenever any process changes any ticket (see views)."""
        with self.store.session() as session:
            return views.change_mark(session)

    # -- the agent's notifications (desk.notifications); none without an agent

    def notification_state(self, after: int | None) -> NotificationState:
        """The unread count, the newest id, and the unread ones newer than `after` (None:
        the first look, when nothing counts as new)."""
        if not self.me:
            return NotificationState(0, 0, ())
        with self.store.session(background=True) as session:
            unread = notifications.unread_count(session, self.me)
            newest = notifications.newest_id(session, self.me)
            fresh: tuple[NotificationInfo, ...] = ()
            arrived = 0
            if after is not None and newest > after:
                arrived = notifications.unread_count(session, self.me, after=after)
                listed = notifications.listing(
                    session, self.me, unread_only=True, limit=FRESH_SHOWN, after=after
                )
                fresh = tuple(reversed(listed))
        return NotificationState(unread, newest, fresh, arrived)

    def notifications(self, limit: int = 200) -> list[NotificationInfo]:
        if not self.me:
            return []
        with self.store.session() as session:
            return notifications.listing(session, self.me, limit=limit)

    def open_notification(self, notification_id: int) -> str:
        """Mark it read; the query that shows what it is about (`#<number>`, `batch:<id>`)."""
        assert self.me
        with self.store.session(write=True) as session:
            query = notifications.query_of(session, self.me, notification_id)
            notifications.mark_read(session, self.me, [notification_id])
        return query

    def read_all_notifications(self) -> int:
        if not self.me:
            return 0
        with self.store.session(write=True) as session:
            return notifications.mark_read(session, self.me, None)

    def agent_handles(self) -> list[str]:
        with self.store.session() as session:
            return notifications.agent_handles(session)


FRESH_SHOWN = 3
"""How many newly arrived notifications a console shows one by one (the rest: "and N more")."""


@dataclass(frozen=True)
class NotificationState:
    unread: int
    newest: int
    fresh: tuple[NotificationInfo, ...]
    """The newest (at most FRESH_SHOWN) unread ones that arrived since the last look, oldest
    first."""
    arrived: int = 0
    """How many unread ones arrived since the last look, all of them (counted in SQL)."""


class CannedLoader:
    """What the canned reply picker reads, for one ticket and one agent; called only from
    worker threads, each call in its own short session like DeskData's."""

    def __init__(self, store: Desk, number: int, actor: str) -> None:
        self.store = store
        self.number = number
        self.actor = actor

    def customer_language(self) -> str | None:
        """The language the requester writes in (the picker's default variant)."""
        from supportdesk.desk import replies

        with self.store.session() as session:
            return replies.customer_language(session, self.number)

    def find(self, query: str) -> list[CannedMatch]:
        from supportdesk.desk import canned

        with self.store.session() as session:
            return canned.find_canned(session, query)

    def render(self, name: str, language: str | None) -> RenderedCanned:
        """Canned reply `name` filled in for the ticket; ValidationError says what is missing."""
        from supportdesk.desk import canned, replies, tickets

        with self.store.session() as session:
            ticket = tickets.get_ticket(session, self.number)
            agent = replies.agent_of(session, self.actor)
            return canned.render_canned_for(session, name, ticket, agent, language=language)
