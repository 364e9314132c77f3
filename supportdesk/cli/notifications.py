"""`supportdesk notifications`: what an agent was told (assigned, answered, mentioned, SLA),
and marking it read.

Thin over desk.notifications. The agent is the configured one, or on a team store the one
the server maps the login role to; `--agent` names another (on a team store the server
still shows a role only its own agent's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from supportdesk.cli.context import CliContext
from supportdesk.cli.options import JsonOption
from supportdesk.cli.output import cell, console, print_json
from supportdesk.errors import ValidationError
from supportdesk.i18n import _

if TYPE_CHECKING:
    from supportdesk.desk.notifications import NotificationInfo

app = typer.Typer(
    help=_("Notifications: tickets assigned to you, answers, mentions, SLA warnings."),
    invoke_without_command=True,
)

# Option names, like JSON keys, are never translated: from the parameter names (--agent,
# --limit), or constants where a flag must not get a --no- twin.
AgentOption = Annotated[
    str | None,
    typer.Option(help=_("Whose notifications (default: you, the configured agent).")),
]
UNREAD_FLAG = "--unread"
ALL_FLAG = "--all"
UnreadOption = Annotated[bool, typer.Option(UNREAD_FLAG, help=_("Only the unread ones."))]
LimitOption = Annotated[int, typer.Option(help=_("Show at most this many."))]


def _agent(cli: CliContext, agent: str | None) -> str:
    handle = agent or cli.me
    if not handle:
        raise ValidationError(_("no agent: pass --agent HANDLE or set `agent` in the config file"))
    return handle


@app.callback(
    help=_("List your notifications, newest first (the same as `notifications list`)."),
)
def notifications(
    ctx: typer.Context,
    agent: AgentOption = None,
    unread: UnreadOption = False,
    limit: LimitOption = 50,
    as_json: JsonOption = False,
) -> None:
    if ctx.invoked_subcommand is None:
        _list(ctx.obj, agent, unread, limit, as_json)


@app.command("list", help=_("List your notifications, newest first."))
def list_notifications(
    ctx: typer.Context,
    agent: AgentOption = None,
    unread: UnreadOption = False,
    limit: LimitOption = 50,
    as_json: JsonOption = False,
) -> None:
    _list(ctx.obj, agent, unread, limit, as_json)


def _list(cli: CliContext, agent: str | None, unread: bool, limit: int, as_json: bool) -> None:
    from supportdesk.desk import notifications as desk_notifications

    handle = _agent(cli, agent)
    with cli.store().session() as session:
        found = desk_notifications.listing(session, handle, unread_only=unread, limit=limit)
        unread_count = desk_notifications.unread_count(session, handle)
    if as_json:
        print_json(
            {
                "agent": handle,
                "unread": unread_count,
                "notifications": [n.as_dict() for n in found],
            }
        )
        return
    if not found:
        console.print(cell(_("no notifications for {agent}").format(agent=handle)))
        return
    _table(found)
    console.print(cell(_("{count} unread for {agent}").format(count=unread_count, agent=handle)))


def _table(found: list[NotificationInfo]) -> None:
    from rich import box
    from rich.table import Table

    from supportdesk.desk import notifications as desk_notifications
    from supportdesk.desk.notifications import short_batch

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    headers = (_("id"), "", _("time"), _("what"), _("ticket"), _("subject"), _("by"))
    for i, name in enumerate(headers):
        table.add_column(name, no_wrap=i != 5, justify="right" if i in (0, 4) else "left")
    for n in found:
        # A bulk assignment names no ticket: its count is the "what", its batch (which
        # `tickets list batch:ID` and `undo` take) stands where the ticket would.
        table.add_row(
            str(n.id),
            "•" if n.unread else "",
            f"{n.created_at.astimezone():%Y-%m-%d %H:%M}",
            desk_notifications.describe(n),
            f"#{n.ticket}" if n.batch is None else f"batch:{short_batch(n.batch)}",
            cell(n.subject, 60),
            cell(n.actor, 30),
        )
    console.print(table)


@app.command("read", help=_("Mark notifications ID... (or --all) read."))
def read(
    ctx: typer.Context,
    ids: Annotated[
        list[int] | None,
        typer.Argument(help=_("The notification ids (see `supportdesk notifications`).")),
    ] = None,
    all_: Annotated[bool, typer.Option(ALL_FLAG, help=_("Mark every one read."))] = False,
    agent: AgentOption = None,
    as_json: JsonOption = False,
) -> None:
    from supportdesk.desk import notifications as desk_notifications

    if bool(ids) == all_:
        raise ValidationError(_("name notification ids or --all (not both)"))
    cli: CliContext = ctx.obj
    handle = _agent(cli, agent)
    with cli.store().session(write=True) as session:
        marked = desk_notifications.mark_read(session, handle, None if all_ else ids)
        left = desk_notifications.unread_count(session, handle)
    if as_json:
        print_json({"agent": handle, "marked": marked, "unread": left})
    else:
        console.print(
            cell(
                _("{marked} marked read; {left} unread for {agent}").format(
                    marked=marked, left=left, agent=handle
                )
            )
        )
