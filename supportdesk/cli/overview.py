"""What `supportdesk` shows with no command until the console lands: queues and newest tickets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from supportdesk.cli.context import CliContext
from supportdesk.cli.output import Col, FitTable, cell, console
from supportdesk.clock import utcnow
from supportdesk.i18n import _

if TYPE_CHECKING:
    from supportdesk.desk.handle import Desk


def print_overview(store: Desk, me: str | None, *, newest: int = 15) -> None:
    from supportdesk.cli.tickets import rows_table
    from supportdesk.desk import views

    now = utcnow()
    with store.session() as session:
        overview = views.overview(session, me=me, now=now)
        rows = views.list_tickets(session, limit=newest)
    views_table = FitTable([Col(_("view")), Col(_("tickets"), "right")], title=_("Views"))
    for label, count in (
        (_("My tickets"), overview.mine if me else None),
        (_("Unassigned"), overview.unassigned),
        (_("All open"), overview.all_active),
        (_("Pending"), overview.pending),
        (_("Recently solved"), overview.recently_solved),
        (_("Quarantine"), overview.quarantine),
    ):
        views_table.add_row(label, "-" if count is None else str(count))
    queues = FitTable(
        [Col(_("queue"), give=1), Col(_("active"), "right"), Col(_("unassigned"), "right")],
        title=_("Queues"),
    )
    for q in overview.queues:
        queues.add_row(cell(q.name), str(q.active), str(q.unassigned))
    console.print(views_table)
    console.print(queues)
    console.print(rows_table(rows, now, title=_("Newest tickets")))


def show_overview(cli: CliContext) -> None:
    print_overview(cli.store(), cli.me)
