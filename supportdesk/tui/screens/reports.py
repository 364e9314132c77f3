"""The report screen (F2): the team's figures and the agent's own, with charts.

The same numbers as `supportdesk report` (desk.reports, docs/METRICS.md) for the last 7, 30
or 90 days, read in a worker. It follows the store like the desk does: when the desk hears of
a change it asks this screen to read again, so the figures stay live while it is open.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Header, Static
from textual_plotext import PlotextPlot

from supportdesk.desk.reports import ReportRow
from supportdesk.errors import SupportdeskError
from supportdesk.i18n import N_, _
from supportdesk.tui.bindings import bindings
from supportdesk.tui.data import DeskData, ReportView
from supportdesk.tui.widgets.footer import DeskFooter

if TYPE_CHECKING:
    from supportdesk.tui.handling import HandleTimer

PERIODS = (7, 30, 90)


@dataclass
class ReportLoaded(Message):
    view: ReportView | None
    error: SupportdeskError | None = None


def _time(seconds: int | None) -> str:
    """A duration in a few characters, for a table of them: 45 min, 2.5 h, 3.2 d."""
    if seconds is None:
        return "—"
    if seconds < 3600:
        return _("{n} min").format(n=seconds // 60)
    if seconds < 2 * 86_400:
        return _("{n:.1f} h").format(n=seconds / 3600)
    return _("{n:.1f} d").format(n=seconds / 86_400)


def _pair(median: int | None, p90: int | None) -> str:
    if median is None:
        return "—"
    return f"{_time(median)} / {_time(p90)}"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


FIGURES: tuple[tuple[str, Callable[[ReportRow], str]], ...] = (
    (N_("Created"), lambda r: str(r.created)),
    (N_("Solved"), lambda r: str(r.solved)),
    (N_("Reopened"), lambda r: str(r.reopened)),
    (N_("Backlog at the end"), lambda r: str(r.backlog)),
    (
        N_("First response"),
        lambda r: _pair(r.first_response_median, r.first_response_p90),
    ),
    (
        N_("  in business hours"),
        lambda r: _pair(r.first_response_business_median, r.first_response_business_p90),
    ),
    (N_("Resolution"), lambda r: _pair(r.resolution_median, r.resolution_p90)),
    (
        N_("  in business hours"),
        lambda r: _pair(r.resolution_business_median, r.resolution_business_p90),
    ),
    (N_("Replies per resolved ticket"), lambda r: _number(r.replies_per_resolved)),
    (N_("SLA attained"), lambda r: _share(r.sla_attainment)),
    (
        N_("Handle time per ticket"),
        lambda r: _pair(r.handle_time_median, r.handle_time_p90),
    ),
    (N_("Handle time, total"), lambda r: _time(r.handle_time_total)),
)
"""The figures table's rows: label (translated when shown) and how a row's value reads."""

CSAT_FIGURES: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("csat_responses", N_("Ratings"), lambda v: "—" if v is None else str(v)),
    ("csat_average", N_("Average rating"), lambda v: "—" if v is None else f"{v:.2f}"),
    ("csat_satisfied_share", N_("Rated 4 or 5"), _share),
)
"""Satisfaction figures (ReportRow's csat_* fields, which come with the rating mails), read by
name: the section shows once ReportRow has them, and not before."""


def _csat_rows(row: ReportRow | None) -> list[tuple[str, str, Callable[[Any], str]]]:
    if row is None:
        return []
    return [figure for figure in CSAT_FIGURES if hasattr(row, figure[0])]


def figures_table(view: ReportView) -> Table:
    """The period's figures, the team's beside the agent's."""
    table = Table(box=None, expand=True, pad_edge=False, show_edge=False)
    table.add_column(_("Figure"), style="bold", no_wrap=True, min_width=16, ratio=1)
    table.add_column(_("Team"), justify="right", no_wrap=True, min_width=15)
    if view.mine is not None:
        table.add_column(_("My tickets"), justify="right", no_wrap=True, min_width=15)
    for label, value in FIGURES:
        cells = [Text(_(label)), Text(value(view.team))]
        if view.mine is not None:
            cells.append(Text(value(view.mine)))
        table.add_row(*cells)
    csat = _csat_rows(view.team)
    if csat:
        table.add_row(Text(_("Satisfaction (CSAT)"), style="bold underline"))
        for key, label, shown in csat:
            cells = [Text(_(label)), Text(shown(getattr(view.team, key)))]
            if view.mine is not None:
                cells.append(Text(shown(getattr(view.mine, key, None))))
            table.add_row(*cells)
    return table


def figures_panel(view: ReportView) -> Group:
    note = _("Times are median / 90th percentile; docs/METRICS.md defines each figure.")
    return Group(figures_table(view), Text(""), Text(note, style="dim"))


def title_text(view: ReportView | None, days: int) -> Text:
    text = Text()
    text.append(_("Reports"), style="bold")
    if view is not None:
        last = (view.until - timedelta(days=1)).date()
        text.append(
            "  " + _("{since} to {until} (UTC)").format(since=view.since.date(), until=last),
            style="dim",
        )
    text.append("   ")
    for i, period in enumerate(PERIODS):
        if i:
            text.append(" · ")
        label = _("{days} days").format(days=period)
        text.append(label, style="bold reverse" if period == days else "dim")
    text.append("   " + _("p: another period"), style="dim")
    return text


def draw_volume(chart: PlotextPlot, view: ReportView) -> None:
    """Tickets created and solved per day as bars, the backlog at each day's end as a line."""
    plt = chart.plt
    plt.clear_figure()
    days = view.daily
    xs = [float(x) for x in range(1, len(days) + 1)]
    step = max(1, len(days) // 6)
    plt.bar(xs, [row.created for row in days], label=_("created"))
    plt.plot(xs, [row.solved for row in days], label=_("solved"), marker="braille")
    plt.plot(xs, [row.backlog for row in days], label=_("backlog"), marker="braille")
    plt.xticks(xs[::step], [row.group[5:] for row in days][::step])
    plt.title(_("Volume and backlog per day"))
    chart.refresh()


def draw_responses(chart: PlotextPlot, view: ReportView) -> None:
    """How long first responses took: the team's, and the agent's beside them."""
    plt = chart.plt
    plt.clear_figure()
    labels = [label for label, _n in view.responses]
    if view.my_responses is not None:
        plt.multiple_bar(
            labels,
            [[n for _l, n in view.responses], [n for _l, n in view.my_responses]],
            # plotext takes `labels`; textual-plotext's stub says `label`
            labels=[_("team"), _("my tickets")],  # type: ignore[call-arg]
        )
    else:
        plt.bar(labels, [n for _l, n in view.responses], label=_("team"))
    plt.title(_("First responses by time taken"))
    chart.refresh()


class ReportScreen(Screen[None]):
    """The figures of the last 7, 30 or 90 days; see the module docstring."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("reports")

    live_every = 10.0
    """Seconds at least from the end of one read to the start of a read caused by store
    changes: on a busy desk a sync lands every few seconds, and a report over a large store
    takes a while to compute, so counting from the start would let reads run back to back."""

    def __init__(self, data: DeskData, days: int = 30) -> None:
        super().__init__()
        self.data = data
        self.days = days
        self.view: ReportView | None = None
        self.reads = 0
        """Reads started, for tests of how often a busy store makes the screen read."""
        self._loading = False
        self._again = False
        self._read_ended = float("-inf")
        self._waiting: Timer | None = None
        self._live_pending = False
        self._stale = False

    def compose(self) -> Iterator[Widget]:
        yield Header()
        with Vertical(id="report-body"):
            yield Static(title_text(None, self.days), id="report-title")
            with Horizontal(id="report-main"):
                yield Static(Text(_("Reading the figures…")), id="report-figures")
                with Vertical(id="report-charts"):
                    yield PlotextPlot(id="report-volume")
                    yield PlotextPlot(id="report-responses")
        yield DeskFooter()

    @property
    def _handling(self) -> HandleTimer:
        return self.app.handling  # type: ignore[attr-defined]

    def on_mount(self) -> None:
        self._handling.hide(True)  # no ticket is open while the agent reads the figures
        self.app.desk.listeners.append(self.store_changed)  # type: ignore[attr-defined]
        self.reload()

    def on_unmount(self) -> None:
        self._handling.hide(False)
        listeners = self.app.desk.listeners  # type: ignore[attr-defined]
        if self.store_changed in listeners:
            listeners.remove(self.store_changed)

    def on_screen_resume(self) -> None:
        """Back on screen: one read for the changes missed while hidden."""
        if self._stale:
            self._stale = False
            self.store_changed()

    def store_changed(self) -> None:
        """The desk read the store again: read the figures too, `live_every` after the last
        read ended; while another screen (a modal too) is on top, only note that they are
        stale: the agent is doing something else there."""
        if not self.is_active:
            self._stale = True
            return
        if self._loading:
            self._live_pending = True  # counted from the end of the running read
            return
        if self._waiting is not None:
            return
        wait = self._read_ended + self.live_every - time.monotonic()
        if wait <= 0:
            self.reload()
        else:
            self._waiting = self.set_timer(wait, self._waited)

    def _waited(self) -> None:
        self._waiting = None
        self.store_changed()  # hidden meanwhile, or a read ran since: it decides again

    def reload(self) -> None:
        """Read the figures again; while a read runs, once more after it."""
        if self._loading:
            self._again = True
            return
        self._loading = True
        self.reads += 1
        self._load(self.days)

    @work(thread=True, exclusive=True, group="report")
    def _load(self, days: int) -> None:
        try:
            self.post_message(ReportLoaded(self.data.report(days)))
        except SupportdeskError as exc:
            self.post_message(ReportLoaded(None, exc))

    def on_report_loaded(self, message: ReportLoaded) -> None:
        self._loading = False
        self._read_ended = time.monotonic()
        if self._again or (message.view is not None and message.view.days != self.days):
            self._again = self._live_pending = False  # the read now starting sees it all
            self.reload()  # the figures shown stay until the newer ones are read
            if message.view is None or message.view.days != self.days:
                return
        if self._live_pending:
            self._live_pending = False
            self.store_changed()
        if message.view is None:
            self.query_one("#report-figures", Static).update(Text(str(message.error)))
            return
        self.view = message.view
        self.query_one("#report-title", Static).update(title_text(self.view, self.days))
        self.query_one("#report-figures", Static).update(figures_panel(self.view))
        draw_volume(self.query_one("#report-volume", PlotextPlot), self.view)
        draw_responses(self.query_one("#report-responses", PlotextPlot), self.view)

    def show_period(self, days: int) -> None:
        self.days = days
        self.query_one("#report-title", Static).update(title_text(self.view, days))
        self.reload()

    def action_next_period(self) -> None:
        self.show_period(PERIODS[(PERIODS.index(self.days) + 1) % len(PERIODS)])

    def action_close(self) -> None:
        self.dismiss()
