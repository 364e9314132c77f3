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
    """One binding: its stable id, default keys (comma-separated), action and label.

    The label is an English message id, marked with N_ and translated where it is shown
    (footer, help, palette), so a language switch in a running console reaches it.
    """

    id: str
    keys: str
    action: str
    description: str
    show: bool = True


GROUPS: dict[str, tuple[KeySpec, ...]] = {
    "app": (
        KeySpec("app.quit", "q", "quit", N_("Quit")),
        KeySpec("app.help", "f1,question_mark", "help", N_("Help")),
    ),
    "ticket": (
        KeySpec("ticket.assign_me", "a", "assign_me", N_("Take")),
        KeySpec("ticket.assign", "A", "assign", N_("Assign")),
        KeySpec("ticket.status", "s", "status", N_("Status")),
        KeySpec("ticket.priority", "p", "priority", N_("Priority")),
        KeySpec("ticket.tags", "t", "tags", N_("Tags")),
        KeySpec("ticket.move", "m", "move", N_("Move")),
        KeySpec("ticket.note", "n", "note", N_("Note")),
        KeySpec("ticket.note_edit", "e", "edit_note", N_("Edit note"), show=False),
        KeySpec("ticket.note_delete", "D", "delete_note", N_("Delete note"), show=False),
        KeySpec("ticket.merge", "M", "merge", N_("Merge"), show=False),
        KeySpec("ticket.reply", "r", "reply", N_("Reply")),
        KeySpec("ticket.reply_all", "R", "reply_all", N_("Reply all"), show=False),
        KeySpec("ticket.forward", "f", "forward", N_("Forward"), show=False),
        KeySpec("ticket.compose_note", "N", "compose_note", N_("Note in composer"), show=False),
        KeySpec("ticket.save_attachments", "S", "save_attachments", N_("Save files"), show=False),
        KeySpec("desk.undo", "u,ctrl+z", "undo", N_("Undo")),
    ),
    "desk": (
        KeySpec("nav.next", "j", "next_ticket", N_("Next"), show=False),
        KeySpec("nav.previous", "k", "previous_ticket", N_("Previous"), show=False),
        KeySpec("nav.first", "g", "first_ticket", N_("First"), show=False),
        KeySpec("nav.last", "G", "last_ticket", N_("Last"), show=False),
        KeySpec("search.focus", "slash", "search", N_("Search")),
        KeySpec("search.save", "ctrl+s", "save_search", N_("Save search"), show=False),
        KeySpec("thread.quotes", "x", "toggle_quotes", N_("Quotes")),
        KeySpec("view.next", "right_square_bracket", "next_view", N_("Next view"), show=False),
        KeySpec(
            "view.previous", "left_square_bracket", "previous_view", N_("Prev view"), show=False
        ),
        KeySpec("desk.back", "escape", "back", N_("Back"), show=False),
        KeySpec("desk.reload", "ctrl+r", "reload", N_("Reload"), show=False),
        KeySpec("desk.reports", "f2", "reports", N_("Reports"), show=False),
        KeySpec("desk.notifications", "b", "notifications", N_("Notifications"), show=False),
    ),
    "list": (
        KeySpec("list.down", "down", "cursor_down", N_("Next"), show=False),
        KeySpec("list.up", "up", "cursor_up", N_("Previous"), show=False),
        KeySpec("list.page_down", "pagedown", "page_down", N_("Page down"), show=False),
        KeySpec("list.page_up", "pageup", "page_up", N_("Page up"), show=False),
        KeySpec("list.home", "home", "first", N_("First"), show=False),
        KeySpec("list.end", "end", "last", N_("Last"), show=False),
        KeySpec("list.mark", "space", "toggle_mark", N_("Select")),
        KeySpec("list.open", "enter", "open", N_("Read"), show=False),
    ),
    "thread": (
        KeySpec("thread.up", "up", "scroll_up", N_("Up"), show=False),
        KeySpec("thread.down", "down", "scroll_down", N_("Down"), show=False),
        KeySpec("thread.page_up", "pageup", "page_up", N_("Page up"), show=False),
        KeySpec("thread.page_down", "pagedown,space", "page_down", N_("Page down"), show=False),
        KeySpec("thread.top", "home", "scroll_home", N_("Top"), show=False),
        KeySpec("thread.end", "end", "scroll_end", N_("End"), show=False),
    ),
    "search": (KeySpec("search.leave", "escape", "leave", N_("Back to the list"), show=False),),
    "pick": (
        KeySpec("modal.cancel", "escape", "cancel", N_("Cancel")),
        KeySpec("pick.down", "down", "move(1)", N_("Down"), show=False),
        KeySpec("pick.up", "up", "move(-1)", N_("Up"), show=False),
    ),
    "ask": (KeySpec("modal.cancel", "escape", "cancel", N_("Cancel")),),
    "canned": (
        KeySpec("modal.cancel", "escape", "cancel", N_("Cancel")),
        KeySpec("pick.down", "down", "move(1)", N_("Down"), show=False),
        KeySpec("pick.up", "up", "move(-1)", N_("Up"), show=False),
        KeySpec("canned.language", "ctrl+l", "switch_language", N_("Language")),
    ),
    "attach": (
        KeySpec("modal.cancel", "escape", "cancel", N_("Cancel")),
        KeySpec("pick.down", "down", "move(1)", N_("Down"), show=False),
        KeySpec("pick.up", "up", "move(-1)", N_("Up"), show=False),
        KeySpec("attach.complete", "tab", "complete", N_("Complete")),
    ),
    "note": (
        KeySpec("note.save", "ctrl+s", "save", N_("Save note")),
        KeySpec("modal.cancel", "escape", "cancel", N_("Keep as draft")),
        KeySpec("note.complete", "tab", "complete", N_("Complete @handle"), show=False),
    ),
    "notifications": (
        KeySpec("modal.cancel", "escape", "cancel", N_("Close")),
        KeySpec("notifications.read_all", "a", "read_all", N_("Mark all read")),
    ),
    "composer": (
        KeySpec("composer.send", "ctrl+s", "send", N_("Send…")),
        KeySpec("composer.preview", "ctrl+r", "preview", N_("Preview")),
        KeySpec("composer.editor", "ctrl+g", "editor", N_("$EDITOR")),
        KeySpec("composer.kind", "ctrl+n", "kind", N_("Kind…")),
        KeySpec("composer.original", "ctrl+o", "original", N_("Original")),
        KeySpec("composer.fold", "ctrl+b", "fold", N_("Show quote"), show=False),
        KeySpec("composer.attach", "ctrl+f", "attach", N_("Attach")),
        KeySpec("composer.canned", "ctrl+t", "canned", N_("Canned")),
        KeySpec("composer.discard", "f8", "discard", N_("Discard"), show=False),
        KeySpec("composer.close", "escape", "close", N_("Keep draft")),
        KeySpec("composer.complete", "tab", "complete", N_("Complete @handle"), show=False),
    ),
    "attachments": (KeySpec("attachments.remove", "delete,x", "remove", N_("Remove file")),),
    "preview": (KeySpec("preview.close", "escape,q", "close", N_("Back")),),
    "collision": (
        KeySpec("collision.send", "s", "choose('send')", N_("Send anyway")),
        KeySpec("collision.revise", "r", "choose('revise')", N_("Revise")),
        KeySpec("modal.cancel", "escape", "cancel", N_("Cancel")),
    ),
    "confirm": (
        KeySpec("confirm.yes", "y", "answer(True)", N_("Yes")),
        KeySpec("confirm.no", "n,escape", "answer(False)", N_("No")),
    ),
    "reports": (
        KeySpec("reports.period", "p", "next_period", N_("Period")),
        KeySpec("reports.close", "escape,q", "close", N_("Back")),
    ),
    "help": (KeySpec("help.close", "escape,q,f1,question_mark", "dismiss", N_("Close")),),
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
