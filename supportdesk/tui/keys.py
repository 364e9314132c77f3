"""The console's key bindings as the help screen lists them, with the keys they have now.

The bindings themselves are data in supportdesk.keymap (so `config check` knows the ids
without Textual); this walks the live classes, so the help screen shows exactly what the
console binds, after `[keymap]` remapping.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.keys import format_key

from supportdesk.i18n import N_

# Where Textual's own display of a key is less plain than its name.
_SHOWN_AS = {"enter": "enter", "space": "space", "escape": "esc"}


def display_key(key: str) -> str:
    """One key as a person reads it: `]` for right_square_bracket, `ctrl+z`, `?`, `esc`."""
    modifiers, name = Binding(key.strip(), "").parse_key()
    return "+".join([*modifiers, _SHOWN_AS.get(name) or format_key(name)])


def display_keys(keys: str) -> str:
    """Comma-separated keys (a binding's, or a `[keymap]` value) for the help and palette."""
    return ", ".join(display_key(key) for key in keys.split(",") if key.strip())


def normalise_keys(keys: str) -> str:
    """A `[keymap]` value with keys written as characters turned into Textual's key names.

    The help screen shows `]` and `/`, so a person writes them that way in `[keymap]`;
    Textual's keymap takes names (right_square_bracket, slash) and would silently bind a
    key that never arrives. Binding.make_bindings does the same conversion for BINDINGS.
    """
    return ",".join(binding.key for binding in Binding.make_bindings([Binding(keys, "keymap")]))


@dataclass(frozen=True)
class KeyInfo:
    """One binding as the agent meets it: where it works, its id, keys and what it does.

    `where` and `description` are English message ids; whoever shows them translates them.
    """

    where: str
    id: str
    keys: str
    description: str
    action: str


def _bindings(owner: type[DOMNode]) -> Iterable[Binding]:
    """The bindings a class defines itself and inherits, parents first, each id once."""
    seen: set[str] = set()
    for cls in reversed(owner.__mro__):
        items: list[BindingType] = list(cls.__dict__.get("BINDINGS", []))
        for item in items:
            if isinstance(item, Binding) and item.id and item.id not in seen:
                seen.add(item.id)
                yield item


def owners() -> list[tuple[str, type[DOMNode]]]:
    """Where bindings live, in the order the help screen lists them.

    Imported here, not at the top: the composer and the pickers are not needed for the
    console's first frame, and the app imports this module for `display_keys`.
    """
    from supportdesk.tui.app import SupportdeskApp
    from supportdesk.tui.screens.attach import AttachScreen
    from supportdesk.tui.screens.canned_picker import CannedPickerScreen
    from supportdesk.tui.screens.composer import (
        AttachmentList,
        CollisionScreen,
        ComposerScreen,
        PreviewScreen,
    )
    from supportdesk.tui.screens.desk import DeskScreen
    from supportdesk.tui.screens.modals import AskScreen, ConfirmScreen, NoteScreen, PickScreen
    from supportdesk.tui.screens.reports import ReportScreen
    from supportdesk.tui.widgets.search_bar import SearchBar
    from supportdesk.tui.widgets.thread import ThreadView
    from supportdesk.tui.widgets.ticket_list import TicketList

    return [
        (N_("Desk"), DeskScreen),
        (N_("Ticket list"), TicketList),
        (N_("Thread"), ThreadView),
        (N_("Search"), SearchBar),
        (N_("Pickers"), PickScreen),
        (N_("Questions"), AskScreen),
        (N_("Notes"), NoteScreen),
        (N_("Composer"), ComposerScreen),
        (N_("Attachments"), AttachmentList),
        (N_("Preview"), PreviewScreen),
        (N_("Collision"), CollisionScreen),
        (N_("Confirm"), ConfirmScreen),
        (N_("Canned replies"), CannedPickerScreen),
        (N_("Attach a file"), AttachScreen),
        (N_("Reports"), ReportScreen),
        (N_("Everywhere"), SupportdeskApp),
    ]


def catalogue(keymap: Mapping[str, str] | None = None) -> list[KeyInfo]:
    """Every binding with an id, its keys taken from `keymap` where it remaps them."""
    keymap = keymap or {}
    out: list[KeyInfo] = []
    for where, owner in owners():
        for binding in _bindings(owner):
            assert binding.id is not None
            keys = keymap.get(binding.id, binding.key)
            out.append(KeyInfo(where, binding.id, keys, binding.description, binding.action))
    return out
