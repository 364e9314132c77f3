"""The command palette's one provider: every console action under a namespace.

"ticket: …" commands appear only while a ticket is under the cursor (or tickets are
selected, for the ones that work in bulk), "view: …" lists the sidebar's views and
"theme: …" the other themes. Each command runs the same action method as its key, so the
palette and the keys cannot disagree, and says that key (as the help screen shows it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from supportdesk.i18n import _
from supportdesk.tui.data import Source
from supportdesk.tui.keys import catalogue, display_keys

if TYPE_CHECKING:
    from supportdesk.tui.app import SupportdeskApp
    from supportdesk.tui.screens.desk import DeskScreen

Command = tuple[str, Callable[[], object], str]


def _ticket_commands(desk: DeskScreen) -> Iterator[Command]:
    marked = len(desk.ticket_list.marked)
    row = desk.current
    if row is None and not marked:
        return
    which = f"{marked} selected" if marked else f"#{row.number}" if row else ""
    yield "ticket: assign to me", desk.action_assign_me, f"Take {which}"
    yield "ticket: assign to…", desk.action_assign, f"Pick an agent for {which}"
    yield "ticket: set status…", desk.action_status, f"Change the status of {which}"
    yield "ticket: set priority…", desk.action_priority, f"Change the priority of {which}"
    yield "ticket: tags…", desk.action_tags, f"Add or remove tags on {which}"
    yield "ticket: move to queue…", desk.action_move, f"Move {which} to another queue"
    if row is not None:
        yield "ticket: add internal note…", desk.action_note, f"A note on #{row.number}"
        detail = desk.detail
        if detail is not None and detail.row.number == row.number:
            mine = sum(1 for n in detail.notes if n.author == desk.data.actor)
            if mine:
                which = f"Your note on #{row.number}" if mine == 1 else f"One of your {mine} notes"
                yield "ticket: edit my note…", desk.action_edit_note, which
                yield "ticket: delete my note…", desk.action_delete_note, which
        yield "ticket: merge into…", desk.action_merge, f"Merge #{row.number} into another"
        yield "ticket: reply", desk.action_reply, "Reply to the requester, or resume your draft"
        yield "ticket: reply all", desk.action_reply_all, "Reply to the requester and the CCs"
        yield "ticket: forward", desk.action_forward, "Forward the ticket's latest mail"
        yield "ticket: note in the composer", desk.action_compose_note, "A note saved as typed"
        yield "ticket: toggle quoted text", desk.action_toggle_quotes, "Fold or unfold quotes"
        yield "ticket: select / unselect", desk.ticket_list.action_toggle_mark, "For bulk"
    if marked:
        yield "ticket: clear selection", desk.ticket_list.clear_marks, f"Forget {which}"


def _desk_commands(desk: DeskScreen) -> Iterator[Command]:
    yield "desk: undo", desk.action_undo, "Take back your latest change not yet undone"
    yield "desk: next ticket", desk.action_next_ticket, "Move down the list"
    yield "desk: previous ticket", desk.action_previous_ticket, "Move up the list"
    yield "desk: first ticket", desk.action_first_ticket, "Go to the top of the list"
    yield "desk: last ticket", desk.action_last_ticket, "Go to the end of the list"
    yield "desk: search", desk.action_search, "Type a query"
    yield "desk: save search as a view", desk.action_save_search, "Add it to the sidebar"
    yield "desk: reload", desk.action_reload, "Read everything again"
    yield (
        _("desk: notifications"),
        desk.action_notifications,
        _("Assigned to you, answers, mentions, SLA due soon"),
    )
    yield "view: next", desk.action_next_view, "The next view in the sidebar"
    yield "view: previous", desk.action_previous_view, "The previous view in the sidebar"
    for entry in desk.sidebar.entries.values():
        source = Source(entry.key, entry.label, entry.query)
        count = "" if entry.count is None else f" · {entry.count.label()}"
        yield (
            f"view: {entry.label.lower()}",
            partial(desk.open_source, source),
            (f"{entry.query}{count}"),
        )


def commands(app: SupportdeskApp, screen: object) -> list[Command]:
    """The commands that apply on `screen` (the one the palette was opened over)."""
    from supportdesk.tui.screens.desk import DeskScreen

    found: list[Command] = []
    if isinstance(screen, DeskScreen):
        found.extend(_ticket_commands(screen))
        found.extend(_desk_commands(screen))
    for name in app.theme_names():
        if name != app.theme:
            found.append((f"theme: {name}", partial(app.switch_theme, name), "Use and remember"))
    found.append(("app: help", app.action_help, "Every key, with its id for [keymap]"))
    found.append(("app: quit", app.action_quit, "Leave the console"))
    keys = {info.action: info.keys for info in catalogue(app.keymap) if info.where in _KEYED}
    return [(name, run, _with_key(help_text, run, keys)) for name, run, help_text in found]


_KEYED = ("Desk", "Ticket list", "Everywhere")  # where the actions above have their keys


def _with_key(help_text: str, run: Callable[[], object], keys: dict[str, str]) -> str:
    """`help_text` followed by the key that runs the same action, if one does."""
    key = keys.get(getattr(run, "__name__", "").removeprefix("action_"))
    return f"{help_text} · {display_keys(key)}" if key else help_text


class DeskCommands(Provider):
    """Every console action, namespaced; see the module docstring."""

    def _all(self) -> list[Command]:
        return commands(self.app, self.screen)  # type: ignore[arg-type]

    async def discover(self) -> Hits:
        for name, run, help_text in self._all():
            yield DiscoveryHit(name, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, run, help_text in self._all():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), run, help=help_text)
