"""`supportdesk mailbox`: the configured IMAP mailboxes, a connection test, and logging in.

`login` checks the password against the server before saving it, so a typo is caught now
instead of at 3 a.m. by the first sync; when the server cannot be reached it saves anyway
and says so. Passwords are read with getpass and never echoed, printed or logged.
"""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING, Annotated

import typer

from supportdesk.cli.context import CliContext
from supportdesk.cli.options import JsonOption
from supportdesk.cli.output import Col, FitTable, cell, console, error, print_json
from supportdesk.errors import NotFoundError
from supportdesk.i18n import _

if TYPE_CHECKING:
    from supportdesk.config import Mailbox

app = typer.Typer(
    help=_("IMAP mailboxes: list them, test a connection, store a password."),
    no_args_is_help=False,
)

NameArgument = Annotated[str, typer.Argument(help=_("The mailbox's name in config.toml."))]
EX_USAGE = 2


@app.callback(
    invoke_without_command=True,
    help=_("IMAP mailboxes: list them, test a connection, store a password."),
)
def _default(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        list_mailboxes(ctx, as_json=False)


def _credential(mailbox: Mailbox) -> str:
    if mailbox.auth == "oauth2":
        return "oauth2 (token_command)"
    return "password_command" if mailbox.password_command else "keyring"


@app.command("list", help=_("List the mailboxes in config.toml (nothing is contacted)."))
def list_mailboxes(ctx: typer.Context, as_json: JsonOption = False) -> None:
    cli: CliContext = ctx.obj
    boxes = cli.settings.mailboxes
    if as_json:
        print_json(
            [
                {
                    "name": m.name,
                    "address": m.address,
                    "host": m.imap_host,
                    "port": m.imap_port,
                    "security": m.security,
                    "username": m.username,
                    "folders": m.folders,
                    "default_queue": m.default_queue,
                    "auth": m.auth,
                    "credential": _credential(m),
                    "after_import": m.after_import,
                    "move_to": m.move_to,
                }
                for m in boxes
            ]
        )
        return
    if not boxes:
        console.print(_("no mailboxes configured: add a [[mailboxes]] table to config.toml"))
        return
    table = FitTable(
        [
            Col(_("name")),
            Col(_("address"), give=2, least=12),
            Col(_("server"), give=3, least=12),
            Col(_("folders"), give=1, least=12),
            Col(_("queue"), give=2),
            Col(_("login"), give=3, least=12),
            Col(_("after import"), give=2),
        ]
    )
    for m in boxes:
        after = (
            _("move to {folder}").format(folder=m.move_to)
            if m.after_import == "move"
            else m.after_import
        )
        table.add_row(
            cell(m.name),
            cell(m.address),
            cell(f"{m.imap_host}:{m.imap_port} ({m.security})"),
            cell(", ".join(m.folders)),
            cell(m.default_queue or "general"),
            cell(
                _("{username} via {credential}").format(
                    username=m.username, credential=_credential(m)
                )
            ),
            cell(after),
        )
    console.print(table)


def _mailbox(cli: CliContext, name: str) -> Mailbox:
    try:
        return cli.settings.mailbox(name)
    except NotFoundError as exc:
        error(str(exc))
        raise typer.Exit(EX_USAGE) from None


@app.command(
    "test",
    help=_(
        "Connect and log in over IMAP, and SMTP where configured; "
        "show capabilities, folders, message counts and the SMTP "
        "server's extensions. Changes nothing and sends nothing."
    ),
)
def test_mailbox(ctx: typer.Context, name: NameArgument, as_json: JsonOption = False) -> None:
    from rich.text import Text

    from supportdesk.mail import smtp
    from supportdesk.mail.imap import probe

    cli: CliContext = ctx.obj
    mailbox = _mailbox(cli, name)
    result = probe(mailbox)
    missing = [
        _("mailbox {name!r}: folder {folder!r} does not exist on the server").format(
            name=mailbox.name, folder=folder
        )
        for folder in result.missing
    ]
    if (
        mailbox.smtp_host is not None
        and mailbox.sent_copy
        and mailbox.sent_folder not in (result.folders)
    ):
        missing.append(
            _(
                "mailbox {name!r}: sent_folder {folder!r} does not exist on "
                "the server; sent replies could not be copied there (set sent_folder, or "
                "sent_copy = false where the provider files sent mail itself)"
            ).format(name=mailbox.name, folder=mailbox.sent_folder)
        )
    sent: smtp.SmtpProbe | None = None
    if mailbox.smtp_host is not None:
        try:
            sent = smtp.probe(mailbox)
        except smtp.SmtpError as exc:
            missing.append(str(exc))
    if as_json:
        data = dict(result.__dict__)
        data["counts"] = [c.__dict__ for c in result.counts]
        data["smtp"] = None if sent is None else dict(sent.__dict__)
        data["ok"] = not missing
        print_json(data)
    else:
        console.print(
            Text(
                _(
                    "{name}: logged in to {server} ({security}) as {username} in {seconds:.2f} s"
                ).format(
                    name=mailbox.name,
                    server=result.server,
                    security=result.security,
                    username=mailbox.username,
                    seconds=result.seconds,
                )
            )
        )
        console.print(Text(_("capabilities: ")) + cell(" ".join(result.capabilities)))
        console.print(Text(_("folders: ")) + cell(", ".join(result.folders)))
        table = FitTable(
            [
                Col(_("folder"), give=1, least=12),
                *(
                    Col(name, "right")
                    for name in (_("messages"), _("unseen"), "uidnext", "uidvalidity")
                ),
            ]
        )
        for c in result.counts:
            counts = (c.messages, c.unseen, c.uidnext or "", c.uidvalidity)
            table.add_row(cell(c.name), *(str(n) for n in counts))
        console.print(table)
        if sent is not None:
            how = _("logged in") if sent.logged_in else _("connected (no login)")
            limit = (
                _(", size limit {size:,} bytes").format(size=sent.size_limit)
                if sent.size_limit
                else ""
            )
            console.print(
                Text(
                    _("smtp: {how} to {server} ({security}) in {seconds:.2f} s{limit}").format(
                        how=how,
                        server=sent.server,
                        security=sent.security,
                        seconds=sent.seconds,
                        limit=limit,
                    )
                )
            )
            console.print(Text(_("smtp extensions: ")) + cell(" ".join(sent.extensions)))
        elif mailbox.smtp_host is None:
            console.print(Text(_("smtp: no smtp_host; this mailbox sends nothing")))
    for line in missing:
        error(line)
    if missing:
        raise typer.Exit(1)


@app.command("login", help=_("Ask for the mailbox's password and store it in the system keyring."))
def login(
    ctx: typer.Context,
    name: NameArgument,
    check: Annotated[
        bool, typer.Option("--check/--no-check", help=_("Try the password on the server first."))
    ] = True,
) -> None:
    from rich.text import Text

    from supportdesk import secrets
    from supportdesk.mail import imap

    cli: CliContext = ctx.obj
    mailbox = _mailbox(cli, name)
    if mailbox.auth == "oauth2":
        error(
            _(
                "mailbox {name!r} uses oauth2: its token_command supplies the login, not a password"
            ).format(name=name)
        )
        raise typer.Exit(EX_USAGE)
    if mailbox.password_command is not None:
        error(
            _(
                "mailbox {name!r} has password_command, which is used "
                "instead of the keyring; remove it from config.toml to use a "
                "stored password"
            ).format(name=name)
        )
        raise typer.Exit(EX_USAGE)
    password = getpass.getpass(
        _("Password for {username} at {host}: ").format(
            username=mailbox.username, host=mailbox.imap_host
        )
    )
    if not password:
        error(_("no password given; nothing stored"))
        raise typer.Exit(1)
    if check:
        try:
            imap.close(imap.connect(mailbox, password=password))
        except imap.ImapError as exc:
            if not exc.temporary:
                error(_("{exc}; nothing stored").format(exc=exc))
                raise typer.Exit(1) from None
            console.print(
                Text(
                    _("could not check the password now ({exc}); storing it anyway").format(exc=exc)
                )
            )
    secrets.store_mailbox_password(mailbox.name, password)
    console.print(Text(_("password for mailbox {name!r} stored in the keyring").format(name=name)))
