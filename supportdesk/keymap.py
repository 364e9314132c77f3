"""The console's key bindings as data, without Textual: the one table of binding ids.

Each console class builds its BINDINGS from its group here (supportdesk.tui.keys.bindings),
so the ids `[keymap]` may name are known to code that never loads Textual: `config check`
validates a keymap with exactly the list the console applies. A test checks that every
binding the console's classes carry comes from this table.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

from supportdesk.i18n import N_


@dataclass(frozen=True)
class KeySpec:
    """One binding: its stable id, default keys (comma-separated), action and label."""

    id: str
    keys: str
    action: str
    description: str
    show: bool = True


GROUPS: dict[str, tuple[KeySpec, ...]] = {
    "app": (
        KeySpec("app.quit", "q", "quit", "Quit"),
        KeySpec("app.help", "f1,question_mark", "help", "Help"),
    ),
    "ticket": (
        KeySpec("ticket.assign_me", "a", "assign_me", "Take"),
        KeySpec("ticket.assign", "A", "assign", "Assign"),
        KeySpec("ticket.status", "s", "status", "Status"),
        KeySpec("ticket.priority", "p", "priority", "Priority"),
        KeySpec("ticket.tags", "t", "tags", "Tags"),
        KeySpec("ticket.move", "m", "move", "Move"),
        KeySpec("ticket.note", "n", "note", "Note"),
        KeySpec("ticket.note_edit", "e", "edit_note", "Edit note", show=False),
        KeySpec("ticket.note_delete", "D", "delete_note", "Delete note", show=False),
        KeySpec("ticket.merge", "M", "merge", "Merge", show=False),
        KeySpec("ticket.reply", "r", "reply", "Reply"),
        KeySpec("ticket.reply_all", "R", "reply_all", "Reply all", show=False),
        KeySpec("ticket.forward", "f", "forward", "Forward", show=False),
        KeySpec("ticket.compose_note", "N", "compose_note", "Note in composer", show=False),
        KeySpec("ticket.save_attachments", "S", "save_attachments", "Save files", show=False),
        KeySpec("desk.undo", "u,ctrl+z", "undo", "Undo"),
    ),
    "desk": (
        KeySpec("nav.next", "j", "next_ticket", "Next", show=False),
        KeySpec("nav.previous", "k", "previous_ticket", "Previous", show=False),
        KeySpec("nav.first", "g", "first_ticket", "First", show=False),
        KeySpec("nav.last", "G", "last_ticket", "Last", show=False),
        KeySpec("search.focus", "slash", "search", "Search"),
        KeySpec("search.save", "ctrl+s", "save_search", "Save search", show=False),
        KeySpec("thread.quotes", "x", "toggle_quotes", "Quotes"),
        KeySpec("view.next", "right_square_bracket", "next_view", "Next view", show=False),
        KeySpec("view.previous", "left_square_bracket", "previous_view", "Prev view", show=False),
        KeySpec("desk.back", "escape", "back", "Back", show=False),
        KeySpec("desk.reload", "ctrl+r", "reload", "Reload", show=False),
        KeySpec("desk.notifications", "b", "notifications", N_("Notifications"), show=False),
    ),
    "list": (
        KeySpec("list.down", "down", "cursor_down", "Next", show=False),
        KeySpec("list.up", "up", "cursor_up", "Previous", show=False),
        KeySpec("list.page_down", "pagedown", "page_down", "Page down", show=False),
        KeySpec("list.page_up", "pageup", "page_up", "Page up", show=False),
        KeySpec("list.home", "home", "first", "First", show=False),
        KeySpec("list.end", "end", "last", "Last", show=False),
        KeySpec("list.mark", "space", "toggle_mark", "Select"),
        KeySpec("list.open", "enter", "open", "Read", show=False),
    ),
    "thread": (
        KeySpec("thread.up", "up", "scroll_up", "Up", show=False),
        KeySpec("thread.down", "down", "scroll_down", "Down", show=False),
        KeySpec("thread.page_up", "pageup", "page_up", "Page up", show=False),
        KeySpec("thread.page_down", "pagedown,space", "page_down", "Page down", show=False),
        KeySpec("thread.top", "home", "scroll_home", "Top", show=False),
        KeySpec("thread.end", "end", "scroll_end", "End", show=False),
    ),
    "search": (KeySpec("search.leave", "escape", "leave", "Back to the list", show=False),),
    "pick": (
        KeySpec("modal.cancel", "escape", "cancel", "Cancel"),
        KeySpec("pick.down", "down", "move(1)", "Down", show=False),
        KeySpec("pick.up", "up", "move(-1)", "Up", show=False),
    ),
    "ask": (KeySpec("modal.cancel", "escape", "cancel", "Cancel"),),
    "canned": (
        KeySpec("modal.cancel", "escape", "cancel", "Cancel"),
        KeySpec("pick.down", "down", "move(1)", "Down", show=False),
        KeySpec("pick.up", "up", "move(-1)", "Up", show=False),
        KeySpec("canned.language", "ctrl+l", "switch_language", "Language"),
    ),
    "attach": (
        KeySpec("modal.cancel", "escape", "cancel", "Cancel"),
        KeySpec("pick.down", "down", "move(1)", "Down", show=False),
        KeySpec("pick.up", "up", "move(-1)", "Up", show=False),
        KeySpec("attach.complete", "tab", "complete", "Complete"),
    ),
    "note": (
        KeySpec("note.save", "ctrl+s", "save", "Save note"),
        KeySpec("modal.cancel", "escape", "cancel", "Keep as draft"),
        KeySpec("note.complete", "tab", "complete", N_("Complete @handle"), show=False),
    ),
    "notifications": (
        KeySpec("modal.cancel", "escape", "cancel", N_("Close")),
        KeySpec("notifications.read_all", "a", "read_all", N_("Mark all read")),
    ),
    "composer": (
        KeySpec("composer.send", "ctrl+s", "send", "Send…"),
        KeySpec("composer.preview", "ctrl+r", "preview", "Preview"),
        KeySpec("composer.editor", "ctrl+g", "editor", "$EDITOR"),
        KeySpec("composer.kind", "ctrl+n", "kind", "Kind…"),
        KeySpec("composer.original", "ctrl+o", "original", "Original"),
        KeySpec("composer.fold", "ctrl+b", "fold", "Show quote", show=False),
        KeySpec("composer.attach", "ctrl+f", "attach", "Attach"),
        KeySpec("composer.canned", "ctrl+t", "canned", "Canned"),
        KeySpec("composer.discard", "f8", "discard", "Discard", show=False),
        KeySpec("composer.close", "escape", "close", "Keep draft"),
        KeySpec("composer.complete", "tab", "complete", N_("Complete @handle"), show=False),
    ),
    "attachments": (KeySpec("attachments.remove", "delete,x", "remove", "Remove file"),),
    "preview": (KeySpec("preview.close", "escape,q", "close", "Back"),),
    "collision": (
        KeySpec("collision.send", "s", "choose('send')", "Send anyway"),
        KeySpec("collision.revise", "r", "choose('revise')", "Revise"),
        KeySpec("modal.cancel", "escape", "cancel", "Cancel"),
    ),
    "confirm": (
        KeySpec("confirm.yes", "y", "answer(True)", "Yes"),
        KeySpec("confirm.no", "n,escape", "answer(False)", "No"),
    ),
    "help": (KeySpec("help.close", "escape,q,f1,question_mark", "dismiss", "Close"),),
}


def binding_ids() -> list[str]:
    """Every id a `[keymap]` table may name, each once, in table order."""
    return list(dict.fromkeys(spec.id for group in GROUPS.values() for spec in group))


def keymap_problems(keymap: Mapping[str, str]) -> list[str]:
    """One line per `[keymap]` id that no binding has, with the closest real id."""
    known = binding_ids()
    problems = []
    for binding_id in keymap:
        if binding_id in known:
            continue
        close = difflib.get_close_matches(binding_id, known, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.append(
            f"keymap: no binding has the id {binding_id!r}{hint}; the console's help (F1) "
            "lists the ids"
        )
    return problems
