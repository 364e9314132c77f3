"""The composer's attachment picker: a path typed with shell-like completion.

Tab completes the longest prefix the matching entries share (a folder gets its "/"), the
Input suggests the rest when only one entry fits, and the entries that match are listed below,
folders first. `~` means the home folder. Enter checks the file with the domain's rule
(desk.replies.check_attachment_file: missing, a folder, unreadable, too big) and says what
is wrong in one line, or returns its absolute Path.

File names on disk may come from mail (saved attachments), so they are shown inert.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widget import Widget
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from supportdesk.desk.replies import MAX_ATTACHMENT_BYTES, check_attachment_file
from supportdesk.errors import SupportdeskError
from supportdesk.i18n import _
from supportdesk.text import one_line
from supportdesk.tui.bindings import bindings
from supportdesk.tui.format import size
from supportdesk.tui.widgets.fields import Field

SHOWN = 200
"""Entries listed at most; more are counted, and typing narrows them."""


@dataclass(frozen=True)
class Entry:
    """One name in the folder being completed; `typed` is what the Input would then hold."""

    name: str
    typed: str
    is_dir: bool
    size: int | None


def split_typed(typed: str) -> tuple[str, str]:
    """(the folder part as typed, the name being typed): "~/Do" -> ("~/", "Do")."""
    cut = typed.rfind("/") + 1
    return typed[:cut], typed[cut:]


def resolve(typed: str, cwd: Path) -> Path:
    """What `typed` names: `~` expanded, relative to `cwd`."""
    path = Path(os.path.expanduser(typed))
    return path if path.is_absolute() else cwd / path


def list_matches(typed: str, cwd: Path) -> list[Entry]:
    """Entries of the typed folder whose names start with the typed name, folders first.

    Hidden entries are listed only when the name typed starts with a dot, as in a shell.
    A folder that cannot be read lists nothing (Enter then says why).
    """
    folder, prefix = split_typed(typed)
    where = resolve(folder or ".", cwd)
    found: list[Entry] = []
    try:
        with os.scandir(where) as entries:
            for entry in entries:
                if not entry.name.startswith(prefix):
                    continue
                if entry.name.startswith(".") and not prefix.startswith("."):
                    continue
                try:
                    is_dir = entry.is_dir()
                    bytes_ = None if is_dir else entry.stat().st_size
                except OSError:
                    is_dir, bytes_ = False, None
                slash = "/" if is_dir else ""
                found.append(Entry(entry.name, folder + entry.name + slash, is_dir, bytes_))
    except OSError:
        return []
    found.sort(key=lambda e: (not e.is_dir, e.name.lower(), e.name))
    return found


def completion(typed: str, matches: list[Entry]) -> str:
    """What Tab makes of `typed`: the longest text every match starts with (one match:
    all of it, with "/" for a folder); `typed` itself when nothing is shared beyond it."""
    if not matches:
        return typed
    if len(matches) == 1:
        return matches[0].typed
    shared = _shared_start([m.typed for m in matches])
    return shared if len(shared) > len(typed) else typed


def _shared_start(texts: list[str]) -> str:
    """The longest text all of `texts` start with, compared character by character (names
    share a start within one path component, which commonpath would not see)."""
    first, last = min(texts), max(texts)
    length = 0
    while length < len(first) and first[length] == last[length]:
        length += 1
    return first[:length]


class PathSuggester(Suggester):
    """Suggests the completion Tab would make, greyed after the cursor."""

    def __init__(self, cwd: Path) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.cwd = cwd

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        done = completion(value, list_matches(value, self.cwd))
        return done if done != value else None


class AttachScreen(ModalScreen[Path | None]):
    """Pick a file to attach; returns its absolute path, or None when the agent cancels."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("attach")

    # Not the console's `.dialog` class: an app's stylesheet wins over DEFAULT_CSS, and its
    # dialogs are too narrow for paths.
    DEFAULT_CSS = """
    AttachScreen .attach-dialog {
        width: 90%; max-width: 120; height: auto; max-height: 90%;
        padding: 1 2; border: thick $primary; background: $surface;
    }
    AttachScreen #attach-options { height: auto; max-height: 16; }
    AttachScreen #attach-error { height: auto; color: $error; }
    AttachScreen #attach-more { height: auto; color: $text-muted; }
    """

    def __init__(
        self,
        *,
        cwd: Path | None = None,
        room: int = MAX_ATTACHMENT_BYTES,
        title: str | None = None,
    ) -> None:
        """`cwd`: where relative paths start (default: the console's working folder);
        `room`: bytes still free in the message (the draft's attachments take the rest)."""
        super().__init__()
        self.cwd = cwd or Path.cwd()
        self.room = room
        self.title_text = title if title is not None else _("Attach a file")
        self.matches: list[Entry] = []

    def compose(self) -> Iterator[Widget]:
        with Vertical(classes="attach-dialog"):
            yield Label(Text(self.title_text), classes="dialog-title")
            yield Label(
                Text(one_line(_("from {folder}").format(folder=self.cwd), 200)),
                classes="dialog-hint",
            )
            yield Field(
                placeholder=_("path of the file (~ is your home folder)"),
                id="attach-path",
                suggester=PathSuggester(self.cwd),
            )
            yield Static("", id="attach-error")
            yield OptionList(id="attach-options")
            yield Static("", id="attach-more")
            yield Label(
                Text(_("tab completes · ↑↓ choose · enter attaches · esc cancels")),
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        self.query_one("#attach-path", Input).focus()
        self._list("")

    @property
    def input(self) -> Input:
        return self.query_one("#attach-path", Input)

    def _list(self, typed: str) -> None:
        self.matches = list_matches(typed, self.cwd)
        options = self.query_one("#attach-options", OptionList)
        options.set_options(self._option(m) for m in self.matches[:SHOWN])
        more = len(self.matches) - SHOWN
        self.query_one("#attach-more", Static).update(
            Text(_("and {count} more: type to narrow them").format(count=f"{more:,}"))
            if more > 0
            else Text("")
        )

    @staticmethod
    def _option(entry: Entry) -> Option:
        label = Text(one_line(entry.name, 100) + ("/" if entry.is_dir else ""))
        if entry.size is not None:
            label.append(f"  {size(entry.size)}", style="dim")
        return Option(label)

    def _set(self, typed: str) -> None:
        self.input.value = typed
        self.input.cursor_position = len(typed)

    @on(Input.Changed, "#attach-path")
    def _changed(self, event: Input.Changed) -> None:
        self.query_one("#attach-error", Static).update("")
        self._list(event.value)

    def action_complete(self) -> None:
        """Complete the typed path as far as the matches agree; bell when nothing matches."""
        typed = self.input.value
        matches = list_matches(typed, self.cwd)
        if not matches:
            self.app.bell()
            self._error(
                _("nothing here starts with {name}").format(name=repr(split_typed(typed)[1]))
            )
            return
        done = completion(typed, matches)
        if done == typed and len(matches) > 1:
            self.app.bell()  # the list below shows the choices
        self._set(done)

    def action_move(self, step: int) -> None:
        """Highlight the next entry and put its path in the Input (Tab then opens a folder)."""
        options = self.query_one("#attach-options", OptionList)
        if not options.option_count:
            return
        current = options.highlighted
        index = 0 if current is None else current + step
        index = max(0, min(options.option_count - 1, index))
        entry = self.matches[index]
        with self.input.prevent(Input.Changed):
            self._set(entry.typed)
        options.highlighted = index

    @on(OptionList.OptionSelected, "#attach-options")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        entry = self.matches[event.option_index]
        self._set(entry.typed)
        if not entry.is_dir:
            self._submit()
        self.input.focus()

    @on(Input.Submitted, "#attach-path")
    def _submit(self) -> None:
        typed = self.input.value.strip()
        if not typed:
            self._error(_("type the path of a file"))
            return
        path = resolve(typed, self.cwd)
        try:
            check_attachment_file(path, self.room)
        except SupportdeskError as exc:
            self._error(str(exc))
            return
        self.dismiss(Path(os.path.abspath(path)))

    def _error(self, words: str) -> None:
        self.query_one("#attach-error", Static).update(Text(one_line(words, 300)))

    def action_cancel(self) -> None:
        self.dismiss(None)
