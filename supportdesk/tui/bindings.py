"""Textual bindings built from the binding table in supportdesk.keymap.

The table is plain data so `config check` can validate a keymap without loading Textual;
this turns one group of it into the BINDINGS a console class declares.
"""

from __future__ import annotations

from textual.binding import Binding, BindingType

from supportdesk.keymap import GROUPS


def bindings(group: str) -> list[BindingType]:
    """The Textual bindings of `group` (a key of supportdesk.keymap.GROUPS)."""
    return [
        Binding(spec.keys, spec.action, spec.description, show=spec.show, id=spec.id)
        for spec in GROUPS[group]
    ]
