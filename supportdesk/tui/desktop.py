"""Desktop notifications through the terminal: OSC 9, OSC 777 or the bell.

The text comes partly from mail (a ticket's subject), and it goes into an escape sequence the
terminal interprets, so it is made harmless first: every escape sequence and control
character is removed (a BEL or ST inside would end the sequence early and let the rest act
as terminal input), `;` is kept out of OSC 777's title and body (its field separator), and
the length is bounded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

from supportdesk.i18n import _
from supportdesk.text import strip_escapes

DesktopNotify = Literal["osc9", "osc777", "bell", "off"]
KINDS: tuple[str, ...] = get_args(DesktopNotify)
LIMIT = 200
"""Characters of title and body at most: terminals show a line, some cap the sequence."""


def clean(text: str, *, separator_free: bool = False) -> str:
    """`text` with escape sequences and control characters removed, on one line."""
    text = strip_escapes(text)
    if separator_free:
        text = text.replace(";", ",")
    text = " ".join(text.split())
    return text if len(text) <= LIMIT else text[: LIMIT - 1] + "…"


def sequence(kind: str, title: str, body: str) -> str:
    """What to write to the terminal for one notification ("" for "off")."""
    if kind == "osc9":
        return f"\x1b]9;{clean(f'{title}: {body}' if body else title)}\x07"
    if kind == "osc777":
        return (
            f"\x1b]777;notify;{clean(title, separator_free=True)};"
            f"{clean(body, separator_free=True)}\x07"
        )
    if kind == "bell":
        return "\x07"
    return ""


class DesktopNotifier:
    """Sends notifications to the desktop through `write` (the terminal driver's)."""

    def __init__(self, kind: str, write: Callable[[str], None]) -> None:
        if kind not in KINDS:
            raise ValueError(
                _("desktop_notify must be one of {kinds}, not {kind!r}").format(
                    kinds=", ".join(KINDS), kind=kind
                )
            )
        self.kind = kind
        self.write = write

    def send(self, title: str, body: str) -> None:
        text = sequence(self.kind, title, body)
        if text:
            self.write(text)
