"""`supportdesk tickets`: find tickets with the query language and read them."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from supportdesk.cli.context import CliContext
from supportdesk.cli.output import Col, FitTable, block, cell, console, error, print_json
from supportdesk.text import age, one_line

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement
    from sqlmodel import Session

    from supportdesk.desk.bulk import BulkResult
    from supportdesk.desk.events import Change
    from supportdesk.desk.views import TicketDetail, TicketRow

app = typer.Typer(help="Tickets: list them with a query, show one with its thread.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def rows_table(rows: list[TicketRow], now: datetime, title: str | None = None) -> FitTable:
    """One line per ticket. On a narrow terminal the requester gives way first, then queue and
    assignee, then the subject; number, status, priority and age always stay whole."""
    table = FitTable(
        [
            Col("#", "right"),
            Col("status"),
            Col("pri"),
            Col("queue", give=2, least=6),
            Col("subject", give=1, least=20),
            Col("requester", give=3, least=8),
            Col("assignee", give=2, least=6),
            Col("updated", "right"),
        ],
        title=title,
    )
    for r in rows:
        table.add_row(
            str(r.number),
            r.status,
            r.priority,
            cell(r.queue),
            cell(r.subject),
            cell(r.requester_name or r.requester_email),
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
    from supportdesk.desk.query import Matching, parse

    cli: CliContext = ctx.obj
    parsed = parse(query)
    with cli.store().session() as session:
        matching = Matching(session, parsed, me=cli.settings.agent)
        now = matching.now
        if ids:
            numbers = matching.numbers(limit=limit)
        else:
            total, rows = matching.total_and_rows(limit=limit or 50)
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
    header = Text.assemble((f"#{r.number} ", "bold"), cell(r.subject or "(no subject)"))
    header.stylize("bold")
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
    if d.first_response_at or d.solved_at:
        facts.add_row(
            "first response",
            f"{d.first_response_at:%Y-%m-%d %H:%M}" if d.first_response_at else "-",
            "solved",
            f"{d.solved_at:%Y-%m-%d %H:%M}" if d.solved_at else "-",
        )
    parts: list[object] = [header, facts]
    if d.merged_into:
        parts.append(Text(f"merged into #{d.merged_into}", style="yellow"))
    if d.requester_bounced_at is not None:
        parts.append(
            Text(f"mail to the requester bounced {d.requester_bounced_at:%Y-%m-%d %H:%M}: ", "red")
            + cell(d.requester_bounce_reason or "delivery failed", 120)
        )
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
            cell(f"  ({m.delivery})", 80) if m.delivery else "",
        )
        body = block(m.body_text.strip() or "(no text)")
        if m.parse_problems:
            body.append("\n\n")
            body.append(block(m.parse_problems.replace("\n", " · ")).plain, style="dim")
        if m.attachments:
            body.append(
                "\n\n"
                + "\n".join(
                    one_line(f"📎 {a.filename} ({a.content_type}, {a.size} bytes)")
                    for a in m.attachments
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
                    title=cell(f"note {n.id} by {n.author}"),
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
        if e.action in ("note_edited", "note_deleted"):  # the words are in `history`
            change = f"(the text before: supportdesk history --ticket {r.number})"
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


# Bulk commands ---------------------------------------------------------------------------

QueryArg = Annotated[
    str,
    typer.Argument(
        help='Which tickets: a query ("status:pending updated:>14d"), all for every ticket, '
        "or - to read ticket numbers from standard input."
    ),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="List what would change and change nothing.")
]
YesOption = Annotated[
    bool,
    typer.Option("--yes", "-y", help="Do not ask, however many tickets match (for scripts)."),
]
_DRY_RUN_ROWS = 200


def _interactive() -> bool:
    """Whether a person can answer a prompt: a pipe or cron cannot, so they need --yes."""
    return sys.stdin.isatty()


class _DryRun(Exception):
    """Rolls a dry run's transaction back once its events have been read."""


def _read_numbers(text: str) -> list[int]:
    """Ticket numbers from a pipe: whitespace-separated, `#` optional; anything else is misuse."""
    numbers: list[int] = []
    for word in text.split():
        digits = word.removeprefix("#")
        if not digits.isdigit():
            raise typer.BadParameter(
                f"standard input: {word!r} is not a ticket number", param_hint="QUERY"
            )
        numbers.append(int(digits))
    return numbers


def _resolve(
    cli: CliContext,
    session: Session,
    query: str,
    numbers: list[int] | None,
    extra: ColumnElement[bool] | None,
) -> list[int]:
    """Ticket ids for QUERY (or the piped numbers), narrowed by `extra` if given."""
    from supportdesk.desk import bulk
    from supportdesk.desk.query import Matching

    if numbers is not None:
        return bulk.ids_for_numbers(session, numbers, extra)
    return Matching.selection(session, query, me=cli.settings.agent, narrow=extra).ids()


def run_bulk(
    ctx: typer.Context,
    query: str,
    what: str,
    apply: Callable[[Session, list[int], Change], BulkResult],
    *,
    dry_run: bool,
    yes: bool,
    as_json: bool,
    extra: Callable[[Session], ColumnElement[bool]] | None = None,
    refused: str | None = None,
) -> None:
    """The life of every bulk command: find, show or ask, change as one batch, report.

    `refused` names input the command dropped before it ran (a bad tag among good ones):
    it is reported after the change and makes the exit code 1.

    Tickets are found in a read transaction so a confirmation prompt never holds the write
    lock while a person thinks; the write transaction finds them again and changes them. A
    dry run makes the change for real inside a transaction it then rolls back, so what it
    lists is exactly what the command would do, skipped tickets included.
    """
    from supportdesk.desk.events import Change

    cli: CliContext = ctx.obj
    numbers = _read_numbers(sys.stdin.read()) if query == "-" else None
    store = cli.store()
    with store.session() as session:
        matched = len(_resolve(cli, session, query, numbers, extra(session) if extra else None))
    limit = cli.settings.bulk.confirm_above
    if not dry_run and not yes and matched > limit:
        if numbers is not None or not _interactive():
            error(
                f"{what}: {matched} tickets match, more than bulk.confirm_above ({limit}); "
                "nothing was changed: check with --dry-run, then pass --yes"
            )
            raise typer.Exit(1)
        if not typer.confirm(f"{what}: {matched} tickets. Go ahead?", default=False):
            error("nothing was changed")
            raise typer.Exit(1)
    change = Change.by(cli.actor)
    changes: list[dict[str, object]] = []
    try:
        with store.session(write=True) as session:
            ids = _resolve(cli, session, query, numbers, extra(session) if extra else None)
            result = apply(session, ids, change)
            if dry_run:
                changes = _batch_changes(session, change.batch_id)
                raise _DryRun
    except _DryRun:
        pass
    _report(what, result, changes, dry_run=dry_run, as_json=as_json, refused=refused)
    if refused:
        error(refused)
        raise typer.Exit(1)


def _batch_changes(session: Session, batch: str) -> list[dict[str, object]]:
    from supportdesk.desk import history

    return [
        {"ticket": e.ticket, "action": e.action, "old": e.old_value, "new": e.new_value}
        for e in history.events(session, batch=batch, limit=None)
    ]


def _report(
    what: str,
    result: BulkResult,
    changes: list[dict[str, object]],
    *,
    dry_run: bool,
    as_json: bool,
    refused: str | None = None,
) -> None:
    data = result.as_dict()
    if dry_run:
        data = {"dry_run": True, **data, "batch_id": None, "changes": changes}
    if refused:
        data["refused"] = refused
    if as_json:
        print_json(data)
        return
    if dry_run:
        table = FitTable(
            [
                Col("#", "right"),
                Col("action"),
                Col("old", give=1, least=8),
                Col("new", give=1, least=8),
            ]
        )
        for c in changes[:_DRY_RUN_ROWS]:
            table.add_row(
                str(c["ticket"]), str(c["action"]), cell(c["old"] or "-"), cell(c["new"] or "-")
            )
        console.print(table)
        if len(changes) > _DRY_RUN_ROWS:
            console.print(f"… and {len(changes) - _DRY_RUN_ROWS} more changes (--json lists all)")
    skipped = "".join(f", {n} skipped ({why})" for why, n in result.skipped.items())
    verb = "would change" if dry_run else "changed"
    line = f"{what}: {result.matched} matched, {verb} {result.changed}{skipped}"
    if dry_run:
        line += "; dry run: nothing was changed"
    elif result.changed:
        line += f"; batch {result.batch_id} (supportdesk undo {result.batch_id})"
    console.print(Text(line))


@app.command("assign")
def bulk_assign(
    ctx: typer.Context,
    agent: Annotated[str, typer.Argument(help="The agent's handle.")],
    query: QueryArg,
    dry_run: DryRunOption = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Assign every ticket matching QUERY to AGENT."""
    from supportdesk.desk import bulk

    run_bulk(
        ctx,
        query,
        f"assign to {agent}",
        lambda s, ids, c: bulk.assign(s, ids, agent, c),
        dry_run=dry_run,
        yes=yes,
        as_json=as_json,
    )


@app.command("unassign")
def bulk_unassign(
    ctx: typer.Context,
    query: QueryArg,
    dry_run: DryRunOption = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Unassign every ticket matching QUERY."""
    from supportdesk.desk import bulk

    run_bulk(ctx, query, "unassign", bulk.unassign, dry_run=dry_run, yes=yes, as_json=as_json)


@app.command("reassign")
def bulk_reassign(
    ctx: typer.Context,
    from_agent: Annotated[str, typer.Option("--from", help="Whose tickets.")],
    to_agent: Annotated[str, typer.Option("--to", help="Who gets them.")],
    query: Annotated[
        str, typer.Argument(help="Narrow further with a query, or - for numbers on stdin.")
    ] = "",
    dry_run: DryRunOption = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Move the tickets assigned to one agent (and matching QUERY) to another."""
    from sqlmodel import col

    from supportdesk.desk import bulk, directory
    from supportdesk.store.models import Ticket

    def theirs(session: Session) -> ColumnElement[bool]:
        return col(Ticket.assignee_id) == directory.get_agent(session, from_agent).id

    run_bulk(
        ctx,
        query,
        f"reassign {from_agent} → {to_agent}",
        lambda s, ids, c: bulk.assign(s, ids, to_agent, c),
        dry_run=dry_run,
        yes=yes,
        as_json=as_json,
        extra=theirs,
    )


@app.command("status")
def bulk_status(
    ctx: typer.Context,
    status: Annotated[str, typer.Argument(help="new, open, pending, on-hold, solved or closed.")],
    query: QueryArg,
    dry_run: DryRunOption = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Set the status of every ticket matching QUERY; those that cannot go there are skipped."""
    from supportdesk.desk import bulk

    run_bulk(
        ctx,
        query,
        f"status {status}",
        lambda s, ids, c: bulk.set_status(s, ids, status, c),
        dry_run=dry_run,
        yes=yes,
        as_json=as_json,
    )


@app.command("priority")
def bulk_priority(
    ctx: typer.Context,
    priority: Annotated[str, typer.Argument(help="low, normal, high or urgent.")],
    query: QueryArg,
    dry_run: DryRunOption = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Set the priority of every ticket matching QUERY."""
    from supportdesk.desk import bulk

    run_bulk(
        ctx,
        query,
        f"priority {priority}",
        lambda s, ids, c: bulk.set_priority(s, ids, priority, c),
        dry_run=dry_run,
        yes=yes,
        as_json=as_json,
    )


@app.command("move")
def bulk_move(
    ctx: typer.Context,
    queue: Annotated[str, typer.Argument(help="The queue to move them to.")],
    query: QueryArg,
    dry_run: DryRunOption = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Move every ticket matching QUERY to QUEUE."""
    from supportdesk.desk import bulk

    run_bulk(
        ctx,
        query,
        f"move to {queue}",
        lambda s, ids, c: bulk.move(s, ids, queue, c),
        dry_run=dry_run,
        yes=yes,
        as_json=as_json,
    )


TagsArg = Annotated[
    str, typer.Argument(help="One tag, or several separated by commas or spaces (any script).")
]


def _tag_input(text: str) -> tuple[tuple[str, ...], str | None]:
    """The good tags of TAGS and a line naming the bad ones; none good at all is an error."""
    from supportdesk.desk.tags import parse_tags
    from supportdesk.errors import ValidationError

    parsed = parse_tags(text, signs=False)
    if not parsed.add:
        raise ValidationError(f"{parsed.problem() or 'name at least one tag'}; nothing changed")
    return parsed.add, parsed.problem()


@app.command("tag")
def bulk_tag(
    ctx: typer.Context,
    tags: TagsArg,
    query: QueryArg,
    dry_run: DryRunOption = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Add TAGS to every ticket matching QUERY; a bad tag is refused by name, the rest apply."""
    from supportdesk.desk import bulk

    names, refused = _tag_input(tags)
    run_bulk(
        ctx,
        query,
        f"tag {','.join(names)}",
        lambda s, ids, c: bulk.add_tags(s, ids, names, c),
        dry_run=dry_run,
        yes=yes,
        as_json=as_json,
        refused=refused,
    )


@app.command("untag")
def bulk_untag(
    ctx: typer.Context,
    tags: TagsArg,
    query: QueryArg,
    dry_run: DryRunOption = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Remove TAGS from every ticket matching QUERY; a bad tag is refused by name."""
    from supportdesk.desk import bulk

    names, refused = _tag_input(tags)
    run_bulk(
        ctx,
        query,
        f"untag {','.join(names)}",
        lambda s, ids, c: bulk.remove_tags(s, ids, names, c),
        dry_run=dry_run,
        yes=yes,
        as_json=as_json,
        refused=refused,
    )


@app.command("merge")
def bulk_merge(
    ctx: typer.Context,
    query: QueryArg,
    into: Annotated[int, typer.Option("--into", help="The ticket number to merge them into.")],
    dry_run: DryRunOption = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Merge every ticket matching QUERY into ticket --into. Merges cannot be undone."""
    from supportdesk.desk import bulk

    run_bulk(
        ctx,
        query,
        f"merge into #{into}",
        lambda s, ids, c: bulk.merge(s, ids, into, c),
        dry_run=dry_run,
        yes=yes,
        as_json=as_json,
    )
