"""`supportdesk import`: mbox files, Maildirs, .eml files and folders of them, or one message
piped in, through the same parser, threading and robot rules as sync.

Exit codes are for cron and MTAs: 0 all imported, 1 something could not be read or stored
(the rest was still imported), 2 a usage error, 75 (EX_TEMPFAIL) when a message on standard
input met an unavailable store, so the MTA keeps it and delivers it again later.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from supportdesk.cli.output import console, error, print_json, rule_failures
from supportdesk.i18n import _
from supportdesk.text import one_line

if TYPE_CHECKING:
    from supportdesk.cli.context import CliContext
    from supportdesk.desk.handle import Desk
    from supportdesk.desk.intake.files import SourceReport
    from supportdesk.desk.intake.pipeline import Ingestor, Summary
    from supportdesk.mail.sources import MailSource

DEFAULT_QUEUE = "general"
EX_TEMPFAIL = 75
MAX_ERRORS_SHOWN = 20


def register(app: typer.Typer) -> None:
    """Add `import` to the top-level command group."""
    app.command(
        "import",
        help=_("Import mail from files, folders or standard input; importing twice adds nothing."),
    )(import_command)


def import_command(
    ctx: typer.Context,
    paths: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH",
            help=_(
                "mbox files, Maildirs, .eml files, folders of .eml files; - "
                "reads one message from standard input."
            ),
            show_default=False,
        ),
    ],
    mailbox: Annotated[
        str | None,
        typer.Option(
            "--mailbox",
            metavar="NAME",
            help=_(
                "Treat the mail as received by this configured mailbox (its "
                "address and default queue)."
            ),
        ),
    ] = None,
    queue: Annotated[
        str | None,
        typer.Option(
            "--queue",
            metavar="Q",
            help=_(
                "Queue for new tickets (default: the mailbox's "
                "default_queue, else {default_queue})."
            ).format(default_queue=DEFAULT_QUEUE),
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=_("Print JSON for scripts."))] = False,
) -> None:
    from supportdesk.mail.sources import STDIN

    cli: CliContext = ctx.obj
    if paths.count(STDIN) > 1:
        raise typer.BadParameter(_("standard input (-) can be read only once"), param_hint="PATH")
    reads_stdin = STDIN in paths
    settings = cli.settings
    chosen = settings.mailbox(mailbox) if mailbox is not None else None
    queue_name = queue or (chosen.default_queue if chosen else None) or DEFAULT_QUEUE
    # Every configured address is ours: none of them should become a CC on a customer's ticket.
    ours = frozenset(m.address.lower() for m in settings.mailboxes)

    from supportdesk.desk.intake.pipeline import Summary
    from supportdesk.mail.sources import SourceError, open_source

    summary = Summary()
    sources: list[MailSource] = []
    stdin = getattr(sys.stdin, "buffer", None) if reads_stdin else None
    for path in paths:
        try:
            sources.append(open_source(path, stdin=stdin))
        except SourceError as exc:
            summary.errors.append(str(exc))

    reports: list[SourceReport] = []
    unavailable: str | None = None
    if sources:
        try:
            store = cli.store()
            _check_queue(store, queue_name)
            _run(store, sources, summary, reports, queue_name, ours, progress=not as_json)
        except Exception as exc:
            from supportdesk.desk.intake.files import store_unavailable

            if not store_unavailable(exc):
                raise
            unavailable = _("the store is unavailable, try again later: {error}").format(
                error=_first_line(exc)
            )

    if unavailable is not None:
        summary.errors.append(unavailable)
    if as_json:
        print_json(
            {
                "queue": queue_name,
                "mailbox": chosen.name if chosen else None,
                "sources_read": len(reports),
                "sources": [report.__dict__ for report in reports],
                **summary.as_dict(),
            }
        )
    else:
        _print_summary(summary, reports)
    if unavailable is not None and reads_stdin:
        raise typer.Exit(EX_TEMPFAIL)
    if summary.errors:
        raise typer.Exit(1)


def _check_queue(store: Desk, name: str) -> None:
    from supportdesk.desk import directory
    from supportdesk.errors import NotFoundError

    with store.session() as session:
        try:
            directory.get_queue(session, name)
        except NotFoundError:
            raise NotFoundError(
                _(
                    "queue {name!r} does not exist: create it with `supportdesk "
                    "queues add {name}` or choose another with --queue"
                ).format(name=name)
            ) from None


def _run(
    store: Desk,
    sources: list[MailSource],
    summary: Summary,
    reports: list[SourceReport],
    queue: str,
    ours: frozenset[str],
    *,
    progress: bool,
) -> None:
    from supportdesk.desk.intake.files import import_sources
    from supportdesk.desk.intake.pipeline import Ingestor

    with Ingestor(store, default_queue=queue, our_addresses=ours) as ingestor:
        if not (progress and console.is_terminal):
            import_sources(ingestor, sources, summary, reports=reports)
        else:
            _with_progress(ingestor, sources, summary, reports)


def _with_progress(
    ingestor: Ingestor, sources: list[MailSource], summary: Summary, reports: list[SourceReport]
) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from supportdesk.cli.import_progress import MessagesColumn, RateColumn
    from supportdesk.desk.intake.files import import_sources

    plans = [source.plan() for source in sources]
    sizes = [plan.size for plan in plans]
    counts = [plan.messages for plan in plans]
    total_bytes = sum(s for s in sizes if s is not None) if None not in sizes else None
    total_messages = sum(c for c in counts if c is not None) if None not in counts else None
    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MessagesColumn(total_messages),
        RateColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(_("importing"), total=total_bytes, messages=0)

        def advance(messages: int, consumed: int) -> None:
            done = bar.tasks[task].fields["messages"] + messages
            bar.update(task, advance=consumed, messages=done)

        import_sources(ingestor, sources, summary, progress=advance, reports=reports)


def _print_summary(summary: Summary, reports: list[SourceReport]) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table("", _("count"), title=_("Import"), show_header=False)
    rows = [
        (_("sources read"), len(reports)),
        (_("messages read"), sum(report.messages for report in reports)),
        (_("imported"), summary.messages),
        (_("new tickets"), summary.new_tickets),
        (_("follow-ups"), summary.follow_ups),
        (_("reopened"), summary.reopened),
        (_("robots"), summary.robots),
        (_("quarantined"), summary.quarantined),
        (_("duplicates"), summary.duplicates),
        (_("errors"), len(summary.errors)),
        (_("rule failures"), summary.rule_failures),
    ]
    if summary.ratings or summary.ratings_ignored:
        rows.append((_("satisfaction ratings"), summary.ratings))
        rows.append((_("ignored rating mails"), summary.ratings_ignored))
    if summary.digest_replies:
        rows.append((_("replies to notification digests"), summary.digest_replies))
    for label, value in rows:
        table.add_row(label, f"{value:,}")
    console.print(table)
    for report in reports:
        if report.style and report.separators:
            console.print(Text(one_line(f"{report.path}: {_style_line(report)}")), soft_wrap=True)
    for problem in summary.errors[:MAX_ERRORS_SHOWN]:
        error(problem)
    hidden = len(summary.errors) - MAX_ERRORS_SHOWN
    if hidden > 0:
        error(_("... and {hidden:,} more (--json lists them all)").format(hidden=hidden))
    rule_failures(summary.rule_failure_messages)


def _style_line(report: SourceReport) -> str:
    """How an mbox's messages were told apart, for a person checking nothing merged."""
    counts = report.separators or {}
    lines = counts.get("dated", 0) + counts.get("undated", 0)
    undated = counts.get("undated", 0)
    by_length = counts.get("content_length", 0)
    if report.style == "mboxcl2":
        text = _("mboxcl2, {count:,} messages ended by their Content-Length").format(
            count=by_length
        )
    elif report.style == "mixed":
        text = _(
            "mixed, {count:,} of {lines:,} messages ended by their Content-Length, "
            "the rest at From_ lines"
        ).format(count=by_length, lines=lines)
    else:
        text = _("mboxo/mboxrd, {lines:,} From_ lines").format(lines=lines)
        if undated:
            text += _(" ({count:,} without a date)").format(count=undated)
    ignored = counts.get("content_length_ignored", 0)
    if ignored:
        text += _("; {count:,} Content-Length headers did not fit and were ignored").format(
            count=ignored
        )
    return text


def _first_line(exc: BaseException) -> str:
    from supportdesk.desk.handle import error_text

    text = error_text(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
