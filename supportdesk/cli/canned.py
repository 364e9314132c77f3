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
    print_json,
    read_data,
    write_data,
    write_export,
)
from supportdesk.errors import ValidationError

app = typer.Typer(
    help="Canned replies: reply templates with placeholders, languages and macros.",
    no_args_is_help=False,
)

NameArg = Annotated[str, typer.Argument(help="The canned reply's name.")]
FileArg = Annotated[str, typer.Argument(help="A TOML file of [[canned]] tables, or - for stdin.")]


@app.callback(invoke_without_command=True)
def _default(ctx: typer.Context) -> None:
    """Canned replies: reply templates with placeholders, languages and macros."""
    if ctx.invoked_subcommand is None:
        list_canned(ctx, query="", as_json=False)


@app.command("list")
def list_canned(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="Filter by name, title or text (fuzzy).")] = "",
    as_json: JsonOption = False,
) -> None:
    """List canned replies, best matches first when filtered."""
    from supportdesk.desk import canned

    cli: CliContext = ctx.obj
    with cli.store().session() as session:
        matches = canned.find_canned(session, query, limit=10_000)
    if as_json:
        print_json([m.__dict__ for m in matches])
        return
    from rich.table import Table

    table = Table("name", "title", "languages", "macro", "starts with", title="Canned replies")
    for m in matches:
        table.add_row(
            cell(m.name),
            cell(m.title, 40),
            ", ".join(m.languages),
            "yes" if m.has_macro else "",
            cell(m.preview, 50),
        )
    console.print(table)


@app.command("show")
def show(ctx: typer.Context, name: NameArg, as_json: JsonOption = False) -> None:
    """Print one canned reply's TOML."""
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


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help="A new name (with --body-file), or leave out for FILE.")
    ] = None,
    file: Annotated[
        str | None,
        typer.Option("--file", help="A TOML file of [[canned]] tables to add, or - for stdin."),
    ] = None,
    title: Annotated[str, typer.Option(help="The title shown in the picker.")] = "",
    body_file: Annotated[
        str | None, typer.Option("--body-file", help="The reply's text, or - for stdin.")
    ] = None,
) -> None:
    """Add canned replies from a TOML file, or one from NAME --title --body-file."""
    from supportdesk.desk import canned

    cli: CliContext = ctx.obj
    if file is not None:
        entries = canned.parse_canned_file(read_data(file), origin=file)
        with cli.store().session(write=True) as session:
            for entry in entries:
                canned.add_canned_text(session, entry.text, origin=file)
        for entry in entries:
            console.print(cell(f"added canned reply {entry.canned.name}"))
        return
    if name is None or body_file is None:
        raise ValidationError("give NAME --body-file FILE, or --file FILE.toml")
    with cli.store().session(write=True) as session:
        reply = canned.add_canned(session, name, title, read_data(body_file))
    console.print(cell(f"added canned reply {reply.name}"))


@app.command("edit")
def edit(ctx: typer.Context, name: NameArg) -> None:
    """Edit one canned reply's TOML in $VISUAL / $EDITOR; saved only if it validates."""
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
        console.print(cell(f"canned reply {name} unchanged"))
        return
    try:
        with cli.store().session(write=True) as session:
            reply = canned.replace_canned(session, name, text)
    except ValidationError as exc:
        raise ValidationError(f"{exc} (nothing saved; your edit is kept in {path})") from None
    os.unlink(path)
    console.print(cell(f"canned reply {reply.name} saved"))


@app.command("remove")
def remove(ctx: typer.Context, name: NameArg) -> None:
    """Remove a canned reply (export first to keep a copy)."""
    from supportdesk.desk import canned

    cli: CliContext = ctx.obj
    with cli.store().session(write=True) as session:
        canned.remove_canned(session, name)
    console.print(cell(f"canned reply {name} removed"))


@app.command("export")
def export(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(help="Write here instead of stdout.")] = None,
) -> None:
    """Write every canned reply as one TOML file that `import` reads back unchanged."""
    from supportdesk.desk import canned

    cli: CliContext = ctx.obj
    with cli.store().session() as session:
        text = canned.export_canned(session)
    write_export(text, file)


@app.command("import")
def import_(ctx: typer.Context, file: FileArg, as_json: JsonOption = False) -> None:
    """Make the stored canned replies exactly the file's; validates all first, changes
    nothing on error."""
    from supportdesk.desk import canned

    cli: CliContext = ctx.obj
    text = read_data(file)
    with cli.store().session(write=True) as session:
        summary = canned.import_canned(session, text, origin=file)
    if as_json:
        print_json(summary.as_dict())
        return
    for label, names in summary.as_dict().items():
        if names:
            console.print(cell(f"{label}: {', '.join(names)}"))
