"""`supportdesk undo` and `supportdesk history`: take a batch back, see what happened.

Both read the events table through the domain layer (desk.undo, desk.history). Plain
`supportdesk undo` takes back the most recent batch of *this* actor (the configured agent,
else the OS user) that is not undone yet, never a team-mate's: on a shared store "the last
thing that happened" may be someone else's work. Run again, it walks further back. An undo
is a batch of its own (actor `undo:<batch>`): name it to redo.
"""

from __future__ import annotations

from typing import Annotated

import typer

from supportdesk.cli.context import CliContext
from supportdesk.cli.options import JsonOption
from supportdesk.cli.output import Col, FitTable, cell, console, print_json
from supportdesk.dates import stamp
from supportdesk.i18n import _


def undo(
    ctx: typer.Context,
    batch: Annotated[
        str | None,
        typer.Argument(
            help=_(
                "The batch id a bulk command printed, or its first 8 or more "
                "characters (default: your latest not undone)."
            )
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    from supportdesk.desk import history
    from supportdesk.desk.undo import undo_batch, undo_latest

    cli: CliContext = ctx.obj
    with cli.store().session(write=True) as session:
        if batch is None:
            result = undo_latest(session, cli.actor)
        else:
            result = undo_batch(session, history.resolve_batch(session, batch))
    if as_json:
        print_json(result.as_dict())
    else:
        console.print(cell(result.describe()), soft_wrap=True)


def show_history(
    ctx: typer.Context,
    batch: Annotated[str | None, typer.Option("--batch", help=_("One batch's events."))] = None,
    ticket: Annotated[int | None, typer.Option("--ticket", help=_("One ticket's events."))] = None,
    limit: Annotated[int, typer.Option(min=1, help=_("At most this many, the latest."))] = 50,
    as_json: JsonOption = False,
) -> None:
    from supportdesk.desk import history

    cli: CliContext = ctx.obj
    with cli.store().session() as session:
        if batch is not None:
            batch = history.resolve_batch(session, batch)
        rows = history.events(session, batch=batch, ticket=ticket, limit=limit)
    if as_json:
        print_json([r.as_dict() for r in rows])
        return
    # On a narrow terminal the actor gives way first, then the batch (undo and --batch take
    # the first 8 or more characters of an id), then old → new; time, # and action stay.
    table = FitTable(
        [
            Col(_("time")),
            Col("#", "right"),
            Col(_("actor"), give=3, least=8),
            Col(_("action")),
            Col(_("old → new"), give=1, least=12),
            Col(_("batch"), give=2, least=9),
        ]
    )
    for r in rows:
        table.add_row(
            stamp(r.created_at),
            str(r.ticket) if r.ticket is not None else "-",
            cell(r.actor),
            r.action,
            cell(f"{r.old_value or '-'} → {r.new_value or '-'}"),
            r.batch_id,
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command(
        "undo",
        help=_(
            "Take back every change of one batch, or refuse (changing "
            "nothing) if that is unsafe.\n\nWithout BATCH: your most "
            "recent batch that can be undone (batches of only notes are "
            "stepped over). Notes, messages and rules' records in the "
            "batch stay. Refuses when a ticket of the batch was changed "
            "since, listing those tickets, and for merges. The reversal "
            "is a new batch: undo it to redo."
        ),
    )(undo)
    app.command(
        "history",
        help=_(
            "Show events, oldest first: time, ticket, actor, action, old "
            "→ new, batch (--json adds the database role that wrote "
            "each, on PostgreSQL)."
        ),
    )(show_history)
