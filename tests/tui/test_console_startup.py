"""Start-up, memory and stalls (issue 15 items 3-5): what the console loads for its first
frame, how much the store may cache, and that keys never wait on the database.

Speed is measured by bench/console_bench.py; these check the properties behind the figures.
"""

from __future__ import annotations

import gc
import json
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from textual.app import ComposeResult
from textual.widgets._footer import FooterKey

from supportdesk.store import Store, open_store
from supportdesk.store.engine import MMAP_BYTES, READ_CACHE_KIB, WRITE_CACHE_KIB, sqlite_url
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.data import DeskData, NotificationState, SavedView, ViewCount
from supportdesk.tui.widgets.footer import DeskFooter
from supportdesk.tui.widgets.ticket_list import CACHE_PAGES
from tests.tui.conftest import SIZE, is_ready, notes, ready, wait_until

ROOT = Path(__file__).resolve().parents[2]

LAZY = (
    "alembic",  # the migration machinery: only for a store whose revision is behind
    "click",  # the CLI's parser: cli.fastpath opens a plain `supportdesk [console]`
    "typer",
    "supportdesk.cli.commands",
    "jinja2",  # canned replies' templates
    "psycopg",
    "sqlalchemy.dialects.postgresql",
    "supportdesk.desk.bulk",
    "supportdesk.desk.canned",
    "supportdesk.desk.ingest",
    "supportdesk.desk.replies",
    "supportdesk.desk.undo",
    "supportdesk.mail.compose",
    "supportdesk.mail.parse",
    "supportdesk.tui.replying",
    "supportdesk.tui.screens.attach",
    "supportdesk.tui.screens.canned_picker",
    "supportdesk.tui.screens.composer",
    "supportdesk.tui.screens.modals",  # questions, pickers, notes: opened by a key
    "supportdesk.tui.screens.notifications",
    "supportdesk.tui.screens.reports",
    "supportdesk.desk.reports",
    "textual.widgets._text_area",  # the note and reply editors
    "textual.document._document",
)
"""Modules the console loads only when the agent first needs them (a reply, a canned reply,
an undo, a bulk change), never for its first frame."""

FIRST_FRAME = """
import asyncio, json, sys
from pathlib import Path
import supportdesk.cli.console, supportdesk.cli.fastpath  # how `supportdesk` reaches the app
from supportdesk.desk.handle import open_desk, sqlite_url
from supportdesk.tui.app import SupportdeskApp
from bench.console_bench import is_ready  # not tests.tui.conftest: it loads the demo builder

store = open_desk(sqlite_url(Path({path!r})))
app = SupportdeskApp(store, me="alice", user_themes_dir=Path({themes!r}))

async def first_frame() -> list[str]:
    async with app.run_test(size={size!r}) as pilot:
        while not is_ready(app):
            await pilot.pause(0.02)
        return sorted(sys.modules)

print(json.dumps(asyncio.run(first_frame())))
"""


def test_the_first_frame_imports_none_of_the_lazy_modules(
    demo_store: Store, tmp_path: Path
) -> None:
    path = demo_store.engine.url.database
    assert path is not None
    code = FIRST_FRAME.format(path=path, themes=str(tmp_path / "no-themes"), size=SIZE)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert "supportdesk.tui.widgets.ticket_list" in loaded  # the desk did draw
    assert sorted(loaded.intersection(LAZY)) == []


async def test_the_collector_is_started_again_once_the_first_page_shows(
    make_app: Callable[..., SupportdeskApp],
) -> None:
    """`supportdesk console` starts with the garbage collector off (cli.fastpath); the desk
    must start it again, or a long session would never collect a cycle."""
    gc.disable()
    try:
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            assert gc.isenabled()
    finally:
        gc.enable()


async def test_the_rest_of_the_start_waits_for_the_first_tickets_thread(
    make_app: Callable[..., SupportdeskApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first frame is the first page and its ticket's thread: the sidebar's counts and
    the first look for notifications are read, and the footer's keys composed, once the
    thread shows, not beside it."""
    calls: list[str] = []
    sidebar, notification_state = DeskData.sidebar, DeskData.notification_state
    compose = DeskFooter.compose
    app = make_app()

    def shown() -> str:
        return "" if app.desk.detail is not None else " before the thread"

    def counted(self: DeskData, saved: list[SavedView]) -> list[ViewCount]:
        calls.append("sidebar" + shown())
        return sidebar(self, saved)

    def looked(self: DeskData, after: int | None) -> NotificationState:
        calls.append("notifications" + shown())
        return notification_state(self, after)

    def keys(self: DeskFooter) -> ComposeResult:
        composed = list(compose(self))
        if composed:
            calls.append("footer" + shown())
        return composed

    monkeypatch.setattr(DeskData, "sidebar", counted)
    monkeypatch.setattr(DeskData, "notification_state", looked)
    monkeypatch.setattr(DeskFooter, "compose", keys)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: "footer" in calls, what="the footer's keys")
        assert "sidebar" in calls and "notifications" in calls
        assert [call for call in calls if "before" in call] == []


async def test_the_views_and_their_keys_come_before_the_counts(
    make_app: Callable[..., SupportdeskApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sidebar lists the views with the first frame, and `]` steps to the next one,
    while their counts are still to come."""
    counting = threading.Event()

    def never(self: DeskData, saved: list[SavedView]) -> list[ViewCount]:
        counting.wait(30)  # the counts come once the test is over
        return []

    monkeypatch.setattr(DeskData, "sidebar", never)
    app = make_app()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.desk.detail is not None, what="the first thread")
            sidebar = app.desk.sidebar
            assert [e.key for e in sidebar.entries.values()][:3] == ["mine", "unassigned", "open"]
            assert all(e.count is None for e in sidebar.entries.values())
            await pilot.press("right_square_bracket")
            await wait_until(
                pilot,
                lambda: (
                    app.desk.ticket_list.source is not None
                    and app.desk.ticket_list.source.key == "pending"
                ),
                what="the next view",
            )
            assert sidebar.current == "pending"
    finally:
        counting.set()


async def test_the_footer_keeps_its_keys_when_the_bindings_stay_the_same(
    make_app: Callable[..., SupportdeskApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A focus change that leaves the same bindings (two at start-up) does not rebuild the
    footer's keys; one that changes them does."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        footer = app.desk.query_one(DeskFooter)
        await wait_until(pilot, lambda: bool(footer.query(FooterKey)), what="the footer's keys")
        await wait_until(pilot, lambda: not footer._rebuild_queued, what="the keys to settle")
        keys = list(footer.query(FooterKey))
        rebuilds: list[None] = []
        rebuild = footer._rebuild

        async def counted() -> None:
            rebuilds.append(None)
            await rebuild()

        monkeypatch.setattr(footer, "_rebuild", counted)
        app.desk.refresh_bindings()
        await wait_until(
            pilot, lambda: bool(rebuilds) and not footer._rebuild_queued, what="the rebuild"
        )
        assert list(footer.query(FooterKey)) == keys
        await pilot.press("slash")  # the search bar's keys
        await wait_until(
            pilot,
            lambda: not set(footer.query(FooterKey)).intersection(keys),
            what="the search bar's keys",
        )


async def test_the_composer_loads_when_a_reply_is_started(
    make_app: Callable[..., SupportdeskApp],
) -> None:
    from supportdesk.tui.screens.composer import ComposerScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ComposerScreen), what="the composer")


def _pragma(store: Store, name: str, *, write: bool) -> int:
    with store.session(write=write) as session:
        return int(session.connection().exec_driver_sql(f"PRAGMA {name}").scalar_one())


def test_sqlite_caches_are_bounded_per_connection(demo_store: Store) -> None:
    assert _pragma(demo_store, "cache_size", write=False) == -READ_CACHE_KIB
    assert _pragma(demo_store, "mmap_size", write=False) == MMAP_BYTES == 0
    assert _pragma(demo_store, "cache_size", write=True) == -WRITE_CACHE_KIB
    # The same pooled connection reads again with the small cache after writing.
    assert _pragma(demo_store, "cache_size", write=False) == -READ_CACHE_KIB
    assert READ_CACHE_KIB <= 16 * 1024


async def test_the_list_keeps_a_bounded_number_of_pages(
    make_app: Callable[..., SupportdeskApp], big_template: Path, tmp_path: Path
) -> None:
    """More far places visited than the list may cache: it holds CACHE_PAGES at most."""
    path = tmp_path / "big.db"
    shutil.copyfile(big_template, path)
    store = open_store(sqlite_url(path))
    try:
        app = make_app(store=store)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot, timeout=60)
            tl = app.desk.ticket_list
            total = tl.total or 0
            spots = CACHE_PAGES + 6
            for spot in range(spots):
                tl.move_to(total * spot // spots)
                await wait_until(pilot, lambda: is_ready(app), timeout=60, what="a far page")
                assert len(tl._pages) <= CACHE_PAGES
                assert len(tl._stale) <= CACHE_PAGES
            assert tl.cursor == total * (spots - 1) // spots
    finally:
        store.dispose()


@contextmanager
def writing(path: str) -> Iterator[None]:
    """Another process in the middle of a long write: it holds the store's write lock.

    (In WAL mode nothing another process does keeps the console from reading; a writer
    keeps it from writing until the lock is free, and must never keep it from its keys.)
    """
    other = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE tickets SET subject = subject")
        yield
        other.execute("ROLLBACK")
    finally:
        other.close()


async def test_keys_work_while_another_process_holds_the_write_lock(
    make_app: Callable[..., SupportdeskApp], demo_store: Store
) -> None:
    path = demo_store.engine.url.database
    assert path is not None
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        tl = app.desk.ticket_list
        first = app.desk.current
        second = tl.row_at(1)
        assert first is not None and second is not None
        with writing(path):
            await pilot.press("a")  # take the ticket: its write waits for the lock, in a worker
            await pilot.press("j")  # returns once the app has handled the key
            assert tl.cursor == 1
            await pilot.press("k", "j", "j", "k")
            assert tl.cursor == 1
            # Reads go on beside the writer: the thread follows the cursor.
            await ready(pilot)
            assert app.desk.detail is not None and app.desk.detail.row.number == second.number
            assert not any(f"#{first.number}" in note for note in notes(app))
        # Once the lock is free, the waiting write goes through.
        await wait_until(
            pilot,
            lambda: any(f"#{first.number}" in note for note in notes(app)),
            what="the take to finish",
        )
        await ready(pilot)
        assert tl.row_at(0) is not None
