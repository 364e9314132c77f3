"""While another process writes and the agent types, refreshes wait for a pause in the keys,
but never for long: changes still arrive (screens/desk.py `_typing`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from sqlalchemy.exc import SQLAlchemyError

from supportdesk.desk import tickets
from supportdesk.desk.events import Change
from supportdesk.desk.handle import Session
from supportdesk.desk.live import Changed
from supportdesk.errors import ReadCancelled
from supportdesk.store import Store
from supportdesk.store import engine as engine_module
from supportdesk.store.engine import _Yielder
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.data import ACTIVE_QUERY, DeskData, Source
from supportdesk.tui.screens import desk as desk_module
from tests.tui.conftest import SIZE, notes, ready, wait_until

BOB = "agent:bob"
REFRESH_GROUPS = {"detail", "sidebar", "ticket-list-count", "notifications"}


async def test_a_change_seen_right_after_a_key_waits_for_a_pause_up_to_a_limit(
    make_app: Callable[..., SupportdeskApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(desk_module, "REFRESH_QUIET", 600.0)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        before = app.data.last_key
        await pilot.press("j")
        assert app.data.last_key > before
        desk = app.desk
        assert desk._typing()  # a key just now: the refresh waits
        assert desk._change_seen is not None
        desk._change_seen -= desk_module.REFRESH_WAIT_MAX  # it has waited long enough
        assert not desk._typing()
        desk._change_seen = None
        app.data.last_key = float("-inf")  # no key for a long time: at once
        assert not desk._typing()


async def test_a_change_still_shows_while_the_agent_keeps_pressing_keys(
    make_app: Callable[..., SupportdeskApp], other_session: Store
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        tl = app.desk.ticket_list
        changed = tl.row_at(4).number  # type: ignore[union-attr]
        with other_session.session(write=True) as session:
            tickets.set_priority(session, changed, "urgent", Change.by(BOB))
        presses = 0

        def shown() -> bool:
            return any(
                (row := tl.row_at(i)) is not None
                and row.number == changed
                and row.priority == "urgent"
                for i in range(10)
            )

        deadline = 200
        while not shown() and presses < deadline:
            await pilot.press("j" if presses % 2 == 0 else "k")  # never a pause in the keys
            presses += 1
            await pilot.pause(0.05)
        assert shown(), "the change never showed while keys kept coming"


def test_a_keys_reads_are_foreground_and_counts_and_a_refreshs_reads_background(
    demo_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = DeskData(demo_store, "alice")
    source = Source("open", "All open", ACTIVE_QUERY)
    number = data.page(source, 0, 1, None)[0].number
    lanes: list[str] = []
    foreground = demo_store.priority.foreground
    session = demo_store.session

    def spy_foreground() -> AbstractContextManager[None]:
        lanes.append("foreground")
        return foreground()

    def spy_session(**options: bool) -> AbstractContextManager[Session]:
        if options.get("background"):
            lanes.append("background")
        return session(**options)

    monkeypatch.setattr(demo_store.priority, "foreground", spy_foreground)
    monkeypatch.setattr(demo_store, "session", spy_session)

    def lane(read: Callable[[], object]) -> list[str]:
        lanes.clear()
        read()
        return sorted(set(lanes))

    assert lane(lambda: data.page(source, 0, 50, None)) == ["foreground"]
    assert lane(lambda: data.detail(number)) == ["foreground"]
    assert lane(lambda: data.handle_time(number)) == ["foreground"]
    assert lane(lambda: data.detail(number, background=True)) == ["background"]
    assert lane(lambda: data.handle_time(number, background=True)) == ["background"]
    assert lane(lambda: data.count(source)) == ["background"]
    assert lane(lambda: data.quick_count(source)) == ["background"]
    assert lane(lambda: data.count_and_place(source, number)) == ["background"]
    assert lane(lambda: data.sidebar([])) == ["background"]
    assert lane(lambda: data.notification_state(None)) == ["background"]


async def test_a_change_seen_while_typing_shows_once_the_keys_stop(
    make_app: Callable[..., SupportdeskApp],
    other_session: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(desk_module, "REFRESH_WAIT_MAX", 600.0)  # only the pause can let it in
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        tl = app.desk.ticket_list
        changed = tl.row_at(4).number  # type: ignore[union-attr]
        await pilot.press("j")
        with other_session.session(write=True) as session:
            tickets.set_priority(session, changed, "urgent", Change.by(BOB))

        def shown() -> bool:
            return any(
                (row := tl.row_at(i)) is not None
                and row.number == changed
                and row.priority == "urgent"
                for i in range(10)
            )

        await wait_until(pilot, shown, what="the change after the keys stopped")


async def test_a_refresh_that_replaces_a_keys_ticket_read_keeps_it_in_the_foreground(
    make_app: Callable[..., SupportdeskApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(desk_module, "DETAIL_DELAY", 600.0)  # the key's read stays pending
    # Nothing read ahead: a view's first ticket may be this one, read in the background.
    monkeypatch.setattr(desk_module.DeskScreen, "_read_ahead_around", lambda self: None)
    monkeypatch.setattr(desk_module.DeskScreen, "_views_ahead_soon", lambda self: None)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        desk = app.desk
        lanes: list[bool] = []
        detail = app.data.detail
        wanted = -1

        def spy_detail(number: int, *, background: bool = False) -> object:
            if number == wanted:  # not the first tickets of the views read ahead
                lanes.append(background)
            return detail(number, background=background)

        monkeypatch.setattr(app.data, "detail", spy_detail)
        await pilot.press("j")
        assert desk._detail_timer is not None  # the key's read waits for the keys to stop
        wanted = desk.current.number  # type: ignore[union-attr]
        desk.refresh_everything()
        assert desk._detail_timer is None  # replaced by the refresh's read
        await wait_until(
            pilot,
            lambda: desk.detail is not None and desk.detail.row.number == wanted and lanes != [],
            what="the ticket the key moved to",
        )
        assert lanes == [False]  # the agent's ticket, in the foreground lane
        await wait_until(pilot, lambda: not desk._key_detail, what="the key's read to be done")
        lanes.clear()
        desk.refresh_everything()  # no key's read waits now: the refresh's is background
        await wait_until(pilot, lambda: lanes != [], what="the refresh's ticket read")
        assert lanes == [True]


async def test_a_cancelled_workers_background_reads_stop_without_a_word(
    make_app: Callable[..., SupportdeskApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        desk = app.desk
        shown_before = notes(app)
        priority = app.data.store.priority
        yielders: list[_Yielder] = []
        yielder = priority.yielder

        def spy_yielder() -> _Yielder:
            yielders.append(yielder())
            return yielders[-1]

        monkeypatch.setattr(engine_module, "BACKGROUND_STEP", 1)  # every step asks
        monkeypatch.setattr(priority, "yielder", spy_yielder)
        monkeypatch.setattr(priority, "cancelled", lambda: True)  # as if each were replaced
        desk.refresh_everything()
        await wait_until(
            pilot,
            lambda: (
                any(y.interrupted for y in yielders)
                and all(w.is_finished for w in app.workers if w.group in REFRESH_GROUPS)
            ),
            what="the refresh's background reads to stop",
        )
        assert notes(app) == shown_before
        assert app.is_running
        assert desk.detail is not None  # the ticket as it was: no error in its place


async def test_a_key_right_after_a_refresh_reads_its_ticket_at_once(
    make_app: Callable[..., SupportdeskApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refresh's ticket read is not a held key's: the next key does not wait DETAIL_DELAY
    for tickets flying past (the wait after each refresh while another process writes)."""
    monkeypatch.setattr(desk_module, "DETAIL_DELAY", 600.0)
    monkeypatch.setattr(desk_module.DeskScreen, "_read_ahead_around", lambda self: None)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        desk = app.desk
        desk._detail_started = float("-inf")  # no key's read for a long time
        desk.refresh_everything()
        await pilot.press("j")
        assert desk._detail_timer is None  # read at once
        await pilot.press("j")
        assert desk._detail_timer is not None  # a second key so soon: tickets flying past


async def test_a_changes_notice_waits_for_a_pause_in_the_keys_and_refreshes_once(
    make_app: Callable[..., SupportdeskApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL's notices (StoreChanged) wait for the keys as the poll's changes do: many
    notices while typing arm one timer, and its look after the pause makes one refresh."""
    monkeypatch.setattr(desk_module, "REFRESH_QUIET", 0.05)
    monkeypatch.setattr(desk_module, "REFRESH_WAIT_MAX", 600.0)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        desk = app.desk
        refreshes: list[bool] = []
        armed: list[float] = []
        set_timer = desk.set_timer

        def spy_set_timer(
            delay: float, callback: Callable[[], object], **options: object
        ) -> object:
            if callback == desk._refresh_when_quiet:
                armed.append(delay)
            return set_timer(delay, callback, **options)  # type: ignore[arg-type]

        monkeypatch.setattr(desk, "set_timer", spy_set_timer)
        monkeypatch.setattr(desk, "refresh_everything", lambda: refreshes.append(True))
        await pilot.press("j")
        app.data.last_key = time.monotonic() + 1.0  # keys still coming for a while
        for _ in range(50):
            desk.post_message(desk_module.StoreChanged(Changed(None)))
        await pilot.pause()
        assert refreshes == []  # the agent is typing
        assert len(armed) == 1  # one timer pending for all fifty
        await wait_until(pilot, lambda: refreshes != [], what="the refresh after the keys stop")
        await wait_until(pilot, lambda: desk._quiet_timer is None, what="no timer left")
        assert refreshes == [True]


async def test_a_refresh_takes_a_notice_that_waits_for_the_keys_with_it(
    make_app: Callable[..., SupportdeskApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`r` (or a change made here) reads everything: the waiting notice needs no refresh more."""
    monkeypatch.setattr(desk_module, "REFRESH_QUIET", 600.0)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        desk = app.desk
        await pilot.press("j")
        desk.post_message(desk_module.StoreChanged(Changed(None)))
        await pilot.pause()
        assert desk._refresh_due
        desk.refresh_everything()
        assert not desk._refresh_due
        assert desk._quiet_timer is None


@pytest.mark.parametrize("look", ["heartbeat", "presence"])
async def test_a_key_right_after_a_presence_read_reads_its_ticket_at_once(
    make_app: Callable[..., SupportdeskApp], monkeypatch: pytest.MonkeyPatch, look: str
) -> None:
    """The heartbeat's and a presence notice's ticket reads are no key's either."""
    monkeypatch.setattr(desk_module, "DETAIL_DELAY", 600.0)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        desk = app.desk
        desk._detail_started = float("-inf")  # no key's read for a long time
        if look == "heartbeat":
            desk._heartbeat()
        else:
            number = desk.current.number  # type: ignore[union-attr]
            desk.post_message(
                desk_module.StoreChanged(Changed(frozenset({number}), presence_only=True))
            )
            await pilot.pause()
        await pilot.press("j")
        assert desk._detail_timer is None  # read at once


async def test_a_cancelled_sidebar_read_does_not_stop_later_refreshes(
    make_app: Callable[..., SupportdeskApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        desk = app.desk
        entries = dict(desk.sidebar.entries)

        def cancelled(saved: object) -> object:
            raise ReadCancelled("interrupted")

        monkeypatch.setattr(app.data, "sidebar", cancelled)
        desk._refresh_sidebar()
        assert desk._sidebar_loading
        await wait_until(pilot, lambda: not desk._sidebar_loading, what="the sidebar flag")
        assert desk.sidebar.entries == entries  # nothing shown for the cancelled read


@pytest.mark.parametrize("read", ["sidebar", "agents", "queues"])
@pytest.mark.parametrize("error", [ReadCancelled, SQLAlchemyError])
async def test_a_failed_sidebar_read_ends_quietly_and_lowers_the_flag(
    make_app: Callable[..., SupportdeskApp],
    monkeypatch: pytest.MonkeyPatch,
    read: str,
    error: type[Exception],
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        desk = app.desk
        entries = dict(desk.sidebar.entries)

        def failing(*args: object) -> object:
            raise error("busy")

        monkeypatch.setattr(app.data, read, failing)
        desk._refresh_sidebar()
        await wait_until(pilot, lambda: not desk._sidebar_loading, what="the sidebar flag")
        assert app.is_running
        assert desk.sidebar.entries == entries
