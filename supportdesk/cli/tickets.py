"""`supportdesk tickets`: find tickets with the query language and read them."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from supportdesk.cli.context import CliContext
from supportdesk.cli.output import block, cell, console, print_json

if TYPE_CHECKING:
    from supportdesk.desk.views import TicketDetail, TicketRow

app = typer.Typer(help="Tickets: list them with a query, show one with its thread.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def age(when: datetime, now: datetime) -> str:
    """A short age like 5m, 3h, 2d, 7w: what a list column has room for."""
    seconds = max(0, int((now - when).total_seconds()))
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return "now"


def rows_table(rows: list[TicketRow], now: datetime, title: str | None = None) -> Table:
    """One line per ticket whatever the width: the subject gives way first."""
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, expand=True)
    fixed = {"#": 5, "status": 7, "pri": 6, "queue": 9, "assignee": 8, "updated": 7}
    for name in ("#", "status", "pri", "queue", "subject", "requester", "assignee", "updated"):
        table.add_column(
            name,
            no_wrap=True,
            overflow="ellipsis",
            width=fixed.get(name),
            ratio=None if name in fixed else (2 if name == "subject" else 1),
            justify="right" if name in ("#", "updated") else "left",
        )
    for r in rows:
        table.add_row(
            str(r.number),
            r.status,
            r.priority,
            cell(r.queue),
            cell(r.subject, 60),
            cell(r.requester_name or r.requester_email, 30),
            cell(r.assignee or "-"),
            age(r.updated_at, now),
        )
    return table


@app.callback(invoke_without_command=True)
def _default(ctx: typer.Context) -> None:
    """Tickets: list them with a query, show one with its thread."""
    if ctx.invoked_subcommand is None:
        list_tickets(ctx)


@app.command("list")
def list_tickets(
    ctx: typer.Context,
    query: Annotated[
        str, typer.Argument(help='A query, e.g. "status:open queue:billing refund".')
    ] = "",
    limit: Annotated[
        int | None,
        typer.Option(min=1, help="Show at most this many (default 50; --ids: all)."),
    ] = None,
    as_json: JsonOption = False,
    ids: Annotated[bool, typer.Option("--ids", help="Print ticket numbers only.")] = False,
) -> None:
    """List tickets matching QUERY, most recently updated first (see README: query language)."""
    from supportdesk.desk import views
    from supportdesk.desk.query import compile_query, parse
    from supportdesk.store.models import utcnow

    cli: CliContext = ctx.obj
    parsed = parse(query)
    now = utcnow()
    with cli.store().session() as session:
        conn = session.connection()
        if ids:
            whole = compile_query(parsed, conn, me=cli.settings.agent, now=now, whole_set=True)
            numbers = views.ticket_numbers(session, whole.where, whole.order_by, limit=limit)
        else:
            page = compile_query(parsed, conn, me=cli.settings.agent, now=now)
            rows = views.list_tickets(session, page.where, page.order_by, limit=limit or 50)
            total = len(rows)
            if len(rows) == (limit or 50):
                whole = compile_query(parsed, conn, me=cli.settings.agent, now=now, whole_set=True)
                total = views.count_tickets(session, whole.where)
    if ids:
        typer.echo("\n".join(map(str, numbers)))
    elif as_json:
        print_json({"total": total, "tickets": [r.as_dict() for r in rows]})
    else:
        console.print(rows_table(rows, now))
        console.print(f"showing {len(rows)} of {total}")


@app.command("show")
def show_ticket(
    ctx: typer.Context,
    number: Annotated[int, typer.Argument(help="The ticket number.")],
    as_json: JsonOption = False,
) -> None:
    """Show one ticket: its fields, thread, notes and history."""
    from supportdesk.desk import views

    cli: CliContext = ctx.obj
    with cli.store().session() as session:
        detail = views.ticket_detail(session, number)
    if as_json:
        print_json(dataclasses.asdict(detail))
    else:
        console.print(render_detail(detail))


def render_detail(d: TicketDetail) -> Group:
    r = d.row
    header = Text.assemble(
        (f"#{r.number} ", "bold"),
        (" ".join((r.subject or "(no subject)").split()), "bold"),
    )
    facts = Table.grid(padding=(0, 2))
    facts.add_row("status", r.status, "priority", r.priority, "queue", cell(r.queue))
    facts.add_row(
        "requester",
        cell(
            f"{r.requester_name} <{r.requester_email}>" if r.requester_name else r.requester_email
        ),
        "organisation",
        cell(d.requester_organisation or "-"),
        "assignee",
        cell(r.assignee or "-"),
    )
    facts.add_row(
        "tags",
        cell(", ".join(d.tags) or "-"),
        "cc",
        cell(", ".join(d.ccs) or "-"),
        "version",
        str(r.version),
    )
    parts: list[object] = [header, facts]
    if d.merged_into:
        parts.append(Text(f"merged into #{d.merged_into}", style="yellow"))
    timeline: list[tuple[datetime, int, object]] = []
    for m in d.messages:
        who = f"{m.from_name} <{m.from_address}>" if m.from_name else m.from_address
        flags = [
            f
            for f, on in (
                ("auto-reply", m.is_auto_reply),
                ("bounce", m.is_bounce),
                ("list", m.is_list),
            )
            if on
        ]
        title = Text.assemble(
            ("→ " if m.direction == "out" else "← "),
            cell(who, 60),
            f"  {m.date:%Y-%m-%d %H:%M}",
            f"  [{', '.join(flags)}]" if flags else "",
        )
        body = block(m.body_text.strip() or "(no text)")
        if m.attachments:
            body.append(
                "\n\n"
                + "\n".join(
                    f"📎 {a.filename} ({a.content_type}, {a.size} bytes)" for a in m.attachments
                )
            )
        timeline.append(
            (
                m.date,
                0,
                Panel(
                    body,
                    title=title,
                    title_align="left",
                    border_style="cyan" if m.direction == "in" else "green",
                ),
            )
        )
    for n in d.notes:
        timeline.append(
            (
                n.created_at,
                1,
                Panel(
                    block(n.body),
                    title=cell(f"note by {n.author}"),
                    title_align="left",
                    border_style="yellow",
                ),
            )
        )
    for e in d.events:
        if e.action.startswith("message_") or e.action == "note":
            continue
        change = (
            f"{e.old_value or '-'} → {e.new_value or '-'}" if e.old_value else (e.new_value or "")
        )
        timeline.append(
            (
                e.created_at,
                2,
                Text.assemble(
                    ("  · ", "dim"),
                    cell(f"{e.created_at:%Y-%m-%d %H:%M} {e.actor} {e.action} {change}"),
                ),
            )
        )
    parts.extend(item for _, _, item in sorted(timeline, key=lambda t: (t[0], t[1])))
    return Group(*parts)  # type: ignore[arg-type]
