"""The console application: wires a store and the agent's settings to the desk screen."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.command import CommandPalette
from textual.screen import Screen

from supportdesk.appearance import check_appearance
from supportdesk.errors import ConfigError
from supportdesk.i18n import LANGUAGE_NAMES, N_, _, current_language, ngettext, set_language
from supportdesk.themes import DEFAULT_THEME
from supportdesk.tui.bindings import bindings
from supportdesk.tui.commands import DeskCommands
from supportdesk.tui.data import DeskData, SavedView
from supportdesk.tui.desktop import DesktopNotifier
from supportdesk.tui.handling import HandleTimer
from supportdesk.tui.joiners import pass_joiner
from supportdesk.tui.keys import display_keys, normalise_keys
from supportdesk.tui.saved import set_top_level
from supportdesk.tui.screens.desk import DeskScreen
from supportdesk.tui.screens.help import HelpScreen
from supportdesk.tui.theming import FALLBACK_VARIABLES, textual_theme
from supportdesk.tui.widgets.footer import TranslatedFooter

if TYPE_CHECKING:
    from supportdesk.desk.handle import Desk


# Textual's own palette commands, as SystemCommand titles and help, for the catalogue.
TEXTUAL_COMMANDS = (
    N_("Quit"),
    N_("Quit the application as soon as possible"),
    N_("Keys"),
    N_("Hide the keys and widget help panel"),
    N_("Show help for the focused widget and a summary of available keys"),
    N_("Minimize"),
    N_("Minimize the widget and restore to normal size"),
    N_("Maximize"),
    N_("Maximize the focused widget"),
    N_("Screenshot"),
    N_("Save an SVG 'screenshot' of the current screen"),
)
SWITCH_INTERVAL = 0.001
"""Seconds a thread runs before one waiting for the GIL may take it, once the first frame is
drawn (`favour_keys`; Python's default is 5 ms)."""
WORKER_THREADS = 14
"""Threads for the console's workers: no more than the store's connection pool holds
(SQLAlchemy's default, 5 + 10 overflow) minus one, so every running worker gets a connection
at once and one is left over. More threads only move the wait from the thread queue to the
pool, which gives up after 30 s. Not Python's min(32, CPUs + 4) either: six on two cores,
fewer than the groups that can be busy at once (the listener holds one for good)."""
_ACTIVITY = (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp)
"""What says the agent is at the console (a mouse passing over it does not)."""


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
        language: str | None = None,
        idle_seconds: int = 120,
        desktop_notify: str = "osc9",
        desktop_write: Callable[[str], None] | None = None,
    ) -> None:
        """`now` fixes the clock the console measures ages and handle time with (snapshot
        tests pin it).

        `selection` is `[console] selection`: "follow" the ticket when the list reorders,
        or "stay" on the row. `language` is the `language` setting (auto, en or ja), applied
        before anything is drawn; None keeps the language already chosen.
        `idle_seconds` is `[console] idle_seconds`, when handle time stops after the agent's
        last key.
        `desktop_notify` is `[console] desktop_notify`; what it sends goes to the terminal, or
        to `desktop_write` when given.
        """
        if language is not None:
            set_language(language)
        super().__init__()
        self.data = DeskData(store, me, clock=now)
        self._switch_interval: float | None = None
        """Python's GIL switch interval before `favour_keys` changed it."""
        self.freeze_after_start = False
        """Freeze the objects the start made, once the first frame is drawn (`favour_keys`):
        set by `run_console`, the process's one console, not by tests that start many."""
        self.saved = list(saved or [])
        self.config_path = config_path
        self.poll_seconds = poll_seconds
        self.me = me
        self.store_label = store_label
        self.sub_title = self._sub_title()
        self.desktop = DesktopNotifier(desktop_notify, desktop_write or self._write_terminal)
        self.keymap = {k: normalise_keys(v) for k, v in (keymap or {}).items()}
        self.selection = selection
        self.handling = HandleTimer(self, self.data.now, idle_seconds)
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

    def _sub_title(self) -> str:
        """Who, on which store, and the unread count of their notifications (none at zero), in
        the current language."""
        count = getattr(self, "_unread", 0)
        unread = (
            ngettext("{count} unread notification", "{count} unread notifications", count).format(
                count=count
            )
            if count
            else ""
        )
        parts = (self.me or _("no agent set"), self.store_label, unread)
        return " · ".join(part for part in parts if part)

    def on_load(self) -> None:
        """Give the thread workers a pool of their own size, before any of them starts.

        Textual runs every thread worker in the event loop's default executor, which has
        min(32, CPUs + 4) threads: six on a two-core machine. A worker that a newer one
        replaced (an exact count, a search) runs on until its query returns, and a write
        waits while another process holds the lock: a handful of those and the read a key
        needs (its page, its ticket) queued behind them, for as long as they took.
        """
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="supportdesk")
        )

    def on_mount(self) -> None:
        for problem in self._problems:
            self.notify(problem, title=_("Config"), severity="warning", timeout=15, markup=False)
        self.handling.start()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, _ACTIVITY) and not event.is_forwarded:
            self.handling.active()
            if isinstance(event, events.Key):
                self.data.key_pressed()
            else:
                self.data.touched()
        if not pass_joiner(self, event):  # ZWJ and kin, which text fields decline
            await super().on_event(event)

    def watch_app_focus(self, focus: bool) -> None:
        self.handling.focused(focus)

    def favour_keys(self) -> None:
        """From the first frame on, the UI thread gets the GIL back within SWITCH_INTERVAL
        when a worker (a count, a refresh, a read ahead) holds it as a key comes in. Not
        before: at the start the UI thread and the first read share the cores, and handing
        the GIL over five times as often cost the first frame ~50 ms."""
        if self._switch_interval is None:
            self._switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(SWITCH_INTERVAL)
            if self.freeze_after_start:
                # What the start made (widgets, styles, the first page) lives as long as the
                # console: out of the collector's way, as the imports' objects already are
                # (cli.console.open_console). A full collection then traverses only what
                # came since: 27 ms of a view's frame before, at 1,000,000 messages.
                gc.freeze()

    async def on_unmount(self) -> None:
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
        await self.handling.close()

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
        # "theme: NAME" in DeskCommands, which remembers it. Textual's words are English
        # only: the ones it shows here are in our catalogue (TEXTUAL_COMMANDS).
        for command in super().get_system_commands(screen):
            if command.title != "Theme":
                yield SystemCommand(
                    _(command.title), _(command.help) if command.help else "", command.callback
                )

    def action_command_palette(self) -> None:
        """Textual's palette, with its prompt in the console's language."""
        if self.use_command_palette and not CommandPalette.is_open(self):  # type: ignore[arg-type]
            self.push_screen(
                CommandPalette(placeholder=_("Search for commands…"), id="--command-palette")
            )

    def switch_language(self, language: str) -> None:
        """Show the console in `language` now: every screen, the footer and the palette.

        Descriptions and labels are English message ids looked up as they are drawn, so this
        only has to draw again; nothing is read from the store. The choice is written into
        the config file (`language = "..."`) when there is one, so the next start keeps it.
        """
        set_language(language)
        self.sub_title = self._sub_title()
        for screen in self.screen_stack:
            relabel = getattr(screen, "relabel", None)
            if callable(relabel):
                relabel()
            elif isinstance(screen, HelpScreen):
                screen.refresh(recompose=True)
            for footer in screen.query(TranslatedFooter):
                footer.refresh(recompose=True)
        self.refresh_bindings()
        name = LANGUAGE_NAMES[current_language()]
        if self.config_path is None:
            self.notify(
                _("language {name} (no config file to remember it in)").format(name=name),
                markup=False,
            )
            return
        self._remember(self.config_path, "language", current_language(), name)

    def show_unread(self, count: int) -> None:
        """The header's unread count of the agent's notifications (none shown at zero)."""
        self._unread = count
        self.sub_title = self._sub_title()

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
            self.notify(
                _("theme {name} (no config file to remember it in)").format(name=name),
                markup=False,
            )
            return
        self._remember(self.config_path, "theme", name, name)

    @work(thread=True, exclusive=True, group="config")
    def _remember(self, path: Path, key: str, value: str, shown: str) -> None:
        """Write `key = "value"` (theme or language) into the config file, off the UI thread;
        `shown` is the value as the agent knows it (日本語 for ja)."""
        try:
            set_top_level(path, key, value)
        except ConfigError as exc:
            title = _("Theme not saved") if key == "theme" else _("Language not saved")
            self.call_from_thread(
                self.notify, str(exc), title=title, severity="error", markup=False
            )
        else:
            if key == "theme":
                said = _("theme {name}, saved in {path}").format(name=value, path=path)
            else:
                said = _("language {name}, saved in {path}").format(name=shown, path=path)
            self.call_from_thread(self.notify, said, markup=False)


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
    language: str | None = None,
    idle_seconds: int | None = None,
    desktop_notify: str | None = None,
) -> int:
    """Open the console; returns its exit status when the agent quits (1 after a crash).

    Without `theme`, `keymap`, `selection`, `language`, `idle_seconds` and `desktop_notify`
    they are read from `config_path`, so a caller that only knows the file still gets the
    agent's looks, keys, habits and language.
    """
    if (
        config_path is not None
        and (
            theme is None
            or keymap is None
            or selection is None
            or language is None
            or idle_seconds is None
            or desktop_notify is None
        )
        and config_path.exists()
    ):
        from supportdesk.config import load_settings
        from supportdesk.dates import set_timezone

        settings = load_settings(config_path)
        set_timezone(settings.timezone)
        theme = theme if theme is not None else settings.theme
        keymap = keymap if keymap is not None else settings.keymap
        selection = selection if selection is not None else settings.console.selection
        language = language if language is not None else settings.language
        if idle_seconds is None:
            idle_seconds = settings.console.idle_seconds
        if desktop_notify is None:
            desktop_notify = settings.console.desktop_notify
    app = SupportdeskApp(
        store,
        me=me,
        saved=saved,
        config_path=config_path,
        store_label=store_label,
        theme=theme,
        keymap=keymap,
        selection=selection or "follow",
        language=language,
        idle_seconds=idle_seconds or 120,
        desktop_notify=desktop_notify or "osc9",
    )
    app.freeze_after_start = True
    interval = sys.getswitchinterval()
    try:
        app.run()
    finally:
        sys.setswitchinterval(interval)  # however the app ended (see `favour_keys`)
    return app.return_code or 0
