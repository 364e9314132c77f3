"""The console in Japanese and English: chosen at start, switched from the palette without a
restart, remembered in the config; ids, keys and query words never change with it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.widgets._footer import FooterKey

from supportdesk import i18n
from supportdesk.config import load_settings
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.commands import commands
from supportdesk.tui.keys import catalogue
from supportdesk.tui.saved import set_top_level
from supportdesk.tui.screens.help import HelpScreen
from supportdesk.tui.widgets.thread import ThreadHeader
from tests.tui.conftest import SIZE, notes, palette, ready, screen_text, wait_until


@pytest.fixture(autouse=True)
def _restore_language() -> Iterator[None]:
    before = i18n.current_language()
    yield
    i18n.set_language(before)


def _footer(app: SupportdeskApp) -> list[str]:
    return [key.description for key in app.screen.query(FooterKey) if key.description]


def _sidebar(app: SupportdeskApp) -> list[str]:
    sidebar = app.desk.sidebar
    return [str(sidebar.get_option_at_index(i).prompt) for i in range(sidebar.option_count)]


def _list_header(app: SupportdeskApp) -> str:
    return app.desk.ticket_list.render_line(0).text


def _thread_header(app: SupportdeskApp) -> str:
    return str(app.desk.query_one(ThreadHeader).render())


async def test_palette_switches_language_both_ways_and_remembers_it(
    make_app: Callable[..., SupportdeskApp], config_path: Path
) -> None:
    app = make_app(language="en")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        desk = app.desk
        # The footer fills in after the first frame; under load that can come later.
        await wait_until(pilot, lambda: bool(_footer(app)), what="the footer's keys")
        assert {"Quit", "Help", "Take", "Reply"} <= set(_footer(app))
        assert any("All open" in line for line in _sidebar(app))
        assert "status" in _list_header(app) and "subject" in _list_header(app)
        row = desk.current
        assert row is not None
        english_status = row.status  # the stored value, which English shows as it is
        assert f" · {english_status} · " in _thread_header(app)
        ids_before = [(info.id, info.keys, info.action) for info in catalogue(app.keymap)]

        await palette(pilot, "language")
        await pilot.press("enter")
        await wait_until(pilot, lambda: i18n.current_language() == "ja", what="Japanese")
        await wait_until(pilot, lambda: "終了" in _footer(app), what="the footer in Japanese")
        footer = set(_footer(app))
        assert {"終了", "ヘルプ", "担当", "返信"} <= footer and "Quit" not in footer
        sidebar = _sidebar(app)
        assert any("未完了すべて" in line for line in sidebar)
        assert any("ビュー" in line for line in sidebar) and not any(
            "All open" in line for line in sidebar
        )
        header = _list_header(app)
        assert "状態" in header and "件名" in header and "subject" not in header
        from supportdesk.tui.format import status_label

        assert f" · {status_label(english_status)} · " in _thread_header(app)
        assert status_label(english_status) != english_status
        assert desk.ticket_list.border_title is not None
        assert str(desk.ticket_list.border_title) == "未完了すべて"
        assert "並び順" in str(desk.status.render())
        assert desk.search.input.placeholder.startswith("/ 検索")
        # What scripts and [keymap] rely on stays as it was.
        assert [(i.id, i.keys, i.action) for i in catalogue(app.keymap)] == ids_before
        assert desk.sidebar.current == "open" and desk.search.value == "status:active"
        await wait_until(
            pilot, lambda: load_settings(config_path).language == "ja", what="saving ja"
        )
        assert any("日本語" in n and str(config_path) in n for n in notes(app))
        names = [name for name, _, _ in commands(app, desk)]
        assert "言語 (language): English" in names and "チケット: 返信" in names

        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        text = screen_text(app)
        assert "キー" in text and "場所" in text and "ticket.assign_me" in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is desk, what="the desk")

        await palette(pilot, "English")
        await pilot.press("enter")
        await wait_until(pilot, lambda: i18n.current_language() == "en", what="English")
        await wait_until(pilot, lambda: "Quit" in _footer(app), what="the footer in English")
        assert any("All open" in line for line in _sidebar(app))
        assert "status" in _list_header(app) and "状態" not in _list_header(app)
        assert f" · {english_status} · " in _thread_header(app)
        await wait_until(
            pilot, lambda: load_settings(config_path).language == "en", what="saving en"
        )
        assert not isinstance(app.screen, CommandPalette)


async def test_language_from_settings_applies_before_the_first_frame(
    make_app: Callable[..., SupportdeskApp],
) -> None:
    app = make_app(language="ja")
    assert i18n.current_language() == "ja"
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: "終了" in _footer(app), what="the footer in Japanese")
        assert "状態" in _list_header(app)
        assert any("自分のチケット" in line for line in _sidebar(app))


async def test_switch_redraws_an_open_composer_keeping_the_text(
    make_app: Callable[..., SupportdeskApp],
) -> None:
    from supportdesk.desk.replies import MAIL_SETUP
    from supportdesk.tui.screens.composer import ComposerScreen
    from tests.replies_helpers import SETUP

    app = make_app(language="en")
    app.data.store.info[MAIL_SETUP] = SETUP
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ComposerScreen), what="composer")
        screen = app.screen
        assert isinstance(screen, ComposerScreen)
        # Pilot sends punctuation such as 。 without its character (a terminal sends it), so
        # the typed text here is kana and kanji only.
        await pilot.press(*"お問い合わせありがとうございます")
        app.switch_language("ja")
        await wait_until(pilot, lambda: "送信…" in _footer(app), what="the composer's footer")
        text = screen_text(app)
        assert "件名" in text and "宛先" in text and "依頼者に返信" in text
        assert screen.body.text.startswith("お問い合わせありがとうございます")


def test_language_and_theme_written_back_leave_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('agent = "alice"\n\n[bulk]\nconfirm_above = 10\n', encoding="utf-8")
    set_top_level(path, "language", "ja")
    set_top_level(path, "theme", "light")
    set_top_level(path, "language", "en")
    settings = load_settings(path)
    assert settings.language == "en" and settings.theme == "light" and settings.agent == "alice"
    assert settings.bulk.confirm_above == 10
    text = path.read_text(encoding="utf-8")
    assert text.count("language =") == 1 and text.index("language") < text.index("[bulk]")


def test_words_follow_the_language_and_names_people_gave_do_not() -> None:
    from supportdesk.store.models import PRIORITIES, STATUSES
    from supportdesk.tui.data import view_label
    from supportdesk.tui.format import priority_label, status_label
    from supportdesk.tui.widgets.status_line import sort_words

    i18n.set_language("en")
    assert [status_label(s) for s in STATUSES] == list(STATUSES)
    assert [priority_label(p) for p in PRIORITIES] == list(PRIORITIES)
    assert sort_words("status:active sort:due") == "due, soonest first"
    i18n.set_language("ja")
    assert [status_label(s) for s in STATUSES] == [
        "新規",
        "オープン",
        "保留中",
        "待機中",
        "解決済み",
        "終了",
    ]
    assert [priority_label(p) for p in PRIORITIES] == ["低", "通常", "高", "緊急"]
    assert sort_words("status:active") == "最終更新の新しい順"
    assert sort_words("sort:created,-priority") == "作成日時の古い順、次に優先度の高い順"
    # A built-in view is renamed; a queue or saved search keeps the name its owner gave,
    # even one that happens to be an English word the catalogue knows.
    assert view_label("pending", "Pending") == "保留中"
    assert view_label("queue:Pending", "Pending") == "Pending"
    assert view_label("saved:Search", "Search") == "Search"


async def test_palette_shows_brackets_in_help_and_view_queries_as_written(
    make_app: Callable[..., SupportdeskApp],
) -> None:
    """The palette reads hit text as markup: `[keymap]` in a help line and `tag:[vip]` in an
    agent's saved view must show as typed, not vanish as unknown tags."""
    from supportdesk.tui.data import SavedView

    app = make_app(language="en", saved=[SavedView("Bracketed [x]", "tag:[vip] status:open")])
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await palette(pilot, "app: help")
        await wait_until(pilot, lambda: "[keymap]" in screen_text(app), what="[keymap] shown")
        await pilot.press("escape")
        await palette(pilot, "view: bracketed")
        await wait_until(
            pilot,
            lambda: "tag:[vip]" in screen_text(app) and "bracketed [x]" in screen_text(app),
            what="the view's name and query shown as written",
        )
