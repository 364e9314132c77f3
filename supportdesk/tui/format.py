"""Small pieces of presentation shared by the console's widgets: cues, fitted cells.

`age` lives in supportdesk.text, shared with the CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from supportdesk.dates import stamp
from supportdesk.desk.views import TicketRow
from supportdesk.i18n import _, current_language, pgettext
from supportdesk.text import cells, cut, one_line

SLA_CUES = {
    "breached": ("!", "ticket-list--sla-breached"),
    "due-soon": ("◔", "ticket-list--sla-due-soon"),
}


def sla_cue(row: TicketRow, now: datetime) -> tuple[str, str | None]:
    """The list's SLA mark for a row and its style: breached, due soon, or nothing."""
    return SLA_CUES.get(row.sla_state(now), ("", None))


def _status_labels() -> dict[str, str]:
    return {
        "new": pgettext("status", "new"),
        "open": pgettext("status", "open"),
        "pending": pgettext("status", "pending"),
        "on-hold": pgettext("status", "on-hold"),
        "solved": pgettext("status", "solved"),
        "closed": pgettext("status", "closed"),
    }


def _priority_labels() -> dict[str, str]:
    return {
        "low": pgettext("priority", "low"),
        "normal": pgettext("priority", "normal"),
        "high": pgettext("priority", "high"),
        "urgent": pgettext("priority", "urgent"),
    }


_labels: dict[tuple[str, str], dict[str, str]] = {}


def _lookup(kind: str, make: Callable[[], dict[str, str]], value: str) -> str:
    key = (kind, current_language())
    table = _labels.get(key)
    if table is None:
        table = _labels[key] = make()
    return table.get(value, value)


def status_label(status: str) -> str:
    """A status as the agent reads it; the stored value (and the query's) stays English."""
    return _lookup("status", _status_labels, status)


def priority_label(priority: str) -> str:
    """A priority as the agent reads it; the stored value (and the query's) stays English."""
    return _lookup("priority", _priority_labels, priority)


def kind_label(kind: str) -> str:
    """What a queued mail is, in a sentence: "reply", "reply-all", "forward", "note"."""
    labels = {
        "reply": pgettext("mail", "reply"),
        "reply_all": pgettext("mail", "reply-all"),
        "forward": pgettext("mail", "forward"),
        "note": pgettext("mail", "note"),
    }
    return labels.get(kind, kind.replace("_", "-"))


def macro_words(status: str | None, priority: str | None, tags: Sequence[str]) -> str:
    """What a canned reply also changes, in words: "status pending, priority high, tags +vip"."""
    words = [_("status {status}").format(status=status_label(status))] if status else []
    if priority:
        words.append(_("priority {priority}").format(priority=priority_label(priority)))
    if tags:
        words.append(_("tags {tags}").format(tags=" ".join(f"+{t}" for t in tags)))
    return ", ".join(words)


def capitalised(text: str) -> str:
    """`text` with its first letter upper case and the rest as it was (str.capitalize would
    lower an agent's or a queue's name, and means nothing to Japanese)."""
    return text[:1].upper() + text[1:]


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


def minutes(seconds: int) -> str:
    """A stretch of working time as a person reads it: "under 1 min", "12 min", "1 h 05 min"."""
    if seconds < 60:
        return _("under 1 min")
    hours, rest = divmod(seconds // 60, 60)
    if not hours:
        return _("{minutes} min").format(minutes=rest)
    return _("{hours} h {minutes:02d} min").format(hours=hours, minutes=rest)
