"""The thread of one ticket: messages, internal notes and ticket events on one timeline.

All of it is mail-derived or agent-typed text, so every string goes through `inert` or
`one_line` into a rich `Text`, which is never parsed as markup. Quoted parts of replies
(lines starting with ">") are folded to one line until the agent asks to see them.

A long thread is drawn the way the ticket list is: the timeline is wrapped to the pane's
width once, by the worker that reads the ticket (`lay_out`; again on the UI thread only on
resize, a scrollbar coming or going, or unfolding), and `render_line` hands out the lines
on screen. Mounting a widget per message cost more than reading the ticket from the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import BindingType
from textual.geometry import Size
from textual.strip import Strip
from textual.widgets import Static

from supportdesk.clock import utcnow
from supportdesk.desk.handle_time import TicketHandleTime
from supportdesk.desk.outbox import ItemView
from supportdesk.desk.presence import Here
from supportdesk.desk.views import EventView, MessageView, NoteView, TicketDetail
from supportdesk.i18n import N_, _, current_language, ngettext
from supportdesk.linebreak import break_japanese, wrap
from supportdesk.text import inert, one_line
from supportdesk.tui.bindings import bindings
from supportdesk.tui.format import minutes, priority_label, size, status_label, when
from supportdesk.tui.widgets.scrolling import LineView, set_virtual_size

_SILENT_EVENTS = frozenset({"message_in", "message_out", "note"})  # shown as themselves
_GUTTER = "▌ "


def _is_quote(line: str) -> bool:
    return line.lstrip().startswith(">")


def body_text(body: str, *, expanded: bool) -> Text:
    """The body, inert, with each run of quoted lines folded to one line unless `expanded`."""
    text = Text()
    lines = inert(body).rstrip("\n").split("\n") if body.strip() else []
    index = 0
    while index < len(lines):
        if not _is_quote(lines[index]):
            text.append(lines[index] + "\n")
            index += 1
            continue
        start = index
        while index < len(lines) and _is_quote(lines[index]):
            index += 1
        run = lines[start:index]
        if expanded:
            text.append("\n".join(run) + "\n", style="italic dim")
        else:
            hidden = ngettext(
                "▸ {count} quoted line hidden (x shows them)",
                "▸ {count} quoted lines hidden (x shows them)",
                len(run),
            ).format(count=len(run))
            text.append(hidden + "\n", style="dim")
    if not lines:
        text.append(_("(no text)") + "\n", style="dim italic")
    text.rstrip()
    return text


def delivery_text(item: ItemView | None) -> Text:
    """Where an outgoing message is on its way: queued, sending, sent (when), failed (the
    server's words), delivery uncertain (held for a person), cancelled.

    Mail of ours that did not go through the outbox (found in a mailbox by a sync) was sent
    by whoever wrote it. The server's words are mail-derived text: one_line makes them inert.
    """
    if item is None:
        return Text(_("sent"), style="bold")
    n = item.id
    match item.state:
        case "queued" if item.attempts and item.last_error:
            return Text.assemble(
                (_("queued, retry at {time}").format(time=when(item.next_attempt_at)), "bold"),
                (
                    " "
                    + _("(try {count} failed: {error})").format(
                        count=item.attempts, error=one_line(item.last_error, 200)
                    ),
                    "italic",
                ),
            )
        case "queued":
            return Text(_("queued, not sent yet"), style="bold")
        case "sending":
            return Text(_("sending now"), style="bold")
        case "sent":
            if item.sent_at:
                return Text(_("sent {time}").format(time=when(item.sent_at)), style="bold")
            return Text(_("sent"), style="bold")
        case "failed":
            return Text.assemble(
                ("⚠ " + _("failed:") + " ", "bold reverse"),
                (one_line(item.last_error or _("refused"), 300), "bold"),
                (
                    "  "
                    + _(
                        "(fix it, then `supportdesk outbox retry {id}`, or `outbox cancel {id}`)"
                    ).format(id=n),
                    "dim",
                ),
            )
        case "checking":
            return Text("⚠ " + _("delivery uncertain: looking for it in Sent"), style="bold")
        case "uncertain":
            return Text.assemble(
                ("⚠ " + _("delivery uncertain, held for a person"), "bold reverse"),
                (
                    "  "
                    + _(
                        "(not found in Sent: `supportdesk outbox retry --force {id}` resends, "
                        "`outbox cancel {id}` drops it)"
                    ).format(id=n),
                    "dim",
                ),
            )
        case "cancelled":
            return Text(_("cancelled, never sent"), style="bold")
    return Text(one_line(item.state), style="bold")


def message_text(m: MessageView, *, expanded: bool) -> Text:
    """One message: who, when, to whom, the body and its attachments."""
    sender = one_line(m.from_name) if m.from_name else ""
    address = one_line(m.from_address)
    text = Text()
    text.append(sender or address, style="bold")
    if sender:
        text.append(f" <{address}>", style="dim")
    text.append(f"  {when(m.date)}", style="dim")
    if m.direction == "out":
        text.append("  ")
        text.append_text(delivery_text(m.outbox))
    flags = [
        name
        for name, on in (
            (_("auto-reply"), m.is_auto_reply),
            (_("bounce"), m.is_bounce),
            (_("list mail"), m.is_list),
            (_("had HTML, shown as text"), m.has_html),
        )
        if on
    ]
    if flags:
        text.append("  [" + ", ".join(flags) + "]", style="italic dim")
    text.append("\n")
    if m.to:
        text.append(_("To:") + " ", style="dim").append(one_line(m.to, 300) + "\n")
    if m.cc:
        text.append(_("Cc:") + " ", style="dim").append(one_line(m.cc, 300) + "\n")
    text.append("\n")
    text.append_text(body_text(m.body_text, expanded=expanded))
    for attachment in m.attachments:
        text.append("\n📎 ")
        text.append(one_line(attachment.filename or _("(unnamed)"), 80), style="underline")
        text.append(
            f"  {one_line(attachment.content_type, 60)}, {size(attachment.size)}"
            + (", " + _("inline") if attachment.is_inline else ""),
            style="dim",
        )
    if m.parse_problems:
        text.append("\n⚠ " + one_line(m.parse_problems, 300), style="italic dim")
    return text


def note_text(note: NoteView) -> Text:
    text = Text()
    text.append(_("Internal note"), style="bold")
    text.append(f"  {one_line(note.author)}  {when(note.created_at)}\n", style="dim")
    text.append(inert(note.body.rstrip()))
    return text


def event_text(event: EventView) -> Text:
    old = one_line(event.old_value or "")
    new = one_line(event.new_value or "")
    what = _event_words(event.action, old, new)
    return Text(f"• {when(event.created_at)}  {one_line(event.actor)}: {what}")


def _event_words(action: str, old: str, new: str) -> str:
    """One event in words, in the current language; the action names stay as stored."""
    match action:
        case "assign" if old:
            return _("assigned to {new} (was {old})").format(new=new, old=old)
        case "assign":
            return _("assigned to {new}").format(new=new)
        case "unassign":
            return _("unassigned (was {old})").format(old=old)
        case "status":
            return _("status {old} → {new}").format(old=status_label(old), new=status_label(new))
        case "priority":
            return _("priority {old} → {new}").format(
                old=priority_label(old), new=priority_label(new)
            )
        case "queue":
            return _("moved {old} → {new}").format(old=old, new=new)
        case "tag":
            return _("tagged {new}").format(new=new)
        case "untag":
            return _("untagged {old}").format(old=old)
        case "merge":
            return _("merged into #{new}").format(new=new)
        case "merged_from":
            return _("#{new} merged into this ticket").format(new=new)
        case "create":
            return _("created ({new})").format(new=new)
        case "rule_failed":
            return _("failed, its changes undone: {new}").format(new=new)
        case "note_edited":
            return _("edited a note")
        case "note_deleted":
            return _("deleted a note (its text stays in the history)")
        case "mail_sent":
            return _("outbox item {new} sent").format(new=new)
        case "mail_failed":
            return _("outbox item {new} refused by the server").format(new=new)
        case "mail_uncertain":
            return _("outbox item {new}: delivery uncertain, held for a person").format(new=new)
        case "mail_retry":
            return _("outbox item {new} queued again").format(new=new)
        case "mail_cancel":
            return _("outbox item {new} cancelled").format(new=new)
    return f"{one_line(action)} {old} → {new}".strip()


def header_text(
    detail: TicketDetail | None,
    others: Sequence[Here] = (),
    handled: TicketHandleTime | None = None,
    now: datetime | None = None,
) -> Text:
    """The ticket's subject and state, for the line above the thread, who else is on it and
    how long agents have worked on it (`handled`, once anyone has)."""
    if detail is None:
        return Text("")
    row = detail.row
    text = Text()
    text.append(one_line(row.subject or _("(no subject)")), style="bold")
    text.append(
        f"\n#{row.number} · {status_label(row.status)} · {priority_label(row.priority)}"
        f" · {one_line(row.queue)}"
    )
    text.append(f" · {one_line(row.assignee) if row.assignee else _('unassigned')}")
    if detail.tags:
        tags = ", ".join(one_line(t) for t in detail.tags)
        text.append("  " + _("tags: {tags}").format(tags=tags), style="italic")
    state = row.sla_state(now or utcnow())
    if state == "breached":
        text.append("  · " + _("SLA breached"), style="bold")
    elif state and row.sla_due is not None:
        text.append(
            "  · " + _("SLA due {time}").format(time=when(row.sla_due)),
            style="bold" if state == "due-soon" else "",
        )
    if detail.merged_into:
        text.append(
            "  · " + _("merged into #{number}").format(number=detail.merged_into), style="bold"
        )
    if detail.related_to:
        text.append(
            "  · " + _("follows up #{number}").format(number=detail.related_to), style="dim"
        )
    if handled is not None and handled.total > 0:
        text.append(
            "  · "
            + _("handle time {total} (yours {mine})").format(
                total=minutes(handled.total), mine=minutes(handled.mine)
            ),
            style="dim",
        )
    if others:
        text.append("  · " + _("also here:") + " ")
        for i, here in enumerate(others):
            name = one_line(here.actor.removeprefix("agent:"))
            if i:
                text.append(", ")
            if here.doing == "replying":
                text.append(_("{name} (replying)").format(name=name), style="bold reverse")
            else:
                text.append(name, style="bold")
    return text


HEADER_LINES = 3
"""The header's lines at the least (its `min-height` in app.tcss is these and its border):
the subject, and the state on one or two lines. Moving between tickets then lays the desk
out again only for a longer header, not each time the state wraps or no longer does."""


class ThreadHeader(Static):
    """Subject and state of the open ticket; stays put while the thread scrolls."""

    _height = -1
    _shown: tuple[TicketDetail | None, Sequence[Here], TicketHandleTime | None, datetime | None] = (
        None,
        (),
        None,
        None,
    )

    def show(
        self,
        detail: TicketDetail | None,
        others: Sequence[Here] = (),
        handled: TicketHandleTime | None = None,
        now: datetime | None = None,
    ) -> None:
        """Show `detail`'s header, laying the screen out again only if its height changed:
        a layout of the whole desk cost more than the rest of opening a ticket. `now` is the
        console's clock, which the list's due cues use too."""
        self._shown = (detail, others, handled, now)
        text = header_text(detail, others, handled, now)
        width = self.content_region.width
        height = max(HEADER_LINES, len(wrap(text, self.app.console, width))) if width > 0 else -1
        if width > 0:  # a Japanese subject wraps between phrases, as the thread does
            text = break_japanese(text, self.app.console, width)
        self.update(text, layout=height != self._height or height < 0)
        self._height = height

    def on_resize(self, event: events.Resize) -> None:
        if self._shown[0] is not None:
            self.show(*self._shown)


@dataclass(frozen=True)
class _Block:
    kind: str  # "in", "out", "note", "event"
    text: Text


Line = tuple[str, Text | None]
"""One wrapped line of the timeline: the kind of block it is from, and its text (None: the
blank line between blocks)."""


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def timeline(detail: TicketDetail, *, expanded: bool) -> list[_Block]:
    """The ticket's messages, notes and events as blocks of text, oldest first."""
    items: list[tuple[datetime, int, _Block]] = []
    for m in detail.messages:
        block = _Block(
            m.direction if m.direction in ("in", "out") else "in",
            message_text(m, expanded=expanded),
        )
        items.append((_aware(m.date), 0, block))
    for n in detail.notes:
        items.append((_aware(n.created_at), 1, _Block("note", note_text(n))))
    for e in detail.events:
        if e.action not in _SILENT_EVENTS:
            items.append((_aware(e.created_at), 2, _Block("event", event_text(e))))
    items.sort(key=lambda item: (item[0], item[1]))
    return [block for _, _, block in items]


def wrap_blocks(blocks: Sequence[_Block], console: Console, width: int) -> list[Line]:
    """The blocks wrapped to a pane `width` cells wide, a blank line between two of them
    (events follow each other without one)."""
    lines: list[Line] = []
    previous = None
    for block in blocks:
        if previous is not None and not (previous == block.kind == "event"):
            lines.append(("blank", None))
        previous = block.kind
        indent = 2 if block.kind in ("event", "placeholder") else len(_GUTTER)
        lines.extend((block.kind, line) for line in wrap(block.text, console, width - indent))
    return lines


def _fewest_lines(blocks: Sequence[_Block]) -> int:
    """A floor of how many lines `wrap_blocks` gives at any width: the blank lines between
    blocks and each non-empty line of their text (wrapping only adds lines). Most threads
    are longer than the pane: they are then wrapped once, for the width the scrollbar
    leaves, rather than first for the whole width (about half of opening a ticket)."""
    fewest = 0
    previous = None
    for block in blocks:
        if previous is not None and not (previous == block.kind == "event"):
            fewest += 1
        previous = block.kind
        fewest += sum(1 for line in block.text.plain.split("\n") if line)
    return fewest


@dataclass(frozen=True)
class LaidOut:
    """A ticket's timeline built and wrapped for a pane of `width` cells, in a worker: the
    UI thread then only draws the lines on screen (a long thread took tens of ms to wrap)."""

    detail: TicketDetail
    expanded: bool
    width: int
    blocks: list[_Block]
    lines: list[Line]
    language: str


@dataclass(frozen=True)
class Pane:
    """The thread pane a worker lays out for: its width without a scrollbar, how many lines
    it shows, and how wide a scrollbar is (it takes its cells from the text when it comes)."""

    width: int
    height: int
    scrollbar: int

    def width_for(self, lines: int) -> int:
        """The text's width with `lines` lines: narrower by the scrollbar if they overflow."""
        return self.width - self.scrollbar if lines > self.height else self.width


def lay_out(detail: TicketDetail, *, expanded: bool, pane: Pane, console: Console) -> LaidOut:
    """`detail`'s timeline as ThreadView shows it in `pane`; safe to call off the UI thread
    (it reads the console's settings only). A thread longer than the pane is wrapped for the
    width its scrollbar leaves, here, not again on the UI thread once the scrollbar shows."""
    language = current_language()
    blocks = timeline(detail, expanded=expanded)
    width = pane.width
    if not pane.scrollbar:  # always shown (app.tcss): one width, however long the thread
        return LaidOut(
            detail, expanded, width, blocks, wrap_blocks(blocks, console, width), language
        )
    if _fewest_lines(blocks) > pane.height:
        width = pane.width_for(pane.height + 1)  # it overflows however it wraps: wrap once
    lines = wrap_blocks(blocks, console, width)
    if pane.width_for(len(lines)) != width:
        width = pane.width_for(len(lines))
        lines = wrap_blocks(blocks, console, width)
    return LaidOut(detail, expanded, width, blocks, lines, language)


class ThreadView(LineView, can_focus=True):
    """The selected ticket's timeline, oldest first, opened at its newest end."""

    DEFAULT_CSS = """
    ThreadView { overflow-x: hidden; }
    ThreadView > .thread--in { color: $primary; }
    ThreadView > .thread--out { color: $success; }
    ThreadView > .thread--note { color: $warning; background: $warning 15%; }
    ThreadView > .thread--event { color: $text-muted; }
    ThreadView > .thread--placeholder { color: $text-muted; }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "thread--in",
        "thread--out",
        "thread--note",
        "thread--event",
        "thread--placeholder",
    }

    BINDINGS: ClassVar[list[BindingType]] = bindings("thread")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.detail: TicketDetail | None = None
        self.expanded = False
        self._note = N_("No ticket selected")
        self._blocks: list[_Block] = []
        self._lines: list[Line] = []
        self._strips: dict[int, Strip] = {}
        self._laid_out_width = -1

    @property
    def layout_width(self) -> int:
        """The width the text has now."""
        return self.scrollable_content_region.width

    @property
    def pane(self) -> Pane:
        """What a worker lays a timeline out for (`lay_out`), with or without a scrollbar."""
        region = self.scrollable_content_region
        if self.styles.overflow_y == "scroll":  # the scrollbar is always there (app.tcss)
            return Pane(region.width, region.height, 0)
        bar = self.styles.scrollbar_size_vertical
        full = region.width + (bar if self.show_vertical_scrollbar else 0)
        return Pane(full, region.height, bar)

    def show(
        self, detail: TicketDetail | None, *, note: str | None = None, laid: LaidOut | None = None
    ) -> None:
        """Show `detail` (None: nothing); the same ticket again keeps the scroll position.

        `laid` is the timeline a worker already wrapped; it is used if it still fits.
        """
        if detail is not None and detail == self.detail:
            return
        same = (
            detail is not None
            and self.detail is not None
            and detail.row.number == self.detail.row.number
        )
        self.detail = detail
        self._note = note or N_("No ticket selected")
        keep = self.scroll_y
        if (
            laid is not None
            and detail is not None
            and laid.detail is detail
            and laid.expanded == self.expanded
            and self.layout_width > 0
            and laid.width == self.pane.width_for(len(laid.lines))
            and laid.language == current_language()
            and laid.blocks
        ):
            self._blocks = laid.blocks
            self._use_lines(laid.width, laid.lines)
        else:
            self._blocks = self._timeline(detail) if detail is not None else []
            self._layout()
        if same:
            self.scroll_to(y=keep, animate=False, immediate=True)
        else:
            self.scroll_to(
                y=max(0, len(self._lines) - self.size.height), animate=False, immediate=True
            )

    def relabel(self) -> None:
        """Draw the timeline again in the current language, keeping the scroll position."""
        if self.detail is not None:
            self._blocks = self._timeline(self.detail)
        keep = self.scroll_y
        self._layout()
        self.scroll_to(y=keep, animate=False, immediate=True)

    def toggle_quotes(self) -> None:
        self.expanded = not self.expanded
        if self.detail is not None:
            self._blocks = self._timeline(self.detail)
            self._layout()

    def _timeline(self, detail: TicketDetail) -> list[_Block]:
        return timeline(detail, expanded=self.expanded)

    # -- drawing -----------------------------------------------------------------------------

    def _layout(self) -> None:
        """Wrap the timeline to the current width; lines become strips only when drawn."""
        width = self.scrollable_content_region.width
        if width <= 0:
            self._laid_out_width = width
            self._strips.clear()
            return
        lines: list[Line] = []
        if not self._blocks:
            lines.append(("placeholder", Text(_(self._note))))
        lines.extend(wrap_blocks(self._blocks, self.app.console, width))
        self._use_lines(width, lines)

    def _use_lines(self, width: int, lines: list[Line]) -> None:
        self._laid_out_width = width
        self._strips.clear()
        self._lines = lines
        set_virtual_size(self, Size(width, len(lines)))
        self.refresh()

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        if not 0 <= index < len(self._lines):
            return Strip.blank(width, self.base_style)
        strip = self._strips.get(index)
        if strip is None or strip.cell_length != width:  # drawn before a scrollbar came
            strip = self._strips[index] = self._render_wrapped(*self._lines[index], width)
        return strip

    def _render_wrapped(self, kind: str, line: Text | None, width: int) -> Strip:
        base = self.base_style
        if line is None:
            return Strip.blank(width, base)
        console = self.app.console
        if kind in ("event", "placeholder"):
            style = base + self._style(f"thread--{kind}")
            segments = [Segment("  ", style), *Segment.apply_style(line.render(console), style)]
            return Strip(segments).adjust_cell_length(width, style)
        gutter = base + self._style(f"thread--{kind}")
        fill = base + Style(bgcolor=gutter.bgcolor) if kind == "note" else base
        segments = [Segment(_GUTTER, gutter), *Segment.apply_style(line.render(console), fill)]
        return Strip(segments).adjust_cell_length(width, fill)

    def _style(self, component: str) -> Style:
        return self.get_component_rich_style(component, partial=True, default=Style())

    def on_resize(self, event: events.Resize) -> None:
        if self.scrollable_content_region.width != self._laid_out_width:
            self._layout()

    def watch_show_vertical_scrollbar(self, shown: bool) -> None:
        """A scrollbar that comes (a long thread after a short one) or goes narrows or widens
        the text without resizing the view: no Resize event says so, and the lines, wrapped
        for the width before, lost their last cells under it. Wrap again once it is drawn."""
        self.call_after_refresh(self._fit_width)

    def _fit_width(self) -> None:
        width = self.scrollable_content_region.width
        if width <= 0 or width == self._laid_out_width or self._laid_out_width < 0:
            return
        at_end = self.scroll_y >= self.max_scroll_y
        self._layout()
        if at_end:
            self.scroll_to(
                y=max(0, len(self._lines) - self.size.height), animate=False, immediate=True
            )

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if self._laid_out_width > 0:
            self._layout()
