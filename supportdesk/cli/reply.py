"""`supportdesk tickets reply`: answer a ticket from a script, through the composer's path.

Same headers, same outbox, same collision check as the console: `--expect-version` is the
ticket version the script last saw (`tickets show --json` prints it); anything that arrived
after it stops the reply (exit 3) unless --force.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from supportdesk.cli.context import CliContext
from supportdesk.cli.options import JsonOption
from supportdesk.cli.output import block, cell, console, err_console, print_json
from supportdesk.errors import ValidationError
from supportdesk.i18n import _


def _read_body(body_file: str | None) -> str:
    if body_file is None:
        return ""
    if body_file == "-":
        return sys.stdin.read()
    try:
        return Path(body_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ValidationError(
            _("cannot read {body_file}: {reason}").format(body_file=body_file, reason=reason)
        ) from None


def reply(
    ctx: typer.Context,
    number: Annotated[int, typer.Argument(help=_("The ticket number."))],
    canned_name: Annotated[
        str | None,
        typer.Option("--canned", help=_("Start from this canned reply (and its macro).")),
    ] = None,
    body_file: Annotated[
        str | None,
        typer.Option("--body-file", help=_("The reply's text from this file, or - for stdin.")),
    ] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help=_('Set this status with the send, e.g. "pending".')),
    ] = None,
    expect_version: Annotated[
        int | None,
        typer.Option(
            "--expect-version", help=_("Refuse if a message or note arrived after this version.")
        ),
    ] = None,
    reply_all: Annotated[
        bool, typer.Option("--all", help=_("Reply to everyone on the thread (reply-all)."))
    ] = False,
    language: Annotated[
        str | None,
        typer.Option(
            "--language", help=_("The canned reply's language (default: the customer's).")
        ),
    ] = None,
    attach: Annotated[
        list[Path] | None, typer.Option("--attach", help=_("Attach a file (repeatable)."))
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help=_("Send even if something arrived since."))
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help=_("Do not show the preview and ask first."))
    ] = False,
    as_json: JsonOption = False,
) -> None:
    from supportdesk.desk import canned, replies, tickets
    from supportdesk.desk.events import Change
    from supportdesk.mail import compose

    cli: CliContext = ctx.obj
    text = _read_body(body_file)
    if not text.strip() and canned_name is None:
        raise ValidationError(_("give the reply's text with --body-file (or -), or --canned NAME"))
    setup = cli.mail_setup()
    kind = "reply_all" if reply_all else "reply"
    store = cli.store()
    with store.session() as session:
        ticket = tickets.get_ticket(session, number)
        to, cc = replies.default_recipients(
            session, ticket, kind, setup, replies.answered_message(session, ticket, None)
        )
        wanted = language or replies.customer_language(session, number)
        if canned_name is not None:
            rendered = canned.render_canned_for(
                session, canned_name, ticket, replies.agent_of(session, cli.actor), language=wanted
            )
            text = f"{text.rstrip()}\n\n{rendered.text}" if text.strip() else rendered.text
            wanted = rendered.language
    spec = replies.ReplySpec(
        kind=kind,
        body=text,
        to=compose.format_addresses(to),
        cc=compose.format_addresses(cc),
        canned=canned_name,
        language=wanted,
        status_after=status,
        base_version=expect_version,
    )
    spec = replies.with_attachments(spec, attach or [])
    if not yes:
        if not sys.stdin.isatty() or body_file == "-":
            raise ValidationError(_("not asking on a pipe: look with the console, or pass --yes"))
        with store.session() as session:
            ticket = tickets.get_ticket(session, number)
            built = replies.build_message(session, ticket, spec, setup, cli.actor)
        shown = replies.preview_of(built)
        err_console.print(cell(_("To: {to}").format(to=", ".join(shown.to))))
        if shown.cc:
            err_console.print(cell(_("Cc: {cc}").format(cc=", ".join(shown.cc))))
        err_console.print(cell(_("Subject: {subject}").format(subject=shown.subject)))
        err_console.print(block("\n" + shown.text))
        if not typer.confirm(_("Queue this reply?"), default=False, err=True):
            raise typer.Exit(1)
    try:
        with store.session(write=True) as session:
            done = replies.queue_reply(
                session, number, spec, setup, Change.by(cli.actor), force=force
            )
    except replies.CollisionError as exc:
        if not as_json:
            raise
        print_json(
            {
                "collision": True,
                "ticket": exc.number,
                "version": exc.version,
                "arrived": [a.__dict__ for a in exc.arrived],
            }
        )
        raise typer.Exit(exc.exit_code) from None
    if as_json:
        print_json(done.as_dict())
    else:
        console.print(
            cell(
                _(
                    "reply to #{ticket_number} queued as outbox item {outbox_id} "
                    "(to {recipients}); ticket is {status}, version "
                    "{ticket_version}"
                ).format(
                    ticket_number=done.ticket_number,
                    outbox_id=done.outbox_id,
                    recipients=", ".join(done.recipients),
                    status=done.status,
                    ticket_version=done.ticket_version,
                )
            )
        )


def register(tickets_app: typer.Typer) -> None:
    tickets_app.command(
        "reply", help=_("Queue a reply on a ticket (sent by `supportdesk send` or `sync --watch`).")
    )(reply)
