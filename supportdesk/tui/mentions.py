"""`@handle` completion in a text area: what is being typed before the cursor, which agents
it could mean, and putting the chosen one in (the note editor and the composer's notes)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from textual.widgets import TextArea

from supportdesk.i18n import _

_TYPED = re.compile(r"(?<![\w.+@-])@([a-z0-9._-]*)$", re.IGNORECASE)
"""An `@handle` being typed just before the cursor; not an address (see desk.notifications)."""
SHOWN = 8


@dataclass(frozen=True)
class Offer:
    typed: str
    handles: list[str]

    def text(self) -> str:
        return "  ".join(f"@{h}" for h in self.handles) + "  (" + _("tab completes") + ")"


def offer(area: TextArea, handles: Sequence[str]) -> Offer | None:
    """The agents the `@` before the cursor could mean, or None when none fits."""
    row, column = area.cursor_location
    typed = _TYPED.search(area.document.get_line(row)[:column])
    if typed is None:
        return None
    prefix = typed.group(1).lower()
    fitting = [h for h in handles if h.startswith(prefix)][:SHOWN]
    return Offer(prefix, fitting) if fitting else None


def complete(area: TextArea, chosen: Offer) -> None:
    """Put the first agent offered in place of what was typed after the `@`."""
    row, column = area.cursor_location
    area.replace(chosen.handles[0] + " ", (row, column - len(chosen.typed)), (row, column))
