"""Text fields that apply keys in the order they were typed.

Textual runs a focused widget's key bindings (backspace, delete, arrows, Enter) only once the
key has bubbled back to the App, behind every key already queued there, while Input and
TextArea insert a printable key as soon as it arrives. Keys typed while the console was busy
(a view or a ticket loading) came out of order: "order", eight backspaces, "refunx",
backspace, "d" left "ord". These fields run their own non-priority bindings on arrival; the
App still checks priority bindings before it hands a key on.
"""

from __future__ import annotations

from textual import events
from textual.widget import Widget
from textual.widgets import Input


async def run_own_binding(widget: Widget, event: events.Key) -> bool:
    """Run `widget`'s own binding for the key now; whether one ran."""
    for binding in widget._bindings.key_to_bindings.get(event.key, ()):
        if not binding.priority and await widget.app.run_action(binding.action, widget):
            event.stop()
            event.prevent_default()
            return True
    return False


class Field(Input):
    """Textual's Input, its keys applied in the order typed."""

    async def _on_key(self, event: events.Key) -> None:
        if not await run_own_binding(self, event):
            await super()._on_key(event)
