"""The help screen (F1 or ?): every binding with its id and the keys it has right now.

It reads the same keymap the app applied, so after a `[keymap]` remap it shows the new keys,
and the ids it prints are exactly what `[keymap]` accepts. Keys are shown as the footer and
the palette show them (`]`, `/`, `ctrl+s`), and `[keymap]` takes them written that way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.binding import BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Label, Static

from supportdesk.i18n import _
from supportdesk.tui.bindings import bindings
from supportdesk.tui.keys import catalogue, display_keys


class HelpScreen(ModalScreen[None]):
    """A read-only list of the live bindings; any of its keys closes it.

    Its words are looked up when it is composed, so a language switch recomposes it.
    """

    BINDINGS: ClassVar[list[BindingType]] = bindings("help")

    def __init__(self, keymap: Mapping[str, str]) -> None:
        super().__init__()
        self.keymap = dict(keymap)

    def compose(self) -> Iterator[Widget]:
        with Vertical(classes="dialog help-dialog"):
            yield Label(Text(_("Keys")), classes="dialog-title")
            yield Label(
                Text(
                    _(
                        "Remap a key by its id in the [keymap] table of config.toml, with keys "
                        'written as shown here: "nav.next" = "ctrl+n,j", "view.next" = "]". '
                        "ctrl+p opens the command palette."
                    )
                ),
                classes="dialog-hint",
            )
            with VerticalScroll(id="help-keys"):
                yield Static(self._table(), id="help-table")

    def _table(self) -> Table:
        table = Table(box=None, expand=True, pad_edge=False, show_edge=False)
        table.add_column(_("Where"), style="bold", no_wrap=True)
        table.add_column(_("Keys"), no_wrap=True)
        table.add_column(_("What"), ratio=1)
        table.add_column(_("Id"), style="dim", no_wrap=True)
        last = ""
        for info in catalogue(self.keymap):
            table.add_row(
                Text(_(info.where) if info.where != last else ""),
                Text(display_keys(info.keys)),
                Text(_(info.description) if info.description else ""),
                Text(info.id),
            )
            last = info.where
        return table
