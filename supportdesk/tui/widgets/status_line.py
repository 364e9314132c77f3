"""The status line above the footer: what just happened to the selection, else the view's order.

Toasts come and go; this line stays until something else is said, so "the cursor followed
#812 to row 1" or "#812 left this view" is still there when the agent looks for it. When
nothing is said it shows how the list is sorted, which is what makes a ticket jump.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from supportdesk.desk.query import parse
from supportdesk.desk.query.compile import DEFAULT_SORT
from supportdesk.errors import QueryError
from supportdesk.i18n import N_, _
from supportdesk.text import one_line

_KEY_NAMES = {
    "updated": N_("last update"),
    "created": N_("creation"),
    "priority": N_("priority"),
    "number": N_("number"),
    "due": N_("due"),
}


def sort_words(query: str) -> str:
    """How a query's list is ordered, in words: "last update, newest first"."""
    try:
        keys = parse(query).sort or DEFAULT_SORT
    except QueryError:
        keys = DEFAULT_SORT
    parts = []
    for key in keys:
        name = _(_KEY_NAMES[key.key]) if key.key in _KEY_NAMES else key.key
        if key.key in ("updated", "created"):
            order = _("newest first") if key.descending else _("oldest first")
        elif key.key == "due":
            order = _("latest first") if key.descending else _("soonest first")
        else:
            order = _("highest first") if key.descending else _("lowest first")
        parts.append(_("{key}, {order}").format(key=name, order=order))
    return _("; then ").join(parts)


class StatusLine(Static):
    """One line of plain text; see the module docstring."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.said: str = ""
        self._idle = ""

    def say(self, text: str) -> None:
        """Show `text` until something else is said or the view changes."""
        self.said = one_line(text, 400)
        self.update(Text(self.said), layout=False)  # one line, whatever it says

    def show_view(self, label: str, query: str) -> None:
        """A new view: forget what was said about the last one, show this one's order."""
        self.said = ""
        self._idle = _("{view} · sorted by {order}").format(
            view=one_line(label), order=sort_words(query)
        )
        self.update(Text(self._idle, style="dim"), layout=False)
