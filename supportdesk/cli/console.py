"""`supportdesk console` (and `supportdesk` alone): open the agent console on the store.

Textual is imported only here, inside the function that opens it, so every other command
starts without it. Without a terminal on both ends (a pipe, a cron job, a test runner) there
is nothing to draw on, so the overview is printed instead.

No Typer here: a plain `supportdesk` or `supportdesk console` is run by `cli.fastpath`
without building the Typer app (commands.py registers the same `show` as the command).
"""

from __future__ import annotations

import gc
import sys
from typing import TYPE_CHECKING

from supportdesk.cli.context import CliContext

if TYPE_CHECKING:
    from supportdesk.desk.handle import Desk


def has_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def open_console(cli: CliContext, store: Desk, me: str | None, label: str) -> int:
    """Run the console on `store` as agent `me`; returns its exit status when the agent quits."""
    from supportdesk.config import resolve_config_path
    from supportdesk.tui.app import run_console
    from supportdesk.tui.data import SavedView

    config_path, __ = resolve_config_path(cli.config_path)
    saved = [SavedView(s.name, s.query) for s in cli.settings.saved_searches]
    # What the imports made lives as long as the process: out of the collector's way. The
    # collector itself is started again by the desk once its first page is on screen.
    gc.freeze()
    return run_console(store, me=me, saved=saved, config_path=config_path, store_label=label)


def show(cli: CliContext) -> int:
    """The console on the configured store, or its overview when there is no terminal; the
    exit status (a console that crashed is not a success)."""
    from supportdesk.cli.overview import show_overview
    from supportdesk.config import redact_url

    if not has_terminal():
        show_overview(cli)
        return 0
    store = cli.store()
    return open_console(cli, store, cli.me, redact_url(store.url))
