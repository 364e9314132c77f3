"""The `supportdesk` Typer app: every command, under the root options.

Heavy imports (the store, Textual, rich) happen inside commands, so building this app for
`supportdesk --help` stays fast. `supportdesk.cli.main` runs it.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core
from typer.core import TyperGroup

from supportdesk.cli import (
    agents,
    canned,
    config_cmd,
    csat,
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
from supportdesk.i18n import N_, _

# Typer words its help sections and option notes with gettext's default domain, which
# follows only the locale: route them through the catalogue, so a config's `language`
# reaches them too. (Its "Usage:" and click's usage errors are not translatable.)
typer.core._ = _
_TYPER_WORDS = (
    N_("Arguments"),
    N_("Options"),
    N_("Commands"),
    N_("required"),
    N_("default: {default}"),
    N_("env var: {var}"),
    N_("(dynamic)"),
    N_("Aborted!"),
    N_("Missing command."),
    N_("No such command {name!r}."),
)
_click_short_help = typer._click.core.make_default_short_help


def _short_help(help: str, max_length: int = 45) -> str:
    """A command's one-line summary in a group's help, for Japanese too.

    click's cuts at the first ". " and counts characters, so a Japanese summary ran on past
    its first sentence (。) and twice as wide as its column: here it ends at 。 and is
    measured in terminal cells. English text is summarised by click as before.
    """
    text = " ".join(help.split("\n\n", 1)[0].split())
    if not any(unicodedata.east_asian_width(c) in "WF" for c in text):
        return _click_short_help(help, max_length)
    stop = text.find("。")
    if stop != -1:
        text = text[: stop + 1]
    width = 0
    for index, char in enumerate(text):
        width += 2 if unicodedata.east_asian_width(char) in "WF" else 1
        if width > max_length:
            return text[: max(0, index - 1)].rstrip() + "..."
    return text


typer._click.core.make_default_short_help = _short_help
_click_help_option = typer._click.core.Command.get_help_option


def _help_option(self: Any, ctx: Any) -> Any:
    """click's --help option, its line in the current language."""
    option = _click_help_option(self, ctx)
    if option is not None and option.help == "Show this message and exit.":
        option.help = _("Show this message and exit.")
    return option


def _usage(self: Any, ctx: Any, formatter: Any) -> None:
    """click's usage line with its "Usage:" in the current language."""
    pieces = self.collect_usage_pieces(ctx)
    formatter.write_usage(ctx.command_path, " ".join(pieces), prefix=_("Usage: "))


typer._click.core.Command.get_help_option = _help_option  # type: ignore[method-assign]
typer._click.core.Command.format_usage = _usage  # type: ignore[method-assign]


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
    help=_("A keyboard-first terminal help desk. With no command, opens the console."),
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
app.add_typer(csat.app, name="csat")
app.add_typer(notifications.app, name="notifications")
sync_cmd.register(app)
outbox.register(app)
report.register(app)
reply.register(tickets.app)


@app.callback(
    invoke_without_command=True,
    help=_("A keyboard-first terminal help desk. With no command, opens the console."),
)
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar="SUPPORTDESK_CONFIG",
            help=_("Config file (default: the platform config dir's supportdesk/config.toml)."),
        ),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            envvar="SUPPORTDESK_STORE",
            metavar="PATH|URL|demo",
            help=_(
                "Work on this store instead of the config's database_url: a "
                "SQLite file, a sqlite:/// or postgresql:// URL, or demo for "
                "the demo store."
            ),
        ),
    ] = None,
) -> None:
    ctx.obj = CliContext(config_path=config, store_option=store)
    ctx.call_on_close(ctx.obj.close)
    if ctx.invoked_subcommand is None:
        from supportdesk.cli.console import show

        if code := show(ctx.obj):
            raise typer.Exit(code)


@app.command(
    "console",
    help=_("Open the agent console (the same as running supportdesk with no command)."),
)
def console(ctx: typer.Context) -> None:
    from supportdesk.cli.console import show

    if code := show(ctx.obj):
        raise typer.Exit(code)


from supportdesk.cli import demo as _demo  # noqa: E402
from supportdesk.cli import history as _history  # noqa: E402
from supportdesk.cli import import_cmd as _import  # noqa: E402
from supportdesk.cli import init as _init  # noqa: E402

_demo.register(app)
_history.register(app)
_import.register(app)
_init.register(app)
