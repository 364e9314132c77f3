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
    app.command("import")(import_command)


def import_command(
    ctx: typer.Context,
    paths: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH",
            help="mbox files, Maildirs, .eml files, folders of .eml files; - reads one "
            "message from standard input.",
            show_default=False,
        ),
    ],
    mailbox: Annotated[
        str | None,
        typer.Option(
            "--mailbox",
            metavar="NAME",
            help="Treat the mail as received by this configured mailbox (its address and "
            "default queue).",
        ),
    ] = None,
    queue: Annotated[
        str | None,
        typer.Option(
            "--queue",
            metavar="Q",
            help="Queue for new tickets (default: the mailbox's default_queue, else "
            f"{DEFAULT_QUEUE}).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Import mail from files, folders or standard input; importing twice adds nothing."""
    from supportdesk.mail.sources import STDIN

    cli: CliContext = ctx.obj
    if paths.count(STDIN) > 1:
        raise typer.BadParameter("standard input (-) can be read only once", param_hint="PATH")
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
            unavailable = f"the store is unavailable, try again later: {_first_line(exc)}"

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
                f"queue {name!r} does not exist: create it with `supportdesk queues add {name}` "
                "or choose another with --queue"
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
        task = bar.add_task("importing", total=total_bytes, messages=0)

        def advance(messages: int, consumed: int) -> None:
            done = bar.tasks[task].fields["messages"] + messages
            bar.update(task, advance=consumed, messages=done)

        import_sources(ingestor, sources, summary, progress=advance, reports=reports)


def _print_summary(summary: Summary, reports: list[SourceReport]) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table("", "count", title="Import", show_header=False)
    rows = [
        ("sources read", len(reports)),
        ("messages read", sum(report.messages for report in reports)),
        ("imported", summary.messages),
        ("new tickets", summary.new_tickets),
        ("follow-ups", summary.follow_ups),
        ("reopened", summary.reopened),
        ("robots", summary.robots),
        ("quarantined", summary.quarantined),
        ("duplicates", summary.duplicates),
        ("errors", len(summary.errors)),
        ("rule failures", summary.rule_failures),
    ]
    if summary.ratings or summary.ratings_ignored:
        rows.append((_("satisfaction ratings"), summary.ratings))
        rows.append((_("ignored rating mails"), summary.ratings_ignored))
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
        error(f"... and {hidden:,} more (--json lists them all)")
    rule_failures(summary.rule_failure_messages)


def _style_line(report: SourceReport) -> str:
    """How an mbox's messages were told apart, for a person checking nothing merged."""
    counts = report.separators or {}
    lines = counts.get("dated", 0) + counts.get("undated", 0)
    undated = counts.get("undated", 0)
    by_length = counts.get("content_length", 0)
    if report.style == "mboxcl2":
        text = f"mboxcl2, {by_length:,} messages ended by their Content-Length"
    elif report.style == "mixed":
        text = (
            f"mixed, {by_length:,} of {lines:,} messages ended by their Content-Length, "
            "the rest at From_ lines"
        )
    else:
        text = f"mboxo/mboxrd, {lines:,} From_ lines"
        if undated:
            text += f" ({undated:,} without a date)"
    ignored = counts.get("content_length_ignored", 0)
    if ignored:
        text += f"; {ignored:,} Content-Length headers did not fit and were ignored"
    return text


def _first_line(exc: BaseException) -> str:
    from supportdesk.desk.handle import error_text

    text = error_text(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
