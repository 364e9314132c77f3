"""The composer: reply, reply-all, forward or internal note on one ticket, saved as it is typed.

Everything it does goes through desk.replies (by way of tui.replying) in worker threads,
one call at a time in the order asked: the job queue below. Each call first writes the
fields changed since the last save in the same transaction, so the draft in the store is
never behind what a preview or a send used, and a refused send (a collision, a bad address)
leaves the changes unsaved for the next save rather than lost. Typing starts a timer; when
it fires (AUTOSAVE_SECONDS later, however fast the agent types) the changes are saved, so a
crash loses at most that much. Closing the composer keeps the draft; `r` on the ticket
resumes it.

Text that came from mail (the quoted original, the subject, names in addresses, canned
replies filled with the customer's details) is made inert before it is shown.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App, SuspendNotSupported
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Button, Input, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from supportdesk.dates import clock
from supportdesk.desk.replies import (
    MAX_ATTACHMENT_BYTES,
    Arrived,
    CollisionError,
    DraftView,
    Preview,
    Queued,
)
from supportdesk.errors import SupportdeskError, ValidationError
from supportdesk.i18n import N_, _, ngettext
from supportdesk.text import inert, one_line
from supportdesk.tui import mentions
from supportdesk.tui.bindings import bindings
from supportdesk.tui.format import macro_words, size, status_label
from supportdesk.tui.replying import Context, Replying
from supportdesk.tui.screens.modals import ConfirmScreen, PickScreen
from supportdesk.tui.widgets.editor import Editor
from supportdesk.tui.widgets.fields import Field
from supportdesk.tui.widgets.footer import TranslatedFooter

AUTOSAVE_SECONDS = 0.5
KIND_LABELS = {
    "reply": N_("Reply"),
    "reply_all": N_("Reply all"),
    "forward": N_("Forward"),
    "note": N_("Internal note"),
}
"""English message ids: translate with `_()` where shown."""
KEEP = "keep"


def kind_title(kind: str, number: int) -> str:
    what = {
        "reply": _("Reply to the requester"),
        "reply_all": _("Reply to everyone"),
        "forward": _("Forward"),
        "note": _("Internal note (agents only, never mailed)"),
    }
    return f"{what.get(kind, kind)} · #{number}"


# -- $EDITOR


def editor_command(environ: Mapping[str, str] | None = None) -> list[str]:
    """The agent's editor: $VISUAL, else $EDITOR, else vi, split as a shell would."""
    env = os.environ if environ is None else environ
    command = env.get("VISUAL") or env.get("EDITOR") or "vi"
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ValidationError(
            _("cannot read the editor command {command}: {error}").format(
                command=repr(command), error=exc
            )
        ) from None
    if not argv:
        raise ValidationError(_("$VISUAL/$EDITOR is empty"))
    return argv


def edit_text(app: App[Any], text: str) -> str:
    """Run the agent's editor on `text` and return what they saved.

    The console suspends while the editor has the terminal and resumes after it. Where the
    driver cannot suspend (no terminal: the headless driver of tests), the editor runs
    without it, so the same path is what the tests exercise.
    """
    argv = editor_command()
    folder = tempfile.mkdtemp(prefix="supportdesk-")
    path = Path(folder) / "reply.txt"
    try:
        path.write_text(text, encoding="utf-8")

        def run() -> int:
            try:
                return subprocess.run([*argv, str(path)], check=False).returncode
            except OSError as exc:
                raise ValidationError(
                    _("cannot run the editor {editor}: {error}; set $VISUAL or $EDITOR").format(
                        editor=repr(argv[0]), error=exc.strerror or exc
                    )
                ) from None

        try:
            with app.suspend():
                code = run()
        except SuspendNotSupported:
            code = run()
        if code != 0:
            raise ValidationError(
                _("the editor {editor} exited with {code}; text unchanged").format(
                    editor=repr(argv[0]), code=code
                )
            )
        return path.read_text(encoding="utf-8", errors="replace")
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
            os.rmdir(folder)


# -- small dialogs of the composer


def arrived_text(arrived: list[Arrived]) -> Text:
    text = Text()
    for item in arrived:
        text.append(f"{clock(item.at)}  ", style="dim")
        text.append(one_line(item.describe(), 200) + "\n")
    return text


class CollisionScreen(ModalScreen[str | None]):
    """What arrived while the agent wrote; send anyway, or revise (go back and read)."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("collision")

    def __init__(self, number: int, arrived: list[Arrived]) -> None:
        super().__init__()
        self.number = number
        self.arrived = arrived

    def compose(self) -> Iterator[Widget]:
        with Vertical(classes="dialog collision-dialog"):
            yield Label(
                Text(
                    _("#{number} changed while you wrote; nothing was sent").format(
                        number=self.number
                    )
                ),
                classes="dialog-title",
            )
            with VerticalScroll(id="collision-list"):
                yield Static(arrived_text(self.arrived), id="collision-arrived")
            yield Label(
                Text(_("s sends anyway · r revises (your draft stays; read the thread first)")),
                classes="dialog-hint",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Send anyway (s)"), id="send", variant="warning")
                yield Button(_("Revise (r)"), id="revise", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#revise", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id)

    def action_choose(self, what: str) -> None:
        self.dismiss(what)

    def action_cancel(self) -> None:
        self.dismiss(None)


def preview_text(preview: Preview) -> Text:
    text = Text()
    for name, value in preview.headers:
        text.append(f"{one_line(name)}: ", style="bold")
        text.append(one_line(value, 400) + "\n")
    if preview.bcc:
        text.append("Bcc: ", style="bold").append(one_line(", ".join(preview.bcc), 400) + "\n")
    recipients = len(preview.envelope)
    through = ngettext(
        "sent through {mailbox} to {count} recipient · {size}",
        "sent through {mailbox} to {count} recipients · {size}",
        recipients,
    ).format(mailbox=one_line(preview.mailbox), count=recipients, size=size(preview.size))
    text.append("\n" + through + "\n", style="dim")
    text.append("\n")
    text.append(inert(preview.text.rstrip("\n")) + "\n")
    for filename, content_type, count in preview.attachments:
        text.append("\n📎 ").append(one_line(filename or _("(unnamed)"), 80), style="underline")
        text.append(f"  {one_line(content_type, 60)}, {size(count)}", style="dim")
    return text


class PreviewScreen(ModalScreen[None]):
    """The exact mail the draft makes, read back from its bytes."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("preview")

    def __init__(self, preview: Preview) -> None:
        super().__init__()
        self.preview = preview

    def compose(self) -> Iterator[Widget]:
        with Vertical(classes="dialog preview-dialog"):
            yield Label(
                Text(_("Preview: what the customer's mail client will show")),
                classes="dialog-title",
            )
            with VerticalScroll(id="preview-scroll"):
                yield Static(preview_text(self.preview), id="preview-text")
            yield Label(Text(_("esc returns to the composer")), classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#preview-scroll").focus()

    def action_close(self) -> None:
        self.dismiss(None)


class AttachmentList(OptionList):
    """The draft's attachments with their sizes; the remove key drops the highlighted one."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("attachments")

    @dataclass
    class Remove(Message):
        attachment_id: int

    def action_remove(self) -> None:
        if self.highlighted is None:
            return
        option_id = self.get_option_at_index(self.highlighted).id
        if option_id is not None:
            self.post_message(self.Remove(int(option_id)))


# -- the composer


@dataclass
class _Job:
    call: Callable[[dict[str, Any]], object]
    then: Callable[[Any], None] | None = None
    failed: Callable[[SupportdeskError], bool] | None = None
    """Handles an error itself (True) or lets the composer say it (False)."""


@dataclass
class _JobDone(Message, bubble=False):
    job: _Job
    snapshot: dict[str, Any]
    result: object = None
    error: SupportdeskError | None = None


@dataclass
class Sent:
    """What the composer was closed with: the send it queued, or None (kept as a draft)."""

    queued: Queued | None = None
    discarded: bool = False
    number: int = 0


class ComposerScreen(Screen[Sent]):
    """Write and send one reply, reply-all, forward or note; see the module docstring."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("composer")

    def __init__(
        self, replying: Replying, context: Context, *, handles: Sequence[str] = ()
    ) -> None:
        """`handles` are the agents `@` completes to while the draft is a note."""
        super().__init__()
        self.replying = replying
        self.context = context
        self.handles = list(handles)
        self.offered: mentions.Offer | None = None
        self.draft: DraftView = context.draft
        self.number = context.draft.ticket_number
        self.quote_unfolded = False
        self._saved: dict[str, Any] = {}
        self._jobs: deque[_Job] = deque()
        self._busy = False
        self._timer: Timer | None = None
        self._finished = False
        self._status = ""
        self._latest: dict[str, Any] | None = None
        """What was on screen at the last change: the widgets are gone by the unmount."""

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> Iterator[Widget]:
        with Vertical(id="composer"):
            yield Static(id="composer-title")
            yield Static(id="composer-from")
            with Horizontal(classes="composer-field", id="row-to"):
                yield Label(_("To"), classes="composer-label", id="label-to")
                yield Field(id="composer-to", placeholder=_("name <address>, …"))
            with Horizontal(classes="composer-field", id="row-cc"):
                yield Label(_("Cc"), classes="composer-label", id="label-cc")
                yield Field(id="composer-cc", placeholder=_("(nobody)"))
            with Horizontal(classes="composer-field", id="row-subject"):
                yield Label(_("Subject"), classes="composer-label", id="label-subject")
                yield Field(id="composer-subject")
            yield Editor(id="composer-body", soft_wrap=True, show_line_numbers=False)
            yield Static(id="composer-signature")
            yield Static(id="composer-original")
            yield AttachmentList(id="composer-attachments")
            yield Static(id="composer-status")
        yield TranslatedFooter()

    def on_mount(self) -> None:
        self._fill(self.draft, force=True)
        self._show_context()
        body = self.query_one("#composer-body", TextArea)
        if self.draft.kind == "forward" and not self.draft.to:
            self.query_one("#composer-to", Input).focus()
        else:
            body.focus()
            body.move_cursor(body.document.end)
        self._say(_("draft resumed") if self.draft.body else _("new draft, saved as you type"))

    @property
    def body(self) -> TextArea:
        return self.query_one("#composer-body", TextArea)

    def _fields(self) -> dict[str, Input]:
        return {
            "to": self.query_one("#composer-to", Input),
            "cc": self.query_one("#composer-cc", Input),
            "subject": self.query_one("#composer-subject", Input),
        }

    def _snapshot(self) -> dict[str, Any]:
        """What is on screen, as save_draft's fields."""
        values: dict[str, Any] = {k: w.value for k, w in self._fields().items()}
        values["body"] = self.body.text
        values["quote_original"] = self.draft.quote_original
        values["attach_original"] = self.draft.attach_original
        return values

    @staticmethod
    def _stored(draft: DraftView) -> dict[str, Any]:
        return {
            "to": draft.to,
            "cc": draft.cc,
            "subject": draft.subject,
            "body": draft.body,
            "quote_original": draft.quote_original,
            "attach_original": draft.attach_original,
        }

    def _fill(
        self, draft: DraftView, *, force: bool = False, sent: dict[str, Any] | None = None
    ) -> None:
        """Show `draft`. Where the agent typed since `sent` was taken, their text stays."""
        stored = self._stored(draft)
        now = self._snapshot() if not force else {}
        self.draft = draft
        widgets: dict[str, Input | TextArea] = {**self._fields(), "body": self.body}
        for key, widget in widgets.items():
            shown = one_line(stored[key]) if key != "body" else inert(stored[key])
            self._saved[key] = stored[key]
            if force or sent is None or now.get(key) == sent.get(key):
                if isinstance(widget, Input):
                    if widget.value != shown:
                        widget.value = shown
                elif widget.text != shown:
                    widget.load_text(shown)
        self._saved["quote_original"] = draft.quote_original
        self._saved["attach_original"] = draft.attach_original
        self._show_attachments()

    def _show_context(self) -> None:
        kind = self.draft.kind
        note = kind == "note"
        self.query_one("#composer-title", Static).update(
            Text(
                kind_title(kind, self.number) + "  ·  " + one_line(self.context.ticket_subject, 100)
            )
        )
        sender = Text()
        if not note:
            sender.append(_("From") + " ", style="dim").append(one_line(self.context.sender, 200))
            sender.append("   ")
        sender.append(
            _("ticket is {status}").format(status=status_label(self.context.status)), style="dim"
        )
        if self.draft.canned:
            sender.append(
                "   " + _("canned: {name}").format(name=one_line(self.draft.canned, 60)),
                style="dim",
            )
            if self.draft.language:
                sender.append(f" ({one_line(self.draft.language, 10)})", style="dim")
        self.query_one("#composer-from", Static).update(sender)
        for row in ("#row-to", "#row-cc", "#row-subject"):
            self.query_one(row).display = not note
        signature = self.query_one("#composer-signature", Static)
        signature.display = not note and bool(self.context.signature.strip())
        signature.update(Text("-- \n" + inert(self.context.signature.strip("\n")), style="dim"))
        self._show_original()

    def _show_original(self) -> None:
        widget = self.query_one("#composer-original", Static)
        original = self.context.original
        kind = self.draft.kind
        if kind == "note" or not original.strip():
            widget.display = False
            return
        widget.display = True
        count = len(original.rstrip("\n").split("\n"))
        text = Text(style="dim")
        if kind == "forward" and self.draft.attach_original:
            text.append("▸ " + _("original attached as a message (ctrl+o puts it inline instead)"))
        elif kind != "forward" and not self.draft.quote_original:
            text.append(
                "▹ "
                + ngettext(
                    "original not quoted ({count} line; ctrl+o quotes it)",
                    "original not quoted ({count} lines; ctrl+o quotes it)",
                    count,
                ).format(count=count)
            )
        elif self.quote_unfolded:
            text.append("▾ " + _("quoted original (ctrl+b folds it, ctrl+o leaves it out)") + "\n")
            text.append(inert(original.rstrip("\n")))
        elif kind == "forward":
            text.append(
                "▸ "
                + ngettext(
                    "forwarded inline ({count} line; ctrl+b shows it, ctrl+o leaves it out)",
                    "forwarded inline ({count} lines; ctrl+b shows it, ctrl+o leaves it out)",
                    count,
                ).format(count=count)
            )
        else:
            text.append(
                "▸ "
                + ngettext(
                    "quoted original ({count} line; ctrl+b shows it, ctrl+o leaves it out)",
                    "quoted original ({count} lines; ctrl+b shows it, ctrl+o leaves it out)",
                    count,
                ).format(count=count)
            )
        widget.update(text)

    def _show_attachments(self) -> None:
        listing = self.query_one("#composer-attachments", AttachmentList)
        listing.set_options(
            Option(
                Text(
                    f"📎 {one_line(a.filename, 80)}  {one_line(a.content_type, 40)}, {size(a.size)}"
                ),
                id=str(a.id),
            )
            for a in self.draft.attachments
        )
        listing.display = bool(self.draft.attachments)
        total = self.draft.attachments_size
        listing.border_title = (
            _("{count} attached, {size} (del removes)").format(
                count=len(self.draft.attachments), size=size(total)
            )
            if self.draft.attachments
            else ""
        )

    def relabel(self) -> None:
        """Draw the composer again in the current language; what is typed stays."""
        self.query_one("#label-to", Label).update(_("To"))
        self.query_one("#label-cc", Label).update(_("Cc"))
        self.query_one("#label-subject", Label).update(_("Subject"))
        self.query_one("#composer-to", Input).placeholder = _("name <address>, …")
        self.query_one("#composer-cc", Input).placeholder = _("(nobody)")
        self._show_context()
        self._show_attachments()

    def _say(self, message: str) -> None:
        self._status = message
        self.query_one("#composer-status", Static).update(Text(message, style="dim"))

    # -- the job queue -----------------------------------------------------------------------

    def _unsaved(self, snapshot: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in snapshot.items() if self._saved.get(k) != v}

    def _run(
        self,
        call: Callable[[dict[str, Any]], object],
        then: Callable[[Any], None] | None = None,
        failed: Callable[[SupportdeskError], bool] | None = None,
    ) -> None:
        self._jobs.append(_Job(call, then, failed))
        self._pump()

    def _pump(self) -> None:
        if self._busy or not self._jobs:
            return
        job = self._jobs.popleft()
        self._busy = True
        snapshot = self._snapshot()
        self._work(job, snapshot, self._unsaved(snapshot))

    @work(thread=True, group="composer")
    def _work(self, job: _Job, snapshot: dict[str, Any], changes: dict[str, Any]) -> None:
        try:
            result = job.call(changes)
        except SupportdeskError as exc:
            self.post_message(_JobDone(job, snapshot, error=exc))
        else:
            self.post_message(_JobDone(job, snapshot, result=result))

    def on__job_done(self, message: _JobDone) -> None:
        self._busy = False
        if message.error is None:
            self._saved.update(message.snapshot)
            if message.job.then is not None:
                message.job.then(message.result)
        else:
            handled = message.job.failed is not None and message.job.failed(message.error)
            if not handled:
                self.notify(str(message.error), title=_("Composer"), severity="error", markup=False)
                self._say(one_line(str(message.error), 200))
            if self._unsaved(self._snapshot()):
                self._touch()
        self._pump()

    # -- saving ------------------------------------------------------------------------------

    @on(Input.Changed)
    @on(TextArea.Changed)
    def _changed(self) -> None:
        self._touch()

    @on(TextArea.Changed, "#composer-body")
    @on(TextArea.SelectionChanged, "#composer-body")
    def _offer_mentions(self) -> None:
        """In a note, the agents an `@` being typed could mean, on the status line."""
        was = self.offered
        self.offered = (
            mentions.offer(self.body, self.handles) if self.draft.kind == "note" else None
        )
        if self.offered is not None:
            self._say(self.offered.text())
        elif was is not None:
            self._say("")

    def action_complete(self) -> None:
        """Tab: complete the `@handle` being typed in a note, else move to the next field."""
        if self.offered is not None and self.body.has_focus:
            mentions.complete(self.body, self.offered)
        else:
            self.focus_next()

    def _touch(self) -> None:
        self._latest = self._snapshot()
        if self._timer is None and not self._finished:
            self._timer = self.set_timer(AUTOSAVE_SECONDS, self._autosave)

    def _autosave(self) -> None:
        self._timer = None
        if self._finished or not self._unsaved(self._snapshot()):
            return
        draft_id = self.draft.id

        def saved(_result: object) -> None:
            self._say(_("draft saved"))

        self._run(lambda changes: self.replying.save(draft_id, changes), saved)

    @property
    def has_unsaved(self) -> bool:
        return bool(self._unsaved(self._snapshot()))

    def on_unmount(self) -> None:
        """The console is closing under the composer (quit): save what the timer has not."""
        if self._finished or self._latest is None:
            return
        changes = self._unsaved(self._latest)
        if changes:
            with contextlib.suppress(SupportdeskError):
                self.replying.save(self.draft.id, changes)

    # -- keys --------------------------------------------------------------------------------

    def action_close(self) -> None:
        """Keep the draft (saved first) and go back to the desk."""
        number = self.number

        def closed(_result: object) -> None:
            self._finished = True
            self.dismiss(Sent(number=number))

        self._run(lambda changes: self.replying.save(self.draft.id, changes), closed)

    def action_discard(self) -> None:
        def confirmed(yes: bool | None) -> None:
            if not yes:
                return
            self._finished = True
            draft_id = self.draft.id

            def gone(_result: object) -> None:
                self.dismiss(Sent(number=self.number, discarded=True))

            def kept(_: SupportdeskError) -> bool:
                self._finished = False
                return False

            self._run(lambda _changes: self.replying.discard(draft_id), gone, kept)

        self.app.push_screen(
            ConfirmScreen(
                _("Throw this draft on #{number} away? It cannot be brought back.").format(
                    number=self.number
                )
            ),
            confirmed,
        )

    def action_kind(self) -> None:
        kinds = list(KIND_LABELS)

        def chosen(kind: str | None) -> None:
            if kind is not None and kind != self.draft.kind:
                self.switch_kind(kind)

        self.app.push_screen(
            PickScreen(
                _("Make this draft a…"),
                kinds,
                current=self.draft.kind,
                labels={kind: _(label) for kind, label in KIND_LABELS.items()},
            ),
            chosen,
        )

    def switch_kind(self, kind: str) -> None:
        draft_id = self.draft.id

        def switched(context: Context) -> None:
            self.context = context
            self._fill(context.draft, sent=sent)
            self._show_context()
            if kind == "note":
                self.body.focus()
            self._say(
                _("now a {kind}; your text is kept").format(kind=_(KIND_LABELS[kind]).lower())
            )

        sent = self._snapshot()
        self._run(lambda changes: self.replying.switch(draft_id, kind, changes), switched)

    def action_original(self) -> None:
        """Quote the original or not (replies); attach it or put it inline (forwards)."""
        if self.draft.kind == "note":
            return
        if self.draft.kind == "forward":
            self.draft = replace(self.draft, attach_original=not self.draft.attach_original)
        else:
            self.draft = replace(self.draft, quote_original=not self.draft.quote_original)
        self._show_original()
        self._touch()

    def action_fold(self) -> None:
        self.quote_unfolded = not self.quote_unfolded
        self._show_original()

    def action_editor(self) -> None:
        try:
            text = edit_text(self.app, self.body.text)
        except ValidationError as exc:
            self.notify(str(exc), title=_("Editor"), severity="error", markup=False)
            return
        if text != self.body.text:
            self.body.load_text(inert(text))
            self.body.move_cursor(self.body.document.end)
            self._say(_("text from the editor"))
        self.body.focus()

    def action_preview(self) -> None:
        if self.draft.kind == "note":
            self.notify(
                _("a note is not mailed: what you see is what agents will read"), markup=False
            )
            return
        draft_id = self.draft.id

        def shown(preview: Preview) -> None:
            self.app.push_screen(PreviewScreen(preview))

        self._run(lambda changes: self.replying.preview(draft_id, changes), shown)

    def action_send(self) -> None:
        note = self.draft.kind == "note"
        stays = status_label(self.context.status)
        if note:
            labels = {KEEP: _("Add note (status stays {status})").format(status=stays)}
            labels |= {
                s: _("Add note and set {status}").format(status=status_label(s))
                for s in self.context.next_statuses
            }
            title = _("Add note — and the status?")
        else:
            labels = {KEEP: _("Send (status stays {status})").format(status=stays)}
            labels |= {
                s: _("Send and set {status}").format(status=status_label(s))
                for s in self.context.next_statuses
            }
            title = _("Send — and the status?")

        def chosen(status: str | None) -> None:
            if status is not None:
                self.send(None if status == KEEP else status)

        self.app.push_screen(PickScreen(title, list(labels), labels=labels), chosen)

    def send(self, status: str | None, *, force: bool = False) -> None:
        draft_id = self.draft.id
        number = self.number

        def queued(result: Queued) -> None:
            self._finished = True
            self.dismiss(Sent(queued=result, number=number))

        def refused(error: SupportdeskError) -> bool:
            if not isinstance(error, CollisionError):
                return False
            self._say(_("not sent: the ticket changed while you wrote"))

            def decided(what: str | None) -> None:
                if what == "send":
                    self.send(status, force=True)
                elif what == "revise":
                    self.revise()

            self.app.push_screen(CollisionScreen(number, error.arrived), decided)
            return True

        self._say(_("sending…"))
        self._run(
            lambda changes: self.replying.send(
                draft_id, {**changes, "status_after": status}, force=force
            ),
            queued,
            refused,
        )

    def revise(self) -> None:
        draft_id = self.draft.id

        def rebased(draft: DraftView) -> None:
            self._fill(draft, sent=sent)
            self._say(
                _("you have seen what arrived: revise, then send again (esc to read the thread)")
            )

        sent = self._snapshot()
        self._run(lambda changes: self.replying.rebase(draft_id, changes), rebased)

    def action_attach(self) -> None:
        from supportdesk.tui.screens.attach import AttachScreen

        def chosen(path: Path | None) -> None:
            if path is not None:
                self.attach(path)

        room = MAX_ATTACHMENT_BYTES - self.draft.attachments_size
        self.app.push_screen(AttachScreen(room=room), chosen)

    def attach(self, path: Path) -> None:
        draft_id = self.draft.id

        def attached(draft: DraftView) -> None:
            self._fill(draft, sent=sent)
            self._say(_("attached {name}").format(name=one_line(path.name, 80)))

        sent = self._snapshot()
        self._run(lambda changes: self.replying.attach(draft_id, path, changes), attached)

    @on(AttachmentList.Remove)
    def _remove(self, message: AttachmentList.Remove) -> None:
        draft_id = self.draft.id
        sent = self._snapshot()

        def removed(draft: DraftView) -> None:
            self._fill(draft, sent=sent)
            self._say(_("attachment removed"))
            if not draft.attachments:
                self.body.focus()

        self._run(
            lambda changes: self.replying.detach(draft_id, message.attachment_id, changes),
            removed,
        )

    def action_canned(self) -> None:
        from supportdesk.tui.data import CannedLoader
        from supportdesk.tui.screens.canned_picker import CannedChoice, CannedPickerScreen

        source = CannedLoader(self.replying.store, self.number, self.replying.actor)

        def chosen(choice: CannedChoice | None) -> None:
            if choice is not None:
                self.use_canned(choice.name, choice.language)

        self.app.push_screen(CannedPickerScreen(source, language=self.draft.language), chosen)

    def use_canned(self, name: str, language: str | None) -> None:
        draft_id = self.draft.id

        def filled(rendered: Any) -> None:
            self.body.insert(inert(rendered.text))
            self.draft = replace(self.draft, canned=rendered.name, language=rendered.language)
            self._show_context()
            macro = macro_words(rendered.status, rendered.priority, rendered.tags)
            also = _("; with the send: {changes}").format(changes=macro) if macro else ""
            said = _("canned {name} ({language})").format(
                name=rendered.name, language=rendered.language
            )
            self._say(one_line(said + also, 200))
            self.body.focus()

        self._run(
            lambda changes: self.replying.use_canned(draft_id, name, language, changes), filled
        )
