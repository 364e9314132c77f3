"""Invisible characters that hold typed text together, let into the console's text fields.

Textual's Input and TextArea insert a typed character only when Python calls it printable,
and the zero-width joiner (U+200D), the non-joiner (U+200C) and the tag characters of
subdivision flags are not: typed from an IME or an emoji picker, 👨‍👩‍👧 arrived as three
separate faces. Pasted text was never affected, so the app hands such a key to the focused
field as a one-character paste, through the field's own queue: it lands after the keys
before it and before the keys after it.
"""

from __future__ import annotations

import sys
from typing import Any

from textual import events
from textual.app import App
from textual.widgets import Input


def is_joiner(character: str | None) -> bool:
    """A format character that is part of the text it sits in, not a key to act on."""
    if character is None or len(character) != 1:
        return False
    return character in "\u200c\u200d" or "\U000e0020" <= character <= "\U000e007f"


def pass_joiner(app: App[Any], event: events.Event) -> bool:
    """Send the joiner a key `event` carries to the focused text field; whether it did."""
    if not isinstance(event, events.Key) or not is_joiner(event.character):
        return False
    focused = app.focused
    # TextArea is not loaded for the console's first frame; none is focused before it is.
    text_area = sys.modules.get("textual.widgets._text_area")
    fields = (Input,) if text_area is None else (Input, text_area.TextArea)
    if not isinstance(focused, fields):
        return False
    assert event.character is not None
    paste = events.Paste(event.character)
    paste.stop()  # handled by the field alone: the app forwards a bubbled paste again
    focused.post_message(paste)
    return True
