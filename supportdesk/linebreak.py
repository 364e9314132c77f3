"""Where a line of Japanese may wrap: between phrases (BudouX), not in the middle of a word.

Japanese puts no spaces between words, so a wrap by spaces folds it wherever the width runs
out: "お世話にな|っております". BudouX's small model finds phrase boundaries ("お世話に|なって|
おります。") and keeps closing punctuation with the phrase before it. A line that has no
kana or kanji is left to the caller's usual wrap, so English wraps exactly as before.

Phrases are found once per line of text and kept (an LRU of a few thousand lines: a long
thread's paragraphs), so laying the thread out again on a resize or a scroll back costs only
the greedy fill. BudouX is imported on the first Japanese line (about 30 ms).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache, lru_cache
from typing import TYPE_CHECKING

from supportdesk.text import graphemes, inert

if TYPE_CHECKING:
    from budoux import Parser
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.measure import Measurement
    from rich.text import Text

# Hiragana, katakana (full and half width), CJK ideographs and their punctuation.
_JAPANESE = re.compile(
    r"[\u3000-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]"
)
# Never at the start of a line (kinsoku): closing brackets, stops, small kana, the long mark.
_NO_START = frozenset(
    "、。，．,.・：；？！?!)]}）」』】〉》〕ーぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ々ゝゞ"
)
# Never at the end of a line: opening brackets.
_NO_END = frozenset("([{（「『【〈《〔")


def is_japanese(line: str) -> bool:
    """Whether `line` has kana or kanji (and so wraps by phrases)."""
    return not line.isascii() and _JAPANESE.search(line) is not None


@cache
def _parser() -> Parser:
    import budoux

    return budoux.load_default_japanese_parser()


@lru_cache(maxsize=4096)
def phrase_starts(line: str) -> frozenset[int]:
    """Offsets in `line` where a new line may begin: after spaces, and at phrase boundaries
    that fall between Japanese text (never inside a run of Latin letters or digits)."""
    starts: set[int] = set()
    for match in re.finditer(r"\s+", line):
        starts.add(match.end())
    offset = 0
    for chunk in _parser().parse(line):
        offset += len(chunk)
        if 0 < offset < len(line):
            before, after = line[offset - 1], line[offset]
            if before.isascii() and after.isascii() and (before + after).isalnum():
                continue
            starts.add(offset)
    return frozenset(
        s
        for s in starts
        if 0 < s < len(line) and line[s] not in _NO_START and line[s - 1] not in _NO_END
    )


def break_offsets(line: str, width: int) -> list[int]:
    """Offsets at which to cut `line` (no newlines) so each piece fits `width` cells.

    Breaks at the last phrase start that fits; a phrase wider than the line is folded
    between graphemes. Spaces never force a break (they hang at a line's end, as in rich's
    wrap, which trims them).
    """
    width = max(1, width)
    starts = phrase_starts(line)
    offsets: list[int] = []
    line_start = 0
    used = 0
    last_start = -1  # the latest phrase start on the current line
    for start, end, size in graphemes(line):
        if start in starts and start > line_start:
            last_start = start
        if line[start:end].isspace() or used + size <= width:
            used += size
            continue
        cut = last_start if last_start > line_start else start
        offsets.append(cut)
        line_start = cut
        last_start = -1
        used = sum(s for b, _, s in graphemes(line[cut:end]))
    return offsets


def warm(texts: Iterable[str]) -> None:
    """Find the phrases of every Japanese line of `texts` now, so a later wrap only fills.

    The console's worker that reads a ticket calls this with its bodies: BudouX then runs
    off the UI thread (a 200-message Japanese thread is hundreds of milliseconds of it),
    and laying the thread out costs what an English one does. Lines are made inert first,
    as the thread shows them, so the cache keys match.
    """
    for text in texts:
        for line in inert(text).split("\n"):
            if is_japanese(line):
                phrase_starts(line)


def wrap(text: Text, console: Console, width: int) -> list[Text]:
    """`text` wrapped to `width` cells: Japanese lines between phrases, every other line by
    rich, exactly as `Text.wrap` does; styles are kept."""
    width = max(1, width)
    wrapped: list[Text] = []
    for line in text.split("\n", allow_blank=True):
        if not is_japanese(line.plain):
            wrapped.extend(line.wrap(console, width))
            continue
        if "\t" in line.plain:
            line.expand_tabs(text.tab_size or console.tab_size)
        for piece in line.divide(break_offsets(line.plain, width)):
            if piece.cell_len > width:
                piece.rstrip()  # only hanging spaces can overflow
            wrapped.append(piece)
    return wrapped


def break_japanese(text: Text, console: Console, width: int) -> Text:
    """`text` with each Japanese line cut between phrases into lines of `width` cells;
    other lines are left whole, for the widget showing it to wrap as it always has."""
    lines = text.split("\n", allow_blank=True)
    if not any(is_japanese(line.plain) for line in lines):
        return text
    from rich.text import Text

    pieces: list[Text] = []
    for line in lines:
        pieces.extend(wrap(line, console, width) if is_japanese(line.plain) else [line])
    return Text("\n").join(pieces)


class Wrapped:
    """A rich renderable: `text` laid out by `wrap`, for a panel of mail in the CLI."""

    def __init__(self, text: Text) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text.plain

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from wrap(self.text, console, options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return self.text.__rich_measure__(console, options)
