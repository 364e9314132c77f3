"""The `supportdesk` Typer app: every command, under the root options.

Heavy imports (the store, Textual, rich) happen inside commands, so building this app for
`supportdesk --help` stays fast. `supportdesk.cli.main` runs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from supportdesk.cli import (
    agents,
    canned,
    config_cmd,
    db,
    mailbox,
    notes,
    notifications,
    outbox,
    queues,
    reply,
    report,
    rules,
    sla,
    sync_cmd,
    team,
    tickets,
)
from supportdesk.cli.context import CliContext
from supportdesk.cli.output import refused
from supportdesk.errors import SupportdeskError


class _Commands(TyperGroup):
    """The root group: a person's mistake is one line on stderr and a meaningful exit code."""

    # Typer's stub names its private click copy's Context; typer.Context is what arrives.
    def invoke(self, ctx: typer.Context) -> object:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except SupportdeskError as exc:
            raise typer.Exit(refused(exc)) from None


app = typer.Typer(
    name="supportdesk",
    cls=_Commands,
    help="A keyboard-first terminal help desk.",
    no_args_is_help=False,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Help is plain text: rich markup would eat "[[rules]]" in help strings and print
    # "<bool>" beside every flag. Sub-apps inherit this from the root.
    rich_markup_mode=None,
)
app.add_typer(tickets.app, name="tickets")
app.add_typer(queues.app, name="queues")
app.add_typer(agents.app, name="agents")
app.add_typer(db.app, name="db")
app.add_typer(config_cmd.app, name="config")
app.add_typer(mailbox.app, name="mailbox")
app.add_typer(rules.app, name="rules")
app.add_typer(canned.app, name="canned")
app.add_typer(notes.app, name="notes")
app.add_typer(sla.app, name="sla")
app.add_typer(team.app, name="team")
app.add_typer(notifications.app, name="notifications")
sync_cmd.register(app)
outbox.register(app)
report.register(app)
reply.register(tickets.app)


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar="SUPPORTDESK_CONFIG",
            help="Config file (default: the platform config dir's supportdesk/config.toml).",
        ),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            envvar="SUPPORTDESK_STORE",
            metavar="PATH|URL|demo",
            help="Work on this store instead of the config's database_url: a SQLite file, a "
            "sqlite:/// or postgresql:// URL, or demo for the demo store.",
        ),
    ] = None,
) -> None:
    """A keyboard-first terminal help desk. With no command, opens the console."""
    ctx.obj = CliContext(config_path=config, store_option=store)
    ctx.call_on_close(ctx.obj.close)
    if ctx.invoked_subcommand is None:
        from supportdesk.cli.console import show

        show(ctx.obj)


from supportdesk.cli import console as _console  # noqa: E402
from supportdesk.cli import demo as _demo  # noqa: E402
from supportdesk.cli import history as _history  # noqa: E402
from supportdesk.cli import import_cmd as _import  # noqa: E402
from supportdesk.cli import init as _init  # noqa: E402

_console.register(app)
_demo.register(app)
_history.register(app)
_import.register(app)
_init.register(app)
