"""Handle time in the console (Pilot), with a clock the test moves: keys only move a
timestamp, leaving a ticket, going idle, losing focus and quitting write what was counted."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event
from sqlmodel import select
from textual import events

from supportdesk.desk import handle_time
from supportdesk.store import Store
from supportdesk.store.models import HandleTime, utcnow
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.widgets.thread import ThreadHeader
from tests.tui.conftest import SIZE, ready, wait_until


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def writes(demo_store: Store) -> Iterator[list[str]]:
    """Every statement that writes handle_time, as the store's engine sends it."""
    seen: list[str] = []

    def note(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "handle_time" in statement and not statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(demo_store.engine, "before_cursor_execute", note)
    yield seen
    event.remove(demo_store.engine, "before_cursor_execute", note)


def stored(store: Store) -> dict[int, int]:
    """Recorded seconds per ticket number, for alice."""
    with store.session() as s:
        from supportdesk.store.models import Agent, Ticket

        rows = s.exec(
            select(Ticket.number, HandleTime.seconds)
            .join(Ticket, Ticket.id == HandleTime.ticket_id)  # type: ignore[arg-type]
            .join(Agent, Agent.id == HandleTime.agent_id)  # type: ignore[arg-type]
            .where(Agent.handle == "alice")
        ).all()
    out: dict[int, int] = {}
    for number, seconds in rows:
        out[number] = out.get(number, 0) + seconds
    return out


async def test_keys_write_nothing_leaving_the_ticket_writes_once(
    demo_store: Store, make_app: Callable[..., SupportdeskApp], writes: list[str]
) -> None:
    clock = Clock()
    app = make_app(now=clock)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        first = app.desk.current
        assert first is not None
        app.desk.thread.focus()
        for _ in range(40):  # reading: forty scrolls, five seconds apart
            await pilot.press("down")
            clock.tick(5)
        await pilot.pause(0.2)
        assert writes == []  # not one write for forty keys
        app.desk.ticket_list.focus()
        await pilot.press("j")  # the next ticket: the first one's time is written
        await wait_until(pilot, lambda: len(writes) == 1, what="one write")
        await wait_until(pilot, lambda: stored(demo_store) == {first.number: 200})
        assert app.handling.writes == 1
        await ready(pilot)
        header = str(app.desk.query_one(ThreadHeader).render())
        assert "handle time" not in header  # nobody has worked on the second ticket yet


async def test_idle_cut_off_and_focus_loss(
    demo_store: Store, make_app: Callable[..., SupportdeskApp]
) -> None:
    clock = Clock()
    app = make_app(now=clock, idle_seconds=1)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        number = app.desk.current.number  # type: ignore[union-attr]
        await pilot.press("x")  # a key: the time runs for at most 1 s after it
        clock.tick(30)
        # The idle timer writes once the limit has passed, without any key.
        await wait_until(pilot, lambda: stored(demo_store) == {number: 1}, what="the idle write")
        await pilot.press("x")
        clock.tick(0.5)
        app.post_message(events.AppBlur())  # the agent went to another window
        await pilot.pause(0.1)
        clock.tick(600)  # time out of focus counts nothing
        app.post_message(events.AppFocus())
        await pilot.pause(0.1)
        clock.tick(0.75)
        assert app.handling.unwritten(number) == 1  # 0.5 (kept) + 0.75 since focus came back
    # Quitting writes what is left.
    assert stored(demo_store) == {number: 2}


async def test_the_header_shows_yours_and_everyones_time(
    demo_store: Store, make_app: Callable[..., SupportdeskApp]
) -> None:
    clock = Clock()
    app = make_app(now=clock)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        number = app.desk.current.number  # type: ignore[union-attr]
        with demo_store.session(write=True) as s:
            handle_time.record(s, "alice", {number: 600})
            handle_time.record(s, "bob", {number: 1260})
        app.desk.refresh_everything()
        await wait_until(
            pilot,
            lambda: "handle time" in str(app.desk.query_one(ThreadHeader).render()),
            what="the handle time in the header",
        )
        header = str(app.desk.query_one(ThreadHeader).render())
        assert "handle time 31 min (yours 10 min)" in header


async def test_a_long_stay_on_one_ticket_is_written_every_few_minutes(
    demo_store: Store, make_app: Callable[..., SupportdeskApp], writes: list[str]
) -> None:
    """FLUSH_SECONDS apart (here half a second), what was counted reaches the store even if
    the agent never leaves the ticket; in between, keys write nothing."""
    clock = Clock()
    app = make_app(now=clock)
    app.handling.flush_seconds = 0.5
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        number = app.desk.current.number  # type: ignore[union-attr]
        app.desk.thread.focus()
        for _ in range(3):
            await pilot.press("down")
            clock.tick(20)
        await wait_until(pilot, lambda: stored(demo_store) == {number: 60}, what="a flush")
        assert 1 <= len(writes) <= 3  # by the timer, never one per key
        assert app.desk.current.number == number  # type: ignore[union-attr]


async def test_a_failed_write_gives_the_seconds_back_for_the_next_flush(
    demo_store: Store, make_app: Callable[..., SupportdeskApp]
) -> None:
    """The store refuses the first flush (a trigger aborts it): the seconds go back to the
    counter and the next flush writes them with what came after."""
    with demo_store.engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse_handle_time BEFORE INSERT ON handle_time "
            "BEGIN SELECT RAISE(ABORT, 'store refuses'); END"
        )
    clock = Clock()
    app = make_app(now=clock)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        number = app.desk.current.number  # type: ignore[union-attr]
        app.desk.thread.focus()
        await pilot.press("down")
        clock.tick(40)
        app.handling.flush()
        await wait_until(pilot, lambda: app.handling.failed_writes == 1, what="a failed write")
        await wait_until(pilot, lambda: app.handling.unwritten(number) == 40, what="given back")
        assert stored(demo_store) == {}
        with demo_store.engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER refuse_handle_time")
        await pilot.press("down")
        clock.tick(5)
        app.handling.flush()
        await wait_until(pilot, lambda: stored(demo_store) == {number: 45}, what="the retry")
        assert app.handling.writes == 1


async def test_a_store_locked_by_another_process_holds_one_write_and_no_key(
    demo_store: Store, make_app: Callable[..., SupportdeskApp]
) -> None:
    """Another process holds the write lock (a bulk change): the first flush waits for it,
    the seconds of every ticket opened meanwhile stay counted, and each key still shows its
    ticket. A write per ticket used to wait each on a pooled connection until none was left
    for the reads the keys need."""
    import sqlite3

    from textual.worker import WorkerState

    clock = Clock()
    app = make_app(now=clock)
    database = demo_store.engine.url.database
    assert database is not None
    other = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)

            def writing() -> int:
                return sum(
                    1
                    for w in app.workers
                    if w.group == "handle-time"
                    and w.state in (WorkerState.PENDING, WorkerState.RUNNING)
                )

            def moved_on(before: int) -> bool:
                current, detail = app.desk.current, app.desk.detail
                return (
                    current is not None
                    and current.number != before
                    and detail is not None
                    and detail.row.number == current.number
                )

            other.execute("BEGIN IMMEDIATE")
            opened: list[int] = []
            for _ in range(20):  # more than the connection pool holds
                before = app.desk.current.number  # type: ignore[union-attr]
                clock.tick(5)
                await pilot.press("j")
                await wait_until(
                    pilot,
                    functools.partial(moved_on, before),
                    what="the next ticket while the store is locked",
                )
                opened.append(before)
                assert writing() <= 1
            assert app.handling.writes == 0
            other.execute("COMMIT")
            await wait_until(pilot, lambda: writing() == 0, what="the waiting write")
            app.handling.flush()
            # Nothing counts before the first key: the first ticket left has no seconds.
            expected = dict.fromkeys(opened[1:], 5)
            await wait_until(pilot, lambda: stored(demo_store) == expected, what="every second")
    finally:
        other.close()


async def test_a_write_on_its_way_at_exit_that_fails_is_written_by_the_exit(
    demo_store: Store, make_app: Callable[..., SupportdeskApp]
) -> None:
    """A flush's write is still waiting when the console closes, then fails (the store went
    away for a moment): its seconds come back and the exit's own write stores them."""
    import threading

    from supportdesk.errors import StoreError

    clock = Clock()
    app = make_app(now=clock)
    let_go = threading.Event()
    calls: list[dict[int, int]] = []
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        number = app.desk.current.number  # type: ignore[union-attr]
        app.desk.thread.focus()
        await pilot.press("down")
        clock.tick(40)
        record = app.data.record_handle_time

        def first_fails_late(counted: dict[int, int]) -> None:
            calls.append(dict(counted))
            if len(calls) == 1:
                let_go.wait(10)
                raise StoreError("the store went away")
            record(counted)

        app.data.record_handle_time = first_fails_late  # type: ignore[method-assign]
        app.handling.flush()
        await wait_until(pilot, lambda: bool(calls), what="the flush's write to start")
        threading.Timer(0.3, let_go.set).start()
    assert stored(demo_store) == {number: 40}
    assert calls == [{number: 40}, {number: 40}]
