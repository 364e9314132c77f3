"""`supportdesk send` and `supportdesk outbox`: deliver queued replies, see and steer them.

Exit codes of `send`: 0 when everything due went out (or nothing was due), 75 (EX_TEMPFAIL)
when some mail waits for a retry (server down, 4xx), 1 when a person is needed (a 5xx
refusal, or a delivery that is uncertain and was not found in Sent).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from supportdesk.cli.context import CliContext
from supportdesk.cli.options import JsonOption
from supportdesk.cli.output import block, cell, console, error, print_json

if TYPE_CHECKING:
    from rich.table import Table

    from supportdesk.desk.outbox import DrainReport, ItemView

app = typer.Typer(
    help="The outbox: replies waiting to be sent, and what happened to them.",
    no_args_is_help=False,
)

IdArg = Annotated[int, typer.Argument(help="The outbox item's id (see `outbox list`).")]


def send(
    ctx: typer.Context,
    mailbox: Annotated[
        str | None, typer.Option("--mailbox", help="Only this mailbox's replies.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Send the queued replies that are due, once (cron it, or let `sync --watch` do it)."""
    from supportdesk.desk.outbox import Sender

    cli: CliContext = ctx.obj
    if mailbox is not None:
        cli.settings.mailbox(mailbox)
    report = Sender(cli.store(), cli.settings).drain(mailbox=mailbox)
    _print_report(report, as_json)
    raise typer.Exit(report.exit_code)


def _print_report(report: DrainReport, as_json: bool) -> None:
    if as_json:
        print_json(report.as_dict())
        return
    parts = [f"{len(report.sent)} sent"]
    for label, ids in (
        ("waiting for a retry", report.deferred),
        ("failed", report.failed),
        ("uncertain (held for you)", report.uncertain),
        ("found in Sent after an interruption", report.found),
        ("sent again after an interruption before the handover", report.requeued),
    ):
        if ids:
            parts.append(f"{len(ids)} {label}: {', '.join(map(str, ids))}")
    console.print(cell("; ".join(parts)))
    for problem in report.errors:
        error(problem)
    if report.failed or report.uncertain:
        console.print(cell("see `supportdesk outbox list` for the details"))


@app.callback(invoke_without_command=True)
def _default(ctx: typer.Context) -> None:
    """The outbox: replies waiting to be sent, and what happened to them."""
    if ctx.invoked_subcommand is None:
        list_items(ctx)


def _table(items: list[ItemView], title: str) -> Table:
    from rich.table import Table

    table = Table("id", "ticket", "state", "to", "subject", "tries", "what now", title=title)
    for item in items:
        table.add_row(
            str(item.id),
            f"#{item.ticket_number}",
            item.state,
            cell(", ".join(item.recipients), 40),
            cell(item.subject, 40),
            str(item.attempts),
            block(item.explanation + (f"\n{item.last_error}" if item.last_error else "")),
        )
    return table


@app.command("list")
def list_items(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Include sent and cancelled items.")] = False,
    state: Annotated[
        list[str] | None, typer.Option("--state", help="Only items in this state (repeatable).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List what is waiting, failed or uncertain (with the server's words), oldest first."""
    from supportdesk.desk import outbox

    cli: CliContext = ctx.obj
    states = list(state or []) or (list(outbox.STATES) if all_ else None)
    with cli.store().session() as session:
        items = outbox.list_items(session, states)
    if as_json:
        print_json([i.as_dict() for i in items])
        return
    if not items:
        console.print("the outbox is empty")
        return
    console.print(_table(items, "Outbox"))


@app.command("retry")
def retry(
    ctx: typer.Context,
    item_id: IdArg,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Also resend an uncertain item (it may have arrived already)."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Queue a failed item again now (an uncertain one only with --force)."""
    from supportdesk.desk import outbox
    from supportdesk.desk.events import Change

    cli: CliContext = ctx.obj
    with cli.store().session(write=True) as session:
        item = outbox.retry(session, item_id, Change.by(cli.actor), force=force)
    if as_json:
        print_json(item.as_dict())
    else:
        console.print(f"outbox item {item.id} queued again; `supportdesk send` sends it")


@app.command("cancel")
def cancel(ctx: typer.Context, item_id: IdArg, as_json: JsonOption = False) -> None:
    """Never send this item (it stays in the ticket's thread, marked cancelled)."""
    from supportdesk.desk import outbox
    from supportdesk.desk.events import Change

    cli: CliContext = ctx.obj
    with cli.store().session(write=True) as session:
        item = outbox.cancel(session, item_id, Change.by(cli.actor))
    if as_json:
        print_json(item.as_dict())
    else:
        console.print(f"outbox item {item.id} cancelled")


def register(root: typer.Typer) -> None:
    root.command("send")(send)
    root.add_typer(app, name="outbox")
