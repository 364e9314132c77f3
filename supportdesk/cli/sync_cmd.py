"""`supportdesk sync` as a Typer command: its options; the work is `syncing.run`."""

from __future__ import annotations

from typing import Annotated

import typer

from supportdesk.cli import syncing
from supportdesk.i18n import _


def register(app: typer.Typer) -> None:
    app.command(
        "sync",
        help=_("Fetch new mail from IMAP into tickets; only what is new, in crash-safe batches."),
    )(sync)


def sync(
    ctx: typer.Context,
    mailbox: Annotated[
        str | None, typer.Option("--mailbox", "-m", help=_("Only this mailbox (default: all)."))
    ] = None,
    watch: Annotated[
        bool,
        typer.Option("--watch", help=_("Keep running: IMAP IDLE (or polling), reconnecting.")),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help=_("Print JSON for scripts."))] = False,
) -> None:
    raise typer.Exit(syncing.run(ctx.obj, mailbox=mailbox, watch=watch, as_json=as_json))
