"""Two consoles on one PostgreSQL store: a change made in one shows in the other.

Both poll only once an hour here, so what carries the change is the server's notice
(LISTEN/NOTIFY through desk.live), not the change-mark poll.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from supportdesk.demo.builder import build_demo
from supportdesk.store import open_store
from supportdesk.tui.app import SupportdeskApp
from tests.conftest import PgSchemas, pg_url
from tests.tui.conftest import SIZE, open_ticket, ready, wait_until
from tests.tui.test_console_actions import detail, first, pick

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_demo(pg_schemas: PgSchemas) -> Iterator[str]:
    url = pg_url(pg_schemas.new())
    store = open_store(url, create=True)
    build_demo(store, tickets=30)
    store.dispose()
    yield url


def _console(url: str, me: str, tmp_path: Path) -> SupportdeskApp:
    return SupportdeskApp(
        open_store(url), me=me, poll_seconds=3600, user_themes_dir=tmp_path / "no-themes"
    )


async def test_a_change_in_one_console_shows_in_the_other(pg_demo: str, tmp_path: Path) -> None:
    reader = open_store(pg_demo)
    number = first(reader, "status:active -priority:urgent")
    alice, bob = _console(pg_demo, "alice", tmp_path), _console(pg_demo, "bob", tmp_path)
    try:
        async with alice.run_test(size=SIZE) as at_alice, bob.run_test(size=SIZE) as at_bob:
            await ready(at_alice)
            await ready(at_bob)
            await open_ticket(at_alice, number)
            await open_ticket(at_bob, number)
            await at_bob.press("j")  # bob moves on; his place must stay where he put it
            await ready(at_bob)
            bob_at = bob.desk.current.number  # type: ignore[union-attr]
            await at_alice.press("p")
            await pick(at_alice, "urgent")
            await wait_until(at_alice, lambda: detail(reader, number).row.priority == "urgent")
            await wait_until(
                at_bob,
                lambda: any(
                    (row := bob.desk.ticket_list.row_at(i)) is not None
                    and row.number == number
                    and row.priority == "urgent"
                    for i in range(bob.desk.ticket_list.total)
                ),
                what="alice's change in bob's list",
            )
            await ready(at_bob)
            assert bob.desk.current.number == bob_at  # type: ignore[union-attr]
    finally:
        for app in (alice, bob):
            app.data.store.dispose()
        reader.dispose()


def _header(app: SupportdeskApp) -> str:
    from textual.widgets import Static

    from supportdesk.tui.widgets.thread import ThreadHeader

    header: Static = app.desk.query_one(ThreadHeader)
    return str(header.render())


async def test_each_console_shows_who_else_is_on_the_ticket_and_warns_before_replying(
    pg_demo: str, tmp_path: Path
) -> None:
    from supportdesk.tui.screens.composer import ComposerScreen
    from supportdesk.tui.screens.modals import ConfirmScreen

    reader = open_store(pg_demo)
    number = first(reader, "status:active")
    reader.dispose()
    alice, bob = _console(pg_demo, "alice", tmp_path), _console(pg_demo, "bob", tmp_path)
    try:
        async with alice.run_test(size=SIZE) as at_alice, bob.run_test(size=SIZE) as at_bob:
            await ready(at_alice)
            await ready(at_bob)
            await open_ticket(at_bob, number)
            await open_ticket(at_alice, number)
            await wait_until(at_alice, lambda: "also here: bob" in _header(alice), what="bob")
            await wait_until(at_bob, lambda: "also here: alice" in _header(bob), what="alice")
            # alice's list was read with bob already there: his ◦ beside the ticket
            assert alice.desk.ticket_list.others == {number: "viewing"}
            await at_bob.press("r")
            await wait_until(at_bob, lambda: isinstance(bob.screen, ComposerScreen))
            await wait_until(
                at_alice, lambda: "bob (replying)" in _header(alice), what="bob replying"
            )
            await at_alice.press("r")
            await wait_until(
                at_alice,
                lambda: (
                    isinstance(alice.screen, ConfirmScreen)
                    and "bob already replying" in alice.screen.question
                ),
                what="the warning",
            )
            await at_alice.press("n")  # not now: no composer, nothing changed
            await wait_until(at_alice, lambda: alice.screen is alice.desk)
    finally:
        for app in (alice, bob):
            app.data.store.dispose()


async def test_the_first_presence_beat_waits_for_the_first_tickets_thread(
    pg_demo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The beat is a write, and its notice comes back to the console's own listener as one
    more read of the open ticket: both came before the first frame. It is sent with the
    rest of the start (which turns the collector back on, see cli.fastpath.run_console),
    for the ticket under the cursor."""
    import gc

    from supportdesk.tui.data import DeskData

    beats: list[tuple[int | None, bool]] = []
    beat = DeskData.beat

    def told(self: DeskData, number: int | None, doing: str) -> None:
        beats.append((number, gc.isenabled()))
        beat(self, number, doing)

    monkeypatch.setattr(DeskData, "beat", told)
    app = _console(pg_demo, "alice", tmp_path)
    gc.disable()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await wait_until(pilot, lambda: bool(beats), what="the first beat")
            current = app.desk.current
            assert current is not None
            assert beats[0] == (current.number, True)
    finally:
        gc.enable()
        app.data.store.dispose()
