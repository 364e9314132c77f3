"""`supportdesk agents`: the people who work tickets."""

from __future__ import annotations

from typing import Annotated

import typer

from supportdesk.cli.context import CliContext
from supportdesk.cli.options import JsonOption
from supportdesk.cli.output import Col, FitTable, cell, console, print_json
from supportdesk.i18n import _

app = typer.Typer(help=_("Agents: list them, add new ones."))


@app.callback(invoke_without_command=True, help=_("Agents: list them, add new ones."))
def _default(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        list_agents(ctx, as_json=False)


@app.command("list", help=_("List agents with their active ticket load."))
def list_agents(ctx: typer.Context, as_json: JsonOption = False) -> None:
    from supportdesk.desk import directory

    cli: CliContext = ctx.obj
    with cli.store().session() as session:
        agents = directory.list_agents(session)
        load = directory.agent_load(session)
    rows = [
        {
            "handle": a.handle,
            "name": a.name,
            "email": a.email,
            "active": a.active,
            "digest": a.digest,
            "open_tickets": load.get(a.id, 0),  # type: ignore[arg-type]
        }
        for a in agents
    ]
    if as_json:
        print_json(rows)
        return
    table = FitTable(
        [
            Col(_("handle")),
            Col(_("name"), give=2),
            Col(_("email"), give=1, least=12),
            Col(_("digest")),
            Col(_("open tickets"), "right"),
        ],
        title=_("Agents"),
    )
    for row in rows:
        table.add_row(
            cell(row["handle"]),
            cell(row["name"]),
            cell(row["email"]),
            _("yes") if row["digest"] else _("no"),
            str(row["open_tickets"]),
        )
    console.print(table)


@app.command("add", help=_("Add an agent."))
def add_agent(
    ctx: typer.Context,
    handle: Annotated[str, typer.Argument(help=_("Short login-like name, e.g. alice."))],
    email: Annotated[str, typer.Option(help=_("The agent's email address."))],
    name: Annotated[str, typer.Option(help=_("Full name shown to customers."))] = "",
    queue: Annotated[
        list[str] | None,
        typer.Option("--queue", help=_("A queue this agent works (repeatable).")),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    from supportdesk.desk import directory

    cli: CliContext = ctx.obj
    with cli.store().session(write=True) as session:
        agent = directory.add_agent(session, handle, email=email, name=name)
        for queue_name in queue or []:
            directory.add_queue_member(session, directory.get_queue(session, queue_name), agent)
        result = {"handle": agent.handle, "name": agent.name, "email": agent.email}
    if as_json:
        print_json(result)
    else:
        console.print(_("agent {handle} added").format(handle=agent.handle))


@app.command(
    "digest",
    help=_(
        "Whether an agent gets the notification digest by mail while away "
        "(`[notifications] digest_minutes` turns it on for the team)."
    ),
)
def digest_wanted(
    ctx: typer.Context,
    handle: Annotated[str, typer.Argument(help=_("The agent's handle."))],
    on: Annotated[bool, typer.Option("--on/--off", help=_("Send it (the default) or not."))] = True,
    as_json: JsonOption = False,
) -> None:
    from supportdesk.desk import digest

    cli: CliContext = ctx.obj
    with cli.store().session(write=True) as session:
        digest.set_wanted(session, handle, on)
    if as_json:
        print_json({"handle": handle.strip().lower(), "digest": on})
    elif on:
        console.print(_("{handle} gets the digest while away").format(handle=handle))
    else:
        console.print(_("{handle} gets no digest").format(handle=handle))
