"""Small modal dialogs: pick one of a list, type a value, write a note, confirm a bulk change.

Each returns its answer through `dismiss` (None: the agent changed their mind), so the desk
screen can push it with a callback and carry on; none of them touches the store. Titles and
hints come from the caller already in the agent's language.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, OptionList, TextArea
from textual.widgets.option_list import Option

from supportdesk.i18n import _
from supportdesk.text import one_line
from supportdesk.tui import mentions
from supportdesk.tui.bindings import bindings
from supportdesk.tui.widgets.editor import Editor
from supportdesk.tui.widgets.fields import Field


class PickScreen(ModalScreen[str | None]):
    """Choose one value from a list; typing narrows the list."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("pick")

    def __init__(
        self,
        title: str,
        choices: list[str],
        *,
        current: str | None = None,
        labels: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.choices = choices
        self.current = current
        self.labels = labels or {}

    def compose(self) -> Iterator[Widget]:
        with Vertical(classes="dialog"):
            yield Label(Text(self.title_text), classes="dialog-title")
            yield Field(placeholder=_("type to filter"), id="pick-filter")
            yield OptionList(id="pick-options")

    def on_mount(self) -> None:
        self._fill("")

    def _fill(self, needle: str) -> None:
        options = self.query_one("#pick-options", OptionList)
        needle = needle.strip().lower()
        shown = [c for c in self.choices if needle in self.labels.get(c, c).lower()]
        options.set_options(
            Option(
                Text(
                    one_line(self.labels.get(c, c))
                    + ("  " + _("(now)") if c == self.current else "")
                ),
                id=c,
            )
            for c in shown
        )
        if shown:
            options.highlighted = shown.index(self.current) if self.current in shown else 0

    @on(Input.Changed, "#pick-filter")
    def _filter(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted, "#pick-filter")
    def _submit_filter(self) -> None:
        options = self.query_one("#pick-options", OptionList)
        if options.highlighted is not None:
            self.dismiss(options.get_option_at_index(options.highlighted).id)

    @on(OptionList.OptionSelected, "#pick-options")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_move(self, step: int) -> None:
        options = self.query_one("#pick-options", OptionList)
        if options.option_count:
            current = options.highlighted or 0
            options.highlighted = max(0, min(options.option_count - 1, current + step))

    def action_cancel(self) -> None:
        self.dismiss(None)


class AskScreen(ModalScreen[str | None]):
    """Ask for one line of text (tags, a ticket number, a name)."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("ask")

    def __init__(
        self, title: str, *, placeholder: str = "", value: str = "", hint: str = ""
    ) -> None:
        super().__init__()
        self.title_text = title
        self.placeholder = placeholder
        self.value = value
        self.hint = hint

    def compose(self) -> Iterator[Widget]:
        with Vertical(classes="dialog"):
            yield Label(Text(self.title_text), classes="dialog-title")
            if self.hint:
                yield Label(Text(self.hint), classes="dialog-hint")
            yield Field(value=self.value, placeholder=self.placeholder, id="ask-input")

    @on(Input.Submitted, "#ask-input")
    def _submit(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class NoteScreen(ModalScreen[str | None]):
    """Write an internal note; Ctrl+S adds it, Escape keeps it as a draft for later.

    Drafts live in `drafts` (a key -> text), owned by the caller, so a note given up
    half-way is there again the next time the agent opens the editor on it. A new note's key
    is its ticket number; editing note N starts from its text (`text`), under key "note:N".
    """

    BINDINGS: ClassVar[list[BindingType]] = bindings("note")

    def __init__(
        self,
        number: int,
        drafts: dict[int | str, str],
        *,
        note_id: int | None = None,
        text: str = "",
        handles: Sequence[str] = (),
    ) -> None:
        """`handles` are the agents `@` completes to (Tab takes the first that fits)."""
        super().__init__()
        self.number = number
        self.drafts = drafts
        self.note_id = note_id
        self.key: int | str = number if note_id is None else f"note:{note_id}"
        self.initial = text
        self.handles = list(handles)
        self.offered: mentions.Offer | None = None

    def compose(self) -> Iterator[Widget]:
        with Vertical(classes="dialog note-dialog"):
            title = _("Internal note on #{number} (agents only, never mailed)").format(
                number=self.number
            )
            hint = _("ctrl+s adds the note · esc keeps it as a draft")
            if self.note_id is not None:
                title = _("Edit your note {id} on #{number}").format(
                    id=self.note_id, number=self.number
                )
                hint = _("ctrl+s saves it (the old text stays in history) · esc keeps a draft")
            yield Label(Text(title), classes="dialog-title")
            text = self.drafts.get(self.key, self.initial)
            yield Editor(text, id="note-text", soft_wrap=True)
            yield Label("", id="note-mentions", markup=False)
            yield Label(Text(hint), classes="dialog-hint")

    def on_mount(self) -> None:
        area = self.query_one("#note-text", TextArea)
        area.focus()
        area.move_cursor(area.document.end)

    @property
    def text(self) -> str:
        return self.query_one("#note-text", TextArea).text

    @on(TextArea.Changed, "#note-text")
    @on(TextArea.SelectionChanged, "#note-text")
    def _offer_mentions(self) -> None:
        """Under the text, the agents an `@` being typed could mean."""
        self.offered = mentions.offer(self.query_one("#note-text", TextArea), self.handles)
        shown = self.offered.text() if self.offered else ""
        self.query_one("#note-mentions", Label).update(Text(shown))

    @property
    def completions(self) -> list[str]:
        return self.offered.handles if self.offered else []

    def action_complete(self) -> None:
        """Complete the `@handle` being typed with the first agent offered."""
        if self.offered is not None:
            mentions.complete(self.query_one("#note-text", TextArea), self.offered)

    def action_save(self) -> None:
        self.drafts[self.key] = self.text  # dropped once the note is really saved
        self.dismiss(self.text)

    def action_cancel(self) -> None:
        if self.text.strip() and self.text != self.initial:
            self.drafts[self.key] = self.text
        else:
            self.drafts.pop(self.key, None)
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """Ask before a change to many tickets; says how many first."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("confirm")

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> Iterator[Widget]:
        with Vertical(classes="dialog"):
            yield Label(Text(self.question), classes="dialog-title")
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Yes (y)"), id="yes", variant="warning")
                yield Button(_("No (n)"), id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
