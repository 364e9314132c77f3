"""Fixtures for the console's Pilot tests: small real stores and a way to wait for workers.

Stores are built once per session through the domain layer (the demo builder) or, for the
scale test, by `bigstore`, then copied for each test, so every test starts from the same
data and may change it freely.
"""

from __future__ import annotations

import asyncio
import inspect
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from supportdesk.demo.builder import build_demo
from supportdesk.store import Store, open_store
from supportdesk.store.engine import sqlite_url
from supportdesk.tui.app import SupportdeskApp
from tests.tui.bigstore import build_big_store

SIZE = (160, 48)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests in a fresh event loop (no asyncio plugin is installed)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True


def _copy_store(template: Path, folder: Path) -> Store:
    path = folder / "store.db"
    shutil.copyfile(template, path)
    return open_store(sqlite_url(path))


def _checkpointed(store: Store) -> None:
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    store.dispose()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tui-demo") / "demo.db"
    store = open_store(sqlite_url(path), create=True)
    build_demo(store, tickets=120)
    _checkpointed(store)
    return path


@pytest.fixture(scope="session")
def big_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tui-big") / "big.db"
    build_big_store(path)
    return path


@pytest.fixture
def demo_store(demo_template: Path, tmp_path: Path) -> Iterator[Store]:
    store = _copy_store(demo_template, tmp_path)
    yield store
    store.dispose()


@pytest.fixture
def other_session(demo_store: Store) -> Iterator[Store]:
    """A second engine on the same file: another process's view of the store."""
    store = open_store(demo_store.url)
    yield store
    store.dispose()


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('# my desk\nagent = "alice"\n\n[bulk]\nconfirm_above = 10\n', encoding="utf-8")
    return path


@pytest.fixture
def make_app(demo_store: Store, config_path: Path, tmp_path: Path) -> Callable[..., SupportdeskApp]:
    def make(**kwargs: object) -> SupportdeskApp:
        # An empty user themes dir: the tester's own themes must not change what tests see.
        options: dict = {
            "me": "alice",
            "config_path": config_path,
            "user_themes_dir": tmp_path / "no-user-themes",
        } | kwargs
        store = options.pop("store", demo_store)
        app = SupportdeskApp(store, **options)
        shown: list[str] = []
        notify = app.notify

        def remember(message: str, *args: Any, **kwargs: Any) -> None:
            shown.append(str(message))
            notify(message, *args, **kwargs)

        # A toast expires (15 s for config problems): on a loaded machine it can be gone
        # before a test looks, so `notes` reads this record instead.
        app.notify = remember  # type: ignore[method-assign]
        app.shown_notes = shown  # type: ignore[attr-defined]
        return app

    return make


async def wait_until(
    pilot: Pilot, condition: Callable[[], bool], timeout: float = 20.0, what: str = ""
) -> None:
    """Let the app run until `condition` holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.02)
        if condition():
            return
    raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")


def is_ready(app: SupportdeskApp) -> bool:
    """The list shows fresh rows, the thread the ticket under the cursor, the sidebar its
    counts (read after the first page; its views come before them)."""
    desk = app.desk
    counted = desk.sidebar.entries.get("open")
    if not desk.ticket_list.is_settled or app.screen is not desk or not counted:
        return False
    if counted.count is None:
        return False
    if desk.current is None:
        return desk.ticket_list.total == 0
    return desk.detail is not None and desk.detail.row.number == desk.current.number


async def ready(pilot: Pilot, timeout: float = 30.0) -> None:
    """Wait for `is_ready`; on a timeout, say which part of the desk was not there yet."""
    try:
        await wait_until(pilot, lambda: is_ready(pilot.app), timeout, "the desk to settle")  # type: ignore[arg-type]
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {_desk_state(pilot.app)}") from None  # type: ignore[arg-type]


def _desk_state(app: SupportdeskApp) -> str:
    desk = app.desk
    tl = desk.ticket_list
    return (
        f"screen {type(app.screen).__name__}, list settled {tl.is_settled} (total {tl.total}, "
        f"cursor {tl.cursor}, fetching {tl._fetching}, following {tl._follow}, "
        f"pages {sorted(tl._pages)}), current {desk.current and desk.current.number}, "
        f"detail {desk.detail and desk.detail.row.number}"
    )


def notes(app: SupportdeskApp) -> list[str]:
    """Every notification shown so far, oldest first (expired ones too for apps made by
    `make_app`)."""
    shown: list[str] | None = getattr(app, "shown_notes", None)
    return list(shown) if shown is not None else [n.message for n in app._notifications]


def screen_text(app: SupportdeskApp) -> str:
    """Exactly the characters the console would send to the terminal, minus styling."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


async def open_ticket(pilot: Pilot, number: int) -> None:
    """Search for one ticket by number, so it is the only row and the open thread."""
    app: SupportdeskApp = pilot.app  # type: ignore[assignment]
    await pilot.press("slash")
    app.desk.search.input.value = f"#{number}"  # typing it is tested once, in test_search
    await pilot.press("enter")
    await wait_until(
        pilot,
        lambda: (
            is_ready(app) and app.desk.current is not None and app.desk.current.number == number
        ),
        what=f"ticket #{number} to open",
    )


async def palette(pilot: Pilot, text: str) -> None:
    """Open the command palette, type `text` and wait until it lists a match."""
    from textual.command import CommandInput, CommandList, CommandPalette

    app = pilot.app
    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), what="the palette")
    app.screen.query_one(CommandInput).value = text
    await wait_until(
        pilot,
        lambda: app.screen.query_one(CommandList).option_count > 0,
        what=f"palette hits for {text!r}",
    )
    await pilot.pause(0.1)
