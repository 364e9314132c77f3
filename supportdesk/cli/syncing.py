"""`supportdesk sync`: pull new mail from the configured IMAP mailboxes into tickets.

The command's work, without Typer: `sync_cmd.py` declares its options, and `fastpath.py`
runs a plain `supportdesk sync` (a cron job's no-op run) straight through `run`, without
building the Typer app. Rich is loaded only for what is printed.

Exit codes mean something to cron and systemd: 0 all synced, 1 a folder failed for a reason
a person must fix (the others still synced), 2 a usage mistake (unknown mailbox), 75
(EX_TEMPFAIL) only temporary failures (server unreachable, connection dropped): try later.
130 when a one-shot sync was interrupted; `--watch` stopped by Ctrl-C or SIGTERM exits 0.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING

from supportdesk.cli.context import CliContext
from supportdesk.cli.output import (
    cell,
    console,
    err_console,
    error,
    json_line,
    print_json,
    rule_failures,
)
from supportdesk.dates import local
from supportdesk.errors import NotFoundError
from supportdesk.i18n import N_, _, ngettext

if TYPE_CHECKING:
    from supportdesk.cli.sync_progress import RichProgress
    from supportdesk.config import Mailbox, Settings
    from supportdesk.desk.intake.sync import FolderResult, StoreAccess
    from supportdesk.desk.intake.watch import Target
    from supportdesk.desk.rules.engine import Fired

EX_USAGE = 2
EX_TEMPFAIL = 75
EX_INTERRUPTED = 130
FALLBACK_QUEUE = "general"
"""Where tickets land when a mailbox names no default_queue: the queue `init` creates."""

_COUNTS = (
    ("messages", N_("new")),
    ("new_tickets", N_("tickets")),
    ("follow_ups", N_("follow-ups")),
    ("robots", N_("robots")),
    ("quarantined", N_("quarantined")),
    ("duplicates", N_("dups")),
    ("oversize", N_("oversize")),
    ("rule_failures", N_("rule fails")),
)


class _Stop(Exception):
    """Ends the command early with an exit code (what typer.Exit is to a Typer command)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def run(cli: CliContext, *, mailbox: str | None, watch: bool, as_json: bool) -> int:
    """`supportdesk sync`: its exit code. A SupportdeskError is left to the caller to print."""
    try:
        return _run(cli, mailbox=mailbox, watch=watch, as_json=as_json)
    except _Stop as stop:
        return stop.code
    except KeyboardInterrupt:  # a second Ctrl-C: the same code through Typer or the fast path
        return EX_INTERRUPTED


def _run(cli: CliContext, *, mailbox: str | None, watch: bool, as_json: bool) -> int:
    from supportdesk.desk.intake.sync import sync_mailbox

    settings = cli.settings
    mailboxes = _chosen(settings, mailbox)
    store = _store_access(cli, mailboxes, watch=watch)
    ours = frozenset(m.address.lower() for m in settings.mailboxes)
    stop = threading.Event()
    results: list[FolderResult] = []

    def sync_all(until: threading.Event) -> None:
        with _progress(enabled=not as_json and console.is_terminal) as progress:
            for box in mailboxes:
                if until.is_set():
                    break
                results.extend(
                    sync_mailbox(
                        store,
                        box,
                        settings.sync,
                        default_queue=_queue(box),
                        our_addresses=ours,
                        progress=progress,
                        stop=until,
                    )
                )

    def feed(until: threading.Event) -> None:
        results.clear()
        sync_all(until)
        _report_once(results, _exit_code(results), as_json=as_json, lines=True)
        if not until.is_set():
            _watch(cli, settings, mailboxes, ours, until, as_json=as_json)

    with _stop_on_signals(stop):
        if watch:
            _lead_then_feed(cli, stop, feed, as_json=as_json)
            return 0
        sync_all(stop)
    code = EX_INTERRUPTED if stop.is_set() else _exit_code(results)
    _report_once(results, code, as_json=as_json, lines=False)
    return code


def _chosen(settings: Settings, name: str | None) -> list[Mailbox]:
    if name is not None:
        try:
            return [settings.mailbox(name)]
        except NotFoundError as exc:
            error(str(exc))
            raise _Stop(EX_USAGE) from None
    if not settings.mailboxes:
        error(_("no mailboxes configured: add a [[mailboxes]] table to config.toml"))
        raise _Stop(EX_USAGE)
    return list(settings.mailboxes)


def _store_access(cli: CliContext, mailboxes: list[Mailbox], *, watch: bool) -> StoreAccess:
    """The store for this sync, opened only once a folder has something to write.

    When the store's positions can be read cheaply (`store.quick`), the store stays closed
    until needed, so a sync that finds nothing new never loads SQLAlchemy. Otherwise it is
    opened here, before any mail is fetched, so that a missing store or one at the wrong
    schema revision is reported (or upgraded) first, as always.
    """
    from supportdesk.desk.handle import quick_positions
    from supportdesk.desk.intake.sync import StoreAccess

    if not watch:
        url = cli.store_url()
        positions = {box.name: quick_positions(url, box.name) for box in mailboxes}
        if all(p is not None for p in positions.values()):
            return StoreAccess(cli.store, {k: v for k, v in positions.items() if v is not None})
    return StoreAccess.of(cli.store())


def _queue(mailbox: Mailbox) -> str:
    return mailbox.default_queue or FALLBACK_QUEUE


def _exit_code(results: list[FolderResult]) -> int:
    failed = [r for r in results if r.error or r.summary.errors]
    if not failed:
        return 0
    if all(r.error and r.temporary for r in failed):
        return EX_TEMPFAIL
    return 1


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C / SIGTERM ask for a clean stop after the current batch; a second Ctrl-C quits.

    Installed before any parser process is forked: the children inherit this handler, so a
    Ctrl-C sent to the whole process group does not kill them mid-batch.
    """

    def handler(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def _progress(*, enabled: bool) -> Iterator[RichProgress | None]:
    if not enabled:
        yield None
        return
    from supportdesk.cli.sync_progress import progress

    with progress(console) as bars:
        yield bars


def _report_once(results: list[FolderResult], code: int, *, as_json: bool, lines: bool) -> None:
    from supportdesk.desk.intake.summary import Summary

    total = Summary()
    for result in results:
        total.merge(result.summary)
    if as_json:
        data = {
            "folders": [r.as_dict() for r in results],
            "total": total.as_dict(),
            "exit_code": code,
        }
        if lines:
            _json_line({"event": "sync", **data})
        else:
            print_json(data)
        return
    from rich import box
    from rich.table import Column, Table

    seconds = sum(r.seconds for r in results)
    table = Table(
        Column(_("folder"), overflow="fold"),
        *(Column(_(title), justify="right") for __, title in _COUNTS),
        Column(_("errors"), justify="right"),
        box=box.SIMPLE_HEAD,
        padding=0,
        pad_edge=False,
        title=ngettext(
            "sync: {count} folder in {seconds:.2f} s",
            "sync: {count} folders in {seconds:.2f} s",
            len(results),
        ).format(count=len(results), seconds=seconds),
    )
    for r in results:
        table.add_row(
            cell(f"{r.mailbox}/{r.folder}"),
            *(str(getattr(r.summary, key)) for key, __ in _COUNTS),
            str(len(r.summary.errors) + (1 if r.error else 0)),
            style="red" if r.error else None,
        )
    if len(results) > 1:
        table.add_row(
            _("total"),
            *(str(getattr(total, key)) for key, __ in _COUNTS),
            str(len(total.errors) + sum(1 for r in results if r.error)),
            style="bold",
        )
    console.print(table)
    for r in results:
        if r.error:
            error(r.error)
        for problem in r.summary.errors:
            error(f"{r.mailbox}/{problem}")
    rule_failures(total.rule_failure_messages)


def _watch(
    cli: CliContext,
    settings: Settings,
    mailboxes: list[Mailbox],
    ours: frozenset[str],
    stop: threading.Event,
    *,
    as_json: bool,
) -> None:
    from rich.text import Text

    from supportdesk.desk.intake.watch import Target, Watcher

    targets = [Target(box, folder, _queue(box)) for box in mailboxes for folder in box.folders]

    def on_result(result: FolderResult) -> None:
        if result.new_uids or result.summary.errors or result.summary.rule_failures:
            _event_line(result, as_json=as_json)

    def on_error(target: Target, exc: Exception, delay: float) -> None:
        _error_line(target, exc, delay, as_json=as_json)

    if not as_json:
        names = ", ".join(f"{t.mailbox.name}/{t.folder}" for t in targets)
        console.print(Text(_("watching {names}; Ctrl-C stops").format(names=names)))
    sender = _start_sender(cli, settings, stop, as_json=as_json)
    Watcher(
        cli.store(),
        settings.sync,
        targets,
        our_addresses=ours,
        on_result=on_result,
        on_error=on_error,
        on_rules=lambda fired: _rules_lines(fired, as_json=as_json),
        on_rules_error=lambda exc: error(_("time rules: {exc}").format(exc=exc)),
        sla_warn_seconds=settings.sla.warn_minutes * 60,
    ).run(stop)
    if sender is not None:
        sender.join(15)


def _start_sender(
    cli: CliContext, settings: Settings, stop: threading.Event, *, as_json: bool
) -> threading.Thread | None:
    """Queued replies go out while the watch runs (see desk.outbox.serve)."""
    from supportdesk.desk import outbox

    if not any(m.sends for m in settings.mailboxes):
        return None

    def on_event(what: str, item: outbox.ItemView | None, text: str) -> None:
        if as_json:
            data: dict[str, object] = {"event": f"outbox.{what}", "detail": text}
            if item is not None:
                data.update(id=item.id, ticket=item.ticket_number, state=item.state)
            _json_line(data)
        elif item is not None:
            stamp = local(datetime.now(UTC)).strftime("%H:%M:%S")
            line = (
                _("{stamp} outbox {id} (#{ticket_number}): {what} {text}")
                if item.ticket_number is not None
                else _("{stamp} outbox {id} (notification digest): {what} {text}")
            )
            console.print(
                cell(
                    line.format(
                        stamp=stamp,
                        id=item.id,
                        ticket_number=item.ticket_number,
                        what=what,
                        text=text,
                    )
                )
            )
        else:
            error(text)

    def on_error(exc: Exception) -> None:
        from rich.text import Text

        err_console.print(Text("".join(traceback.format_exception(exc))))

    thread = threading.Thread(
        target=outbox.serve,
        args=(cli.store(), settings, stop),
        kwargs={"on_event": on_event, "on_error": on_error},
        name="sender",
        daemon=True,
    )
    thread.start()
    return thread


def _rules_lines(fired: list[Fired], *, as_json: bool) -> None:
    """What a run of the time rules did: a line per rule and ticket, failures on stderr."""
    for f in fired:
        if as_json:
            _json_line({"event": "rule", **f.as_dict()})
        elif f.error is not None:
            rule_failures([f.failure()])
        else:
            stamp = local(datetime.now(UTC)).strftime("%H:%M:%S")
            where = f"#{f.ticket}" if f.ticket is not None else "-"
            console.print(
                cell(
                    _("{stamp} rule {rule} on {where}: {actions}").format(
                        stamp=stamp, rule=f.rule, where=where, actions="; ".join(f.actions)
                    )
                )
            )


def _event_line(result: FolderResult, *, as_json: bool) -> None:
    if as_json:
        _json_line({"event": "folder", **result.as_dict()})
        return
    s = result.summary
    parts = [
        _("{count} {what}").format(count=getattr(s, key), what=_(title))
        for index, (key, title) in enumerate(_COUNTS)
        if index < 3 or getattr(s, key)
    ]
    stamp = local(datetime.now(UTC)).strftime("%H:%M:%S")
    console.print(cell(f"{stamp} {result.mailbox}/{result.folder}: {', '.join(parts)}"))
    for problem in s.errors:
        error(f"{result.mailbox}/{problem}")
    rule_failures(s.rule_failure_messages)


def _error_line(target: Target, exc: Exception, delay: float, *, as_json: bool) -> None:
    from supportdesk.errors import SupportdeskError

    if isinstance(exc, SupportdeskError):
        message = str(exc)
    else:  # a bug: keep its traceback, the watch goes on
        from rich.text import Text

        err_console.print(Text("".join(traceback.format_exception(exc))))
        message = _("mailbox {mailbox!r}, folder {folder!r}: unexpected {kind}: {exc}").format(
            mailbox=target.mailbox.name, folder=target.folder, kind=type(exc).__name__, exc=exc
        )
    if as_json:
        _json_line(
            {
                "event": "error",
                "mailbox": target.mailbox.name,
                "folder": target.folder,
                "error": message,
                "retry_in": round(delay, 1),
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        )
        return
    error(
        _("{message} (retrying {folder!r} in {delay:.0f} s)").format(
            message=message, folder=target.folder, delay=delay
        )
    )


def _lead_then_feed(
    cli: CliContext,
    stop: threading.Event,
    feed: Callable[[threading.Event], None],
    *,
    as_json: bool,
) -> None:
    """On a team store only the leading `sync --watch` feeds (see desk/intake/leader.py)."""
    from rich.text import Text

    from supportdesk.desk.intake.leader import lead_then_run

    def said(event: str, text: str) -> Callable[[], None]:
        def say() -> None:
            if as_json:
                _json_line({"event": event, "at": datetime.now(UTC).isoformat(timespec="seconds")})
            else:
                stamp = local(datetime.now(UTC)).strftime("%H:%M:%S")
                console.print(Text(f"{stamp} {text}"))

        return say

    lead_then_run(
        cli.store(),
        stop,
        feed,
        on_standby=said(
            "standby",
            _("standing by: another sync --watch feeds this team store; taking over if it stops"),
        ),
        on_lead=said("lead", _("leading: this sync --watch feeds the team store")),
        on_lost=said("lead_lost", _("lost the lead (store connection gone): standing by")),
    )


def _json_line(data: dict[str, object]) -> None:
    """One JSON document per line, flushed at once: `--watch --json` is read as a stream."""
    json_line(data)
