"""`supportdesk queues`: the queues and their live counts."""

from __future__ import annotations

from typing import Annotated

import typer

from supportdesk.cli.context import CliContext
from supportdesk.cli.options import JsonOption
from supportdesk.cli.output import Col, FitTable, cell, console, print_json
from supportdesk.i18n import _

app = typer.Typer(
    help=_("Queues: list them with their counts, add new ones."), no_args_is_help=False
)


@app.callback(
    invoke_without_command=True, help=_("Queues: list them with their counts, add new ones.")
)
def _default(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        list_queues(ctx, as_json=False)


@app.command("list", help=_("List queues with active and unassigned ticket counts."))
def list_queues(ctx: typer.Context, as_json: JsonOption = False) -> None:
    from supportdesk.desk import views

    cli: CliContext = ctx.obj
    with cli.store().session() as session:
        overview = views.overview(session, me=cli.me)
    if as_json:
        print_json([q.__dict__ for q in overview.queues])
        return
    table = FitTable(
        [Col(_("queue"), give=1), Col(_("active"), "right"), Col(_("unassigned"), "right")],
        title=_("Queues"),
    )
    for q in overview.queues:
        table.add_row(cell(q.name), str(q.active), str(q.unassigned))
    console.print(table)


@app.command("add", help=_("Add a queue (or leave an existing one as it is)."))
def add_queue(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=_("Queue name: lower-case letters, digits, . _ -"))],
    description: Annotated[str, typer.Option(help=_("What belongs in this queue."))] = "",
    as_json: JsonOption = False,
) -> None:
    from supportdesk.desk import directory

    cli: CliContext = ctx.obj
    with cli.store().session(write=True) as session:
        queue = directory.ensure_queue(session, name, description=description)
        result = {"id": queue.id, "name": queue.name, "description": queue.description}
    if as_json:
        print_json(result)
    else:
        console.print(_("queue {name} ready").format(name=queue.name))


@app.command(
    "acknowledge",
    help=_("Acknowledge new tickets in a queue by mail with a canned reply (never to robots)."),
)
def acknowledge(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=_("The queue."))],
    canned_reply: Annotated[
        str | None,
        typer.Argument(help=_("The canned reply new tickets get; leave out with --off.")),
    ] = None,
    off: Annotated[bool, typer.Option("--off", help=_("Stop acknowledging new tickets."))] = False,
) -> None:
    from supportdesk.desk import canned
    from supportdesk.errors import ValidationError

    if (canned_reply is None) == (not off):
        raise ValidationError(_("give a canned reply's name, or --off"))
    cli: CliContext = ctx.obj
    with cli.store().session(write=True) as session:
        canned.set_acknowledgement(session, name, None if off else canned_reply)
    if off:
        console.print(cell(_("queue {name}: new tickets are not acknowledged").format(name=name)))
    else:
        console.print(
            cell(
                _("queue {name}: new tickets get canned reply {canned_reply} by mail").format(
                    name=name, canned_reply=canned_reply
                )
            )
        )
