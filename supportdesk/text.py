"""Text for people: hostile mail text made inert, and cut to a width in terminal cells.

Make hostile text safe to show: mail content reaches terminals, so it must stay inert.

Subjects, names and bodies can carry ANSI / OSC escape sequences and control characters that
would recolour, retitle or even rewrite a terminal. Everything shown to a person passes here.

Widths are terminal cells, never characters: 日本語 takes six, ｶﾀｶﾅ four, é (e and a
combining accent) one, 👍🏽 and 👨‍👩‍👧 two each. A cut never splits a grapheme (a character as a
person sees it), including half-width katakana with its voicing mark (ｶﾞ), which Unicode
calls two graphemes but a reader one. Rich's cell tables do the measuring; they load on
the first text that is not ASCII, since importing them costs tens of milliseconds.
"""

from __future__ import annotations

import re

# CSI, OSC (ended by BEL or ST), DCS/SOS/PM/APC strings, and single-character escapes.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[P^_X][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|\x9d[^\x07\x9c]*[\x07\x9c]?"
)
# What a terminal may act on, one character at a time: C0 controls but tab and newline, DEL,
# C1 controls (0x9b is CSI, 0x9d OSC on terminals that honour them) and the bidi controls.
UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def inert(value: str, *, keep_newlines: bool = True) -> str:
    """`value` with escape sequences removed and other control characters made visible.

    Tabs and (if `keep_newlines`) newlines survive; bidi overrides are dropped so a name
    cannot reverse the text after it.
    """
    value = _ESCAPES.sub("", value).replace("\r\n", "\n").replace("\r", "\n")
    if not keep_newlines:
        value = value.replace("\n", " ")
    return UNSAFE.sub(_visible, value)


def strip_unsafe(value: str) -> str:
    """`value` with every character a terminal could act on removed, and nothing else changed.

    The last line of defence where text is already laid out (a rendered line): those
    characters take no cells, so dropping them keeps columns aligned. `inert` is the first
    line, before layout, and shows them instead.
    """
    return UNSAFE.sub("", value)


def strip_escapes(value: str) -> str:
    """`value` with escape sequences removed and every character a terminal acts on turned
    into a space: for text that goes inside an escape sequence of our own (a desktop
    notification), where a BEL or ST would end it early and the rest would act."""
    return UNSAFE.sub(" ", _ESCAPES.sub("", value))


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode "control picture" for the character
    if code == 0x7F:
        return "\u2421"
    return ""


def cells(value: str) -> int:
    """How many terminal cells `value` takes on one line."""
    if value.isascii():
        return len(value)
    from rich.cells import cell_len

    return cell_len(value)


# Half-width katakana voicing marks: Unicode extends the grapheme before them, but cell
# tables give them a cell of their own; either way ｶ and ﾞ must stay together.
_HALFWIDTH_MARKS = "\uff9e\uff9f"


def graphemes(value: str) -> list[tuple[int, int, int]]:
    """(start, end, cells) of each grapheme of `value`, the voiced half-width kana whole."""
    if value.isascii():
        return [(i, i + 1, 1) for i in range(len(value))]
    from rich.cells import split_graphemes

    spans: list[tuple[int, int, int]] = []
    for start, end, width in split_graphemes(value)[0]:
        if spans and (value[start] in _HALFWIDTH_MARKS or width == 0):
            first, _, before = spans[-1]
            spans[-1] = (first, end, before + width)
        else:
            spans.append((start, end, width))
    return spans


def cut(value: str, width: int) -> str:
    """The longest start of `value` that fits in `width` cells without splitting a grapheme."""
    if value.isascii():
        return value[: max(0, width)]
    used = 0
    end = 0
    for _, stop, size in graphemes(value):
        if used + size > width:
            break
        used += size
        end = stop
    return value[:end]


def one_line(value: str, width: int | None = None) -> str:
    """Inert and on one line, optionally cut to `width` cells with an ellipsis."""
    value = " ".join(inert(value, keep_newlines=False).split())
    if width is not None and cells(value) > width:
        return cut(value, max(0, width - 1)) + "…"
    return value
