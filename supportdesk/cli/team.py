"""`supportdesk team`: a PostgreSQL store shared by a team, each agent their own database role."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from supportdesk.cli.context import CliContext
from supportdesk.cli.options import JsonOption
from supportdesk.cli.output import Col, FitTable, cell, console, print_json
from supportdesk.errors import ValidationError

if TYPE_CHECKING:
    from supportdesk.desk.team import Added

app = typer.Typer(help="Team mode on PostgreSQL: prepare the store, add agents and services.")

RoleOption = Annotated[
    str | None,
    typer.Option("--role", help="The database login role (default: the handle, or the name)."),
]
PasswordCommand = Annotated[
    str | None,
    typer.Option(
        "--password-command",
        metavar="COMMAND",
        help="Set the role's password to what COMMAND prints (run without a shell); the "
        "agent sets the same command as database_password_command.",
    ),
]
PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the role's password from the first line of stdin."),
]


@app.callback(invoke_without_command=True)
def _default(ctx: typer.Context) -> None:
    """Team mode on PostgreSQL: prepare the store, add agents and services."""
    if ctx.invoked_subcommand is None:
        list_members(ctx, as_json=False)


@app.command("init")
def init(
    ctx: typer.Context,
    group: Annotated[
        str, typer.Option(help="The group role every agent and service joins.")
    ] = "supportdesk_team",
    as_json: JsonOption = False,
) -> None:
    """Prepare a PostgreSQL store for a team: schema, group role and its privileges.

    Run it as the store's owner (a role that may create roles). Safe to run again, e.g.
    after `supportdesk db upgrade`.
    """
    from supportdesk.desk import team

    cli: CliContext = ctx.obj
    if not cli.store_url().startswith("postgresql"):
        raise ValidationError(
            "team mode needs a PostgreSQL store: set database_url = postgresql://... "
            "or pass --store postgresql://..."
        )
    team.init(cli.store(create=True), group)
    if as_json:
        print_json({"group": group, "store": _shown(cli)})
    else:
        console.print(
            f"team store ready at {_shown(cli)}; agents join group role {group} "
            "(add them with `supportdesk team add-agent`)"
        )


@app.command("add-agent")
def add_agent(
    ctx: typer.Context,
    handle: Annotated[str, typer.Argument(help="Short login-like name, e.g. alice.")],
    email: Annotated[str, typer.Option(help="The agent's email address.")],
    name: Annotated[str, typer.Option(help="Full name shown to customers.")] = "",
    role: RoleOption = None,
    password_command: PasswordCommand = None,
    password_stdin: PasswordStdin = False,
    as_json: JsonOption = False,
) -> None:
    """Add an agent and their database login role; everything they change is recorded as
    theirs by the server. Without a password option the role logs in by peer or
    certificate authentication (or a password set later with ALTER ROLE)."""
    from supportdesk.desk import team

    cli: CliContext = ctx.obj
    password = _password(password_command, password_stdin)
    added = team.add_agent(
        cli.store(), handle, email=email, name=name, role=role, password=password
    )
    _report(added, as_json, handle=handle.strip().lower())


@app.command("add-service")
def add_service(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="What it is, e.g. sync.")],
    role: RoleOption = None,
    password_command: PasswordCommand = None,
    password_stdin: PasswordStdin = False,
    as_json: JsonOption = False,
) -> None:
    """Add a login role for a program such as `sync --watch`: it records as system:NAME
    (and its rules as rule:RULE), never as a person."""
    from supportdesk.desk import team

    cli: CliContext = ctx.obj
    password = _password(password_command, password_stdin)
    added = team.add_service(cli.store(), name, role=role, password=password)
    _report(added, as_json)


@app.command("list")
def list_members(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The team's login roles and who the server records each as."""
    from supportdesk.desk import team

    cli: CliContext = ctx.obj
    members = team.members(cli.store())
    rows = [
        {"role": m.role, "actor": m.actor, "kind": m.kind, "role_exists": m.exists} for m in members
    ]
    if as_json:
        print_json(rows)
        return
    table = FitTable([Col("role"), Col("records as", give=1), Col("kind")], title="Team")
    for row in rows:
        missing = "" if row["role_exists"] else " (role dropped)"
        table.add_row(cell(row["role"]), cell(f"{row['actor']}{missing}"), cell(row["kind"]))
    console.print(table)


@app.command("whoami")
def whoami(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Who this machine acts as on the store (on a team store, what the server records)."""
    cli: CliContext = ctx.obj
    if as_json:
        print_json({"actor": cli.actor, "agent": cli.me})
    else:
        console.print(cli.actor)


@app.command("login")
def login(ctx: typer.Context) -> None:
    """Save the password of database_url's user in the keyring (asked, never echoed)."""
    from supportdesk.config import database_account, redact_url
    from supportdesk.secrets import store_database_password

    cli: CliContext = ctx.obj
    account = database_account(cli.store_url())
    if account is None:
        raise ValidationError(
            f"{redact_url(cli.store_url())} needs no keyring password "
            "(not PostgreSQL, or the URL carries one)"
        )
    password = typer.prompt(f"password for {account}", hide_input=True)
    store_database_password(account, password)
    console.print(f"password for {account} saved in the keyring")


def _password(command: str | None, from_stdin: bool) -> str | None:
    from supportdesk.secrets import run_secret_command

    if command is not None and from_stdin:
        raise ValidationError("give --password-command or --password-stdin, not both")
    if command is not None:
        return run_secret_command(command, mailbox="", key="--password-command")
    if from_stdin:
        line = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
        if not line:
            raise ValidationError("--password-stdin: the first line of stdin is empty")
        return line
    return None


def _report(added: Added, as_json: bool, *, handle: str | None = None) -> None:
    data = {"role": added.role, "actor": added.actor, "created_role": added.created_role}
    if handle is not None:
        data["handle"] = handle
    if as_json:
        print_json(data)
        return
    how = "created" if added.created_role else "existing role joined to the team"
    console.print(f"{added.actor} logs in as database role {added.role} ({how})")


def _shown(cli: CliContext) -> str:
    from supportdesk.config import redact_url

    return redact_url(cli.store_url())
