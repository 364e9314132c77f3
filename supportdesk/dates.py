"""Dates and ages for people, in the agent's time zone and language, for both faces.

The store's times are UTC (aware, or naive and meant as UTC); everything here turns them
into the agent's zone first: the machine's local zone, or the one `set_timezone` names.
JSON output never comes here: it keeps ISO 8601 UTC.

Japanese comes from Babel (CLDR data: "3時間前", "昨日", "2026/12/04 9:05"), imported on
first use. English keeps a fast path without Babel for the two things the first frame
draws, the list's short ages ("3h") and message stamps ("2026-12-04 09:05", ISO order, the
same on every English locale), because importing Babel and loading a locale costs
about 30 ms (bench/text_bench.py prints the figure).
Phrases ("3 hours ago", "yesterday") come from Babel in both languages.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import cache
from typing import TYPE_CHECKING, Final, Literal

from supportdesk.i18n import current_language

if TYPE_CHECKING:
    from babel import Locale

_UNITS: Final = (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60))
_zone: tzinfo | None = None


def set_timezone(name: str | None) -> None:
    """Show times in the IANA zone `name` ("Asia/Tokyo"); None: the machine's local zone.

    An unknown name raises ValueError naming it (config validation says it first).
    """
    global _zone
    if name is None:
        _zone = None
        return
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        _zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}: expected a name like Asia/Tokyo") from None


def local(moment: datetime) -> datetime:
    """`moment` in the agent's zone; a naive time is taken as UTC, as the store writes it."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(_zone) if _zone is not None else aware.astimezone()


@cache
def _locale(language: str) -> Locale:
    from babel import Locale

    return Locale.parse(language)


def _seconds(when: datetime, now: datetime) -> int:
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    return int((now - when).total_seconds())


def age(when: datetime, now: datetime) -> str:
    """A short age for a list column: 5m, 3h, 2d, 7w, now; in Japanese 5分前, 3時間前, 今.

    At most 8 cells in Japanese (see age_width) and 4 in English for anything under 20 years.
    """
    seconds = max(0, _seconds(when, now))
    if current_language() == "en":
        for unit, size in _UNITS:
            if seconds >= size:
                return f"{seconds // size}{unit}"
        return "now"
    if seconds < 60:
        return _relative(current_language(), "second", 0)
    from babel.dates import format_timedelta

    return format_timedelta(
        timedelta(seconds=-seconds),
        threshold=1,  # 23 hours is 23時間前, as English says 23h, not Babel's 1日前
        format="narrow",
        add_direction=True,
        locale=current_language(),
    )


def age_width() -> int:
    """Cells the list's age column needs in the current language ("23時間前" is 8)."""
    return 7 if current_language() == "en" else 8


def ago(when: datetime, now: datetime) -> str:
    """An age for a sentence: "just now"-like, "5 minutes ago", "yesterday", "3 days ago";
    in Japanese "今", "5分前", "昨日", "3日前". Yesterday and the day before are calendar
    days in the agent's zone, as a person means them."""
    language = current_language()
    seconds = _seconds(when, now)
    if 0 <= seconds < 60:
        return _relative(language, "second", 0)
    days = (local(now).date() - local(when).date()).days
    if seconds >= 6 * 3600 and days in (1, 2):
        found = _relative(language, "day", -days)
        if found:
            return found
    from babel.dates import format_timedelta

    # CLDR's long Japanese form spaces the number ("5 分前"); the narrow one reads as people write.
    style: Literal["long", "narrow"] = "long" if language == "en" else "narrow"
    return format_timedelta(
        timedelta(seconds=-seconds), threshold=1, format=style, add_direction=True, locale=language
    )


def _relative(language: str, field: str, offset: int) -> str:
    """CLDR's word for a relative day or second ("yesterday", "昨日", "now", "今"), or ""."""
    # Babel has no public call for these; format_timedelta reads its data the same way.
    fields = _locale(language)._data["date_fields"]
    try:
        return str(fields[field]["relative"][offset])
    except KeyError:
        return ""


def stamp(moment: datetime, *, zone: bool = False) -> str:
    """A date and time to the minute in the agent's zone: "2026-12-04 09:05" in English,
    "2026/12/04 9:05" in Japanese (the locale's short form); `zone` adds the zone's
    abbreviation ("JST") where a reader may compare it with a time given elsewhere."""
    shown = local(moment)
    language = current_language()
    if language == "en":
        text = shown.strftime("%Y-%m-%d %H:%M")
    else:
        from babel.dates import format_datetime

        text = format_datetime(shown, "short", tzinfo=shown.tzinfo, locale=language)
    return f"{text} {shown.tzname()}" if zone and shown.tzname() else text


def clock(moment: datetime) -> str:
    """A time of day in the agent's zone: "09:05"; Japanese "9:05"."""
    shown = local(moment)
    language = current_language()
    if language == "en":
        return shown.strftime("%H:%M")
    from babel.dates import format_time

    return format_time(shown, "short", tzinfo=shown.tzinfo, locale=language)


def day(value: date | datetime) -> str:
    """A calendar date: "2026-12-04"; Japanese "2026/12/04". A datetime is taken to the
    agent's zone first."""
    if isinstance(value, datetime):
        value = local(value).date()
    language = current_language()
    if language == "en":
        return value.isoformat()
    from babel.dates import format_date

    return format_date(value, "short", locale=language)
