"""What `supportdesk` shows with no command until the console lands: queues and newest tickets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from supportdesk.cli.context import CliContext
from supportdesk.cli.output import Col, FitTable, cell, console
from supportdesk.clock import utcnow

if TYPE_CHECKING:
    from supportdesk.desk.handle import Desk


def print_overview(store: Desk, me: str | None, *, newest: int = 15) -> None:
    from supportdesk.cli.tickets import rows_table
    from supportdesk.desk import views

    now = utcnow()
    with store.session() as session:
        overview = views.overview(session, me=me, now=now)
        rows = views.list_tickets(session, limit=newest)
    views_table = FitTable([Col("view"), Col("tickets", "right")], title="Views")
    for label, count in (
        ("My tickets", overview.mine if me else None),
        ("Unassigned", overview.unassigned),
        ("All open", overview.all_active),
        ("Pending", overview.pending),
        ("Recently solved", overview.recently_solved),
        ("Quarantine", overview.quarantine),
    ):
        views_table.add_row(label, "-" if count is None else str(count))
    queues = FitTable(
        [Col("queue", give=1), Col("active", "right"), Col("unassigned", "right")],
        title="Queues",
    )
    for q in overview.queues:
        queues.add_row(cell(q.name), str(q.active), str(q.unassigned))
    console.print(views_table)
    console.print(queues)
    console.print(rows_table(rows, now, title="Newest tickets"))


def show_overview(cli: CliContext) -> None:
    print_overview(cli.store(), cli.me)
