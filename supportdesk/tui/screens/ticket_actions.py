"""Every change an agent makes from the desk: keys, the dialogs they open, the write worker.

The keys act on the ticket under the list's cursor, whether the list or the thread has the
focus. With tickets selected (space), the ones that make sense in bulk act on the selection
instead, after a confirmation that says how many. Each change carries the version of the
ticket the agent was looking at, so a change made by someone else meanwhile is refused and
the ticket reloaded rather than silently overwritten.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.binding import BindingType
from textual.message import Message
from textual.screen import Screen

from supportdesk.dates import stamp
from supportdesk.desk.statuses import PRIORITIES, STATUSES, TRANSITIONS
from supportdesk.desk.tags import parse_tags
from supportdesk.desk.views import NoteView, TicketDetail, TicketRow
from supportdesk.errors import ConflictError, SupportdeskError, ValidationError
from supportdesk.i18n import _, ngettext
from supportdesk.text import one_line
from supportdesk.tui import actions
from supportdesk.tui.actions import (
    BULK_OPS,
    AddNote,
    Assign,
    ChangeTags,
    DeleteNote,
    Done,
    EditNote,
    Merge,
    MoveQueue,
    Op,
    SetPriority,
    SetStatus,
)
from supportdesk.tui.bindings import bindings
from supportdesk.tui.data import DeskData
from supportdesk.tui.format import capitalised, kind_label, priority_label, status_label
from supportdesk.tui.widgets.ticket_list import TicketList

if TYPE_CHECKING:
    from supportdesk.tui.replying import Context, Replying
    from supportdesk.tui.screens.composer import Sent

NOBODY = "(nobody)"


@dataclass
class ComposerOpened(Message):
    number: int
    context: Context | None = None
    error: SupportdeskError | None = None


@dataclass
class ActionFinished(Message):
    """A write worker is done: what happened, or why nothing did."""

    numbers: tuple[int, ...]
    op: Op | None = None
    bulk: bool = False
    done: Done | None = None
    undone: Done | None = None
    error: SupportdeskError | None = None


class TicketActionsScreen(Screen[None]):
    """The half of the desk that changes tickets; DeskScreen adds the layout and the reading."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("ticket")

    def __init__(self, data: DeskData) -> None:
        super().__init__()
        self.data = data
        self.current: TicketRow | None = None
        self.detail: TicketDetail | None = None
        self.agents: list[str] = []
        self.queues: list[str] = []
        self.drafts: dict[int | str, str] = {}

    @cached_property
    def replying(self) -> Replying:
        """The composer's calls; made on the first reply, as it loads the whole mail codec."""
        from supportdesk.tui.replying import Replying

        return Replying(self.data.store, self.data.actor)

    @property
    def ticket_list(self) -> TicketList:
        return self.query_one(TicketList)

    def after_change(self, numbers: tuple[int, ...]) -> None:
        """Re-read what a change touched; DeskScreen knows which panes that is."""

    # -- keys --------------------------------------------------------------------------------

    def action_assign_me(self) -> None:
        if not self.data.me:
            self.notify(
                _('set `agent = "your-handle"` in the config to take tickets'),
                severity="error",
                markup=False,
            )
            return
        self._act(Assign(self.data.me))

    def action_assign(self) -> None:
        if not self._ready():
            return
        seen = self._current_unless_bulk()
        self._pick(
            _("Assign to"),
            [*self.agents, NOBODY],
            current=seen.assignee if seen else None,
            labels={NOBODY: _("nobody (unassign)")},
            make=lambda handle: Assign(None if handle == NOBODY else handle),
        )

    def action_status(self) -> None:
        if not self._ready():
            return
        seen = self._current_unless_bulk()
        choices = [s for s in STATUSES if s != "new"]
        if seen is not None:
            choices = [s for s in STATUSES if s in TRANSITIONS[seen.status]]
            if not choices:
                self.notify(
                    _("#{number} is closed: a closed ticket stays closed").format(
                        number=seen.number
                    ),
                    markup=False,
                )
                return
        self._pick(
            _("Status"),
            choices,
            current=seen.status if seen else None,
            make=SetStatus,
            labels={s: status_label(s) for s in choices},
        )

    def action_priority(self) -> None:
        if self._ready():
            seen = self._current_unless_bulk()
            current = seen.priority if seen else None
            self._pick(
                _("Priority"),
                list(PRIORITIES),
                current=current,
                make=SetPriority,
                labels={p: priority_label(p) for p in PRIORITIES},
            )

    def action_move(self) -> None:
        if self._ready():
            seen = self._current_unless_bulk()
            current = seen.queue if seen else None
            self._pick(_("Move to queue"), self.queues, current=current, make=MoveQueue)

    def action_tags(self) -> None:
        from supportdesk.tui.screens.modals import AskScreen

        bulk = bool(self.ticket_list.marked)
        seen = None if bulk else self._seen(need_detail=True)
        if seen is None and not bulk:
            return
        hint = _("names add tags, -name removes one, e.g.  vip billing -spam")
        if seen is not None:
            now = ", ".join(seen[1] or []) or _("none")
            hint = _("now: {tags}").format(tags=now) + "\n" + hint

        def done(answer: str | None) -> None:
            if not answer or not answer.strip():
                return
            typed = parse_tags(answer)
            problem = typed.problem()
            if problem:
                self.notify(problem, title=_("Tags"), severity="warning", markup=False)
            if not typed.empty:
                self._act(ChangeTags(add=typed.add, remove=typed.remove))

        self.app.push_screen(AskScreen(_("Tags"), placeholder="vip -spam", hint=hint), done)

    def action_note(self) -> None:
        from supportdesk.tui.screens.modals import NoteScreen

        seen = self._seen()
        if seen is None:
            return
        number = seen[0].number

        def done(body: str | None) -> None:
            if body is not None:
                self._act(AddNote(body), single=True)

        self.app.push_screen(NoteScreen(number, self.drafts, handles=self.agents), done)

    def _own_notes(self, editing: bool) -> tuple[int, list[NoteView]] | None:
        """The agent's own notes on the ticket under the cursor; a clear word if none.

        Only a note's author may change it (desk.notes refuses anyone else), so the others'
        notes are not offered; saying whose they are tells the agent why.
        """
        seen = self._seen(need_detail=True)
        if seen is None or self.detail is None:
            return None
        number = seen[0].number
        mine = [n for n in self.detail.notes if n.author == self.data.actor]
        if mine:
            return number, mine
        if self.detail.notes:
            authors = ", ".join(sorted({one_line(n.author) for n in self.detail.notes}))
            if editing:
                said = _(
                    "the notes on #{number} are by {authors}: only a note's author can edit it"
                )
            else:
                said = _(
                    "the notes on #{number} are by {authors}: only a note's author can delete it"
                )
            self.notify(
                said.format(number=number, authors=authors), severity="warning", markup=False
            )
        else:
            said = (
                _("#{number} has no notes to edit")
                if editing
                else _("#{number} has no notes to delete")
            )
            self.notify(said.format(number=number), markup=False)
        return None

    def _pick_note(
        self, title: str, notes: list[NoteView], then: Callable[[NoteView], None]
    ) -> None:
        """Go on with the one note, or let the agent pick one of several (newest first)."""
        from supportdesk.tui.screens.modals import PickScreen

        if len(notes) == 1:
            then(notes[0])
            return
        by_id = {str(n.id): n for n in notes}
        labels = {
            str(n.id): f"{stamp(n.created_at)}  {one_line(n.body, 70)}" for n in reversed(notes)
        }

        def chosen(key: str | None) -> None:
            if key is not None:
                then(by_id[key])

        self.app.push_screen(PickScreen(title, list(labels), labels=labels), chosen)

    def action_edit_note(self) -> None:
        from supportdesk.tui.screens.modals import NoteScreen

        found = self._own_notes(editing=True)
        if found is None:
            return
        number, mine = found

        def edit(note: NoteView) -> None:
            def done(body: str | None) -> None:
                if body is not None:
                    self._act(EditNote(note.id, body), single=True)

            self.app.push_screen(
                NoteScreen(
                    number, self.drafts, note_id=note.id, text=note.body, handles=self.agents
                ),
                done,
            )

        self._pick_note(
            _("Edit which of your notes on #{number}?").format(number=number), mine, edit
        )

    def action_delete_note(self) -> None:
        from supportdesk.tui.screens.modals import ConfirmScreen

        found = self._own_notes(editing=False)
        if found is None:
            return
        number, mine = found

        def delete(note: NoteView) -> None:
            def confirmed(yes: bool | None) -> None:
                if yes:
                    self._act(DeleteNote(note.id), single=True)

            self.app.push_screen(
                ConfirmScreen(
                    _(
                        "Delete your note on #{number}: {text}? It leaves the thread; its text "
                        "stays in the ticket's history."
                    ).format(number=number, text=repr(one_line(note.body, 60)))
                ),
                confirmed,
            )

        self._pick_note(
            _("Delete which of your notes on #{number}?").format(number=number), mine, delete
        )

    def action_merge(self) -> None:
        from supportdesk.tui.screens.modals import AskScreen, ConfirmScreen

        seen = self._seen()
        if seen is None:
            return
        number = seen[0].number

        def asked(answer: str | None) -> None:
            if answer is None:
                return
            try:
                target = parse_number(answer)
            except ValidationError as exc:
                self.notify(str(exc), severity="error", markup=False)
                return

            def confirmed(yes: bool | None) -> None:
                if yes:
                    self._act(Merge(target), single=True)

            self.app.push_screen(
                ConfirmScreen(
                    _(
                        "Merge #{number} into #{target}? Its messages, notes and tags move to "
                        "#{target} and #{number} is closed. This cannot be undone."
                    ).format(number=number, target=target)
                ),
                confirmed,
            )

        self.app.push_screen(
            AskScreen(
                _("Merge #{number} into which ticket?").format(number=number),
                placeholder=_("ticket number"),
            ),
            asked,
        )

    def action_reply(self) -> None:
        """The composer on the ticket: the agent's draft whatever its kind, or a new reply."""
        self._start_composer(None)

    def action_reply_all(self) -> None:
        self._start_composer("reply_all")

    def action_forward(self) -> None:
        self._start_composer("forward")

    def action_compose_note(self) -> None:
        self._start_composer("note")

    def _start_composer(self, kind: str | None) -> None:
        from supportdesk.tui.screens.modals import ConfirmScreen

        seen = self._seen()
        if seen is None:
            return
        number = seen[0].number
        replying = self.replying_now(number)
        if not replying:
            self._open_composer(number, kind)
            return

        def answered(anyway: bool | None) -> None:
            if anyway:
                self._open_composer(number, kind)

        names = ", ".join(one_line(a.removeprefix("agent:"), 40) for a in replying)
        self.app.push_screen(
            ConfirmScreen(
                _("{names} already replying to #{number}. Open the composer anyway?").format(
                    names=names, number=number
                )
            ),
            answered,
        )

    def replying_now(self, number: int) -> list[str]:
        """Who else is replying to ticket `number` (the desk knows; see desk.presence)."""
        return []

    def composing(self, number: int | None) -> None:
        """The composer opened on ticket `number`, or closed (None): the desk tells the others."""

    @work(thread=True, exclusive=True, group="composer-open")
    def _open_composer(self, number: int, kind: str | None) -> None:
        try:
            context = self.replying.open(number, kind)
        except SupportdeskError as exc:
            self.post_message(ComposerOpened(number, error=exc))
        else:
            self.post_message(ComposerOpened(number, context))

    def on_composer_opened(self, message: ComposerOpened) -> None:
        if message.context is None:
            self.notify(str(message.error), title=_("Composer"), severity="error", markup=False)
            return
        if self.app.screen is not self:
            return  # the agent went elsewhere meanwhile; the draft is there for next time
        self.composing(message.number)
        from supportdesk.tui.screens.composer import ComposerScreen

        self.app.push_screen(
            ComposerScreen(self.replying, message.context, handles=self.agents), self._composed
        )

    def _composed(self, sent: Sent | None) -> None:
        self.composing(None)
        if sent is None:
            return
        queued = sent.queued
        if queued is not None:
            status = status_label(queued.status)
            if queued.kind == "note":
                said = _("#{number}: note added; status {status}").format(
                    number=queued.ticket_number, status=status
                )
            else:
                who = ", ".join(one_line(r, 60) for r in queued.recipients[:3])
                said = _(
                    "#{number}: {kind} queued to {who} (outbox {id}); the sender delivers it; "
                    "status {status}"
                ).format(
                    number=queued.ticket_number,
                    kind=kind_label(queued.kind),
                    who=who,
                    id=queued.outbox_id,
                    status=status,
                )
            self.notify(said, markup=False)
        elif sent.discarded:
            self.notify(_("#{number}: draft thrown away").format(number=sent.number), markup=False)
        else:
            self.notify(
                _("#{number}: draft kept; r resumes it").format(number=sent.number), markup=False
            )
        self.after_change((sent.number,))

    def action_save_attachments(self) -> None:
        from supportdesk.tui.screens.modals import AskScreen

        seen = self._seen(need_detail=True)
        if seen is None or self.detail is None:
            return
        count = sum(len(m.attachments) for m in self.detail.messages)
        if count == 0:
            self.notify(
                _("#{number} has no attachments").format(number=seen[0].number), markup=False
            )
            return
        number = seen[0].number
        downloads = Path.home() / "Downloads"
        default = str(downloads if downloads.is_dir() else Path.cwd())

        def asked(answer: str | None) -> None:
            if answer is not None:
                self._save_attachments(number, Path(answer.strip() or default))

        question = ngettext(
            "Save {count} attachment of #{number} into which folder?",
            "Save {count} attachments of #{number} into which folder?",
            count,
        ).format(count=count, number=number)
        self.app.push_screen(
            AskScreen(question, placeholder=default),
            asked,
        )

    @work(thread=True, group="files")
    def _save_attachments(self, number: int, folder: Path) -> None:
        try:
            paths = self.data.save_attachments(number, folder)
        except (SupportdeskError, OSError) as exc:
            self.app.call_from_thread(
                self.notify, str(exc), title=_("Not saved"), severity="error", markup=False
            )
        else:
            names = ", ".join(p.name for p in paths)
            self.app.call_from_thread(
                self.notify,
                _("saved into {folder}: {names}").format(folder=folder, names=names),
                title=_("Saved"),
                markup=False,
            )

    def action_undo(self) -> None:
        self._run_undo()

    # -- running -----------------------------------------------------------------------------

    def _seen(self, *, need_detail: bool = False) -> tuple[TicketRow, list[str] | None] | None:
        """The ticket under the cursor as the agent sees it, with its tags if loaded."""
        self.ticket_list.unveil()  # a view still veiled: its rows show before one is acted on
        row = self.current
        if row is None:
            self.notify(_("no ticket selected"), markup=False)
            return None
        if self.detail is not None and self.detail.row.number == row.number:
            return self.detail.row, self.detail.tags
        if need_detail:
            self.notify(
                _("#{number} is still loading; try again in a moment").format(number=row.number),
                markup=False,
            )
            return None
        return row, None

    def _ready(self) -> bool:
        """Whether there is something to act on: a selection, or a ticket under the cursor."""
        self.ticket_list.unveil()
        return bool(self.ticket_list.marked) or self._seen() is not None

    def _current_unless_bulk(self) -> TicketRow | None:
        """The ticket under the cursor as seen, or None when the selection will be acted on."""
        if self.ticket_list.marked:
            return None
        seen = self._seen()
        return seen[0] if seen else None

    def _pick(
        self,
        title: str,
        choices: list[str],
        *,
        current: str | None,
        make: Callable[[str], Op],
        labels: dict[str, str] | None = None,
    ) -> None:
        from supportdesk.tui.screens.modals import PickScreen

        def chosen(value: str | None) -> None:
            if value is not None:
                self._act(make(value))

        self.app.push_screen(PickScreen(title, choices, current=current, labels=labels), chosen)

    def _act(self, op: Op, *, single: bool = False) -> None:
        from supportdesk.tui.screens.modals import ConfirmScreen

        marked = sorted(self.ticket_list.marked)
        if marked and not single and isinstance(op, BULK_OPS):
            count = len(marked)

            def confirmed(yes: bool | None) -> None:
                if yes:
                    self._run_bulk(op, marked)

            self.app.push_screen(
                ConfirmScreen(
                    ngettext(
                        "{action} on {count} selected ticket?",
                        "{action} on {count} selected tickets?",
                        count,
                    ).format(action=capitalised(actions.describe(op)), count=count)
                ),
                confirmed,
            )
            return
        seen = self._seen(need_detail=isinstance(op, ChangeTags))
        if seen is None:
            return
        row, tags = seen
        self._run_one(op, row, tuple(tags or ()))

    @work(thread=True, group="write")
    def _run_one(self, op: Op, row: TicketRow, tags: tuple[str, ...]) -> None:
        numbers = (row.number, op.target) if isinstance(op, Merge) else (row.number,)
        try:
            done = actions.apply_one(self.data, op, row, tags)
        except SupportdeskError as exc:
            self.post_message(ActionFinished(numbers, op, error=exc))
        else:
            self.post_message(ActionFinished(numbers, op, done=done))

    @work(thread=True, group="write")
    def _run_bulk(self, op: Op, numbers: list[int]) -> None:
        try:
            done = actions.apply_many(self.data, op, numbers)
        except SupportdeskError as exc:
            self.post_message(ActionFinished(tuple(numbers), op, bulk=True, error=exc))
        else:
            self.post_message(ActionFinished(tuple(numbers), op, bulk=True, done=done))

    @work(thread=True, group="write")
    def _run_undo(self) -> None:
        try:
            undone = actions.undo_latest(self.data)
        except SupportdeskError as exc:
            self.post_message(ActionFinished((), error=exc))
        else:
            self.post_message(ActionFinished(undone.numbers, undone=undone))

    def on_action_finished(self, message: ActionFinished) -> None:
        if message.error is not None:
            conflict = isinstance(message.error, ConflictError)
            self.notify(
                str(message.error),
                title=_("Changed by someone else") if conflict else _("Not done"),
                severity="error",
                timeout=10,
                markup=False,
            )
            if conflict:
                self.after_change(message.numbers)
            return
        if message.undone is not None:
            self.notify(message.undone.summary, markup=False)
        elif message.done is not None:
            done = message.done
            if message.bulk:
                self.ticket_list.clear_marks()
            if isinstance(message.op, AddNote):
                self.drafts.pop(done.numbers[0], None)
            elif isinstance(message.op, EditNote):
                self.drafts.pop(f"note:{message.op.note_id}", None)
            self.notify(done.summary, markup=False)
        self.after_change(message.numbers)


def parse_number(text: str) -> int:
    """A ticket number typed by a person: digits, with an optional leading #."""
    cleaned = text.strip().lstrip("#")
    if not cleaned.isdigit():
        raise ValidationError(_("{text} is not a ticket number").format(text=repr(text)))
    return int(cleaned)
