"""Japanese and other hard text typed (one key event per code point, as a terminal sends an
IME's committed text) or pasted (bracketed paste), both through Textual's terminal parser, into the
console's inputs arrives intact: the search bar, the tag box, the note editor, the composer.

What is stored is what was typed, code point for code point: no NFC or NFKC on the way in,
so a decomposed é stays e + U+0301 and ｶﾞ stays half-width. Normalisation belongs where text
is compared: search folds both sides (NFKC), and tags are NFKC by design (parse_tags), so the
tag box stores the normalised tag, which is what the CLI stores for the same words.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual._xterm_parser import XTermParser
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from supportdesk.desk import replies, tickets
from supportdesk.desk.tags import parse_tags
from supportdesk.store import Store
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.screens.composer import ComposerScreen
from supportdesk.tui.screens.modals import AskScreen, NoteScreen
from tests.replies_helpers import SETUP
from tests.tui.conftest import SIZE, ready, wait_until
from tests.tui.test_composer import stored_draft
from tests.tui.test_console_actions import detail

SAMPLES = {
    "japanese": "返金のお願い：注文番号１２３４、よろしくお願いします。",
    "halfwidth": "ﾍﾝｷﾝ ｶﾞｲﾄﾞ ﾊﾟｽﾜｰﾄﾞ",
    "emoji": "ありがとう👍🏽 \U0001f468\u200d\U0001f469\u200d\U0001f467 🇯🇵",
    "combining": "Cafe\u0301 na\u0308ive ｶ\u3099",  # decomposed: must not be composed
}


async def feed(pilot: Pilot, data: str) -> None:
    """`data` through Textual's own terminal parser, its events to the app as a driver sends
    them: what a terminal's input turns into, without a terminal."""
    app = pilot.app
    assert app._driver is not None
    for event in XTermParser().feed(data):
        app._driver.send_message(event)
        await pilot.pause(0)
    await pilot.pause(0.05)


async def type_in(pilot: Pilot, text: str) -> None:
    """Typed (or an IME's committed text): characters as the terminal sends them."""
    await feed(pilot, text)


async def paste_in(pilot: Pilot, text: str) -> None:
    """Pasted: the terminal wraps it in bracketed-paste marks."""
    await feed(pilot, f"\x1b[200~{text}\x1b[201~")


@pytest.fixture
def store(demo_store: Store) -> Store:
    demo_store.info[replies.MAIL_SETUP] = SETUP
    return demo_store


@pytest.mark.parametrize("how", ["typed", "pasted"])
@pytest.mark.parametrize("key", sorted(SAMPLES))
async def test_search_bar_keeps_what_was_entered(
    make_app: Callable[..., SupportdeskApp], key: str, how: str
) -> None:
    app = make_app()
    text = SAMPLES[key]
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("slash")
        field = app.desk.search.input
        await wait_until(pilot, lambda: field.has_focus, what="the search bar")
        field.value = ""
        if how == "typed":
            await type_in(pilot, text)
        else:
            await paste_in(pilot, text)
        assert field.value == text
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: (
                app.desk.ticket_list.source is not None
                and app.desk.ticket_list.source.query == text
            ),
            what="the search to run with the text as entered",
        )


@pytest.mark.parametrize("how", ["typed", "pasted"])
async def test_tag_box_stores_the_nfkc_tags_of_what_was_entered(
    make_app: Callable[..., SupportdeskApp], store: Store, how: str
) -> None:
    text = "要確認 ｶﾞｲﾄﾞ ＶＩＰ cafe\u0301"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        number = app.desk.current.number  # type: ignore[union-attr]
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, AskScreen), what="the tag box")
        field = app.screen.query_one(Input)
        if how == "typed":
            await type_in(pilot, text)
        else:
            await paste_in(pilot, text)
        assert field.value == text
        await pilot.press("enter")
        wanted = set(parse_tags(text).add)
        assert {"要確認", "ガイド", "vip", "café"} <= wanted  # NFKC, lower-cased, composed
        await wait_until(
            pilot,
            lambda: wanted <= set(detail(store, number).tags),
            what="the tags to be stored",
        )


@pytest.mark.parametrize("how", ["typed", "pasted"])
async def test_note_editor_stores_exactly_what_was_entered(
    make_app: Callable[..., SupportdeskApp], store: Store, how: str
) -> None:
    text = "\n".join(SAMPLES.values())
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        number = app.desk.current.number  # type: ignore[union-attr]
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, NoteScreen), what="the editor")
        area = app.screen.query_one(TextArea)
        if how == "typed":
            for i, line in enumerate(text.split("\n")):
                if i:
                    await pilot.press("enter")
                await type_in(pilot, line)
        else:
            await paste_in(pilot, text)
        assert area.text == text
        await pilot.press("ctrl+s")
        await wait_until(
            pilot,
            lambda: any(n.body == text for n in detail(store, number).notes),
            what="the note to be stored as entered",
        )


@pytest.mark.parametrize("how", ["typed", "pasted"])
async def test_composer_draft_keeps_exactly_what_was_entered(
    make_app: Callable[..., SupportdeskApp], store: Store, how: str
) -> None:
    text = " / ".join(SAMPLES.values())
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        number = app.desk.current.number  # type: ignore[union-attr]
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ComposerScreen), what="composer")
        screen = app.screen
        assert isinstance(screen, ComposerScreen)
        await pilot.pause()
        screen.body.focus()
        screen.body.text = ""
        if how == "typed":
            await type_in(pilot, text)
        else:
            await paste_in(pilot, text)
        assert screen.body.text == text
        await wait_until(
            pilot,
            lambda: getattr(stored_draft(store, number), "body", None) == text,
            what="the draft to save itself as entered",
        )
        await pilot.press("escape")
    with store.session() as session:
        ticket = tickets.get_ticket(session, number)
        assert ticket.number == number
    draft = stored_draft(store, number)
    assert draft is not None and draft.body == text
