"""A table of strings that are hard to lay out, and checks that a shown piece of one is whole.

Shared by the console's and the CLI's width tests. Each string mixes what breaks naive
layout: full-width kana and kanji (two cells each), half-width katakana with voicing marks
(one cell each, the mark joined to its letter), combining accents (no cell of their own),
emoji with skin-tone modifiers, ZWJ families and flags (two cells for several code points).
"""

from __future__ import annotations

from rich.cells import cell_len, split_graphemes

TRICKY: dict[str, str] = {
    "kanji": "請求書の再発行と返金についてのご相談（注文番号ＡＢＣ－１２３４）です",
    "halfwidth": "ﾍﾝｷﾝﾉｵﾈｶﾞｲ ｶﾞｷﾞｸﾞｹﾞｺﾞ ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ ﾃﾞｽ ﾖﾛｼｸｵﾈｶﾞｲｼﾏｽ",
    "combining": (
        "Cafe\u0301 re\u0301sume\u0301 na\u0308i\u0308ve co\u0302te\u0301 Zoe\u0308 "
        "cre\u0300me bru\u0302le\u0301e"
    ),
    "emoji": (
        "Thanks 👍🏽👍🏿 from the \U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 "
        "family 🇯🇵🇬🇧 ❤\ufe0f see you \U0001f647\u200d\u2640\ufe0f soon"
    ),
    "mixed": "Re: 返金 refund ｶﾞｲﾄﾞ é 👍🏽 注文#1234 について 🇯🇵 and more text",
}


def graphemes(text: str) -> list[str]:
    """`text` as a person reads it, one grapheme at a time (ｶﾞ is one)."""
    spans, _ = split_graphemes(text)
    out: list[str] = []
    for start, end, width in spans:
        piece = text[start:end]
        if out and (piece in "\uff9e\uff9f" or width == 0):
            out[-1] += piece
        else:
            out.append(piece)
    return out


def cell_slice(line: str, start: int, end: int) -> str:
    """The cells `start`..`end` of a rendered line; fails if a grapheme straddles an edge,
    which is what a misaligned column looks like."""
    position = 0
    kept: list[str] = []
    for piece in graphemes(line):
        width = cell_len(piece)
        if position < start < position + width or position < end < position + width:
            raise AssertionError(f"{piece!r} straddles cell {start} or {end} in {line!r}")
        if start <= position < end:
            kept.append(piece)
        position += width
    return "".join(kept)


def is_whole_start(shown: str, source: str) -> bool:
    """Whether `shown` is `source`, or a start of it cut between graphemes and ended with …."""
    if shown == source:
        return True
    if not shown.endswith("…"):
        return False
    head = shown[:-1].rstrip()
    pieces = graphemes(source)
    joined = ""
    for piece in pieces:
        if joined.rstrip() == head:
            return True
        joined += piece
    return joined.rstrip() == head
