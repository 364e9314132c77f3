"""`supportdesk canned`: the canned replies, as TOML files that round-trip exactly.

The file format is documented in supportdesk/desk/canned.py (and the README): one
`[[canned]]` table per reply, language variants as `[canned.variants.ja]`, and an optional
macro (status, priority, tags). `import` validates every entry first and changes nothing
when any is wrong, naming the entry, the line and the problem.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from supportdesk.cli.context import CliContext
from supportdesk.cli.options import JsonOption
from supportdesk.cli.output import (
    cell,
    console,
    export_from,
    import_into,
    print_json,
    read_data,
    write_data,
)
from supportdesk.errors import ValidationError
from supportdesk.i18n import _

app = typer.Typer(
    help=_("Canned replies: reply templates with placeholders, languages and macros."),
    no_args_is_help=False,
)

NameArg = Annotated[str, typer.Argument(help=_("The canned reply's name."))]
FileArg = Annotated[
    str, typer.Argument(help=_("A TOML file of [[canned]] tables, or - for stdin."))
]


@app.callback(
    invoke_without_command=True,
    help=_("Canned replies: reply templates with placeholders, languages and macros."),
)
def _default(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        list_canned(ctx, query="", as_json=False)


@app.command("list", help=_("List canned replies, best matches first when filtered."))
def list_canned(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help=_("Filter by name, title or text (fuzzy)."))] = "",
    as_json: JsonOption = False,
) -> None:
    from supportdesk.desk import canned

    cli: CliContext = ctx.obj
    with cli.store().session() as session:
        matches = canned.find_canned(session, query, limit=10_000)
    if as_json:
        print_json([m.__dict__ for m in matches])
        return
    from rich.table import Table

    table = Table(
        _("name"),
        _("title"),
        _("languages"),
        _("macro"),
        _("starts with"),
        title=_("Canned replies"),
    )
    for m in matches:
        table.add_row(
            cell(m.name),
            cell(m.title, 40),
            ", ".join(m.languages),
            _("yes") if m.has_macro else "",
            cell(m.preview, 50),
        )
    console.print(table)


@app.command("show", help=_("Print one canned reply's TOML."))
def show(ctx: typer.Context, name: NameArg, as_json: JsonOption = False) -> None:
    from supportdesk.desk import canned

    cli: CliContext = ctx.obj
    with cli.store().session() as session:
        reply = canned.get_canned(session, name)
        text = canned.definition_text(reply)
        model = canned.definition(reply).model_dump(mode="json", exclude_none=True)
    if as_json:
        print_json({**model, "definition": text})
    else:
        write_data(text)


@app.command(
    "add", help=_("Add canned replies from a TOML file, or one from NAME --title --body-file.")
)
def add(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help=_("A new name (with --body-file), or leave out for FILE."))
    ] = None,
    file: Annotated[
        str | None,
        typer.Option("--file", help=_("A TOML file of [[canned]] tables to add, or - for stdin.")),
    ] = None,
    title: Annotated[str, typer.Option(help=_("The title shown in the picker."))] = "",
    body_file: Annotated[
        str | None, typer.Option("--body-file", help=_("The reply's text, or - for stdin."))
    ] = None,
) -> None:
    from supportdesk.desk import canned

    cli: CliContext = ctx.obj
    if file is not None:
        entries = canned.parse_canned_file(read_data(file), origin=file)
        with cli.store().session(write=True) as session:
            for entry in entries:
                canned.add_canned_text(session, entry.text, origin=file)
        for entry in entries:
            console.print(cell(_("added canned reply {name}").format(name=entry.canned.name)))
        return
    if name is None or body_file is None:
        raise ValidationError(_("give NAME --body-file FILE, or --file FILE.toml"))
    with cli.store().session(write=True) as session:
        reply = canned.add_canned(session, name, title, read_data(body_file))
    console.print(cell(_("added canned reply {name}").format(name=reply.name)))


@app.command(
    "edit", help=_("Edit one canned reply's TOML in $VISUAL / $EDITOR; saved only if it validates.")
)
def edit(ctx: typer.Context, name: NameArg) -> None:
    from supportdesk.desk import canned

    cli: CliContext = ctx.obj
    with cli.store().session() as session:
        original = canned.definition_text(canned.get_canned(session, name))
    fd, path = tempfile.mkstemp(prefix="supportdesk-canned-", suffix=".toml")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(original)
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    subprocess.run([*shlex.split(editor), path], check=False)
    text = Path(path).read_text(encoding="utf-8")
    if text == original:
        os.unlink(path)
        console.print(cell(_("canned reply {name} unchanged").format(name=name)))
        return
    try:
        with cli.store().session(write=True) as session:
            reply = canned.replace_canned(session, name, text)
    except ValidationError as exc:
        raise ValidationError(
            _("{exc} (nothing saved; your edit is kept in {path})").format(exc=exc, path=path)
        ) from None
    os.unlink(path)
    console.print(cell(_("canned reply {name} saved").format(name=reply.name)))


@app.command("remove", help=_("Remove a canned reply (export first to keep a copy)."))
def remove(ctx: typer.Context, name: NameArg) -> None:
    from supportdesk.desk import canned

    cli: CliContext = ctx.obj
    with cli.store().session(write=True) as session:
        canned.remove_canned(session, name)
    console.print(cell(_("canned reply {name} removed").format(name=name)))


@app.command(
    "export",
    help=_("Write every canned reply as one TOML file that `import` reads back unchanged."),
)
def export(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(help=_("Write here instead of stdout."))] = None,
) -> None:
    from supportdesk.desk import canned

    cli: CliContext = ctx.obj
    export_from(cli.store(), canned.export_canned, file)


@app.command(
    "import",
    help=_(
        "Make the stored canned replies exactly the file's; "
        "validates all first, changes nothing on error."
    ),
)
def import_(ctx: typer.Context, file: FileArg, as_json: JsonOption = False) -> None:
    from supportdesk.desk import canned

    cli: CliContext = ctx.obj
    import_into(
        cli.store(),
        lambda session, text, origin: canned.import_canned(session, text, origin=origin),
        file,
        as_json,
    )
