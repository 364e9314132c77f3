"""`supportdesk sla`: service-level policies per queue, as `[[sla]]` TOML that round-trips.

The format is documented in supportdesk/desk/sla/policy.py and the README. Every command
that changes a policy recomputes the due times of that queue's tickets in the same
transaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from supportdesk.cli.context import CliContext
from supportdesk.cli.options import JsonOption
from supportdesk.cli.output import (
    cell,
    console,
    export_from,
    import_into,
    print_json,
    read_data,
    write_data,
)
from supportdesk.errors import ValidationError
from supportdesk.i18n import _

app = typer.Typer(
    help=_("Service levels: response and resolution targets per queue, in business hours."),
    no_args_is_help=False,
)

QueueArg = Annotated[str, typer.Argument(help=_("The queue's name."))]


@app.callback(
    invoke_without_command=True,
    help=_("Service levels: response and resolution targets per queue, in business hours."),
)
def _default(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        list_policies(ctx, as_json=False)


def _hours(policy: Any) -> str:
    from supportdesk.desk.sla.calendar import DAYS

    shown = []
    for day in DAYS:
        ranges = getattr(policy.hours, day)
        if ranges:
            shown.append(f"{day} {ranges if isinstance(ranges, str) else ','.join(ranges)}")
    return "; ".join(shown)


@app.command("list", help=_("List the queues' SLA policies."))
def list_policies(ctx: typer.Context, as_json: JsonOption = False) -> None:
    from supportdesk.desk.sla import policy, storage

    cli: CliContext = ctx.obj
    with cli.store().session() as session:
        stored = storage.list_policies(session)
    if as_json:
        print_json([policy.as_dict(p.policy) for p in stored])
        return
    from rich.table import Table

    table = Table(
        _("queue"),
        _("time zone"),
        _("first response"),
        _("next response"),
        _("resolution"),
        _("hours"),
        title=_("SLA policies"),
    )
    for p in stored:
        d = p.policy
        table.add_row(
            cell(p.queue),
            cell(d.timezone),
            d.first_response or "-",
            d.next_response or "-",
            d.resolution or "-",
            cell(_hours(d), 50),
        )
    console.print(table)


@app.command("show", help=_("Print one queue's policy as TOML."))
def show(ctx: typer.Context, queue: QueueArg, as_json: JsonOption = False) -> None:
    from supportdesk.desk.sla import policy, storage

    cli: CliContext = ctx.obj
    with cli.store().session() as session:
        stored = storage.get_policy(session, queue)
    if as_json:
        print_json({**policy.as_dict(stored.policy), "definition": stored.text})
    else:
        write_data(stored.text)


@app.command(
    "set",
    help=_("Set a queue's policy from options (changing only what is given), or from a file."),
)
def set_(
    ctx: typer.Context,
    queue: Annotated[
        str | None, typer.Argument(help=_("The queue to change (or use --file)."))
    ] = None,
    file: Annotated[
        str | None,
        typer.Option("--file", help=_("A TOML file of [[sla]] tables to set, or - for stdin.")),
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help=_("IANA time zone of the queue's working hours."))
    ] = None,
    hours: Annotated[
        list[str] | None,
        typer.Option(
            "--hours",
            help=_("Working hours of a day, DAY=HH:MM-HH:MM[,HH:MM-HH:MM] (repeat; DAY= is off)."),
        ),
    ] = None,
    holiday: Annotated[
        list[str] | None, typer.Option("--holiday", help=_("A day off, YYYY-MM-DD (repeat)."))
    ] = None,
    first_response: Annotated[
        str | None, typer.Option(help=_("First response target, e.g. 4h or 30m."))
    ] = None,
    next_response: Annotated[
        str | None, typer.Option(help=_("Next response target after each customer message."))
    ] = None,
    resolution: Annotated[str | None, typer.Option(help=_("Resolution target."))] = None,
    priority: Annotated[
        str | None, typer.Option(help=_("Apply the targets to this priority only."))
    ] = None,
    as_json: JsonOption = False,
) -> None:
    from datetime import date

    from supportdesk.desk.sla import policy, storage

    cli: CliContext = ctx.obj
    if file is not None:
        if queue is not None:
            raise ValidationError(_("give a queue with options, or --file, not both"))
        with cli.store().session(write=True) as session:
            names = storage.set_policies(session, read_data(file), origin=file)
        if as_json:
            print_json({"set": names})
        else:
            console.print(_("set: {names}").format(names=", ".join(names)))
        return
    if queue is None:
        raise ValidationError(_("name the queue, or give --file"))
    changes: dict[str, Any] = {}
    if timezone is not None:
        changes["timezone"] = timezone
    if hours:
        week: dict[str, list[str]] = {}
        for item in hours:
            day, sep, ranges = item.partition("=")
            if not sep:
                raise ValidationError(
                    _("--hours {item!r}: write DAY=HH:MM-HH:MM, e.g. mon=09:00-17:00").format(
                        item=item
                    )
                )
            week[day.strip().lower()] = [r for r in ranges.split(",") if r.strip()]
        changes["hours"] = week
    if holiday:
        try:
            changes["holidays"] = [date.fromisoformat(d) for d in holiday]
        except ValueError as exc:
            raise ValidationError(_("--holiday: {exc}").format(exc=exc)) from None
    for kind, value in (
        ("first_response", first_response),
        ("next_response", next_response),
        ("resolution", resolution),
    ):
        if value is not None:
            changes[f"priority.{priority}.{kind}" if priority else kind] = value
    if not changes:
        raise ValidationError(
            _("nothing to set: give --first-response, --resolution, ... or --file")
        )
    with cli.store().session(write=True) as session:
        if "hours" in changes:
            current = storage.get_policy_or_none(session, queue)
            # days not named keep their hours (the default week's, for a new policy)
            hours_now = (current.policy if current else policy.PolicyDef(queue=queue)).hours
            changes["hours"] = {**hours_now.model_dump(), **changes["hours"]}
        stored = storage.update_policy(session, queue, changes)
    if as_json:
        print_json({**policy.as_dict(stored.policy), "definition": stored.text})
    else:
        write_data(stored.text)


@app.command("remove", help=_("Remove a queue's policy: its tickets have no due times any more."))
def remove(ctx: typer.Context, queue: QueueArg, as_json: JsonOption = False) -> None:
    from supportdesk.desk.sla import storage

    cli: CliContext = ctx.obj
    with cli.store().session(write=True) as session:
        storage.remove_policy(session, queue)
    if as_json:
        print_json({"removed": queue})
    else:
        console.print(_("SLA policy of queue {queue} removed").format(queue=queue))


@app.command(
    "export", help=_("Write every policy as one TOML file that `import` reads back unchanged.")
)
def export(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(help=_("Write here instead of stdout."))] = None,
) -> None:
    from supportdesk.desk.sla import storage

    cli: CliContext = ctx.obj
    export_from(cli.store(), storage.export_text, file)


@app.command(
    "import",
    help=_(
        "Make the stored policies exactly the file's; validates all "
        "first, changes nothing on error."
    ),
)
def import_(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help=_("TOML file of [[sla]] tables, or - for stdin."))],
    as_json: JsonOption = False,
) -> None:
    from supportdesk.desk.sla import storage

    cli: CliContext = ctx.obj
    import_into(
        cli.store(),
        lambda session, text, origin: storage.import_policies(session, text, origin=origin),
        file,
        as_json,
    )


@app.command(
    "refresh",
    help=_(
        "Extend every queue's working hours from today, recompute "
        "every due time and flag the tickets that breached since "
        "their last change (run it daily from cron)."
    ),
)
def refresh(ctx: typer.Context, as_json: JsonOption = False) -> None:
    from supportdesk.desk.sla import storage

    cli: CliContext = ctx.obj
    with cli.store().session(write=True) as session:
        count = storage.refresh_all(session)
    if as_json:
        print_json({"policies": count})
    else:
        console.print(_("{count} SLA policies refreshed").format(count=count))
