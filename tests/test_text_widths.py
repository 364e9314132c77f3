"""Cutting and wrapping in terminal cells: whole graphemes, exact widths, Japanese phrases."""

from __future__ import annotations

import pytest
from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from supportdesk import linebreak
from supportdesk.linebreak import wrap
from supportdesk.text import cells, cut, one_line
from supportdesk.tui.format import fit
from tests.widths import TRICKY, graphemes, is_whole_start

CASES = sorted(TRICKY.items())


@pytest.mark.parametrize(("key", "value"), CASES)
def test_cut_and_fit_give_exact_cells_and_whole_graphemes(key: str, value: str) -> None:
    assert cells(value) == cell_len(value)
    for width in range(0, cell_len(value) + 3):
        piece = cut(value, width)
        assert cell_len(piece) <= width
        assert graphemes(value)[: len(graphemes(piece))] == graphemes(piece), (key, width)
        if width < cell_len(value):  # the next grapheme would not have fitted
            nxt = graphemes(value)[len(graphemes(piece))]
            assert cell_len(piece + nxt) > width
        for right in (False, True):
            shown = fit(value, width, right=right)
            assert cell_len(shown) == width, (key, width, shown)
            assert is_whole_start(shown.strip(), value) or width <= 1, (key, width, shown)
        line = one_line(value, width) if width else ""
        assert cell_len(line) <= max(width, 0)


def test_half_width_voicing_marks_stay_with_their_letter() -> None:
    assert cut("ｶﾞｷﾞ", 1) == ""
    assert cut("ｶﾞｷﾞ", 2) == "ｶﾞ"
    assert cut("ｶﾞｷﾞ", 3) == "ｶﾞ"
    assert cut("ﾊﾟﾋﾟ", 4) == "ﾊﾟﾋﾟ"


def test_wide_characters_leave_a_blank_cell_not_half_a_character() -> None:
    assert fit("日本語", 4) == "日… "
    assert fit("日本語", 5) == "日本…"
    assert fit("日本語", 6) == "日本語"
    assert fit("日本語", 7, right=True) == " 日本語"
    assert one_line("日本語のテキスト", 7) == "日本語…"


def test_ascii_keeps_its_old_cut() -> None:
    assert one_line("hello world", 6) == "hello…"
    assert fit("status", 4) == "sta…"


def test_japanese_wraps_between_phrases() -> None:
    line = (
        "お世話になっております。先日注文した電気ケトルが届いたのですが、"
        "箱を開けたところ本体にひびが入っていました。"
    )
    pieces = [p.plain for p in wrap(Text(line), Console(), 24)]
    assert "".join(pieces) == line
    assert all(cell_len(p) <= 24 for p in pieces)
    phrases = linebreak.phrase_starts(line)
    offset = 0
    for piece in pieces[:-1]:
        offset += len(piece)
        assert offset in phrases, (piece, pieces)  # every break is a phrase boundary
    assert not any(p.startswith(("、", "。")) for p in pieces)
    # Rich alone folds wherever the width runs out ("…箱を開け|たところ…").
    assert [p.plain for p in Text(line).wrap(Console(), 24)] != pieces


def test_a_phrase_wider_than_the_line_is_folded_between_characters() -> None:
    line = "ｶﾞｷﾞｸﾞｹﾞｺﾞｻﾞｼﾞｽﾞｾﾞｿﾞ日本語テキスト"
    for width in (1, 3, 5, 9):
        pieces = [p.plain for p in wrap(Text(line), Console(), width)]
        assert "".join(pieces) == line
        assert all(cell_len(p) <= max(width, 2) for p in pieces)
        for piece in pieces:
            assert not piece.startswith(("\uff9e", "\uff9f"))


def test_latin_words_inside_japanese_are_not_split() -> None:
    line = "ご注文 Order-1234 のお届けについて、supportdesk から返信します。"
    for width in (12, 16, 20):
        pieces = [p.plain.strip() for p in wrap(Text(line), Console(), width)]
        assert any("Order-1234" in p for p in pieces), pieces
        assert any("supportdesk" in p for p in pieces), pieces


@pytest.mark.parametrize("width", [10, 17, 33, 80])
def test_english_wraps_exactly_as_rich_does(width: int) -> None:
    text = Text("Hello there,\n\nthe kettle  arrived broken; could you refund order 1234?\n")
    text.stylize("bold", 0, 5)
    ours = wrap(text, Console(), width)
    theirs = text.wrap(Console(), width)
    assert [t.plain for t in ours] == [t.plain for t in theirs]
    assert [t.spans for t in ours] == [t.spans for t in theirs]


def test_styles_survive_a_japanese_wrap() -> None:
    text = Text("返金のお願い：先日注文した電気ケトルが届いたのですが")
    text.stylize("bold", 0, 2)
    pieces = wrap(text, Console(), 12)
    assert pieces[0].spans and pieces[0].spans[0].start == 0 and pieces[0].spans[0].end == 2


def test_phrases_are_found_once_per_line() -> None:
    linebreak.phrase_starts.cache_clear()
    line = "同じ行を何度も折り返しても解析は一度だけです。"
    for width in (8, 12, 20, 30):
        wrap(Text(line), Console(), width)
    info = linebreak.phrase_starts.cache_info()
    assert info.misses == 1 and info.hits >= 3


def test_warm_finds_the_phrases_before_the_layout_needs_them() -> None:
    linebreak.phrase_starts.cache_clear()
    body = "英語の行はそのまま\nplain English line\n> 引用された\x1b[31m行です"
    linebreak.warm([body])
    warmed = linebreak.phrase_starts.cache_info()
    assert warmed.misses == 2  # the two Japanese lines, as the thread shows them (inert)
    from supportdesk.tui.widgets.thread import body_text

    wrap(body_text(body, expanded=True), Console(), 10)
    assert linebreak.phrase_starts.cache_info().misses == warmed.misses
