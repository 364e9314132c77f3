"""The customer panel shows the ticket's satisfaction rating, its comment filtered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from textual.app import App, ComposeResult

from supportdesk.desk import views
from supportdesk.store import Store
from supportdesk.tui.widgets.customer import CustomerPanel
from tests.test_csat import _ask, _open, _rate, _solve, _start, desk  # noqa: F401


class _PanelApp(App[None]):
    def compose(self) -> ComposeResult:
        yield CustomerPanel(id="customer")


async def test_the_customer_panel_shows_the_rating(desk: Store) -> None:  # noqa: F811
    _start(desk, datetime.now(UTC) - timedelta(minutes=1))
    number = _open(desk, 1)
    _solve(desk, number)
    _ask(desk)
    assert _rate(desk, number, 4, "<r@x>", "Very quick\x1b[31m, thanks") == "rating"
    with desk.session() as s:
        detail = views.ticket_detail(s, number)
    app = _PanelApp()
    async with app.run_test(size=(60, 30)) as pilot:
        panel = app.query_one(CustomerPanel)
        panel.show(detail)
        await pilot.pause()
        shown = str(panel.content)
    assert "★★★★☆ 4/5" in shown
    assert "Very quick" in shown and "\x1b" not in shown
