"""The report screen (Pilot): opened by key and palette, the team's and the agent's figures
as desk.reports computes them, another period, live after another process's change."""

from __future__ import annotations

from collections.abc import Callable

from supportdesk.desk import tickets
from supportdesk.desk.events import Change
from supportdesk.store import Store
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.screens.reports import ReportScreen
from tests.tui.conftest import SIZE, palette, ready, screen_text, wait_until


def figure(app: SupportdeskApp, label: str) -> list[str]:
    """The cells of the figures table's row `label`, as the screen shows them."""
    for line in screen_text(app).splitlines():
        if f" {label} " in line or f"│{label} " in line:
            return line.split(label, 1)[1].split("│")[0].split()
    raise AssertionError(f"no row {label!r} on screen:\n{screen_text(app)}")


async def opened(pilot: object, app: SupportdeskApp) -> ReportScreen:
    await wait_until(pilot, lambda: isinstance(app.screen, ReportScreen), what="reports")  # type: ignore[arg-type]
    screen = app.screen
    assert isinstance(screen, ReportScreen)
    await wait_until(pilot, lambda: screen.view is not None, what="the figures")  # type: ignore[arg-type]
    return screen


async def test_figures_periods_and_closing(
    demo_store: Store, make_app: Callable[..., SupportdeskApp]
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("f2")
        screen = await opened(pilot, app)
        assert app.handling.counter.ticket is None  # no ticket counts while reading figures
        view = screen.view
        assert view is not None and view.days == 30 and view.mine is not None
        assert view == app.data.report(30)  # the screen shows what the domain computed
        assert figure(app, "Created") == [str(view.team.created), str(view.mine.created)]
        assert figure(app, "Backlog at the end") == [
            str(view.team.backlog),
            str(view.mine.backlog),
        ]
        assert view.team.created >= view.mine.created
        assert len(view.daily) == 30
        assert sum(n for _label, n in view.responses) >= 1
        text = screen_text(app)
        assert "Volume and backlog per day" in text
        assert "First responses by time taken" in text
        await pilot.press("p")
        await wait_until(pilot, lambda: screen.view is not None and screen.view.days == 90)
        assert len(screen.view.daily) == 90  # type: ignore[union-attr]
        await palette(pilot, "reports: last 7")
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.view is not None and screen.view.days == 7)
        await pilot.press("escape")
        await ready(pilot)
        assert app.handling.counter.ticket == app.desk.current.number  # type: ignore[union-attr]


async def test_palette_opens_it_and_it_follows_the_store(
    demo_store: Store, other_session: Store, make_app: Callable[..., SupportdeskApp]
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await palette(pilot, "desk: reports")
        await pilot.press("enter")
        screen = await opened(pilot, app)
        screen.live_every = 0.2  # ten seconds by default, so a busy desk is not recomputed
        before = screen.view.team.created  # type: ignore[union-attr]
        with other_session.session(write=True) as s:
            tickets.create_ticket(
                s,
                subject="new while the lead watches",
                requester_email="c@example.com",
                queue="billing",
                change=Change.by("system:test"),
            )
        await wait_until(
            pilot,
            lambda: screen.view is not None and screen.view.team.created == before + 1,
            what="the figures to follow the store",
        )
        await wait_until(pilot, lambda: figure(app, "Created")[0] == str(before + 1))


def test_the_figures_and_handle_time_read_in_japanese() -> None:
    from datetime import UTC, datetime

    from rich.console import Console

    from supportdesk import i18n
    from supportdesk.desk.reports import ReportRow
    from supportdesk.tui.data import ReportView
    from supportdesk.tui.format import minutes
    from supportdesk.tui.screens.reports import figures_table

    row = ReportRow("all", created=3, first_response_median=5400, first_response_p90=7200)
    since = datetime(2026, 11, 1, tzinfo=UTC)
    view = ReportView(7, since, since, row, row, [], [], None)
    console = Console(width=100, record=True)
    before = i18n.current_language()
    i18n.set_language("ja")
    try:
        console.print(figures_table(view))
        assert minutes(3900) == "1 時間 05 分"
    finally:
        i18n.set_language(before)
    text = console.export_text()
    assert "初回応答" in text and "チーム" in text and "自分のチケット" in text
    assert "1.5 時間 / 2.0 時間" in text


def test_satisfaction_section_shows_the_reports_csat_figures() -> None:
    """The figures table's satisfaction rows read the report's csat_* fields by name."""
    from datetime import UTC, datetime

    from rich.console import Console

    from supportdesk.desk.reports import ReportRow
    from supportdesk.tui.data import ReportView
    from supportdesk.tui.screens.reports import figures_table

    since = datetime(2026, 11, 1, tzinfo=UTC)
    console = Console(width=100, record=True)
    row = ReportRow("all", created=3, csat_responses=4, csat_score_sum=18, csat_satisfied=3)
    console.print(figures_table(ReportView(7, since, since, row, None, [], [], None)))
    text = console.export_text()
    assert "Created" in text
    assert "Satisfaction" in text
    assert "4.50" in text and "75%" in text


def test_my_handle_time_total_is_my_own_time_as_in_a_report_by_agent(
    demo_store: Store, make_app: Callable[..., SupportdeskApp]
) -> None:
    """Bob's time on alice's ticket is not alice's; her time on a colleague's ticket is."""
    from supportdesk.desk import handle_time, reports
    from supportdesk.tui.data import DeskData

    with demo_store.session(write=True) as s:
        mine = tickets.create_ticket(
            s,
            subject="mine",
            requester_email="a@x.example",
            queue="billing",
            change=Change.by("agent:alice"),
        ).number
        theirs = tickets.create_ticket(
            s,
            subject="theirs",
            requester_email="b@x.example",
            queue="billing",
            change=Change.by("agent:bob"),
        ).number
        tickets.assign(s, mine, "alice", Change.by("agent:alice"))
        tickets.assign(s, theirs, "bob", Change.by("agent:bob"))
    data: DeskData = make_app().data
    before = data.report(7).mine
    assert before is not None
    with demo_store.session(write=True) as s:
        handle_time.record(s, "alice", {mine: 600, theirs: 300}, at=data.now())
        handle_time.record(s, "bob", {mine: 1200}, at=data.now())
    view = data.report(7)
    assert view.mine is not None
    assert view.mine.handle_time_total - before.handle_time_total == 900
    with demo_store.session() as s:
        by_agent = reports.build(s, view.since, view.until, "agent").rows
    assert [r.handle_time_total for r in by_agent if r.group == "alice"] == [
        view.mine.handle_time_total
    ]


async def test_live_reads_wait_from_the_end_of_a_read_and_pause_while_hidden(
    make_app: Callable[..., SupportdeskApp],
) -> None:
    """A store that changes all the time, and reads that take longer than `live_every`: each
    live read starts `live_every` after the previous one ended, never straight after it; with
    another screen over the report screen nothing is read, and one read catches up after."""
    import itertools
    import threading
    import time

    from textual.screen import Screen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("f2")
        screen = await opened(pilot, app)
        screen.live_every = 0.3
        spans: list[tuple[float, float]] = []
        read = app.data.report

        def slow_read(days: int) -> object:
            start = time.monotonic()
            assert threading.current_thread() is not threading.main_thread()
            time.sleep(0.4)  # a large store: longer than live_every
            try:
                return read(days)
            finally:
                spans.append((start, time.monotonic()))

        app.data.report = slow_read  # type: ignore[method-assign]
        end = time.monotonic() + 2.5
        while time.monotonic() < end:  # a sync lands every 50 ms
            screen.store_changed()
            await pilot.pause(0.05)
        await wait_until(pilot, lambda: not screen._loading, what="the last read")
        assert len(spans) >= 2, spans
        gaps = [later[0] - earlier[1] for earlier, later in itertools.pairwise(spans)]
        assert all(gap >= 0.25 for gap in gaps), gaps

        app.push_screen(Screen())
        await pilot.pause(0.1)
        before = screen.reads
        for _ in range(5):
            screen.store_changed()
            await pilot.pause(0.1)
        await pilot.pause(0.5)
        assert screen.reads == before  # hidden: nothing read
        app.pop_screen()
        await wait_until(pilot, lambda: screen.reads == before + 1, what="the catch-up read")
        await pilot.pause(1.0)
        assert screen.reads == before + 1
