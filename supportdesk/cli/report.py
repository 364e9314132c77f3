"""`supportdesk report`: the team's figures per agent, queue, day or week (docs/METRICS.md)."""

from __future__ import annotations

import csv
import io
import sys
from datetime import timedelta
from typing import Annotated

import typer

from supportdesk.cli.context import CliContext
from supportdesk.cli.output import cell, console, print_json
from supportdesk.errors import ValidationError
from supportdesk.i18n import _

GROUPS = ("agent", "queue", "day", "week")


def _duration(seconds: object) -> str:
    if not isinstance(seconds, int):
        return "-"
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m"


def register(app: typer.Typer) -> None:
    @app.command(
        "report",
        help=_(
            "Created, solved, reopened, backlog, response and resolution "
            "times, replies per resolved ticket and SLA attainment, "
            "computed in the store."
        ),
    )
    def report(
        ctx: typer.Context,
        query: Annotated[
            str,
            typer.Argument(help=_("Narrow to tickets matching this query (see docs/QUERY.md).")),
        ] = "",
        since: Annotated[
            str | None,
            typer.Option(help=_("First day (YYYY-MM-DD, UTC) or ISO time; default 30 days ago.")),
        ] = None,
        until: Annotated[
            str | None,
            typer.Option(help=_("Last day, included (YYYY-MM-DD), or ISO time; default today.")),
        ] = None,
        by: Annotated[str, typer.Option(help=_("Group by agent, queue, day or week."))] = "day",
        as_json: Annotated[bool, typer.Option("--json", help=_("Print JSON for scripts."))] = False,
        as_csv: Annotated[
            bool, typer.Option("--csv", help=_("Print CSV for spreadsheets."))
        ] = False,
    ) -> None:
        """Created, solved, reopened, backlog, response and resolution times, replies per
        resolved ticket, SLA attainment, handle time and satisfaction (CSAT), computed in the
        store."""
        from supportdesk.clock import utcnow
        from supportdesk.desk import reports
        from supportdesk.desk.query import Matching

        if by not in GROUPS:
            raise ValidationError(
                _("--by {by!r}: expected one of {groups}").format(by=by, groups=", ".join(GROUPS))
            )
        if as_json and as_csv:
            raise ValidationError(_("choose --json or --csv, not both"))
        today = utcnow().date().isoformat()
        end = reports.parse_moment(until or today, end=True)
        try:
            start = reports.parse_moment(since) if since else end - timedelta(days=30)
        except OverflowError:
            raise ValidationError(
                _("--until {until!r}: too early for a 30-day report").format(until=until)
            ) from None
        cli: CliContext = ctx.obj
        with cli.store().session() as session:
            where = (
                Matching(session, query, me=cli.settings.agent).where() if query.strip() else None
            )
            result = reports.build(session, start, end, by, where)  # type: ignore[arg-type]
        if as_json:
            print_json(result.as_dict())
            return
        rows = [r.as_dict() for r in result.rows]
        if as_csv:
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=list(reports.COLUMNS), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            sys.stdout.write(out.getvalue())
            return
        from rich.table import Table

        groups = {"agent": _("agent"), "queue": _("queue"), "day": _("day"), "week": _("week")}
        table = Table(
            groups.get(by, by),
            _("created"),
            _("solved"),
            _("reopened"),
            _("backlog"),
            _("1st resp. median"),
            _("1st resp. p90"),
            _("resolution median"),
            _("resolution p90"),
            _("replies/resolved"),
            _("SLA met"),
            _("handle median"),
            _("handle total"),
            _("CSAT avg"),
            _("CSAT 4-5"),
            title=_("{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC").format(
                start=start, end=end
            ),
        )
        for r in rows:
            attained = r["sla_attainment"]
            table.add_row(
                cell(r["group"]),
                str(r["created"]),
                str(r["solved"]),
                str(r["reopened"]),
                str(r["backlog"]),
                _duration(r["first_response_median"]),
                _duration(r["first_response_p90"]),
                _duration(r["resolution_median"]),
                _duration(r["resolution_p90"]),
                "-" if r["replies_per_resolved"] is None else str(r["replies_per_resolved"]),
                "-" if attained is None else f"{attained:.0%}",
                _duration(r["handle_time_median"]),
                _duration(r["handle_time_total"]) if r["handle_time_total"] else "-",
                "-"
                if r["csat_average"] is None
                else f"{r['csat_average']:.2f} (n={r['csat_responses']})",
                "-" if r["csat_satisfied_share"] is None else f"{r['csat_satisfied_share']:.0%}",
            )
        console.print(table)
