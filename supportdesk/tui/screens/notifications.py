"""The agent's notifications, newest first: Enter opens one's ticket (and marks it read),
or for a bulk assignment the batch's tickets (`batch:<id>`).

The list is read by the desk screen's worker before this opens, so the screen touches no
store; it answers with what the agent chose (see `Choice`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from supportdesk.desk.notifications import NotificationInfo, batch_words, describe, kind_label
from supportdesk.i18n import _, ngettext
from supportdesk.text import one_line
from supportdesk.tui.bindings import bindings


def toast_text(found: NotificationInfo) -> tuple[str, str]:
    """(title, message) of a notification's toast and desktop notification; the subject is
    mail text, made one inert line here (the desktop's sequence cleans it again)."""
    if found.batch is not None:
        return describe(found), batch_words(found)
    title = _("#{number}: {what}").format(number=found.ticket, what=kind_label(found.kind))
    body = _("{subject} (by {actor})").format(
        subject=one_line(found.subject, 80), actor=one_line(found.actor, 40)
    )
    return title, body


def line(found: NotificationInfo, now: datetime) -> Text:
    """One row of the list: unread mark, what, ticket, subject, who, when; for a bulk
    assignment: how many tickets, whose bulk and which batch."""
    text = Text("• " if found.unread else "  ", style="bold" if found.unread else "dim")
    if found.batch is not None:
        text.append(describe(found), style="bold" if found.unread else "")
        text.append(f" — {batch_words(found)}")
        text.append(f" · {found.created_at.astimezone():%m-%d %H:%M}")
        return text
    text.append(f"{kind_label(found.kind):<18} ", style="bold" if found.unread else "")
    text.append(f"#{found.ticket:<7} ")
    text.append(one_line(found.subject, 60))
    text.append(f"  {one_line(found.actor, 30)} · {found.created_at.astimezone():%m-%d %H:%M}")
    return text


@dataclass(frozen=True)
class Choice:
    """What the agent chose: open notification `id`, or mark them all read (`id` None)."""

    id: int | None


class NotificationsScreen(ModalScreen[Choice | None]):
    """Pick a notification to open its ticket; `a` marks them all read."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("notifications")

    def __init__(self, found: list[NotificationInfo], now: datetime) -> None:
        super().__init__()
        self.found = found
        self.now = now

    def compose(self) -> Iterator[Widget]:
        unread = sum(1 for n in self.found if n.unread)
        with Vertical(classes="dialog notifications-dialog"):
            title = ngettext(
                "Notifications ({count} unread)", "Notifications ({count} unread)", unread
            ).format(count=unread)
            yield Label(Text(title), classes="dialog-title")
            if not self.found:
                yield Label(Text(_("Nothing yet.")), classes="dialog-hint")
            yield OptionList(
                *(Option(line(n, self.now), id=str(n.id)) for n in self.found),
                id="notifications-list",
            )
            yield Label(
                Text(_("enter opens the ticket and marks it read · a marks all read")),
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        self.query_one("#notifications-list", OptionList).focus()

    @on(OptionList.OptionSelected, "#notifications-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        assert event.option.id is not None
        self.dismiss(Choice(int(event.option.id)))

    def action_read_all(self) -> None:
        self.dismiss(Choice(None))

    def action_cancel(self) -> None:
        self.dismiss(None)
