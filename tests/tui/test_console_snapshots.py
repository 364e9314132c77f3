"""Snapshots of the main screens at a fixed size, on a store built from a fixed seed and clock.

Ages are measured from a pinned `now` and dates are shown in UTC, so the pictures depend on
nothing but the code. After an intended change of looks, review and accept new pictures
with `pytest tests/tui/test_console_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_textual_snapshot import SVGImageExtension
from textual.command import CommandInput, CommandList, CommandPalette
from textual.pilot import Pilot

from supportdesk import i18n
from supportdesk.demo.builder import build_demo
from supportdesk.store import Store, open_store
from supportdesk.store.engine import sqlite_url
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.screens.help import HelpScreen
from tests.tui.conftest import _checkpointed, _copy_store, ready, wait_until

SNAP_SIZE = (140, 40)
FIXED_NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

SnapCompare = Callable[..., bool]

# pytest-textual-snapshot 1.0 names its extension through a class attribute syrupy 7 no
# longer reads, so the pictures would be saved as .raw; keep them viewable as .svg.
SVGImageExtension.file_extension = "svg"


@pytest.fixture(scope="module")
def snapshot_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tui-snap") / "snap.db"
    store = open_store(sqlite_url(path), create=True)
    build_demo(store, tickets=60, seed=11, now=FIXED_NOW)
    _checkpointed(store)
    return path


@pytest.fixture
def utc() -> Iterator[None]:
    """Message dates are shown in local time; pin it so the pictures match on any machine."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.fixture
def snap_app(
    snapshot_template: Path, tmp_path: Path, utc: None
) -> Iterator[Callable[..., SupportdeskApp]]:
    stores: list[Store] = []

    def make(**kwargs: object) -> SupportdeskApp:
        store = _copy_store(snapshot_template, tmp_path)
        stores.append(store)
        options: dict = {
            "me": "alice",
            "config_path": tmp_path / "config.toml",
            "user_themes_dir": tmp_path / "no-user-themes",
            "now": lambda: FIXED_NOW,
            "poll_seconds": 3600.0,
        } | kwargs
        return SupportdeskApp(store, **options)

    yield make
    for store in stores:
        store.dispose()


async def _settled(pilot: Pilot) -> None:
    await ready(pilot)
    await pilot.pause(0.1)


async def _thread(pilot: Pilot) -> None:
    await ready(pilot)
    await pilot.press("j", "j", "enter")
    await ready(pilot)
    await pilot.pause(0.1)


async def _help(pilot: Pilot) -> None:
    await ready(pilot)
    await pilot.press("f1")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), what="help")
    await pilot.pause(0.1)


async def _palette(pilot: Pilot) -> None:
    app = pilot.app
    await ready(pilot)
    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
    command_input = app.screen.query_one(CommandInput)
    command_input.cursor_blink = False
    command_input.value = "ticket:"
    await wait_until(
        pilot, lambda: app.screen.query_one(CommandList).option_count >= 8, what="hits"
    )
    await pilot.pause(0.3)


def test_list(snap_compare: SnapCompare, snap_app: Callable[..., SupportdeskApp]) -> None:
    assert snap_compare(snap_app(), terminal_size=SNAP_SIZE, run_before=_settled)


def test_thread(snap_compare: SnapCompare, snap_app: Callable[..., SupportdeskApp]) -> None:
    assert snap_compare(snap_app(), terminal_size=SNAP_SIZE, run_before=_thread)


def test_help(snap_compare: SnapCompare, snap_app: Callable[..., SupportdeskApp]) -> None:
    assert snap_compare(snap_app(), terminal_size=SNAP_SIZE, run_before=_help)


def test_palette(snap_compare: SnapCompare, snap_app: Callable[..., SupportdeskApp]) -> None:
    assert snap_compare(snap_app(), terminal_size=SNAP_SIZE, run_before=_palette)


def test_light_theme(snap_compare: SnapCompare, snap_app: Callable[..., SupportdeskApp]) -> None:
    assert snap_compare(snap_app(theme="light"), terminal_size=SNAP_SIZE, run_before=_thread)


def test_high_contrast_theme(
    snap_compare: SnapCompare, snap_app: Callable[..., SupportdeskApp]
) -> None:
    assert snap_compare(
        snap_app(theme="high-contrast"), terminal_size=SNAP_SIZE, run_before=_settled
    )


async def _composer(pilot: Pilot) -> None:
    from supportdesk.desk.replies import MAIL_SETUP
    from supportdesk.tui.screens.composer import ComposerScreen
    from tests.replies_helpers import SETUP

    app: SupportdeskApp = pilot.app  # type: ignore[assignment]
    app.data.store.info[MAIL_SETUP] = SETUP
    await ready(pilot)
    await pilot.press("j", "j", "r")
    await wait_until(pilot, lambda: isinstance(app.screen, ComposerScreen), what="composer")
    screen = app.screen
    assert isinstance(screen, ComposerScreen)
    screen.body.cursor_blink = False
    await pilot.press(*"Thanks for the details.", "ctrl+o")
    await wait_until(pilot, lambda: screen._status == "draft saved", what="the autosave")
    await pilot.pause(0.1)


def test_composer(snap_compare: SnapCompare, snap_app: Callable[..., SupportdeskApp]) -> None:
    assert snap_compare(snap_app(), terminal_size=SNAP_SIZE, run_before=_composer)


async def _reports(pilot: Pilot) -> None:
    from supportdesk.tui.screens.reports import ReportScreen

    app: SupportdeskApp = pilot.app  # type: ignore[assignment]
    await ready(pilot)
    await pilot.press("f2")
    await wait_until(
        pilot,
        lambda: isinstance(app.screen, ReportScreen) and app.screen.view is not None,
        what="the report screen's figures",
    )
    await pilot.pause(0.3)


# -- the main screens in Japanese (language = "ja" in the config) ------------------------------


@pytest.fixture
def japanese() -> Iterator[None]:
    before = i18n.current_language()
    yield
    i18n.set_language(before)


async def _palette_ja(pilot: Pilot) -> None:
    app = pilot.app
    await ready(pilot)
    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
    command_input = app.screen.query_one(CommandInput)
    command_input.cursor_blink = False
    command_input.value = "チケット:"
    await wait_until(
        pilot, lambda: app.screen.query_one(CommandList).option_count >= 8, what="hits"
    )
    await pilot.pause(0.3)


def test_list_ja(
    snap_compare: SnapCompare, snap_app: Callable[..., SupportdeskApp], japanese: None
) -> None:
    assert snap_compare(snap_app(language="ja"), terminal_size=SNAP_SIZE, run_before=_settled)


def test_thread_ja(
    snap_compare: SnapCompare, snap_app: Callable[..., SupportdeskApp], japanese: None
) -> None:
    assert snap_compare(snap_app(language="ja"), terminal_size=SNAP_SIZE, run_before=_thread)


def test_help_ja(
    snap_compare: SnapCompare, snap_app: Callable[..., SupportdeskApp], japanese: None
) -> None:
    assert snap_compare(snap_app(language="ja"), terminal_size=SNAP_SIZE, run_before=_help)


def test_palette_ja(
    snap_compare: SnapCompare, snap_app: Callable[..., SupportdeskApp], japanese: None
) -> None:
    assert snap_compare(snap_app(language="ja"), terminal_size=SNAP_SIZE, run_before=_palette_ja)


def test_reports(snap_compare: SnapCompare, snap_app: Callable[..., SupportdeskApp]) -> None:
    """The figures at the pinned clock; the charts are plotext text, the same every run."""
    assert snap_compare(snap_app(), terminal_size=SNAP_SIZE, run_before=_reports)


async def _notifications(pilot: Pilot) -> None:
    from supportdesk.tui.screens.notifications import NotificationsScreen

    await ready(pilot)
    await pilot.press("b")
    await wait_until(
        pilot, lambda: isinstance(pilot.app.screen, NotificationsScreen), what="notifications"
    )
    await pilot.pause(0.1)


def test_notifications(snap_compare: SnapCompare, snap_app: Callable[..., SupportdeskApp]) -> None:
    assert snap_compare(snap_app(), terminal_size=SNAP_SIZE, run_before=_notifications)
