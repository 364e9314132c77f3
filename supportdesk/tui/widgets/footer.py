"""The key bar at the bottom: Textual's Footer, rebuilt once per burst of binding changes."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class DeskFooter(Footer):
    """Textual's Footer rebuilds all its keys (a widget each) on every binding change, and a
    focus change sends several in a row: five at start-up, four for one search, each one
    restyling some twenty widgets on the UI thread while the agent waits for the list. This
    one rebuilds once, after the last change of the burst has been seen.
    """

    _rebuild_queued = False

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus or not self.is_attached or screen is not self.screen:
            return
        if not self._rebuild_queued:
            self._rebuild_queued = True
            self.call_after_refresh(self._rebuild)

    async def _rebuild(self) -> None:
        self._rebuild_queued = False
        await self.recompose()
