"""`supportdesk queues`: the queues and their live counts."""

from __future__ import annotations

from typing import Annotated

import typer

from supportdesk.cli.context import CliContext
from supportdesk.cli.options import JsonOption
from supportdesk.cli.output import Col, FitTable, cell, console, print_json

app = typer.Typer(help="Queues: list them with their counts, add new ones.", no_args_is_help=False)


@app.callback(invoke_without_command=True)
def _default(ctx: typer.Context) -> None:
    """Queues: list them with their counts, add new ones."""
    if ctx.invoked_subcommand is None:
        list_queues(ctx, as_json=False)


@app.command("list")
def list_queues(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List queues with active and unassigned ticket counts."""
    from supportdesk.desk import views

    cli: CliContext = ctx.obj
    with cli.store().session() as session:
        overview = views.overview(session, me=cli.me)
    if as_json:
        print_json([q.__dict__ for q in overview.queues])
        return
    table = FitTable(
        [Col("queue", give=1), Col("active", "right"), Col("unassigned", "right")],
        title="Queues",
    )
    for q in overview.queues:
        table.add_row(cell(q.name), str(q.active), str(q.unassigned))
    console.print(table)


@app.command("add")
def add_queue(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Queue name: lower-case letters, digits, . _ -")],
    description: Annotated[str, typer.Option(help="What belongs in this queue.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Add a queue (or leave an existing one as it is)."""
    from supportdesk.desk import directory

    cli: CliContext = ctx.obj
    with cli.store().session(write=True) as session:
        queue = directory.ensure_queue(session, name, description=description)
        result = {"id": queue.id, "name": queue.name, "description": queue.description}
    if as_json:
        print_json(result)
    else:
        console.print(f"queue {queue.name} ready")


@app.command("acknowledge")
def acknowledge(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The queue.")],
    canned_reply: Annotated[
        str | None, typer.Argument(help="The canned reply new tickets get; leave out with --off.")
    ] = None,
    off: Annotated[bool, typer.Option("--off", help="Stop acknowledging new tickets.")] = False,
) -> None:
    """Acknowledge new tickets in a queue by mail with a canned reply (never to robots)."""
    from supportdesk.desk import canned
    from supportdesk.errors import ValidationError

    if (canned_reply is None) == (not off):
        raise ValidationError("give a canned reply's name, or --off")
    cli: CliContext = ctx.obj
    with cli.store().session(write=True) as session:
        canned.set_acknowledgement(session, name, None if off else canned_reply)
    if off:
        console.print(cell(f"queue {name}: new tickets are not acknowledged"))
    else:
        console.print(cell(f"queue {name}: new tickets get canned reply {canned_reply} by mail"))
