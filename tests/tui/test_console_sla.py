"""The console's SLA cues and views, on the demo store with policies set (Pilot)."""

from __future__ import annotations

from collections.abc import Callable

from supportdesk.desk import directory, tickets
from supportdesk.desk.events import Change
from supportdesk.desk.sla import storage
from supportdesk.desk.views import TicketRow
from supportdesk.store import Store
from supportdesk.store.models import utcnow
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.widgets.thread import header_text
from tests.tui.conftest import SIZE, ready, screen_text

ALWAYS = "\n".join(
    f'{day} = "00:00-24:00"' for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
)


def loaded(app: SupportdeskApp) -> list[TicketRow]:
    return [row for page in app.desk.ticket_list._pages.values() for row in page]


def set_policies(store: Store) -> int:
    """Every queue answers within an hour, around the clock; one fresh ticket is due soon."""
    with store.session(write=True) as s:
        names = [q.name for q in directory.list_queues(s)]
        text = "\n".join(
            f'[[sla]]\nqueue = "{name}"\nfirst_response = "1h"\n\n[sla.hours]\n{ALWAYS}\n'
            for name in names
        )
        storage.import_policies(s, text, origin="test")
        fresh = tickets.create_ticket(
            s,
            subject="due soon",
            requester_email="soon@example.com",
            queue=names[0],
            change=Change.by("test", at=utcnow()),
        )
        return fresh.number


async def test_cues_and_views(demo_store: Store, make_app: Callable[..., SupportdeskApp]) -> None:
    number = set_policies(demo_store)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        text = screen_text(app)
        sidebar = [line for line in text.splitlines() if "Breach" in line]
        assert any("Breaching soon" in line and " 1" in line for line in sidebar), sidebar
        assert any("Breached" in line for line in sidebar), sidebar
        rows = {r.number: r for r in loaded(app)}
        assert rows[number].sla_state(utcnow()) == "due-soon"
        soon_line = next(
            line for line in text.splitlines() if f"{number}" in line and "due soon" in line
        )
        assert "◔" in soon_line
        assert any(line.lstrip("│ ").startswith("!") or " ! " in line for line in text.splitlines())
        ticket_list = app.desk.ticket_list
        breached = ticket_list._style("ticket-list--sla-breached").color
        soon = ticket_list._style("ticket-list--sla-due-soon").color
        variables = app.get_css_variables()
        assert breached is not None and breached.triplet is not None
        assert breached.triplet.hex.lower() == variables["sla-overdue"].lower()
        assert soon is not None and soon.triplet is not None
        assert soon.triplet.hex.lower() == variables["sla-due-soon"].lower()
        assert app.desk.detail is not None and app.desk.detail.row.number == number
        assert "SLA due" in header_text(app.desk.detail).plain
        # The Breached view lists only breached tickets, soonest due first.
        await pilot.press("slash")
        app.desk.search.input.value = "breached:yes status:active sort:due"
        await pilot.press("enter")
        await ready(pilot)
        shown = loaded(app)
        assert shown and all(r.sla_state(utcnow()) == "breached" for r in shown)
