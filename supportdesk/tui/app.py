"""The console application: wires a store and the agent's settings to the desk screen."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from supportdesk.appearance import check_appearance
from supportdesk.errors import ConfigError
from supportdesk.i18n import ngettext
from supportdesk.themes import DEFAULT_THEME
from supportdesk.tui.bindings import bindings
from supportdesk.tui.commands import DeskCommands
from supportdesk.tui.data import DeskData, SavedView
from supportdesk.tui.desktop import DesktopNotifier
from supportdesk.tui.keys import display_keys, normalise_keys
from supportdesk.tui.saved import set_theme
from supportdesk.tui.screens.desk import DeskScreen
from supportdesk.tui.screens.help import HelpScreen
from supportdesk.tui.theming import FALLBACK_VARIABLES, textual_theme

if TYPE_CHECKING:
    from supportdesk.desk.handle import Desk


class SupportdeskApp(App[None]):
    """A keyboard-first help desk for one agent on one store."""

    CSS_PATH = "app.tcss"
    TITLE = "supportdesk"
    COMMANDS = App.COMMANDS | {DeskCommands}

    # Textual declares it `ClassVar[...] | None`, which mypy reads as an instance variable.
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (130, "-wide")]  # type: ignore[misc]
    """Below 130 columns the customer panel gives its room to the thread."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("app")

    def __init__(
        self,
        store: Desk,
        *,
        me: str | None,
        saved: list[SavedView] | None = None,
        config_path: Path | None = None,
        poll_seconds: float = 1.0,
        store_label: str = "",
        theme: str | None = None,
        keymap: Mapping[str, str] | None = None,
        user_themes_dir: Path | None = None,
        now: Callable[[], datetime] | None = None,
        selection: str = "follow",
        desktop_notify: str = "osc9",
        desktop_write: Callable[[str], None] | None = None,
    ) -> None:
        """`now` fixes the clock the console measures ages with (snapshot tests pin it).

        `selection` is `[console] selection`: "follow" the ticket when the list reorders,
        or "stay" on the row. `desktop_notify` is `[console] desktop_notify`; what it sends
        goes to the terminal, or to `desktop_write` when given.
        """
        super().__init__()
        self.data = DeskData(store, me, clock=now)
        self.saved = list(saved or [])
        self.config_path = config_path
        self.poll_seconds = poll_seconds
        self._sub_title = " · ".join(part for part in (me or "no agent set", store_label) if part)
        self.sub_title = self._sub_title
        self.desktop = DesktopNotifier(desktop_notify, desktop_write or self._write_terminal)
        self.keymap = {k: normalise_keys(v) for k, v in (keymap or {}).items()}
        self.selection = selection
        checked = check_appearance(
            theme or DEFAULT_THEME, self.keymap, user_themes_dir=user_themes_dir
        )
        self._problems: list[str] = list(checked.problems)
        self._theme_names = list(checked.themes.themes)
        for found in checked.themes.themes.values():
            self.register_theme(textual_theme(found))
        self.theme = checked.theme
        self.set_keymap(checked.keymap)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {**super().get_theme_variable_defaults(), **FALLBACK_VARIABLES}

    def on_mount(self) -> None:
        for problem in self._problems:
            self.notify(problem, title="Config", severity="warning", timeout=15, markup=False)

    def get_default_screen(self) -> Screen:
        return DeskScreen(
            self.data,
            saved=self.saved,
            config_path=self.config_path,
            poll_seconds=self.poll_seconds,
            stay_on_row=self.selection == "stay",
        )

    def get_key_display(self, binding: Binding) -> str:
        """The footer's keys as the help screen and the palette show them (`]`, `ctrl+s`)."""
        return binding.key_display or display_keys(binding.key)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Textual's theme picker lists its own themes and forgets the choice; ours is
        # "theme: NAME" in DeskCommands, which remembers it.
        for command in super().get_system_commands(screen):
            if command.title != "Theme":
                yield command

    def show_unread(self, count: int) -> None:
        """The header's unread count of the agent's notifications (none shown at zero)."""
        unread = (
            ngettext("{count} unread notification", "{count} unread notifications", count).format(
                count=count
            )
            if count
            else ""
        )
        self.sub_title = " · ".join(part for part in (self._sub_title, unread) if part)

    def _write_terminal(self, text: str) -> None:
        """Write our own escape sequence (a desktop notification) straight to the terminal."""
        driver = self._driver
        if driver is not None and not self.is_headless:
            driver.write(text)
            driver.flush()

    @property
    def desk(self) -> DeskScreen:
        screen = self.screen_stack[0]
        assert isinstance(screen, DeskScreen)
        return screen

    def theme_names(self) -> list[str]:
        """The supportdesk themes that loaded, shipped and the user's."""
        return list(self._theme_names)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.keymap))

    def switch_theme(self, name: str) -> None:
        """Use theme `name` now and write it into the config file so the next start uses it."""
        self.theme = name
        if self.config_path is None:
            self.notify(f"theme {name} (no config file to remember it in)", markup=False)
            return
        self._remember_theme(self.config_path, name)

    @work(thread=True, exclusive=True, group="config")
    def _remember_theme(self, path: Path, name: str) -> None:
        try:
            set_theme(path, name)
        except ConfigError as exc:
            self.call_from_thread(
                self.notify, str(exc), title="Theme not saved", severity="error", markup=False
            )
        else:
            self.call_from_thread(self.notify, f"theme {name}, saved in {path}", markup=False)


def run_console(
    store: Desk,
    *,
    me: str | None,
    saved: list[SavedView],
    config_path: Path | None,
    store_label: str = "",
    theme: str | None = None,
    keymap: Mapping[str, str] | None = None,
    selection: str | None = None,
    desktop_notify: str | None = None,
) -> None:
    """Open the console and return when the agent quits.

    Without `theme`, `keymap`, `selection` and `desktop_notify` they are read from
    `config_path`, so a caller that only knows the file still gets the agent's looks, keys
    and habits.
    """
    if (
        config_path is not None
        and (theme is None or keymap is None or selection is None or desktop_notify is None)
        and config_path.exists()
    ):
        from supportdesk.config import load_settings

        settings = load_settings(config_path)
        theme = theme if theme is not None else settings.theme
        keymap = keymap if keymap is not None else settings.keymap
        selection = selection if selection is not None else settings.console.selection
        if desktop_notify is None:
            desktop_notify = settings.console.desktop_notify
    SupportdeskApp(
        store,
        me=me,
        saved=saved,
        config_path=config_path,
        store_label=store_label,
        theme=theme,
        keymap=keymap,
        selection=selection or "follow",
        desktop_notify=desktop_notify or "osc9",
    ).run()
