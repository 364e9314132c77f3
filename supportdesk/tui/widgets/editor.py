"""The note and reply editor: Textual's TextArea, its keys applied in the order typed (see
`fields`). A module of its own: TextArea is not loaded for the console's first frame."""

from __future__ import annotations

from textual import events
from textual.widgets import TextArea

from supportdesk.tui.widgets.fields import run_own_binding


class Editor(TextArea):
    async def _on_key(self, event: events.Key) -> None:
        if not await run_own_binding(self, event):
            await super()._on_key(event)
