"""`supportdesk demo`: a realistic demo help desk, built on first run, then opened in the console.

Without a terminal (piped, in a test runner) it prints the overview instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from supportdesk.cli.console import has_terminal, open_console
from supportdesk.cli.context import CliContext
from supportdesk.cli.output import console, print_json
from supportdesk.i18n import _

if TYPE_CHECKING:
    from supportdesk.demo.builder import DemoSummary
    from supportdesk.desk.handle import Desk

DEMO_AGENT = "alice"


def register(app: typer.Typer) -> None:
    @app.command(
        "demo",
        help=_(
            "Open supportdesk on a demo store (built on first run; your own store is untouched)."
        ),
    )
    def demo(
        ctx: typer.Context,
        no_console: Annotated[
            bool,
            typer.Option("--no-console", help=_("Only build the demo store and say where.")),
        ] = False,
        rebuild: Annotated[
            bool,
            typer.Option("--rebuild", help=_("Throw the demo store away and build it anew.")),
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help=_("Print JSON for scripts."))] = False,
    ) -> None:
        from supportdesk.demo.builder import demo_is_built
        from supportdesk.desk.handle import open_desk, sqlite_url
        from supportdesk.paths import demo_store_path

        cli: CliContext = ctx.obj
        path = demo_store_path()
        if rebuild:
            for suffix in ("", "-wal", "-shm"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)
        store = open_desk(sqlite_url(path), create=True)
        code = 0
        try:
            built = None
            if not demo_is_built(store):
                built = _build_with_progress(store, path, quiet=as_json)
            if as_json:
                print_json(
                    {
                        "store": str(path),
                        "built_now": built is not None,
                        "summary": built.__dict__ if built else None,
                    }
                )
            elif no_console:
                console.print(_("demo store ready at {path}").format(path=path))
            elif not has_terminal():
                from supportdesk.cli.overview import print_overview

                print_overview(store, cli.settings.agent or DEMO_AGENT)
            else:
                code = open_console(
                    cli,
                    store,
                    cli.settings.agent or DEMO_AGENT,
                    _("demo: {path}").format(path=path),
                )
        finally:
            store.dispose()
        if code:
            raise typer.Exit(code)


def _build_with_progress(store: Desk, path: Path, *, quiet: bool) -> DemoSummary:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from supportdesk.demo.builder import build_demo

    if quiet:
        return build_demo(store)
    console.print(_("building the demo store at {path}").format(path=path))
    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(_("tickets"), total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return build_demo(store, progress=advance)
