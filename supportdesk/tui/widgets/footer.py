"""The key bar at the bottom: Textual's Footer, in the console's language, rebuilt once per
burst of binding changes, and not at all when they come out the same."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from supportdesk.i18n import N_, _, current_language

HOLD_LONGEST = 0.5
"""How long `DeskFooter.hold` keeps the old keys at most, if nothing releases them."""

# Textual's own words the footer may show (the palette key), so the catalogue has them.
TEXTUAL_WORDS = (N_("palette"), N_("Open the command palette"))


class TranslatedFooter(Footer):
    """Textual's Footer with each binding's description looked up in the catalogue as it is
    drawn: descriptions stay English message ids in BINDINGS (`N_`), so a language switch
    only has to recompose the footer.

    Each key starts with the `compact` it ends up with: a FooterKey is born compact, its
    class is set when it mounts and then bound to the footer's (not compact), and each of
    those changes restyled the key, three stylings of every key on every rebuild (footer
    rebuilds were a fifth of the start-up's time after the imports). Textual leaves the
    palette key unbound: it stays compact."""

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                compact = widget.has_class("-command-palette") or self.compact
                widget.set_reactive(FooterKey.compact, compact)
                widget.set_class(compact, "-compact", update=False)
                if widget.description:
                    widget.description = _(widget.description)
                if isinstance(widget.tooltip, str) and widget.tooltip:
                    widget.tooltip = _(widget.tooltip)
            yield widget

    async def recompose(self) -> None:
        """Recompose, then drop the removed keys from the footer's watchers.

        Each key is bound to the footer's `compact` (`data_bind`), which Textual records on
        the footer and prunes only when `compact` changes, which it never does here: every
        rebuild (each focus or binding change) kept the old keys alive, a few hundred
        widgets with their styles and caches per round of searches, and the console's
        memory grew by megabytes a round.
        """
        await super().recompose()
        watchers: dict[str, list[tuple[Any, Any]]] = getattr(self, "__watchers", {})
        for entries in watchers.values():
            entries[:] = [
                (node, callback)
                for node, callback in entries
                if not (getattr(node, "_closing", False) or getattr(node, "_closed", False))
            ]


class DeskFooter(TranslatedFooter):
    """Textual's Footer rebuilds all its keys (a widget each) on every binding change, and a
    focus change sends several in a row: five at start-up, four for one search, each one
    restyling some twenty widgets on the UI thread while the agent waits for the list. This
    one rebuilds once, after the last change of the burst has been seen.

    `held`: no keys until `begin` (the desk releases them a fixed 50 ms after its first
    ticket's thread is laid out, a best effort to draw that frame first: composing them
    first took the UI thread from it for some 30 ms).
    """

    _rebuild_queued = False
    _held: Timer | None = None
    _built: tuple[object, ...] | None = None
    """What the keys on show were composed from (`_shown`); None before the first keys."""

    def __init__(self, *, held: bool = False) -> None:
        super().__init__()
        self._waiting = held

    def begin(self) -> None:
        """Compose the keys from now on (see `held`)."""
        if self._waiting:
            self._waiting = False
            if self._bindings_ready:  # from the footer's own turn: its keys bind to it
                self.call_later(self.bindings_changed, self.screen)

    def hold(self) -> None:
        """Rebuild only at `release` (or after HOLD_LONGEST seconds): a search's Enter moves the
        focus to the list, and the rebuild (some twenty widgets mounted, then the desk laid
        out) ran while the agent waited for the search's rows and ticket."""
        if self._held is not None:
            self._held.stop()
        self._held = self.set_timer(HOLD_LONGEST, self.release)

    def release(self) -> None:
        """Rebuild now if a change came while held."""
        if self._held is None:
            return
        self._held.stop()
        self._held = None
        if self._rebuild_queued:
            # From the footer's own task: the keys it composes bind to it (`data_bind`).
            self.call_later(self.call_after_refresh, self._rebuild)

    def compose(self) -> ComposeResult:
        self._built = self._shown()
        yield from super().compose()

    def _shown(self) -> tuple[object, ...] | None:
        """Everything the keys are composed from: the bindings, whether each is enabled and
        its tooltip, and the language their descriptions are drawn in."""
        if not self._bindings_ready:
            return None
        bindings = tuple(
            (active.binding, active.enabled, active.tooltip)
            for active in self.screen.active_bindings.values()
        )
        return (current_language(), self.show_command_palette, bindings)

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if (
            self._waiting
            or not screen.app.app_focus
            or not self.is_attached
            or screen is not self.screen
        ):
            return
        if not self._rebuild_queued:
            self._rebuild_queued = True
            if self._held is None:
                self.call_after_refresh(self._rebuild)

    async def _rebuild(self) -> None:
        """Compose the keys again, unless they would come out the same: a focus change (two
        at start-up, each told again once the screen has refreshed) often leaves the same
        bindings, and a rebuild costs some 30 ms of the UI thread."""
        if self._held is not None:
            return  # `release` calls again
        self._rebuild_queued = False
        if self._built is None or self._shown() != self._built:
            await self.recompose()
