"""The command palette's one provider: every console action under a namespace.

"ticket: …" commands appear only while a ticket is under the cursor (or tickets are
selected, for the ones that work in bulk), "view: …" lists the sidebar's views and
"theme: …" the other themes, "language: …" the other language. Names and help are looked
up each time the palette asks, so they follow a language switch at once. Each command runs
the same action method as its key, so the palette and the keys cannot disagree, and says
that key (as the help screen shows it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.markup import escape

from supportdesk.i18n import LANGUAGE_NAMES, LANGUAGES, _, current_language, ngettext
from supportdesk.tui.data import Source, view_label
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
    if marked:
        which = ngettext("{count} selected", "{count} selected", marked).format(count=marked)
    else:
        which = f"#{row.number}" if row else ""
    yield _("ticket: assign to me"), desk.action_assign_me, _("Take {which}").format(which=which)
    yield (
        _("ticket: assign to…"),
        desk.action_assign,
        _("Pick an agent for {which}").format(which=which),
    )
    yield (
        _("ticket: set status…"),
        desk.action_status,
        _("Change the status of {which}").format(which=which),
    )
    yield (
        _("ticket: set priority…"),
        desk.action_priority,
        _("Change the priority of {which}").format(which=which),
    )
    yield (
        _("ticket: tags…"),
        desk.action_tags,
        _("Add or remove tags on {which}").format(which=which),
    )
    yield (
        _("ticket: move to queue…"),
        desk.action_move,
        _("Move {which} to another queue").format(which=which),
    )
    if row is not None:
        number = row.number
        yield (
            _("ticket: add internal note…"),
            desk.action_note,
            _("A note on #{number}").format(number=number),
        )
        detail = desk.detail
        if detail is not None and detail.row.number == number:
            mine = sum(1 for n in detail.notes if n.author == desk.data.actor)
            if mine:
                if mine == 1:
                    whose = _("Your note on #{number}").format(number=number)
                else:
                    whose = ngettext(
                        "One of your {count} notes", "One of your {count} notes", mine
                    ).format(count=mine)
                yield _("ticket: edit my note…"), desk.action_edit_note, whose
                yield _("ticket: delete my note…"), desk.action_delete_note, whose
        yield (
            _("ticket: merge into…"),
            desk.action_merge,
            _("Merge #{number} into another").format(number=number),
        )
        yield (
            _("ticket: reply"),
            desk.action_reply,
            _("Reply to the requester, or resume your draft"),
        )
        yield _("ticket: reply all"), desk.action_reply_all, _("Reply to the requester and the CCs")
        yield _("ticket: forward"), desk.action_forward, _("Forward the ticket's latest mail")
        yield (
            _("ticket: note in the composer"),
            desk.action_compose_note,
            _("A note saved as typed"),
        )
        yield _("ticket: toggle quoted text"), desk.action_toggle_quotes, _("Fold or unfold quotes")
        yield _("ticket: select / unselect"), desk.ticket_list.action_toggle_mark, _("For bulk")
    if marked:
        yield (
            _("ticket: clear selection"),
            desk.ticket_list.clear_marks,
            _("Forget {which}").format(which=which),
        )


def _desk_commands(desk: DeskScreen) -> Iterator[Command]:
    yield _("desk: undo"), desk.action_undo, _("Take back your latest change not yet undone")
    yield _("desk: next ticket"), desk.action_next_ticket, _("Move down the list")
    yield _("desk: previous ticket"), desk.action_previous_ticket, _("Move up the list")
    yield _("desk: first ticket"), desk.action_first_ticket, _("Go to the top of the list")
    yield _("desk: last ticket"), desk.action_last_ticket, _("Go to the end of the list")
    yield _("desk: search"), desk.action_search, _("Type a query")
    yield _("desk: save search as a view"), desk.action_save_search, _("Add it to the sidebar")
    yield _("desk: reload"), desk.action_reload, _("Read everything again")
    yield _("desk: reports"), desk.action_reports, _("The team's figures and yours, with charts")
    yield (
        _("desk: notifications"),
        desk.action_notifications,
        _("Assigned to you, answers, mentions, SLA due soon"),
    )
    yield _("view: next"), desk.action_next_view, _("The next view in the sidebar")
    yield _("view: previous"), desk.action_previous_view, _("The previous view in the sidebar")
    for entry in desk.sidebar.entries.values():
        label = view_label(entry.key, entry.label)
        source = Source(entry.key, entry.label, entry.query)
        count = "" if entry.count is None else f" · {entry.count.label()}"
        yield (
            _("view: {name}").format(name=label.lower()),
            partial(desk.open_source, source),
            (f"{entry.query}{count}"),
        )


def commands(app: SupportdeskApp, screen: object) -> list[Command]:
    """The commands that apply on `screen` (the one the palette was opened over)."""
    from supportdesk.tui.screens.desk import DeskScreen
    from supportdesk.tui.screens.reports import PERIODS, ReportScreen

    found: list[Command] = []
    if isinstance(screen, DeskScreen):
        found.extend(_ticket_commands(screen))
        found.extend(_desk_commands(screen))
    if isinstance(screen, ReportScreen):
        for days in PERIODS:
            found.append(
                (
                    _("reports: last {days} days").format(days=days),
                    partial(screen.show_period, days),
                    _("The figures of the last {days} days").format(days=days),
                )
            )
        found.append((_("reports: close"), screen.action_close, _("Back to the desk")))
    for name in app.theme_names():
        if name != app.theme:
            found.append(
                (
                    _("theme: {name}").format(name=name),
                    partial(app.switch_theme, name),
                    _("Use and remember"),
                )
            )
    for language in LANGUAGES:
        if language != current_language():
            # Named in both languages, so an agent who cannot read the other one finds it.
            found.append(
                (
                    _("language: {name}").format(name=LANGUAGE_NAMES[language]),
                    partial(app.switch_language, language),
                    _("Show the console in {name}").format(name=LANGUAGE_NAMES[language]),
                )
            )
    found.append((_("app: help"), app.action_help, _("Every key, with its id for [keymap]")))
    found.append((_("app: quit"), app.action_quit, _("Leave the console")))
    keys = {info.action: info.keys for info in catalogue(app.keymap) if info.where in _KEYED}
    return [(name, run, _with_key(help_text, run, keys)) for name, run, help_text in found]


_KEYED = ("Desk", "Ticket list", "Reports", "Everywhere")  # where the actions above have their keys


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
            yield DiscoveryHit(escape(name), run, help=escape(help_text))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, run, help_text in self._all():
            score = matcher.match(name)
            if score > 0:
                # highlight() reads its argument as markup: a name holding "[" (a view named
                # by the agent) is shown as it is, unhighlighted.
                shown = matcher.highlight(name) if "[" not in name else Content(name)
                yield Hit(score, shown, run, help=escape(help_text))
