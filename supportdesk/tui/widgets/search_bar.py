"""The search bar: the query language of the CLI, with its errors shown under the bad term."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.binding import BindingType
from textual.containers import Vertical
from textual.geometry import Size
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Static

from supportdesk.errors import QueryError
from supportdesk.i18n import N_, _
from supportdesk.text import cells, inert, one_line
from supportdesk.tui.bindings import bindings
from supportdesk.tui.widgets.fields import Field
from supportdesk.tui.widgets.scrolling import set_virtual_size

PLACEHOLDER = N_(
    "/ search: status:open queue:billing assignee:me refund   (Enter runs, Esc leaves)"
)


def error_text(query: str, error: QueryError) -> Text:
    """The query with the bad term marked, a caret under it, and the reason."""
    shown = inert(query, keep_newlines=False)  # keeps positions, unlike one_line
    start = max(0, min(error.position, len(shown)))
    end = min(len(shown), start + max(1, len(one_line(error.token))))
    text = Text(shown)
    text.stylize("reverse bold", start, end)
    message = one_line(str(error))
    # The caret goes under the term in cells: 日本語 before it takes six, not three.
    text.append("\n" + " " * cells(shown[:start]) + "^ ", style="bold")
    text.append(message)
    return text


class SearchInput(Field):
    """Textual's Input, but a new value does not lay out the whole desk.

    Input sets its scrollable width from the text through `virtual_size`, which lays out
    every widget on the screen: each view opened puts its query here, and that layout was a
    third of the cost of switching views. The bar's size never follows its text, so only
    the scroll range is updated (as the list and the thread do theirs).
    """

    def _watch_value(self, value: str) -> None:
        # Sized first, so Input's own `virtual_size` assignment finds nothing to change;
        # the rest of Input's watcher (Changed, validation, scrolling to the cursor) runs.
        if not self.styles.auto_dimensions:
            set_virtual_size(self, Size(self.content_width, 1))
        super()._watch_value(value)


class SearchBar(Vertical):
    """An input for queries and, below it when needed, what is wrong with the last one."""

    DEFAULT_CSS = """
    SearchBar { height: auto; }
    SearchBar > Input { padding: 0 1; }
    SearchBar > #search-error { display: none; color: $error; padding: 0 1; }
    SearchBar.-error > #search-error { display: block; }
    """

    BINDINGS: ClassVar[list[BindingType]] = bindings("search")

    @dataclass
    class Submitted(Message):
        query: str

    @dataclass
    class Left(Message):
        """The agent pressed Escape: give the list its focus back."""

    def compose(self) -> Iterator[Widget]:
        yield SearchInput(
            placeholder=_(PLACEHOLDER), id="search-input", select_on_focus=False, compact=True
        )
        yield Static(id="search-error", markup=False)

    @property
    def input(self) -> Input:
        return self.query_one("#search-input", Input)

    @property
    def value(self) -> str:
        return self.input.value

    def relabel(self) -> None:
        """The placeholder in the current language."""
        self.input.placeholder = _(PLACEHOLDER)

    def show_query(self, query: str) -> None:
        """Put a view's query in the bar (without running it) and clear any old error."""
        self.input.value = query
        self.input.cursor_position = len(query)
        self.clear_error()

    def show_error(self, query: str, error: QueryError) -> None:
        self.query_one("#search-error", Static).update(error_text(query, error))
        self.add_class("-error")

    def show_problem(self, message: str) -> None:
        self.query_one("#search-error", Static).update(Text(one_line(message)))
        self.add_class("-error")

    def clear_error(self) -> None:
        self.remove_class("-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Submitted(event.value))

    def action_leave(self) -> None:
        self.post_message(self.Left())
