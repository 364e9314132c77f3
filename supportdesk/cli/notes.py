"""`supportdesk notes`: internal notes on a ticket: list, add, and edit or delete your own.

Thin over desk.tickets.add_note and desk.notes: who may change a note (its author only) and
what history keeps (every old text) is decided there, the same for the console. A note is
named by its id, which `notes list N` and `tickets show N` print.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from supportdesk.cli.context import CliContext
from supportdesk.cli.options import JsonOption
from supportdesk.cli.output import cell, console, print_json
from supportdesk.dates import stamp
from supportdesk.i18n import _

app = typer.Typer(
    help=_("Internal notes: list a ticket's, add one, edit or delete your own."),
    no_args_is_help=True,
)

TextArg = Annotated[
    str, typer.Argument(help=_("The note's text, or - to read it from standard input."))
]
NoteArg = Annotated[int, typer.Argument(help=_("The note id (see `notes list TICKET`)."))]


def _text(value: str) -> str:
    return sys.stdin.read() if value == "-" else value


@app.command("list", help=_("List the notes on ticket NUMBER with their ids, oldest first."))
def list_notes(
    ctx: typer.Context,
    number: Annotated[int, typer.Argument(help=_("The ticket number."))],
    as_json: JsonOption = False,
) -> None:
    from supportdesk.desk import notes

    cli: CliContext = ctx.obj
    with cli.store().session() as session:
        found = notes.ticket_notes(session, number)
    if as_json:
        print_json([n.__dict__ for n in found])
        return
    if not found:
        console.print(_("no notes on #{number}").format(number=number))
        return
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for name, header in (("id", _("id")), ("time", _("time")), ("author", _("author"))):
        table.add_column(header, no_wrap=True, justify="right" if name == "id" else "left")
    table.add_column(_("note"), no_wrap=False)
    for n in found:
        table.add_row(str(n.id), stamp(n.created_at), cell(n.author, 30), cell(n.body))
    console.print(table)


@app.command("add", help=_("Add an internal note to ticket NUMBER (agents only, never mailed)."))
def add_note(
    ctx: typer.Context,
    number: Annotated[int, typer.Argument(help=_("The ticket number."))],
    text: TextArg,
    as_json: JsonOption = False,
) -> None:
    from supportdesk.desk import tickets
    from supportdesk.desk.events import Change

    cli: CliContext = ctx.obj
    change = Change.by(cli.actor)
    with cli.store().session(write=True) as session:
        note = tickets.add_note(session, number, _text(text), change)
        note_id = note.id
    if as_json:
        print_json({"note": note_id, "ticket": number, "batch_id": change.batch_id})
    else:
        console.print(_("note {note_id} added to #{number}").format(note_id=note_id, number=number))


@app.command("edit", help=_("Replace the text of your own note NOTE; history keeps the old text."))
def edit_note(
    ctx: typer.Context,
    note: NoteArg,
    text: TextArg,
    as_json: JsonOption = False,
) -> None:
    from supportdesk.desk import notes
    from supportdesk.desk.events import Change

    cli: CliContext = ctx.obj
    change = Change.by(cli.actor)
    with cli.store().session(write=True) as session:
        number = notes.edit_note(session, note, _text(text), change).ticket
    if as_json:
        print_json({"note": note, "ticket": number, "batch_id": change.batch_id})
    else:
        console.print(
            _("note {note} on #{number} edited (the old text is in its history)").format(
                note=note, number=number
            )
        )


@app.command(
    "delete",
    help=_("Delete your own note NOTE from its ticket's thread; history keeps what it said."),
)
def delete_note(ctx: typer.Context, note: NoteArg, as_json: JsonOption = False) -> None:
    from supportdesk.desk import notes
    from supportdesk.desk.events import Change

    cli: CliContext = ctx.obj
    change = Change.by(cli.actor)
    with cli.store().session(write=True) as session:
        number = notes.delete_note(session, note, change)
    if as_json:
        print_json({"note": note, "ticket": number, "batch_id": change.batch_id})
    else:
        console.print(
            _(
                "note {note} deleted from #{number} (its text stays in "
                "`supportdesk history --ticket {number}`)"
            ).format(note=note, number=number)
        )
