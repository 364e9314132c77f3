"""Business hours: a queue's working week in its own time zone, less its holidays.

The SQL in desk.sla.due never sees a time zone. It reads the working intervals this module
lays out as UTC Unix seconds, each carrying the business seconds counted before it, so the
business time between two instants is one subtraction and "N business seconds after t" one
index lookup. The zone's rules (DST included) are applied here, once, by zoneinfo: a working
day that starts at 09:00 local starts at 08:00 UTC in Berlin's winter and 07:00 in summer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from supportdesk.i18n import _

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_DURATION = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*$")


def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`, or ValueError naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            _("unknown time zone {name!r}: use an IANA name like Europe/Berlin or UTC").format(
                name=name
            )
        ) from None


def parse_range(text: str) -> tuple[int, int]:
    """ "09:00-17:00" as minutes after midnight (start, end); "24:00" ends the day."""
    match = _RANGE.match(text)
    if match is None:
        raise ValueError(
            _("working hours {text!r}: write them as HH:MM-HH:MM, e.g. 09:00-17:00").format(
                text=text
            )
        )
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if m1 > 59 or m2 > 59 or start > 24 * 60 or end > 24 * 60:
        raise ValueError(_("working hours {text!r}: not a time of day").format(text=text))
    if end <= start:
        raise ValueError(
            _(
                "working hours {text!r}: the end must be after the start "
                "(split a night shift over two days)"
            ).format(text=text)
        )
    return start, end


def parse_duration(text: str) -> int:
    """ "4h", "90m", "1h30m" as seconds of business time (more than zero)."""
    match = _DURATION.match(text)
    if match is None or not any(match.groups()):
        raise ValueError(
            _(
                "duration {text!r}: write hours and minutes of business time, e.g. 4h, 30m, 1h30m"
            ).format(text=text)
        )
    seconds = (int(match.group(1) or 0) * 60 + int(match.group(2) or 0)) * 60
    if seconds <= 0:
        raise ValueError(_("duration {text!r} must be more than zero").format(text=text))
    return seconds


def format_duration(seconds: int) -> str:
    hours, minutes = divmod(seconds // 60, 60)
    if hours and minutes:
        return f"{hours}h{minutes}m"
    return f"{hours}h" if hours else f"{minutes}m"


@dataclass(frozen=True)
class Calendar:
    """When a queue works: per weekday (0 = Monday) minute ranges in `timezone`."""

    timezone: str
    week: tuple[tuple[tuple[int, int], ...], ...]
    holidays: frozenset[date] = frozenset()

    def intervals(self, start: datetime, end: datetime) -> list[tuple[int, int]]:
        """The working intervals overlapping [start, end) as UTC Unix seconds, adjacent ones
        joined (a 24/7 week is one interval between holidays)."""
        tz = zone(self.timezone)
        day = start.astimezone(tz).date() - timedelta(days=1)
        last = end.astimezone(tz).date() + timedelta(days=1)
        out: list[tuple[int, int]] = []
        while day <= last:
            if day not in self.holidays:
                for begin, finish in self.week[day.weekday()]:
                    a = _instant(day, begin, tz)
                    b = _instant(day, finish, tz)
                    if b <= a:
                        continue  # a range swallowed by a DST change
                    if out and out[-1][1] >= a:
                        out[-1] = (out[-1][0], max(out[-1][1], b))
                    else:
                        out.append((a, b))
            day += timedelta(days=1)
        return out


def _instant(day: date, minute: int, tz: ZoneInfo) -> int:
    """Unix seconds of local `minute` after midnight on `day` (24:00 is the next midnight).

    A local time that does not exist (the hour skipped in spring) is read with the offset
    before the change, as zoneinfo does; one that happens twice (autumn) the first time.
    """
    if minute >= 24 * 60:
        local = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    else:
        local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz)
    return int(local.astimezone(UTC).timestamp())


def with_business_counts(intervals: list[tuple[int, int]]) -> list[tuple[int, int, int, int]]:
    """(start, end, business seconds before start, ... before end) for each interval."""
    rows = []
    counted = 0
    for start, end in intervals:
        rows.append((start, end, counted, counted + end - start))
        counted += end - start
    return rows
