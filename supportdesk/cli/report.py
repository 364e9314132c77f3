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

GROUPS = ("agent", "queue", "day", "week")


def _duration(seconds: object) -> str:
    if not isinstance(seconds, int):
        return "-"
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m"


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        ctx: typer.Context,
        query: Annotated[
            str, typer.Argument(help="Narrow to tickets matching this query (see docs/QUERY.md).")
        ] = "",
        since: Annotated[
            str | None,
            typer.Option(help="First day (YYYY-MM-DD, UTC) or ISO time; default 30 days ago."),
        ] = None,
        until: Annotated[
            str | None,
            typer.Option(help="Last day, included (YYYY-MM-DD), or ISO time; default today."),
        ] = None,
        by: Annotated[str, typer.Option(help="Group by agent, queue, day or week.")] = "day",
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
        as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV for spreadsheets.")] = False,
    ) -> None:
        """Created, solved, reopened, backlog, response and resolution times, replies per
        resolved ticket, SLA attainment and handle time, computed in the store."""
        from supportdesk.clock import utcnow
        from supportdesk.desk import reports
        from supportdesk.desk.query import Matching

        if by not in GROUPS:
            raise ValidationError(f"--by {by!r}: expected one of {', '.join(GROUPS)}")
        if as_json and as_csv:
            raise ValidationError("choose --json or --csv, not both")
        today = utcnow().date().isoformat()
        end = reports.parse_moment(until or today, end=True)
        try:
            start = reports.parse_moment(since) if since else end - timedelta(days=30)
        except OverflowError:
            raise ValidationError(f"--until {until!r}: too early for a 30-day report") from None
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

        table = Table(
            by,
            "created",
            "solved",
            "reopened",
            "backlog",
            "1st resp. median",
            "1st resp. p90",
            "resolution median",
            "resolution p90",
            "replies/resolved",
            "SLA met",
            "handle median",
            "handle total",
            title=f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC",
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
            )
        console.print(table)
