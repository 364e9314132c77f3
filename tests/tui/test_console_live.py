"""Changes made by another process reach the console within two seconds, in place."""

from __future__ import annotations

from collections.abc import Callable

from supportdesk.desk import tickets
from supportdesk.desk.events import Change
from supportdesk.desk.query import Count
from supportdesk.store import Store
from supportdesk.tui.app import SupportdeskApp
from tests.tui.conftest import SIZE, ready, wait_until

BOB = "agent:bob"


async def test_another_process_change_shows_without_losing_place_or_selection(
    make_app: Callable[..., SupportdeskApp], other_session: Store
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        tl = app.desk.ticket_list
        await pilot.press("space", "j", "j")  # select row 0, cursor on row 3
        await ready(pilot)
        marked = set(tl.marked)
        reading = app.desk.current.number  # type: ignore[union-attr]
        changed = tl.row_at(6).number  # type: ignore[union-attr]
        before = app.desk.sidebar.entries["mine"].count
        mine_before = before.value if before is not None else 0
        with other_session.session(write=True) as session:
            tickets.assign(session, changed, "alice", Change.by(BOB))
            tickets.set_priority(session, changed, "urgent", Change.by(BOB))
        await wait_until(
            pilot,
            lambda: (
                (row := tl.row_at(0)) is not None
                and row.number == changed
                and row.priority == "urgent"
            ),
            timeout=20,
            what="the other process's change in the list",
        )
        await ready(pilot)
        assert app.desk.current.number == reading  # type: ignore[union-attr]
        assert tl.row_at(tl.cursor).number == reading  # type: ignore[union-attr]
        assert set(tl.marked) == marked
        await wait_until(
            pilot,
            lambda: app.desk.sidebar.entries["mine"].count == Count.exactly(mine_before + 1),
            timeout=20,
            what="the sidebar count",
        )


async def test_the_open_ticket_refreshes_in_place(
    make_app: Callable[..., SupportdeskApp], other_session: Store
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        number = app.desk.current.number  # type: ignore[union-attr]
        with other_session.session(write=True) as session:
            tickets.add_note(session, number, "seen from the CLI", Change.by(BOB))
        await wait_until(
            pilot,
            lambda: any(n.body == "seen from the CLI" for n in app.desk.detail.notes),  # type: ignore[union-attr]
            timeout=20,
            what="the new note in the thread",
        )
        assert app.desk.current.number == number  # type: ignore[union-attr]
