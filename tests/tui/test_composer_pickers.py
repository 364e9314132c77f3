"""The composer's pickers on a real store: the canned reply finder and the attachment picker.

Each runs in a small app that hosts only the modal, the way the composer pushes it, against
the `store` fixture (SQLite and PostgreSQL) filled through the domain layer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static

from supportdesk.desk import canned
from supportdesk.desk.replies import MAX_ATTACHMENT_BYTES
from supportdesk.store import Store
from supportdesk.store.models import CannedReply
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.data import CannedLoader
from supportdesk.tui.screens.attach import AttachScreen
from supportdesk.tui.screens.canned_picker import CannedChoice, CannedPickerScreen
from tests.replies_helpers import ALICE, customer_mail, make_desk, receive
from tests.tui.conftest import ready, wait_until
from tests.tui.test_console_actions import first

SIZE = (140, 40)

REPLIES = '''[[canned]]
name = "hello"
title = "Hello"
body = """
Hello {customer.first_name|there},
thanks for writing."""

[[canned]]
name = "refund-ok"
title = "Refund approved"
body = "Your refund for #{ticket.number} is on its way. {agent.name}"
status = "solved"
tags = ["refund"]

[canned.variants.ja]
title = "返金のご案内"
body = "#{ticket.number} の返金を手配しました。{agent.name}"

[[canned]]
name = "org"
title = "About your organisation"
body = "We have {customer.organisation} on file."
'''


def screen_text(app: App[Any]) -> str:
    """The characters on the terminal, minus styling (conftest's, for any app)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


class Host(App[None]):
    """Pushes one modal at start and keeps what it returns."""

    def __init__(self, screen: ModalScreen[Any]) -> None:
        super().__init__()
        self.modal = screen
        self.results: list[object] = []

    def on_mount(self) -> None:
        self.push_screen(self.modal, self.results.append)


@pytest.fixture
def desk(store: Store) -> tuple[Store, int]:
    """A desk with replies in two languages, one stored before checks existed (it uses a
    placeholder nobody knows), and a ticket from a customer who writes Japanese from a
    free-mail address (so the desk knows no organisation for them)."""
    with store.session(write=True) as s:
        make_desk(s)
        canned.import_canned(s, REPLIES)
        s.add(CannedReply(name="legacy", title="Old call-back", body="Call {customer.phone}"))
        number = receive(
            s,
            customer_mail(
                subject="返金について",
                sender="山田 太郎 <taro.yamada@gmail.com>",  # free mail: no organisation
                body="先週注文した商品の返金をお願いします。",
            ),
        )
    return store, number


def _shown(app: App[None], *ids: str) -> str:
    """The text of these parts of the modal, unwrapped (the pane wraps long lines)."""
    return "\n".join(str(app.screen.query_one(f"#{i}", Static).content) for i in ids)


def _preview(app: App[None]) -> str:
    return _shown(app, "canned-language", "canned-preview", "canned-status")


def _options(app: App[None]) -> list[str]:
    options = app.screen.query_one("#canned-options", OptionList)
    return [str(options.get_option_at_index(i).id) for i in range(options.option_count)]


async def test_canned_finder_filters_previews_in_the_customers_language_and_switches(
    desk: tuple[Store, int],
) -> None:
    store, number = desk
    app = Host(CannedPickerScreen(CannedLoader(store, number, ALICE)))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(_options(app)) == 4, what="every canned reply")
        await pilot.press(*"refund")
        await wait_until(pilot, lambda: _options(app) == ["refund-ok"], what="the filter")
        # Filled in for this ticket by this agent, in the customer's language.
        ja = f"#{number} の返金を手配しました。Alice Archer"
        await wait_until(pilot, lambda: ja in _preview(app), what="the Japanese preview")
        await wait_until(pilot, lambda: ja in screen_text(app), what="it drawn")
        text = _preview(app)
        assert "Language: ja" in text and "ctrl+l switches to en" in text
        assert "also sets: status solved, tags +refund" in text
        await pilot.press("ctrl+l")
        en = f"Your refund for #{number} is on its way. Alice Archer"
        await wait_until(pilot, lambda: en in _preview(app), what="the English preview")
        assert "Language: en" in _preview(app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(app.results), what="the pick")
    assert app.results == [CannedChoice("refund-ok", "en")]


async def test_canned_finder_matches_bodies_and_takes_the_default_language(
    desk: tuple[Store, int],
) -> None:
    store, number = desk
    app = Host(CannedPickerScreen(CannedLoader(store, number, ALICE), language="en"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(_options(app)) == 4, what="every canned reply")
        await pilot.press(*"手配")  # only in the Japanese body
        await wait_until(pilot, lambda: _options(app) == ["refund-ok"], what="a body match")
        await wait_until(
            pilot, lambda: "is on its way" in _preview(app), what="the English preview"
        )
        for _ in "手配":
            await pilot.press("backspace")
        await pilot.press(*"thanks")
        await wait_until(pilot, lambda: _options(app) == ["hello"], what="the hello reply")
        # A customer with a name is greeted by it; the default is not used.
        await wait_until(pilot, lambda: "Hello 山田," in _preview(app), what="the preview")
        await pilot.press("ctrl+l")
        await wait_until(
            pilot, lambda: "written in en only" in _preview(app), what="no other language"
        )
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(app.results), what="the pick")
    assert app.results == [CannedChoice("hello", "en")]


async def test_a_reply_this_ticket_cannot_fill_shows_why_and_is_not_taken(
    desk: tuple[Store, int],
) -> None:
    store, number = desk
    app = Host(CannedPickerScreen(CannedLoader(store, number, ALICE)))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(_options(app)) == 4, what="every canned reply")
        await pilot.press(*"legacy")
        await wait_until(pilot, lambda: _options(app) == ["legacy"], what="the old reply")
        await wait_until(
            pilot,
            lambda: "unknown placeholder {customer.phone}" in _preview(app),
            what="the placeholder error in the preview",
        )
        await pilot.press("enter")
        await wait_until(pilot, lambda: "cannot use legacy" in _preview(app), what="refusal")
        assert app.results == [] and isinstance(app.screen, CannedPickerScreen)
        for _ in "legacy":
            await pilot.press("backspace")
        await pilot.press(*"organisation")
        await wait_until(pilot, lambda: _options(app) == ["org"], what="the org reply")
        await wait_until(
            pilot,
            lambda: "no value for {customer.organisation}" in _preview(app),
            what="the missing value named",
        )
        await pilot.press("escape")
        await wait_until(pilot, lambda: bool(app.results), what="the cancel")
    assert app.results == [None]


async def test_canned_finder_shows_hostile_titles_and_bodies_inert(store: Store) -> None:
    with store.session(write=True) as s:
        make_desk(s)
        canned.add_canned(s, "evil", "Evil \x1b]0;pwned\x07title", "Body \x1b[31mred\x1b[0m ok")
        number = receive(s, customer_mail())
    app = Host(CannedPickerScreen(CannedLoader(store, number, ALICE)))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "Body red ok" in _preview(app), what="the preview")
        await wait_until(pilot, lambda: "Body red ok" in screen_text(app), what="it drawn")
        text = screen_text(app)
        assert "\x1b" not in text and "pwned" not in text and "Evil title" in text


# -- the attachment picker


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home folder with a few files, one too big to send, one hidden, one named by mail."""
    monkeypatch.setenv("HOME", str(tmp_path))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "report-2024.pdf").write_bytes(b"%PDF 2024")
    (docs / "report-2025.pdf").write_bytes(b"%PDF 2025")
    (docs / "notes.txt").write_text("notes", encoding="utf-8")
    (tmp_path / ".hidden").write_text("x", encoding="utf-8")
    (tmp_path / "evil\x1b]0;pwned\x07.txt").write_text("x", encoding="utf-8")
    with (tmp_path / "big.iso").open("wb") as handle:  # sparse: takes no disk
        handle.truncate(MAX_ATTACHMENT_BYTES + 1024 * 1024)
    return tmp_path


def _path_input(app: App[None]) -> Input:
    return app.screen.query_one("#attach-path", Input)


def _entries(app: App[None]) -> list[str]:
    options = app.screen.query_one("#attach-options", OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_attach_completes_like_a_shell_and_returns_the_file(files: Path) -> None:
    app = Host(AttachScreen(cwd=files))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: bool(_entries(app)), what="the folder listed")
        # Folders first, with their slash; hidden files only when asked for; names inert.
        assert _entries(app)[0] == "docs/"
        assert not any(".hidden" in e for e in _entries(app))
        await wait_until(pilot, lambda: "evil.txt" in screen_text(app), what="the list drawn")
        text = screen_text(app)
        assert "evil.txt" in text and "pwned" not in text and "\x1b" not in text
        await pilot.press("d", "tab")
        assert _path_input(app).value == "docs/"
        await wait_until(pilot, lambda: len(_entries(app)) == 3, what="the folder's files")
        await pilot.press(*"rep", "tab")
        assert _path_input(app).value == "docs/report-202"  # what both reports share
        await wait_until(pilot, lambda: len(_entries(app)) == 2, what="the two reports")
        await pilot.press("4")
        await wait_until(
            pilot, lambda: "docs/report-2024.pdf" in screen_text(app), what="the suggestion"
        )
        await pilot.press("enter")  # the typed path is not a file yet
        await wait_until(pilot, lambda: "no such file" in _error(app), what="the error")
        assert app.results == []
        await pilot.press("tab", "enter")
        await wait_until(pilot, lambda: bool(app.results), what="the pick")
    assert app.results == [files / "docs" / "report-2024.pdf"]


def _error(app: App[None]) -> str:
    return str(app.screen.query_one("#attach-error", Static).content)


async def test_attach_says_what_is_wrong_and_expands_home(files: Path) -> None:
    app = Host(AttachScreen(cwd=files / "docs"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: bool(_entries(app)), what="the folder listed")
        for typed, words in (
            ("~/docs", "is a folder: attach a file inside it"),
            ("~/big.iso", "26.0 MB is over the 25.0 MB a message can carry"),
            ("/proc/self/mem", "cannot read /proc/self/mem"),
            ("../nothing-here", "no such file"),
            ("  ", "type the path of a file"),
        ):
            _path_input(app).value = typed
            await pilot.press("enter")
            await wait_until(pilot, lambda: words in _error(app), what=words)  # noqa: B023
            assert isinstance(app.screen, AttachScreen)
        _path_input(app).value = ""
        await pilot.press(*"~/do", "tab")
        assert _path_input(app).value == "~/docs/"
        await pilot.press("down", "down")  # the list fills the path in
        assert _path_input(app).value == "~/docs/report-2024.pdf"
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(app.results), what="the pick")
    assert app.results == [files / "docs" / "report-2024.pdf"]


async def test_attach_respects_the_room_left_and_cancels(files: Path) -> None:
    app = Host(AttachScreen(cwd=files, room=4))
    async with app.run_test(size=SIZE) as pilot:
        _path_input(app).value = "docs/notes.txt"
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: "5 bytes is over the 4 bytes left" in _error(app), what="the room"
        )
        await pilot.press("escape")
        await wait_until(pilot, lambda: bool(app.results), what="the cancel")
    assert app.results == [None]


# -- in the console itself


async def test_both_pickers_in_the_console_over_its_own_styles(
    make_app: Callable[..., SupportdeskApp], demo_store: Store, tmp_path: Path
) -> None:
    """The console's stylesheet sizes its dialogs narrow; the pickers keep their own room."""
    with demo_store.session() as s:
        names = [r.name for r in canned.list_canned(s)]
    number = first(demo_store, "status:active")
    app = make_app(keymap={"canned.language": "ctrl+y"})
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        picked: list[object] = []
        loader = CannedLoader(demo_store, number, app.data.actor)
        app.push_screen(CannedPickerScreen(loader), picked.append)
        await wait_until(pilot, lambda: _options(app) == sorted(names), what="the demo's replies")
        dialog = app.screen.query_one(".canned-dialog")
        assert dialog.size.width > SIZE[0] * 0.8
        await wait_until(pilot, lambda: "Language:" in _preview(app), what="a preview")
        await wait_until(  # the hint follows [keymap]
            pilot, lambda: "ctrl+y switches language" in screen_text(app), what="the hint"
        )
        await pilot.press(*"thanks-closing")
        await wait_until(
            pilot, lambda: _options(app)[:1] == ["thanks-closing"], what="the name ranked first"
        )
        await wait_until(pilot, lambda: "Language: en" in _preview(app), what="its preview")
        await pilot.press("ctrl+y")
        await wait_until(pilot, lambda: "in en only" in _preview(app), what="the remapped key")
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(picked), what="the pick")
        assert isinstance(picked[0], CannedChoice) and picked[0].name in names

        (tmp_path / "log.txt").write_text("log", encoding="utf-8")
        app.push_screen(AttachScreen(cwd=tmp_path), picked.append)
        await wait_until(pilot, lambda: isinstance(app.screen, AttachScreen), what="attach")
        assert app.screen.query_one(".attach-dialog").size.width > 64
        await pilot.press(*"lo", "tab", "enter")
        await wait_until(pilot, lambda: len(picked) == 2, what="the file")
    assert picked[1] == tmp_path / "log.txt"
