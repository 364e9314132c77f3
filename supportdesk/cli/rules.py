"""`supportdesk rules`: manage the routing rules as TOML, dry-run them, run the time rules."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from supportdesk.cli.context import CliContext
from supportdesk.cli.options import JsonOption
from supportdesk.cli.output import (
    Col,
    FitTable,
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

if TYPE_CHECKING:
    from supportdesk.desk.handle import Rule
    from supportdesk.desk.rules.engine import Fired

app = typer.Typer(
    help=_("Rules: ordered TOML rules that route, tag, assign and escalate tickets."),
    no_args_is_help=False,
)

NameArg = Annotated[str, typer.Argument(help=_("The rule's name."))]


@app.callback(
    invoke_without_command=True,
    help=_("Rules: ordered TOML rules that route, tag, assign and escalate tickets."),
)
def _default(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        list_rules(ctx, as_json=False)


def _summary(row: Rule) -> dict[str, object]:
    return {
        "position": row.position,
        "name": row.name,
        "enabled": row.enabled,
        "trigger": row.trigger,
        "updated_at": row.updated_at,
    }


@app.command("list", help=_("List rules in the order they run."))
def list_rules(ctx: typer.Context, as_json: JsonOption = False) -> None:
    from supportdesk.desk.rules import storage

    cli: CliContext = ctx.obj
    with cli.store().session() as session:
        rows = [_summary(r) for r in storage.list_rules(session)]
    if as_json:
        print_json(rows)
        return
    table = FitTable(
        [Col("#", "right"), Col(_("name"), give=1, least=12), Col(_("trigger")), Col(_("enabled"))],
        title=_("Rules"),
    )
    for r in rows:
        table.add_row(
            str(r["position"]),
            cell(r["name"]),
            str(r["trigger"]),
            _("yes") if r["enabled"] else _("no"),
        )
    console.print(table)


@app.command("show", help=_("Print one rule's TOML."))
def show(ctx: typer.Context, name: NameArg, as_json: JsonOption = False) -> None:
    from supportdesk.desk.rules import storage

    cli: CliContext = ctx.obj
    with cli.store().session() as session:
        row = storage.get_rule(session, name)
        data = {**_summary(row), "definition": row.definition}
        model = storage.parse_definition(row.definition).model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
    if as_json:
        print_json({**data, "rule": model})
    else:
        write_data(str(data["definition"]))


@app.command("add", help=_("Add the file's rules after the existing ones (names must be new)."))
def add(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help=_("TOML file of [[rules]] tables, or - for stdin."))],
    as_json: JsonOption = False,
) -> None:
    from supportdesk.desk.rules import storage

    cli: CliContext = ctx.obj
    text = read_data(file)
    with cli.store().session(write=True) as session:
        rows = [_summary(r) for r in storage.add_rules(session, text, origin=file)]
    if as_json:
        print_json(rows)
    else:
        for r in rows:
            console.print(
                _("added rule {name} at position {position}").format(
                    name=r["name"], position=r["position"]
                )
            )


@app.command(
    "edit", help=_("Edit one rule in $VISUAL / $EDITOR; it is saved only if it validates.")
)
def edit(ctx: typer.Context, name: NameArg) -> None:
    from supportdesk.desk.rules import storage

    cli: CliContext = ctx.obj
    with cli.store().session() as session:
        original = storage.get_rule(session, name).definition
    fd, path = tempfile.mkstemp(prefix="supportdesk-rule-", suffix=".toml")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(original)
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    subprocess.run([*shlex.split(editor), path], check=False)
    text = Path(path).read_text(encoding="utf-8")
    if text == original:
        os.unlink(path)
        console.print(_("rule {name} unchanged").format(name=name))
        return
    try:
        with cli.store().session(write=True) as session:
            row = storage.replace_rule(session, name, text)
    except ValidationError as exc:
        raise ValidationError(
            _("{exc} (nothing saved; your edit is kept in {path})").format(exc=exc, path=path)
        ) from None
    os.unlink(path)
    console.print(_("rule {name} saved").format(name=row.name))


def _toggle(ctx: typer.Context, name: str, enabled: bool) -> None:
    from supportdesk.desk.rules import storage

    cli: CliContext = ctx.obj
    with cli.store().session(write=True) as session:
        storage.set_enabled(session, name, enabled)
    console.print(
        (_("rule {name} enabled") if enabled else _("rule {name} disabled")).format(name=name)
    )


@app.command("enable", help=_("Enable a rule."))
def enable(ctx: typer.Context, name: NameArg) -> None:
    _toggle(ctx, name, True)


@app.command(
    "disable", help=_("Disable a rule (it stays in place, and in exports, with `enabled = false`).")
)
def disable(ctx: typer.Context, name: NameArg) -> None:
    _toggle(ctx, name, False)


@app.command("move", help=_("Move a rule to another position in the order."))
def move(
    ctx: typer.Context,
    name: NameArg,
    to: Annotated[int, typer.Option("--to", help=_("New position, 1 = runs first."))],
) -> None:
    from supportdesk.desk.rules import storage

    cli: CliContext = ctx.obj
    with cli.store().session(write=True) as session:
        storage.move_rule(session, name, to)
    console.print(_("rule {name} is now number {to}").format(name=name, to=to))


@app.command("remove", help=_("Remove a rule (export first to keep a copy)."))
def remove(ctx: typer.Context, name: NameArg) -> None:
    from supportdesk.desk.rules import storage

    cli: CliContext = ctx.obj
    with cli.store().session(write=True) as session:
        storage.remove_rule(session, name)
    console.print(_("rule {name} removed").format(name=name))


@app.command(
    "export",
    help=_("Write every rule, in order, as one TOML file that `import` reads back unchanged."),
)
def export(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(help=_("Write here instead of stdout."))] = None,
) -> None:
    from supportdesk.desk.rules import storage

    cli: CliContext = ctx.obj
    export_from(cli.store(), storage.export_rules, file)


@app.command(
    "import",
    help=_(
        "Make the stored rules exactly the file's; validates all first, changes nothing on error."
    ),
)
def import_(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help=_("TOML file of [[rules]] tables, or - for stdin."))],
    as_json: JsonOption = False,
) -> None:
    from supportdesk.desk.rules import storage

    cli: CliContext = ctx.obj
    import_into(
        cli.store(),
        lambda session, text, origin: storage.import_rules(session, text, origin=origin),
        file,
        as_json,
    )


def _parse_window(text: str) -> timedelta:
    from supportdesk.desk.rules.model import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _print_fired(fired: list[Fired], as_json: bool, title: str) -> None:
    if as_json:
        print_json([f.as_dict() for f in fired])
        return
    if not fired:
        console.print(_("no rule matched"))
        return
    table = FitTable(
        [
            Col(_("ticket"), "right"),
            Col(_("rule"), give=2, least=12),
            Col(_("trigger")),
            Col(_("actions"), give=1, least=20),
        ],
        title=title,
    )
    for f in fired:
        shown = "; ".join(f.actions) or (
            _("failed: {error}").format(error=f.error) if f.error else ""
        )
        ticket = f"#{f.ticket}" if f.ticket is not None else "-"
        table.add_row(ticket, cell(f.rule), f.trigger, cell(shown))
    console.print(table)


@app.command(
    "test",
    help=_(
        "Dry-run rules over recent tickets and mail: shows what they would do, changes nothing."
    ),
)
def test(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help=_("A stored rule's name, or a TOML file."))],
    since: Annotated[str, typer.Option(help=_("How far back to look, like 30d or 12h."))] = "30d",
    as_json: JsonOption = False,
) -> None:
    from supportdesk.clock import utcnow
    from supportdesk.desk.rules import engine, storage

    cli: CliContext = ctx.obj
    window = _parse_window(since)
    store = cli.store()
    if Path(target).is_file():
        text = read_data(target)
        with store.session() as session:
            rules = [p.rule for p in storage.parse_and_check(session, text, origin=target)]
    else:
        with store.session() as session:
            rules = [storage.parse_definition(storage.get_rule(session, target).definition)]
    # A dry run tests disabled rules too: that is how one tries a rule before enabling it.
    rules = [r.model_copy(update={"enabled": True}) for r in rules]
    fired = engine.dry_run(
        store, rules, window=window, now=utcnow(), warn_seconds=cli.settings.sla.warn_minutes * 60
    )
    _print_fired(
        fired,
        as_json,
        _("What the rules would have done (last {since}; nothing written)").format(since=since),
    )


@app.command("run", help=_("Apply the time rules now (cron this, or let `sync --watch` do it)."))
def run(ctx: typer.Context, as_json: JsonOption = False) -> None:
    from supportdesk.clock import utcnow
    from supportdesk.desk.rules import engine

    cli: CliContext = ctx.obj
    with cli.store().session(write=True) as session:
        fired = engine.run_time_rules(
            session, utcnow(), warn_seconds=cli.settings.sla.warn_minutes * 60
        )
    _print_fired(fired, as_json, _("Time rules applied"))
