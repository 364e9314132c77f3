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
from supportdesk.i18n import _

if TYPE_CHECKING:
    from rich.table import Table

    from supportdesk.desk.outbox import DrainReport, ItemView

app = typer.Typer(
    help=_("The outbox: replies waiting to be sent, and what happened to them."),
    no_args_is_help=False,
)

IdArg = Annotated[int, typer.Argument(help=_("The outbox item's id (see `outbox list`)."))]


def send(
    ctx: typer.Context,
    mailbox: Annotated[
        str | None, typer.Option("--mailbox", help=_("Only this mailbox's replies."))
    ] = None,
    as_json: JsonOption = False,
) -> None:
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
    parts = [_("{count} sent").format(count=len(report.sent))]
    for label, ids in (
        (_("waiting for a retry"), report.deferred),
        (_("failed"), report.failed),
        (_("uncertain (held for you)"), report.uncertain),
        (_("found in Sent after an interruption"), report.found),
        (_("sent again after an interruption before the handover"), report.requeued),
    ):
        if ids:
            parts.append(
                _("{count} {label}: {ids}").format(
                    count=len(ids), label=label, ids=", ".join(map(str, ids))
                )
            )
    console.print(cell("; ".join(parts)))
    for problem in report.errors:
        error(problem)
    if report.failed or report.uncertain:
        console.print(cell(_("see `supportdesk outbox list` for the details")))


@app.callback(
    invoke_without_command=True,
    help=_("The outbox: replies waiting to be sent, and what happened to them."),
)
def _default(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        list_items(ctx)


def _table(items: list[ItemView], title: str) -> Table:
    from rich.table import Table

    table = Table(
        _("id"),
        _("ticket"),
        _("state"),
        _("to"),
        _("subject"),
        _("tries"),
        _("what now"),
        title=title,
    )
    for item in items:
        table.add_row(
            str(item.id),
            f"#{item.ticket_number}" if item.ticket_number is not None else _("digest"),
            item.state,
            cell(", ".join(item.recipients), 40),
            cell(item.subject, 40),
            str(item.attempts),
            block(item.explanation + (f"\n{item.last_error}" if item.last_error else "")),
        )
    return table


@app.command(
    "list",
    help=_("List what is waiting, failed or uncertain (with the server's words), oldest first."),
)
def list_items(
    ctx: typer.Context,
    all_: Annotated[
        bool, typer.Option("--all", help=_("Include sent and cancelled items."))
    ] = False,
    state: Annotated[
        list[str] | None,
        typer.Option("--state", help=_("Only items in this state (repeatable).")),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    from supportdesk.desk import outbox

    cli: CliContext = ctx.obj
    states = list(state or []) or (list(outbox.STATES) if all_ else None)
    with cli.store().session() as session:
        items = outbox.list_items(session, states)
    if as_json:
        print_json([i.as_dict() for i in items])
        return
    if not items:
        console.print(_("the outbox is empty"))
        return
    console.print(_table(items, _("Outbox")))


@app.command("retry", help=_("Queue a failed item again now (an uncertain one only with --force)."))
def retry(
    ctx: typer.Context,
    item_id: IdArg,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help=_("Also resend an uncertain item (it may have arrived already).")
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    from supportdesk.desk import outbox
    from supportdesk.desk.events import Change

    cli: CliContext = ctx.obj
    with cli.store().session(write=True) as session:
        item = outbox.retry(session, item_id, Change.by(cli.actor), force=force)
    if as_json:
        print_json(item.as_dict())
    else:
        console.print(
            _("outbox item {id} queued again; `supportdesk send` sends it").format(id=item.id)
        )


@app.command(
    "cancel", help=_("Never send this item (it stays in the ticket's thread, marked cancelled).")
)
def cancel(ctx: typer.Context, item_id: IdArg, as_json: JsonOption = False) -> None:
    from supportdesk.desk import outbox
    from supportdesk.desk.events import Change

    cli: CliContext = ctx.obj
    with cli.store().session(write=True) as session:
        item = outbox.cancel(session, item_id, Change.by(cli.actor))
    if as_json:
        print_json(item.as_dict())
    else:
        console.print(_("outbox item {id} cancelled").format(id=item.id))


def register(root: typer.Typer) -> None:
    root.command(
        "send",
        help=_(
            "Send the queued replies that are due, once (cron it, or let `sync --watch` do it)."
        ),
    )(send)
    root.add_typer(app, name="outbox")
