"""Handle time counted in memory (with a clock the test moves) and written per agent, ticket
and day, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from supportdesk.desk import directory, handle_time, tickets
from supportdesk.desk.events import Change
from supportdesk.desk.handle_time import HandleClock, TicketHandleTime
from supportdesk.store import Store

START = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_time_runs_while_the_agent_is_active_and_stops_when_idle(clock: Clock) -> None:
    counter = HandleClock(clock, idle_seconds=120)
    counter.opened(7)
    clock.tick(30)
    assert counter.take() == {}  # opened, but nobody did anything yet
    counter.active()
    clock.tick(50)
    counter.active()
    clock.tick(500)  # reads for 120 s after the last key, then walks away
    assert counter.take() == {7: 50 + 120}
    assert counter.idle_at() is None
    counter.active()
    assert counter.idle_at() == clock.now + timedelta(seconds=120)
    clock.tick(10)
    assert counter.unwritten(7) == 10
    assert counter.take() == {7: 10}


def test_focus_loss_stops_the_time_and_focus_brings_it_back(clock: Clock) -> None:
    counter = HandleClock(clock, idle_seconds=120)
    counter.opened(3)
    counter.active()
    clock.tick(40)
    counter.focused(False)  # the agent switched to another window
    clock.tick(60)
    assert counter.idle_at() is None
    counter.focused(True)
    clock.tick(20)
    assert counter.take() == {3: 60}


def test_switching_tickets_splits_the_time_and_fractions_are_kept(clock: Clock) -> None:
    counter = HandleClock(clock, idle_seconds=120)
    counter.opened(1)
    counter.active()
    clock.tick(10.6)
    counter.opened(2)
    clock.tick(5.7)
    counter.opened(None)
    clock.tick(100)  # no ticket on screen: nothing counts
    assert counter.take() == {1: 10, 2: 5}
    counter.opened(1)
    counter.active()
    clock.tick(0.5)
    assert counter.take() == {1: 1}  # 0.6 kept from before, and 0.5 now


def test_record_adds_to_the_days_row(store: Store) -> None:
    with store.session(write=True) as s:
        directory.ensure_queue(s, "support")
        for handle in ("alice", "bob"):
            directory.add_agent(s, handle, email=f"{handle}@desk.example")
        number = tickets.create_ticket(
            s, subject="s", requester_email="c@x.example", queue="support", change=Change.by("a")
        ).number
    for handle, seconds, at in (
        ("alice", 30, START),
        ("alice", 45, START + timedelta(hours=5)),
        ("alice", 10, START + timedelta(days=1)),
        ("bob", 7, START),
    ):
        with store.session(write=True) as s:
            assert handle_time.record(s, handle, {number: seconds, 999_999: 5}, at=at) == 1
    with store.session() as s:
        assert handle_time.of_ticket(s, number, "alice") == TicketHandleTime(85, 92)
        assert handle_time.of_ticket(s, number, None) == TicketHandleTime(0, 92)
        from sqlmodel import select

        from supportdesk.store.models import HandleTime

        rows = sorted((r.agent_id, r.day, r.seconds) for r in s.exec(select(HandleTime)))
    days = [day.astimezone(UTC) for _, day, _ in rows]
    assert [seconds for *_, seconds in rows] == [75, 10, 7]
    monday = START.replace(hour=0)
    assert days == [monday, monday + timedelta(days=1), monday]
