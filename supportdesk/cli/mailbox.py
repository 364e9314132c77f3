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

if TYPE_CHECKING:
    from supportdesk.config import Mailbox

app = typer.Typer(
    help="IMAP mailboxes: list them, test a connection, store a password.",
    no_args_is_help=False,
)

NameArgument = Annotated[str, typer.Argument(help="The mailbox's name in config.toml.")]
EX_USAGE = 2


@app.callback(invoke_without_command=True)
def _default(ctx: typer.Context) -> None:
    """IMAP mailboxes: list them, test a connection, store a password."""
    if ctx.invoked_subcommand is None:
        list_mailboxes(ctx, as_json=False)


def _credential(mailbox: Mailbox) -> str:
    if mailbox.auth == "oauth2":
        return "oauth2 (token_command)"
    return "password_command" if mailbox.password_command else "keyring"


@app.command("list")
def list_mailboxes(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the mailboxes in config.toml (nothing is contacted)."""
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
        console.print("no mailboxes configured: add a [[mailboxes]] table to config.toml")
        return
    table = FitTable(
        [
            Col("name"),
            Col("address", give=2, least=12),
            Col("server", give=3, least=12),
            Col("folders", give=1, least=12),
            Col("queue", give=2),
            Col("login", give=3, least=12),
            Col("after import", give=2),
        ]
    )
    for m in boxes:
        after = f"move to {m.move_to}" if m.after_import == "move" else m.after_import
        table.add_row(
            cell(m.name),
            cell(m.address),
            cell(f"{m.imap_host}:{m.imap_port} ({m.security})"),
            cell(", ".join(m.folders)),
            cell(m.default_queue or "general"),
            cell(f"{m.username} via {_credential(m)}"),
            cell(after),
        )
    console.print(table)


def _mailbox(cli: CliContext, name: str) -> Mailbox:
    try:
        return cli.settings.mailbox(name)
    except NotFoundError as exc:
        error(str(exc))
        raise typer.Exit(EX_USAGE) from None


@app.command("test")
def test_mailbox(ctx: typer.Context, name: NameArgument, as_json: JsonOption = False) -> None:
    """Connect and log in over IMAP, and SMTP where configured; show capabilities, folders,
    message counts and the SMTP server's extensions. Changes nothing and sends nothing."""
    from rich.text import Text

    from supportdesk.mail import smtp
    from supportdesk.mail.imap import probe

    cli: CliContext = ctx.obj
    mailbox = _mailbox(cli, name)
    result = probe(mailbox)
    missing = [
        f"mailbox {mailbox.name!r}: folder {folder!r} does not exist on the server"
        for folder in result.missing
    ]
    if (
        mailbox.smtp_host is not None
        and mailbox.sent_copy
        and mailbox.sent_folder not in (result.folders)
    ):
        missing.append(
            f"mailbox {mailbox.name!r}: sent_folder {mailbox.sent_folder!r} does not exist on "
            "the server; sent replies could not be copied there (set sent_folder, or "
            "sent_copy = false where the provider files sent mail itself)"
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
                f"{mailbox.name}: logged in to {result.server} ({result.security}) as "
                f"{mailbox.username} in {result.seconds:.2f} s"
            )
        )
        console.print(Text("capabilities: ") + cell(" ".join(result.capabilities)))
        console.print(Text("folders: ") + cell(", ".join(result.folders)))
        table = FitTable(
            [
                Col("folder", give=1, least=12),
                *(Col(name, "right") for name in ("messages", "unseen", "uidnext", "uidvalidity")),
            ]
        )
        for c in result.counts:
            counts = (c.messages, c.unseen, c.uidnext or "", c.uidvalidity)
            table.add_row(cell(c.name), *(str(n) for n in counts))
        console.print(table)
        if sent is not None:
            how = "logged in" if sent.logged_in else "connected (no login)"
            limit = f", size limit {sent.size_limit:,} bytes" if sent.size_limit else ""
            console.print(
                Text(
                    f"smtp: {how} to {sent.server} ({sent.security}) in {sent.seconds:.2f} s{limit}"
                )
            )
            console.print(Text("smtp extensions: ") + cell(" ".join(sent.extensions)))
        elif mailbox.smtp_host is None:
            console.print(Text("smtp: no smtp_host; this mailbox sends nothing"))
    for line in missing:
        error(line)
    if missing:
        raise typer.Exit(1)


@app.command("login")
def login(
    ctx: typer.Context,
    name: NameArgument,
    check: Annotated[
        bool, typer.Option("--check/--no-check", help="Try the password on the server first.")
    ] = True,
) -> None:
    """Ask for the mailbox's password and store it in the system keyring."""
    from rich.text import Text

    from supportdesk import secrets
    from supportdesk.mail import imap

    cli: CliContext = ctx.obj
    mailbox = _mailbox(cli, name)
    if mailbox.auth == "oauth2":
        error(f"mailbox {name!r} uses oauth2: its token_command supplies the login, not a password")
        raise typer.Exit(EX_USAGE)
    if mailbox.password_command is not None:
        error(
            f"mailbox {name!r} has password_command, which is used instead of the keyring; "
            "remove it from config.toml to use a stored password"
        )
        raise typer.Exit(EX_USAGE)
    password = getpass.getpass(f"Password for {mailbox.username} at {mailbox.imap_host}: ")
    if not password:
        error("no password given; nothing stored")
        raise typer.Exit(1)
    if check:
        try:
            imap.close(imap.connect(mailbox, password=password))
        except imap.ImapError as exc:
            if not exc.temporary:
                error(f"{exc}; nothing stored")
                raise typer.Exit(1) from None
            console.print(Text(f"could not check the password now ({exc}); storing it anyway"))
    secrets.store_mailbox_password(mailbox.name, password)
    console.print(Text(f"password for mailbox {name!r} stored in the keyring"))
