"""`supportdesk csat`: satisfaction ratings by mail — what came back, what was ignored, the key."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import typer

from supportdesk.cli.context import CliContext
from supportdesk.cli.options import JsonOption
from supportdesk.cli.output import console, print_json
from supportdesk.errors import ValidationError
from supportdesk.i18n import _

app = typer.Typer(
    help=_("Satisfaction ratings by mail: requests, ratings, ignored rating mails, the key."),
    no_args_is_help=False,
)

SinceOption = Annotated[
    str | None,
    typer.Option(help=_("First day (YYYY-MM-DD, UTC) or ISO time; default 30 days ago.")),
]
UntilOption = Annotated[
    str | None,
    typer.Option(help=_("Last day, included (YYYY-MM-DD), or ISO time; default today.")),
]


@app.callback(
    invoke_without_command=True,
    help=_("Satisfaction ratings by mail: requests, ratings, ignored rating mails, the key."),
)
def _default(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        status(ctx, since=None, until=None, as_json=False)


@app.command(
    "status",
    help=_(
        "Requests sent and skipped, ratings (average, share of 4-5) and ignored rating mails "
        "(forged, replayed, expired...) by reason."
    ),
)
def status(
    ctx: typer.Context,
    since: SinceOption = None,
    until: UntilOption = None,
    as_json: JsonOption = False,
) -> None:
    """Counted in SQL over the period (desk.csat.overview); the reasons are codes in --json
    and labels for people."""
    from supportdesk.desk.csat.overview import overview
    from supportdesk.desk.csat.ratings import reason_label
    from supportdesk.desk.csat.requests import skip_label

    start, end = _period(since, until)
    cli: CliContext = ctx.obj
    with cli.store().session() as session:
        found = overview(session, start, end)
    if as_json:
        print_json(found.as_dict())
        return
    from rich.table import Table

    table = Table(
        _("what"),
        _("count"),
        title=_("Ratings from {start} to {end} UTC").format(
            start=f"{start:%Y-%m-%d %H:%M}", end=f"{end:%Y-%m-%d %H:%M}"
        ),
    )
    table.add_row(_("requests sent"), str(found.requests_sent))
    for reason, n in sorted(found.requests_skipped.items()):
        table.add_row(_("requests skipped ({reason})").format(reason=skip_label(reason)), str(n))
    table.add_row(_("ratings"), str(found.ratings))
    if found.average is not None and found.satisfied_share is not None:
        table.add_row(_("average score"), f"{found.average:.2f}")
        table.add_row(_("rated 4 or 5"), f"{found.satisfied_share:.0%}")
    for score in range(5, 0, -1):
        table.add_row(_("score {score}").format(score=score), str(found.scores.get(score, 0)))
    table.add_row(_("ignored rating mails"), str(found.ignored_total))
    for reason, n in sorted(found.ignored.items()):
        table.add_row(_("  ignored ({reason})").format(reason=reason_label(reason)), str(n))
    console.print(table)


@app.command(
    "ignored",
    help=_(
        "The rating mails that were not counted, newest first: when, why, the ticket they "
        "name, who sent them and what they wrote."
    ),
)
def ignored(
    ctx: typer.Context,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: Annotated[int, typer.Option(min=1, help=_("Show at most this many."))] = 50,
    as_json: JsonOption = False,
) -> None:
    """Read back from the raw bytes kept with each (desk.csat.ratings); mail text shown
    inert."""
    from supportdesk.cli.output import cell
    from supportdesk.desk.csat.overview import ignored_mails
    from supportdesk.desk.csat.ratings import reason_label

    start, end = _period(since, until)
    cli: CliContext = ctx.obj
    with cli.store().session() as session:
        found = ignored_mails(session, start, end, limit=limit)
    if as_json:
        print_json([m.as_dict() for m in found])
        return
    from rich.table import Table

    table = Table(_("received"), _("why"), _("ticket"), _("from"), _("text"))
    for mail in found:
        table.add_row(
            f"{mail.received_at:%Y-%m-%d %H:%M}",
            reason_label(mail.reason),
            "-" if mail.ticket_number is None else f"#{mail.ticket_number}",
            cell(mail.sender, 40),
            cell(mail.comment, 60),
        )
    console.print(table)


def _period(since: str | None, until: str | None) -> tuple[datetime, datetime]:
    from supportdesk.clock import utcnow
    from supportdesk.desk import reports

    end = reports.parse_moment(until or utcnow().date().isoformat(), end=True)
    start = reports.parse_moment(since) if since else end - timedelta(days=30)
    if end <= start:
        raise ValidationError(_("--until must be after --since"))
    return start, end


@app.command(
    "key",
    help=_(
        "The key that signs rating links. Every machine that sends requests or syncs the "
        "mail that rates them needs the same key: keep it in the keyring of each (or print it "
        "from a password manager with csat.key_command). A new key makes the links already "
        "sent invalid."
    ),
)
def key(
    generate: Annotated[
        bool,
        typer.Option(help=_("Make a new random key and keep it in the keyring.")),
    ] = False,
    yes: Annotated[
        bool,
        typer.Option(help=_("Replace a key already kept (links already sent stop working).")),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Refuses to replace a kept key without --yes: that would void every link sent."""
    import secrets as random

    from supportdesk.secrets import csat_key_stored, store_csat_key

    if not generate:
        raise ValidationError(
            _("say --generate to make a new key (links already sent stop working)")
        )
    if not yes and csat_key_stored():
        raise ValidationError(
            _(
                "a rating key is already in the keyring; replacing it makes every link already "
                "sent invalid: add --yes to replace it"
            )
        )
    store_csat_key(random.token_hex(32))
    if as_json:
        print_json({"stored": True})
        return
    console.print(_("A new rating key is in the keyring."))
