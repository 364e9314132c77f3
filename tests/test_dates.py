"""Ages and dates for people: English and Japanese, in the agent's time zone, from Babel."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from supportdesk import dates, i18n

NOW = datetime(2026, 12, 4, 22, 42, tzinfo=UTC)


@pytest.fixture
def japanese() -> Iterator[None]:
    before = i18n.current_language()
    i18n.set_language("ja")
    yield
    i18n.set_language(before)


@pytest.fixture
def zone() -> Iterator[None]:
    """The machine's zone pinned to UTC; a test that sets the agent's zone gets it reset."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    dates.set_timezone(None)
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


AGES = [
    (timedelta(seconds=5), "now", "今"),
    (timedelta(minutes=5), "5m", "5分前"),
    (timedelta(hours=3), "3h", "3時間前"),
    (timedelta(hours=23), "23h", "23時間前"),
    (timedelta(days=2), "2d", "2日前"),
    (timedelta(days=9), "1w", "1週間前"),
    (timedelta(days=200), "28w", "7か月前"),
    (timedelta(days=800), "114w", "2年前"),
]


@pytest.mark.parametrize(("delta", "english", "japanese_age"), AGES)
def test_list_ages_in_both_languages(delta: timedelta, english: str, japanese_age: str) -> None:
    assert dates.age(NOW - delta, NOW) == english
    before = i18n.current_language()
    try:
        i18n.set_language("ja")
        shown = dates.age(NOW - delta, NOW)
        assert shown == japanese_age
        from rich.cells import cell_len

        assert cell_len(shown) <= dates.age_width()  # fits the list's column
    finally:
        i18n.set_language(before)


def test_a_future_time_is_now_not_negative() -> None:
    assert dates.age(NOW + timedelta(minutes=3), NOW) == "now"


def test_naive_store_times_are_utc() -> None:
    naive = (NOW - timedelta(hours=3)).replace(tzinfo=None)
    assert dates.age(naive, NOW) == "3h"


def test_phrases_say_yesterday_by_the_agents_calendar(zone: None, japanese: None) -> None:
    evening = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)
    assert dates.ago(evening, NOW) == "昨日"
    assert dates.ago(NOW - timedelta(hours=3), NOW) == "3時間前"
    assert dates.ago(NOW - timedelta(seconds=10), NOW) == "今"
    assert dates.ago(datetime(2026, 12, 2, 12, tzinfo=UTC), NOW) == "一昨日"
    assert dates.ago(NOW - timedelta(days=10), NOW) == "1週間前"
    # In Tokyo (UTC+9) both moments fall on 5 December: the same day, so no "yesterday".
    dates.set_timezone("Asia/Tokyo")
    late = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
    assert dates.ago(late, NOW) == "7時間前"


def test_phrases_in_english(zone: None) -> None:
    assert dates.ago(datetime(2026, 12, 3, 20, 0, tzinfo=UTC), NOW) == "yesterday"
    assert dates.ago(NOW - timedelta(hours=3), NOW) == "3 hours ago"
    assert dates.ago(NOW - timedelta(days=3), NOW) == "3 days ago"


def test_stamps_follow_the_agents_zone_and_language(zone: None) -> None:
    assert dates.stamp(NOW) == "2026-12-04 22:42"
    assert dates.day(NOW) == "2026-12-04"
    dates.set_timezone("Asia/Tokyo")
    assert dates.stamp(NOW) == "2026-12-05 07:42"
    assert dates.stamp(NOW, zone=True) == "2026-12-05 07:42 JST"
    assert dates.clock(NOW) == "07:42"
    assert dates.day(NOW) == "2026-12-05"
    assert dates.day(date(2026, 1, 2)) == "2026-01-02"
    before = i18n.current_language()
    try:
        i18n.set_language("ja")
        assert dates.stamp(NOW) == "2026/12/05 7:42"
        assert dates.clock(NOW) == "7:42"
        assert dates.day(NOW) == "2026/12/05"
    finally:
        i18n.set_language(before)


def test_the_machines_zone_is_the_default(zone: None) -> None:
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    assert dates.stamp(NOW) == "2026-12-04 17:42"


def test_an_unknown_zone_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        dates.set_timezone("Mars/Olympus")


def test_english_ages_do_not_load_babel() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from datetime import datetime, timedelta, UTC\n"
        "from supportdesk import dates\n"
        "now = datetime.now(UTC)\n"
        "dates.age(now - timedelta(hours=3), now); dates.stamp(now)\n"
        "print('babel' in sys.modules)\n"
    )
    env = os.environ | {"LANGUAGE": "en"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "False"
