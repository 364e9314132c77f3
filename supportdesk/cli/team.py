"""`supportdesk team`: a PostgreSQL store shared by a team, each agent their own database role."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from supportdesk.cli.context import CliContext
from supportdesk.cli.options import JsonOption
from supportdesk.cli.output import Col, FitTable, cell, console, print_json
from supportdesk.errors import ValidationError
from supportdesk.i18n import _

if TYPE_CHECKING:
    from supportdesk.desk.team import Added

app = typer.Typer(help=_("Team mode on PostgreSQL: prepare the store, add agents and services."))

RoleOption = Annotated[
    str | None,
    typer.Option("--role", help=_("The database login role (default: the handle, or the name).")),
]
PasswordCommand = Annotated[
    str | None,
    typer.Option(
        "--password-command",
        metavar="COMMAND",
        help=_(
            "Set the role's password to what COMMAND prints (run without "
            "a shell); the agent sets the same command as "
            "database_password_command."
        ),
    ),
]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help=_("Read the role's password from the first line of stdin.")
    ),
]


@app.callback(
    invoke_without_command=True,
    help=_("Team mode on PostgreSQL: prepare the store, add agents and services."),
)
def _default(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        list_members(ctx, as_json=False)


@app.command(
    "init",
    help=_(
        "Prepare a PostgreSQL store for a team: schema, group role "
        "and its privileges.\n\nRun it as the store's owner (a role "
        "that may create roles). Safe to run again, e.g. after "
        "`supportdesk db upgrade`."
    ),
)
def init(
    ctx: typer.Context,
    group: Annotated[
        str, typer.Option(help=_("The group role every agent and service joins."))
    ] = "supportdesk_team",
    as_json: JsonOption = False,
) -> None:
    from supportdesk.desk import team

    cli: CliContext = ctx.obj
    if not cli.store_url().startswith("postgresql"):
        raise ValidationError(
            _(
                "team mode needs a PostgreSQL store: set database_url = "
                "postgresql://... or pass --store postgresql://..."
            )
        )
    team.init(cli.store(create=True), group)
    if as_json:
        print_json({"group": group, "store": _shown(cli)})
    else:
        console.print(
            _(
                "team store ready at {cli}; agents join group role {group} "
                "(add them with `supportdesk team add-agent`)"
            ).format(cli=_shown(cli), group=group)
        )


@app.command(
    "add-agent",
    help=_(
        "Add an agent and their database login role; everything they "
        "change is recorded as theirs by the server. Without a "
        "password option the role logs in by peer or certificate "
        "authentication (or a password set later with ALTER ROLE)."
    ),
)
def add_agent(
    ctx: typer.Context,
    handle: Annotated[str, typer.Argument(help=_("Short login-like name, e.g. alice."))],
    email: Annotated[str, typer.Option(help=_("The agent's email address."))],
    name: Annotated[str, typer.Option(help=_("Full name shown to customers."))] = "",
    role: RoleOption = None,
    password_command: PasswordCommand = None,
    password_stdin: PasswordStdin = False,
    as_json: JsonOption = False,
) -> None:
    from supportdesk.desk import team

    cli: CliContext = ctx.obj
    password = _password(password_command, password_stdin)
    added = team.add_agent(
        cli.store(), handle, email=email, name=name, role=role, password=password
    )
    _report(added, as_json, handle=handle.strip().lower())


@app.command(
    "add-service",
    help=_(
        "Add a login role for a program such as `sync --watch`: it "
        "records as system:NAME (and its rules as rule:RULE), never "
        "as a person."
    ),
)
def add_service(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=_("What it is, e.g. sync."))],
    role: RoleOption = None,
    password_command: PasswordCommand = None,
    password_stdin: PasswordStdin = False,
    as_json: JsonOption = False,
) -> None:
    from supportdesk.desk import team

    cli: CliContext = ctx.obj
    password = _password(password_command, password_stdin)
    added = team.add_service(cli.store(), name, role=role, password=password)
    _report(added, as_json)


@app.command("list", help=_("The team's login roles and who the server records each as."))
def list_members(ctx: typer.Context, as_json: JsonOption = False) -> None:
    from supportdesk.desk import team

    cli: CliContext = ctx.obj
    members = team.members(cli.store())
    rows = [
        {"role": m.role, "actor": m.actor, "kind": m.kind, "role_exists": m.exists} for m in members
    ]
    if as_json:
        print_json(rows)
        return
    table = FitTable(
        [Col(_("role")), Col(_("records as"), give=1), Col(_("kind"))], title=_("Team")
    )
    for row in rows:
        missing = "" if row["role_exists"] else _(" (role dropped)")
        table.add_row(cell(row["role"]), cell(f"{row['actor']}{missing}"), cell(row["kind"]))
    console.print(table)


@app.command(
    "whoami",
    help=_("Who this machine acts as on the store (on a team store, what the server records)."),
)
def whoami(ctx: typer.Context, as_json: JsonOption = False) -> None:
    cli: CliContext = ctx.obj
    if as_json:
        print_json({"actor": cli.actor, "agent": cli.me})
    else:
        console.print(cli.actor)


@app.command(
    "login",
    help=_("Save the password of database_url's user in the keyring (asked, never echoed)."),
)
def login(ctx: typer.Context) -> None:
    from supportdesk.config import database_account, redact_url
    from supportdesk.secrets import store_database_password

    cli: CliContext = ctx.obj
    account = database_account(cli.store_url())
    if account is None:
        raise ValidationError(
            _(
                "{store_url} needs no keyring password (not PostgreSQL, or the URL carries one)"
            ).format(store_url=redact_url(cli.store_url()))
        )
    password = typer.prompt(_("password for {account}").format(account=account), hide_input=True)
    store_database_password(account, password)
    console.print(_("password for {account} saved in the keyring").format(account=account))


def _password(command: str | None, from_stdin: bool) -> str | None:
    from supportdesk.secrets import run_secret_command

    if command is not None and from_stdin:
        raise ValidationError(_("give --password-command or --password-stdin, not both"))
    if command is not None:
        return run_secret_command(command, mailbox="", key="--password-command")
    if from_stdin:
        line = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
        if not line:
            raise ValidationError(_("--password-stdin: the first line of stdin is empty"))
        return line
    return None


def _report(added: Added, as_json: bool, *, handle: str | None = None) -> None:
    data = {"role": added.role, "actor": added.actor, "created_role": added.created_role}
    if handle is not None:
        data["handle"] = handle
    if as_json:
        print_json(data)
        return
    how = _("created") if added.created_role else _("existing role joined to the team")
    console.print(
        _("{actor} logs in as database role {role} ({how})").format(
            actor=added.actor, role=added.role, how=how
        )
    )


def _shown(cli: CliContext) -> str:
    from supportdesk.config import redact_url

    return redact_url(cli.store_url())
