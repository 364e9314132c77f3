"""Small pieces of presentation shared by the console's widgets: cues, fitted cells.

`age` lives in supportdesk.text, shared with the CLI.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.cells import cell_len, set_cell_size

from supportdesk.desk.views import TicketRow
from supportdesk.i18n import _
from supportdesk.text import one_line

SLA_CUES = {
    "breached": ("!", "ticket-list--sla-breached"),
    "due-soon": ("◔", "ticket-list--sla-due-soon"),
}


def sla_cue(row: TicketRow, now: datetime) -> tuple[str, str | None]:
    """The list's SLA mark for a row and its style: breached, due soon, or nothing."""
    return SLA_CUES.get(row.sla_state(now), ("", None))


def fit(value: str, width: int, *, right: bool = False) -> str:
    """`value` made inert, on one line and exactly `width` cells, with … when cut."""
    if width <= 0:
        return ""
    text = one_line(value)
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    padding = " " * (width - cell_len(text))
    return padding + text if right else text + padding


def when(moment: datetime) -> str:
    """A date for a message header, in the agent's local time; the store's naive times are
    UTC (astimezone alone would take them for local)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone().strftime("%Y-%m-%d %H:%M")


def size(count: int) -> str:
    for unit in ("B", "KB", "MB"):
        if count < 1024:
            return f"{count} {unit}"
        count //= 1024
    return f"{count} GB"


def minutes(seconds: int) -> str:
    """A stretch of working time as a person reads it: "under 1 min", "12 min", "1 h 05 min"."""
    if seconds < 60:
        return _("under 1 min")
    hours, rest = divmod(seconds // 60, 60)
    if not hours:
        return _("{minutes} min").format(minutes=rest)
    return _("{hours} h {minutes:02d} min").format(hours=hours, minutes=rest)
