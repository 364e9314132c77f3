"""While another process writes and the agent types, refreshes wait for a pause in the keys,
but never for long: changes still arrive (screens/desk.py `_typing`)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest

from supportdesk.desk import tickets
from supportdesk.desk.events import Change
from supportdesk.desk.handle import Session
from supportdesk.store import Store
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.data import ACTIVE_QUERY, DeskData, Source
from supportdesk.tui.screens import desk as desk_module
from tests.tui.conftest import SIZE, ready

BOB = "agent:bob"


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
