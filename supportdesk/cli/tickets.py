"""`supportdesk tickets`: find tickets with the query language and read them."""

from __future__ import annotations

import dataclasses
import inspect
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from supportdesk.cli.context import CliContext
from supportdesk.cli.options import JsonOption
from supportdesk.cli.output import Col, FitTable, block, cell, console, error, print_json
from supportdesk.clock import utcnow
from supportdesk.dates import age, stamp
from supportdesk.i18n import _, pgettext
from supportdesk.linebreak import Wrapped
from supportdesk.text import one_line

if TYPE_CHECKING:
    from rich.console import Group

    from supportdesk.desk.bulk_commands import BulkCommand, Outcome, Param
    from supportdesk.desk.views import TicketDetail, TicketRow

app = typer.Typer(help=_("Tickets: list them with a query, show one with its thread."))


def rows_table(rows: list[TicketRow], now: datetime, title: str | None = None) -> FitTable:
    """One line per ticket. On a narrow terminal the requester gives way first, then queue and
    assignee, then the subject; number, status, priority and age always stay whole."""
    table = FitTable(
        [
            Col("#", "right"),
            Col(_("status")),
            Col(_("pri")),
            Col(_("queue"), give=2, least=6),
            Col(_("subject"), give=1, least=20),
            Col(_("requester"), give=3, least=8),
            Col(_("assignee"), give=2, least=6),
            Col(_("updated"), "right"),
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


@app.callback(
    invoke_without_command=True,
    help=_("Tickets: list them with a query, show one with its thread."),
)
def _default(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        list_tickets(ctx)


@app.command(
    "list",
    help=_(
        "List tickets matching QUERY, most recently updated first (see README: query language)."
    ),
)
def list_tickets(
    ctx: typer.Context,
    query: Annotated[
        str, typer.Argument(help=_('A query, e.g. "status:open queue:billing refund".'))
    ] = "",
    limit: Annotated[
        int | None,
        typer.Option(min=1, help=_("Show at most this many (default 50; --ids: all).")),
    ] = None,
    as_json: JsonOption = False,
    ids: Annotated[bool, typer.Option("--ids", help=_("Print ticket numbers only."))] = False,
) -> None:
    from supportdesk.desk.query import Matching, parse

    cli: CliContext = ctx.obj
    parsed = parse(query)
    with cli.store().session() as session:
        matching = Matching(session, parsed, me=cli.me)
        now = matching.now
        if ids:
            numbers = matching.numbers(limit=limit)
        elif as_json:  # a script gets the exact total
            total, rows = matching.total_and_rows(limit=limit or 50)
        else:
            shown, rows = matching.shown_and_rows(limit=limit or 50)
    if ids:
        typer.echo("\n".join(map(str, numbers)))
    elif as_json:
        print_json({"total": total, "tickets": [r.as_dict() for r in rows]})
    else:
        console.print(rows_table(rows, now))
        console.print(_("showing {count} of {label}").format(count=len(rows), label=shown.label()))


@app.command("show", help=_("Show one ticket: its fields, thread, notes and history."))
def show_ticket(
    ctx: typer.Context,
    number: Annotated[int, typer.Argument(help=_("The ticket number."))],
    as_json: JsonOption = False,
) -> None:
    from supportdesk.desk import views

    cli: CliContext = ctx.obj
    with cli.store().session() as session:
        detail = views.ticket_detail(session, number)
    if as_json:
        print_json(dataclasses.asdict(detail))
    else:
        console.print(render_detail(detail))


def render_detail(d: TicketDetail) -> Group:
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    r = d.row
    header = Text.assemble((f"#{r.number} ", "bold"), cell(r.subject or _("(no subject)")))
    header.stylize("bold")
    facts = Table.grid(padding=(0, 2))
    facts.add_row(_("status"), r.status, _("priority"), r.priority, _("queue"), cell(r.queue))
    facts.add_row(
        _("requester"),
        cell(
            f"{r.requester_name} <{r.requester_email}>" if r.requester_name else r.requester_email
        ),
        _("organisation"),
        cell(d.requester_organisation or "-"),
        _("assignee"),
        cell(r.assignee or "-"),
    )
    facts.add_row(
        _("tags"),
        cell(", ".join(d.tags) or "-"),
        _("cc"),
        cell(", ".join(d.ccs) or "-"),
        _("version"),
        str(r.version),
    )
    if d.first_response_at or d.solved_at:
        facts.add_row(
            _("first response"),
            stamp(d.first_response_at) if d.first_response_at else "-",
            _("solved"),
            stamp(d.solved_at) if d.solved_at else "-",
        )
    due, state = r.sla_due, r.sla_state(utcnow())
    if due is not None or state:
        facts.add_row(
            _("SLA due"),
            stamp(due, zone=True) if due else "-",
            _("SLA"),
            {"breached": _("breached"), "due-soon": _("due soon"), "due": _("on track")}.get(
                state, "-"
            ),
        )
    if d.rating is not None:
        facts.add_row(
            _("rating"),
            f"{d.rating.score}/5 " + "★" * d.rating.score + "☆" * (5 - d.rating.score),
            _("rated"),
            f"{d.rating.received_at:%Y-%m-%d %H:%M}",
        )
    parts: list[object] = [header, facts]
    if d.rating is not None and d.rating.comment:
        parts.append(Text(_("Rating comment: "), style="bold") + cell(d.rating.comment, 300))
    if d.merged_into:
        parts.append(
            Text(_("merged into #{merged_into}").format(merged_into=d.merged_into), style="yellow")
        )
    if d.requester_bounced_at is not None:
        parts.append(
            Text(
                _("mail to the requester bounced {when}: ").format(
                    when=stamp(d.requester_bounced_at)
                ),
                "red",
            )
            + cell(d.requester_bounce_reason or _("delivery failed"), 120)
        )
    timeline: list[tuple[datetime, int, object]] = []
    for m in d.messages:
        who = f"{m.from_name} <{m.from_address}>" if m.from_name else m.from_address
        flags = [
            f
            for f, on in (
                (_("auto-reply"), m.is_auto_reply),
                (_("bounce"), m.is_bounce),
                (_("list"), m.is_list),
            )
            if on
        ]
        title = Text.assemble(
            ("→ " if m.direction == "out" else "← "),
            cell(who, 60),
            f"  {stamp(m.date)}",
            f"  [{', '.join(flags)}]" if flags else "",
            cell(f"  ({m.delivery})", 80) if m.delivery else "",
        )
        body = block(m.body_text.strip() or _("(no text)"))
        if m.parse_problems:
            body.append("\n\n")
            body.append(block(m.parse_problems.replace("\n", " · ")).plain, style="dim")
        if m.attachments:
            body.append(
                "\n\n"
                + "\n".join(
                    one_line(
                        _("📎 {filename} ({content_type}, {size} bytes)").format(
                            filename=a.filename, content_type=a.content_type, size=a.size
                        )
                    )
                    for a in m.attachments
                )
            )
        timeline.append(
            (
                m.date,
                0,
                Panel(
                    Wrapped(body),  # Japanese wraps between phrases, as in the console
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
                    Wrapped(block(n.body)),
                    title=cell(_("note {id} by {author}").format(id=n.id, author=n.author)),
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
            change = _("(the text before: supportdesk history --ticket {number})").format(
                number=r.number
            )
        timeline.append(
            (
                e.created_at,
                2,
                Text.assemble(
                    ("  · ", "dim"),
                    cell(f"{stamp(e.created_at)} {e.actor} {e.action} {change}"),
                ),
            )
        )
    parts.extend(item for _when, _order, item in sorted(timeline, key=lambda t: (t[0], t[1])))
    return Group(*parts)  # type: ignore[arg-type]


# Bulk commands ---------------------------------------------------------------------------
# Declared once in desk.bulk_commands; each becomes a command here with the same inputs,
# plus --dry-run, --yes and --json.

DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help=_("List what would change and change nothing."))
]
YesOption = Annotated[
    bool,
    typer.Option("--yes", "-y", help=_("Do not ask, however many tickets match (for scripts).")),
]
_DRY_RUN_ROWS = 200


def _interactive() -> bool:
    """Whether a person can answer a prompt: a pipe or cron cannot, so they need --yes."""
    return sys.stdin.isatty()


def _read_numbers(text: str) -> tuple[int, ...]:
    """Ticket numbers from a pipe: whitespace-separated, `#` optional; anything else is misuse."""
    numbers: list[int] = []
    for word in text.split():
        digits = word.removeprefix("#")
        if not digits.isdigit():
            raise typer.BadParameter(
                _("standard input: {word!r} is not a ticket number").format(word=word),
                param_hint="QUERY",
            )
        numbers.append(int(digits))
    return tuple(numbers)


def run_bulk(
    ctx: typer.Context,
    name: str,
    query: str,
    inputs: dict[str, object],
    *,
    dry_run: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """The life of every bulk command: find, show or ask, change as one batch, report.

    A refusal of part of the input (a bad tag among good ones) is reported after the
    change and makes the exit code 1.
    """
    from supportdesk.desk import bulk_commands

    cli: CliContext = ctx.obj
    numbers = _read_numbers(sys.stdin.read()) if query == "-" else None
    prepared = bulk_commands.prepare(name, **inputs)
    selection = bulk_commands.Selection(query, numbers, cli.me)
    store = cli.store()
    if not dry_run and not yes:
        asked = bulk_commands.preview(
            store, prepared, selection, confirm_above=cli.settings.bulk.confirm_above
        )
        if asked.needs_confirmation:
            if numbers is not None or not _interactive():
                error(
                    _(
                        "{what}: {matched} tickets match, more than "
                        "bulk.confirm_above ({confirm_above}); nothing was changed: "
                        "check with --dry-run, then pass --yes"
                    ).format(
                        what=asked.what, matched=asked.matched, confirm_above=asked.confirm_above
                    )
                )
                raise typer.Exit(1)
            if not typer.confirm(
                _("{what}: {matched} tickets. Go ahead?").format(
                    what=asked.what, matched=asked.matched
                ),
                default=False,
            ):
                error(_("nothing was changed"))
                raise typer.Exit(1)
    outcome = bulk_commands.run(store, prepared, selection, actor=cli.actor, dry_run=dry_run)
    _report(outcome, as_json=as_json)
    if outcome.refused:
        error(outcome.refused)
        raise typer.Exit(1)


def _report(outcome: Outcome, *, as_json: bool) -> None:
    from rich.text import Text

    if as_json:
        print_json(outcome.as_dict())
        return
    if outcome.dry_run:
        table = FitTable(
            [
                Col("#", "right"),
                Col(_("action")),
                Col(pgettext("change", "old"), give=1, least=8),
                Col(pgettext("change", "new"), give=1, least=8),
            ]
        )
        for c in outcome.changes[:_DRY_RUN_ROWS]:
            table.add_row(
                str(c["ticket"]), str(c["action"]), cell(c["old"] or "-"), cell(c["new"] or "-")
            )
        console.print(table)
        if len(outcome.changes) > _DRY_RUN_ROWS:
            more = len(outcome.changes) - _DRY_RUN_ROWS
            console.print(_("… and {more} more changes (--json lists all)").format(more=more))
    console.print(Text(outcome.summary()))


def _bulk_command(command: BulkCommand) -> Callable[..., None]:
    """A Typer command for `command`: its inputs in their order, then the shared options."""
    names = [p.name for p in command.params if p.name != "query"]

    def run(
        ctx: typer.Context, *, query: str, dry_run: bool, yes: bool, as_json: bool, **inputs: object
    ) -> None:
        run_bulk(
            ctx,
            command.name,
            query,
            {n: inputs[n] for n in names},
            dry_run=dry_run,
            yes=yes,
            as_json=as_json,
        )

    def param(p: Param) -> inspect.Parameter:
        info = typer.Option(*p.flags, help=_(p.help)) if p.flags else typer.Argument(help=_(p.help))
        return inspect.Parameter(
            p.name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[p.kind, info],
            default=inspect.Parameter.empty if p.default is ... else p.default,
        )

    params = [
        inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
        *(param(p) for p in command.params),
        inspect.Parameter(
            "dry_run", inspect.Parameter.KEYWORD_ONLY, annotation=DryRunOption, default=False
        ),
        inspect.Parameter(
            "yes", inspect.Parameter.KEYWORD_ONLY, annotation=YesOption, default=False
        ),
        inspect.Parameter(
            "as_json", inspect.Parameter.KEYWORD_ONLY, annotation=JsonOption, default=False
        ),
    ]
    run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    run.__annotations__ = {}
    run.__name__ = f"bulk_{command.name}"
    return run


def _add_bulk_commands() -> None:
    from supportdesk.desk.bulk_commands import COMMANDS

    for command in COMMANDS:
        app.command(command.name, help=_(command.help))(_bulk_command(command))


_add_bulk_commands()
