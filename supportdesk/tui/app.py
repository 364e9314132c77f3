"""The console application: wires a store and the agent's settings to the desk screen."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from supportdesk.store import Store
from supportdesk.tui.data import DeskData, SavedView
from supportdesk.tui.screens.desk import DeskScreen


class SupportdeskApp(App[None]):
    """A keyboard-first help desk for one agent on one store."""

    CSS_PATH = "app.tcss"
    TITLE = "supportdesk"

    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (130, "-wide")]
    """Below 130 columns the customer panel gives its room to the thread."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "quit", "Quit", id="app.quit")]

    def __init__(
        self,
        store: Store,
        *,
        me: str | None,
        saved: list[SavedView] | None = None,
        config_path: Path | None = None,
        poll_seconds: float = 1.0,
        store_label: str = "",
    ) -> None:
        super().__init__()
        self.data = DeskData(store, me)
        self.saved = list(saved or [])
        self.config_path = config_path
        self.poll_seconds = poll_seconds
        self.sub_title = " · ".join(part for part in (me or "no agent set", store_label) if part)

    def get_default_screen(self) -> Screen:
        return DeskScreen(
            self.data,
            saved=self.saved,
            config_path=self.config_path,
            poll_seconds=self.poll_seconds,
        )

    @property
    def desk(self) -> DeskScreen:
        screen = self.screen_stack[0]
        assert isinstance(screen, DeskScreen)
        return screen


def run_console(
    store: Store,
    *,
    me: str | None,
    saved: list[SavedView],
    config_path: Path | None,
    store_label: str = "",
) -> None:
    """Open the console and return when the agent quits."""
    SupportdeskApp(
        store, me=me, saved=saved, config_path=config_path, store_label=store_label
    ).run()
