"""Small pieces of presentation shared by the console's widgets: cues, fitted cells.

`age` lives in supportdesk.text, shared with the CLI.
"""

from __future__ import annotations

from datetime import datetime

from supportdesk.dates import stamp
from supportdesk.desk.views import TicketRow
from supportdesk.text import cells, cut, one_line

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
    if cells(text) > width:
        text = cut(text, width - 1) + "…"
    # A wide character that would straddle the edge leaves its cell blank instead.
    padding = " " * (width - cells(text))
    return padding + text if right else text + padding


def when(moment: datetime) -> str:
    """A date for a message header, in the agent's zone and language (supportdesk.dates)."""
    return stamp(moment)


def size(count: int) -> str:
    for unit in ("B", "KB", "MB"):
        if count < 1024:
            return f"{count} {unit}"
        count //= 1024
    return f"{count} GB"
