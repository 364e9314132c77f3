"""The sidebar: the standard views, each queue and the saved searches, with live counts."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from supportdesk.i18n import _
from supportdesk.tui.data import ViewCount, view_label
from supportdesk.tui.format import fit

LABEL_WIDTH = 15
COUNT_WIDTH = 6


def _prompt(entry: ViewCount, current: bool) -> Text:
    count = "-" if entry.count is None else entry.count.short()
    text = Text(fit(view_label(entry.key, entry.label), LABEL_WIDTH))
    text.append(fit(count, COUNT_WIDTH, right=True), style="dim")
    if current:
        text.stylize("bold")
    return text


class Sidebar(OptionList):
    """A list of views; Enter (or a click) opens one. Counts update without moving anything."""

    DEFAULT_CSS = """
    Sidebar { width: 27; }
    """

    @dataclass
    class Chosen(Message):
        entry: ViewCount

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entries: dict[str, ViewCount] = {}
        self.current: str | None = None

    def set_views(self, entries: list[ViewCount], *, rebuild: bool = False) -> None:
        """Show these views; rebuilds only when the set of views itself changed (or when
        told to: the language changed, and with it the section titles)."""
        layout = [(e.key, e.label, e.section) for e in entries]
        before = [(e.key, e.label, e.section) for e in self.entries.values()]
        self.entries = {e.key: e for e in entries}
        if layout == before and not rebuild:
            for entry in entries:
                self.replace_option_prompt(entry.key, _prompt(entry, entry.key == self.current))
            return
        highlighted = self._highlighted_key()
        options: list[Option | None] = []
        section = None
        for entry in entries:
            if entry.section != section:
                if section is not None:
                    options.append(None)
                section = entry.section
                options.append(Option(Text(_(section), style="bold"), disabled=True))
            options.append(Option(_prompt(entry, entry.key == self.current), id=entry.key))
        self.set_options(options)
        key = highlighted or self.current
        if key in self.entries:
            self.highlighted = self.get_option_index(key)

    def relabel(self) -> None:
        """Draw the views again in the current language."""
        self.set_views(list(self.entries.values()), rebuild=True)

    def mark_current(self, key: str) -> None:
        """Show which view the list is on (bold), and put the highlight there."""
        previous, self.current = self.current, key
        for changed in (previous, key):
            if changed in self.entries:
                entry = self.entries[changed]
                self._restyle(changed, _prompt(entry, changed == key))
        if key in self.entries:
            self._highlight(self.get_option_index(key))

    def _highlight(self, index: int) -> None:
        """Move the highlight to option `index`, drawing those two options again alone: set
        as a reactive, it drew every line of the sidebar again (a tenth of the frame that
        opens a view). Nothing listens for the sidebar's OptionHighlighted."""
        before = self.highlighted
        if before == index:
            return
        self.set_reactive(Sidebar.highlighted, index)
        for changed in (before, index):
            if changed is not None:
                self._refresh_option(changed)
        self.scroll_to_highlight()

    def _refresh_option(self, index: int) -> None:
        line = self._index_to_line.get(index)
        if line is None:
            self.refresh()
        else:
            for offset in range(self._heights.get(index, 1)):  # a prompt may wrap
                self.refresh_line(line + offset)

    def _restyle(self, key: str, prompt: Text) -> None:
        """Give view `key` a prompt of the same height, drawing that option again alone.

        OptionList's `replace_option_prompt` forgets every option's rendering, so each
        switch of view drew the whole sidebar anew (a third of the frame that opens a view).
        """
        index = self.get_option_index(key)
        option = self.get_option_at_index(index)
        option._set_prompt(prompt)
        cache = self._option_render_cache
        keys = cache.keys()  # an LRUCache: no iteration of its own
        for cached in [k for k in keys if k[0] is option]:
            cache.discard(cached)
        self._refresh_option(index)

    def neighbour(self, step: int, key: str | None = None) -> ViewCount | None:
        """The view `step` places after view `key` (default: the current one), wrapping
        around."""
        keys = list(self.entries)
        if not keys:
            return None
        key = self.current if key is None else key
        index = keys.index(key) if key in keys else -step
        return self.entries[keys[(index + step) % len(keys)]]

    def _highlighted_key(self) -> str | None:
        if self.highlighted is None:
            return None
        option = self.get_option_at_index(self.highlighted)
        return option.id

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id in self.entries:
            self.post_message(self.Chosen(self.entries[event.option.id]))
