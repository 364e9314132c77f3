"""Answering a ticket: drafts, the exact mail they make, and queuing it with the ticket change.

The composer (console), `supportdesk tickets reply` (CLI) and rules all go through here:

    open_draft          open the composer on a ticket: resume the agent's draft or start one
    save_draft          autosave (one UPDATE; cheap enough to call every second)
    add_attachment / add_attachment_file / remove_attachment
    preview_canned      a canned reply filled in for the picker's preview pane
    use_canned          fill in a canned reply (language chosen or detected), remembered on
                        the draft so its macro (status, priority, tags) goes with the send
    preview             the exact bytes that will be sent, and a summary read back from them
    send_draft          queue it (or add the note) in one transaction with the ticket change,
                        after the collision check; CollisionError says what arrived
    discard_draft
    drafts_for_ticket / tickets_with_drafts     the list's draft marker
    queue_reply         the same path without a stored draft (scripts, rules)

Nothing here talks SMTP: queuing writes the message into the ticket's thread and an outbox row
in the same transaction as its event and any status change ("send and set pending"); the
sender (desk.outbox) delivers it later, at most once.

A collision is any message or note that reached the ticket after the version the agent (or
script) last saw, and, when the send changes the status, any status change since. It stops
the send and lists what arrived; `force=True` sends anyway.

Decisions worth knowing: drafts keep attachment bytes in the store (a crash, or a file moved
after attaching, loses nothing, and what is sent is what was attached); first_response_at is
set when the first public reply (reply or reply-all by a person) is queued, the moment the
agent answered; a cancelled one gives it back (see desk.outbox.cancel).
"""

from __future__ import annotations

import contextlib
import mimetypes
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.sql.elements import BindParameter
from sqlmodel import Session, col

from supportdesk.desk import canned, message_ids, tickets
from supportdesk.desk.events import Change
from supportdesk.desk.ingest import UNKNOWN_SENDER
from supportdesk.desk.mailsetup import MAIL_SETUP, Identity, MailSetup
from supportdesk.desk.messages import NewAttachment, NewMessage, add_message
from supportdesk.desk.sla import due
from supportdesk.desk.statuses import check_status
from supportdesk.desk.views import tickets_with_drafts as tickets_with_drafts
from supportdesk.errors import ConflictError, NotFoundError, ValidationError
from supportdesk.i18n import _
from supportdesk.mail import compose
from supportdesk.mail.compose import Address
from supportdesk.mail.filenames import safe_filename
from supportdesk.mail.fingerprint import content_fingerprint
from supportdesk.mail.language import detect_language
from supportdesk.mail.parse import parse_message
from supportdesk.store.models import (
    Agent,
    Customer,
    Draft,
    DraftAttachment,
    Event,
    Message,
    MessageRaw,
    Note,
    OutboxItem,
    Ticket,
    TicketCC,
    table_of,
    utcnow,
)

KINDS = ("reply", "reply_all", "forward", "note")
MAILED = ("reply", "reply_all", "forward")
PUBLIC = ("reply", "reply_all")
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
"""All of one message's attachments together; most providers refuse more."""
COLLIDING = ("message_in", "message_out", "note")
_OUTBOX = table_of(OutboxItem)
_INSERT_OUTBOX = _OUTBOX.insert().returning(_OUTBOX.c.id)
# Built once: the send path runs these on every press of send, and building a statement
# costs about as much as running it on SQLite.
_TICKET_NUMBER: BindParameter[int] = bindparam("number")
_MESSAGE_TICKET: BindParameter[int] = bindparam("ticket_id")
_TICKET_BY_NUMBER = (
    select(Ticket)
    .where(col(Ticket.number) == _TICKET_NUMBER)
    .execution_options(populate_existing=True)
)
_LATEST_IN = (
    select(col(Message.mailbox), col(Message.to_addresses), col(Message.cc_addresses))
    .where(col(Message.ticket_id) == _MESSAGE_TICKET, col(Message.direction) == "in")
    .order_by(col(Message.id).desc())
    .limit(20)
)
_LATEST_FROM_CUSTOMER = (
    select(Message)
    .where(
        col(Message.ticket_id) == _MESSAGE_TICKET,
        col(Message.direction) == "in",
        col(Message.author_agent_id).is_(None),
    )
    .order_by(col(Message.id).desc())
    .limit(1)
)
_LATEST_ANY = (
    select(Message)
    .where(col(Message.ticket_id) == _MESSAGE_TICKET)
    .order_by(col(Message.id).desc())
    .limit(1)
)
_AGENT_BY_HANDLE = select(Agent).where(col(Agent.handle) == bindparam("handle"))


class CollisionError(ConflictError):
    """Something reached the ticket after the version the sender saw; nothing was sent.

    `arrived` lists it (oldest first) so the composer can show it; send again with
    `force=True` to send anyway, or revise and send with the new `version`.
    """

    exit_code = 3

    def __init__(self, number: int, version: int, arrived: list[Arrived]) -> None:
        what = "; ".join(a.describe() for a in arrived[:3])
        more = _(" and {count} more").format(count=len(arrived) - 3) if len(arrived) > 3 else ""
        super().__init__(
            _(
                "ticket #{number} changed since you started (now version {version}): "
                "{what}{more}; nothing was sent: read it, then send again (or force)"
            ).format(number=number, version=version, what=what, more=more)
        )
        self.number = number
        self.version = version
        self.arrived = arrived


@dataclass(frozen=True)
class Arrived:
    """One message, note or status change that came in after the composer's base version."""

    kind: str  # "message_in", "message_out", "note" or "status"
    at: datetime
    who: str
    summary: str
    version: int

    def describe(self) -> str:
        if self.kind == "status":
            return _("status set to {status} by {who}").format(status=self.summary, who=self.who)
        label = {
            "message_in": _("mail from {who}: {summary}"),
            "message_out": _("a reply by {who}: {summary}"),
            "note": _("a note by {who}: {summary}"),
        }.get(self.kind, self.kind + " {who}: {summary}")
        return label.format(who=self.who, summary=self.summary)


# -- who replies are sent as


def setup_of(session: Session) -> MailSetup:
    """The MailSetup the store was opened with (see Store.info), or an empty one."""
    found = session.info.get(MAIL_SETUP)
    return found if isinstance(found, MailSetup) else MailSetup()


def identity_for(session: Session, ticket: Ticket, setup: MailSetup) -> Identity:
    """The mailbox that answers `ticket`: the one its latest mail came in through, else the
    one it was addressed to, else the first mailbox that can send."""
    if not setup.identities:
        raise ValidationError(
            _(
                "no mailbox can send replies: give one [[mailboxes]] entry "
                "an smtp_host in config.toml (see `supportdesk config path`)"
            )
        )
    rows = session.connection().execute(_LATEST_IN, {"ticket_id": ticket.id}).all()
    for mailbox, _to, _cc in rows:
        found = setup.identity(mailbox)
        if found is not None:
            return found
    for _mailbox, to, cc in rows:
        written_to = {a.lower() for a in _plain_addresses(f"{to}, {cc}")}
        for identity in setup.identities:
            if identity.aliases & written_to:
                return identity
    return setup.identities[0]


def _plain_addresses(text: str) -> list[str]:
    import email.utils

    return [a for _n, a in email.utils.getaddresses([text]) if "@" in a]


# -- views


@dataclass(frozen=True)
class DraftAttachmentView:
    id: int
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class DraftView:
    """A draft as the composer shows it; addresses are the text as typed."""

    id: int
    ticket_number: int
    author: str
    kind: str
    to: str
    cc: str
    bcc: str
    subject: str
    body: str
    quote_original: bool
    attach_original: bool
    in_reply_to_id: int | None
    canned: str | None
    language: str | None
    status_after: str | None
    base_version: int
    updated_at: datetime
    attachments: list[DraftAttachmentView] = field(default_factory=list)

    @property
    def attachments_size(self) -> int:
        return sum(a.size for a in self.attachments)


@dataclass(frozen=True)
class DraftSummary:
    id: int
    author: str
    kind: str
    updated_at: datetime
    preview: str


def _view(session: Session, draft: Draft, number: int) -> DraftView:
    attachments = [
        DraftAttachmentView(id_, filename, content_type, size)
        for id_, filename, content_type, size in session.execute(
            select(
                col(DraftAttachment.id),
                col(DraftAttachment.filename),
                col(DraftAttachment.content_type),
                col(DraftAttachment.size),
            )
            .where(col(DraftAttachment.draft_id) == draft.id)
            .order_by(col(DraftAttachment.id))
        )
    ]
    return DraftView(
        id=draft.id,  # type: ignore[arg-type]
        ticket_number=number,
        author=draft.author,
        kind=draft.kind,
        to=draft.to_addresses,
        cc=draft.cc_addresses,
        bcc=draft.bcc_addresses,
        subject=draft.subject,
        body=draft.body,
        quote_original=draft.quote_original,
        attach_original=draft.attach_original,
        in_reply_to_id=draft.in_reply_to_id,
        canned=draft.canned,
        language=draft.language,
        status_after=draft.status_after,
        base_version=draft.base_version,
        updated_at=draft.updated_at,
        attachments=attachments,
    )


# -- what a reply answers


def answered_message(session: Session, ticket: Ticket, message_id: int | None) -> Message | None:
    """The message being answered: the one chosen, else the latest from the customer side,
    else the latest of any."""
    if message_id is not None:
        message = session.get(Message, message_id)
        if message is None or message.ticket_id != ticket.id:
            raise NotFoundError(
                _("ticket #{number} has no message {message_id}").format(
                    number=ticket.number, message_id=message_id
                )
            )
        return message
    found = session.scalars(_LATEST_FROM_CUSTOMER, {"ticket_id": ticket.id}).first()
    if found is None:
        found = session.scalars(_LATEST_ANY, {"ticket_id": ticket.id}).first()
    return found


def _requester(session: Session, ticket: Ticket) -> Customer:
    customer = session.get(Customer, ticket.requester_id)
    if customer is None:  # pragma: no cover - a foreign key guarantees it
        raise NotFoundError(_("ticket #{number} has no requester").format(number=ticket.number))
    return customer


def default_recipients(
    session: Session, ticket: Ticket, kind: str, setup: MailSetup, answered: Message | None
) -> tuple[list[Address], list[Address]]:
    """(to, cc) a new draft of `kind` starts with.

    Reply: the requester. Reply-all: the requester, and everyone else on the message being
    answered and on the ticket's CC list, never our own addresses or agents. Forward: nobody.
    """
    if kind not in PUBLIC:
        return [], []
    customer = _requester(session, ticket)
    to: list[Address] = []
    if customer.email != UNKNOWN_SENDER:
        with contextlib.suppress(compose.ComposeError):
            to.append(compose.address(customer.name, customer.email))
    if kind == "reply":
        return to, []
    ours = setup.own_addresses | {
        e.lower() for e in session.execute(select(col(Agent.email))).scalars()
    }
    seen = {a.address.lower() for a in to} | ours
    cc: list[Address] = []
    candidates: list[str] = []
    if answered is not None:
        candidates += [answered.from_address, answered.to_addresses, answered.cc_addresses]
    candidates += list(
        session.execute(
            select(col(TicketCC.email)).where(col(TicketCC.ticket_id) == ticket.id)
        ).scalars()
    )
    import email.utils

    for name, addr in email.utils.getaddresses(candidates):
        try:
            checked = compose.address(name, addr)
        except compose.ComposeError:
            continue
        if checked.address.lower() not in seen:
            seen.add(checked.address.lower())
            cc.append(checked)
    return to, cc


def customer_language(session: Session, number: int) -> str | None:
    """The language the requester writes in, read from their latest mail on this ticket."""
    ticket = tickets.get_ticket(session, number)
    row = session.execute(
        select(col(MessageRaw.raw))
        .join(Message, col(Message.id) == col(MessageRaw.message_id))
        .where(
            col(Message.ticket_id) == ticket.id,
            col(Message.direction) == "in",
            col(Message.author_agent_id).is_(None),
        )
        .order_by(col(Message.id).desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    parsed = parse_message(bytes(row[0]))
    return detect_language(parsed.headers, parsed.text, parsed.subject)


# -- drafts


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValidationError(
            _("unknown kind {kind!r}; expected one of {kinds}").format(
                kind=kind, kinds=", ".join(KINDS)
            )
        )
    return kind


def _subject_for(kind: str, ticket: Ticket) -> str:
    if kind == "forward":
        return compose.forward_subject(ticket.subject, ticket.number)
    if kind == "note":
        return ""
    return compose.reply_subject(ticket.subject, ticket.number)


def _draft(session: Session, draft_id: int, author: str) -> tuple[Draft, Ticket]:
    draft = session.get(Draft, draft_id, populate_existing=True)
    if draft is None or draft.author != author:
        raise NotFoundError(
            _("no draft {draft_id} of {author}").format(draft_id=draft_id, author=author)
        )
    ticket = session.get(Ticket, draft.ticket_id)
    assert ticket is not None
    return draft, ticket


def open_draft(
    session: Session,
    number: int,
    author: str,
    setup: MailSetup,
    *,
    kind: str | None = None,
    in_reply_to_id: int | None = None,
) -> DraftView:
    """The composer's draft for `author` on ticket `number`: resumed when one exists, else
    started with the recipients, subject and language of `kind` (default "reply").

    Resuming keeps everything typed; asking for another `kind` switches it (see
    `switch_kind`). The base version is the ticket's version now, for a new draft; a
    resumed draft keeps the version it was started on, so what arrived meanwhile still
    stops the send.
    """
    ticket = tickets.get_ticket(session, number)
    draft = session.scalars(
        select(Draft).where(col(Draft.ticket_id) == ticket.id, col(Draft.author) == author)
    ).first()
    if draft is not None:
        if kind is not None and kind != draft.kind:
            return switch_kind(session, draft.id, author, kind, setup)  # type: ignore[arg-type]
        return _view(session, draft, ticket.number)
    kind = _check_kind(kind or "reply")
    answered = answered_message(session, ticket, in_reply_to_id)
    to, cc = default_recipients(session, ticket, kind, setup, answered)
    language = customer_language(session, number)
    now = utcnow()
    draft = Draft(
        ticket_id=ticket.id,  # type: ignore[arg-type]
        author=author,
        kind=kind,
        to_addresses=compose.format_addresses(to),
        cc_addresses=compose.format_addresses(cc),
        subject=_subject_for(kind, ticket),
        quote_original=setup.quote_original and kind in PUBLIC,
        attach_original=True,
        in_reply_to_id=answered.id if answered is not None else None,
        language=language,
        base_version=ticket.version,
        created_at=now,
        updated_at=now,
    )
    session.add(draft)
    session.flush()
    return _view(session, draft, ticket.number)


def switch_kind(
    session: Session, draft_id: int, author: str, kind: str, setup: MailSetup
) -> DraftView:
    """Turn a reply into a reply-all, forward or note (or back), keeping the text typed.

    Recipients and subject are reset to the new kind's defaults only where they still hold
    the old kind's defaults; anything the agent typed stays.
    """
    draft, ticket = _draft(session, draft_id, author)
    kind = _check_kind(kind)
    if kind == draft.kind:
        return _view(session, draft, ticket.number)
    answered = answered_message(session, ticket, draft.in_reply_to_id)
    old_to, old_cc = default_recipients(session, ticket, draft.kind, setup, answered)
    new_to, new_cc = default_recipients(session, ticket, kind, setup, answered)
    if draft.to_addresses == compose.format_addresses(old_to):
        draft.to_addresses = compose.format_addresses(new_to)
    if draft.cc_addresses == compose.format_addresses(old_cc):
        draft.cc_addresses = compose.format_addresses(new_cc)
    if draft.subject == _subject_for(draft.kind, ticket):
        draft.subject = _subject_for(kind, ticket)
    draft.kind = kind
    draft.updated_at = utcnow()
    session.add(draft)
    session.flush()
    return _view(session, draft, ticket.number)


_SAVED = {
    "to": "to_addresses",
    "cc": "cc_addresses",
    "bcc": "bcc_addresses",
    "subject": "subject",
    "body": "body",
    "quote_original": "quote_original",
    "attach_original": "attach_original",
    "canned": "canned",
    "language": "language",
    "status_after": "status_after",
    "base_version": "base_version",
}


def save_draft(session: Session, draft_id: int, author: str, **changes: Any) -> None:
    """Autosave: write the given fields (to, cc, bcc, subject, body, quote_original,
    attach_original, canned, language, status_after, base_version) in one UPDATE.

    Addresses are kept as typed and checked only at preview and send, so a half-typed
    address never blocks saving. Raises NotFoundError when the draft is gone (sent or
    discarded elsewhere).
    """
    unknown = set(changes) - _SAVED.keys()
    if unknown:
        raise ValidationError(
            _("a draft has no field {unknown}").format(unknown=", ".join(sorted(unknown)))
        )
    status = changes.get("status_after")
    if status is not None:
        check_status(status)
    values = {_SAVED[key]: value for key, value in changes.items()}
    values["updated_at"] = utcnow()
    result = session.execute(
        update(Draft)
        .where(col(Draft.id) == draft_id, col(Draft.author) == author)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise NotFoundError(
            _("no draft {draft_id} of {author} (sent or discarded?)").format(
                draft_id=draft_id, author=author
            )
        )


def get_draft(session: Session, draft_id: int, author: str) -> DraftView:
    draft, ticket = _draft(session, draft_id, author)
    return _view(session, draft, ticket.number)


def add_attachment(
    session: Session,
    draft_id: int,
    author: str,
    filename: str,
    content: bytes,
    content_type: str | None = None,
) -> DraftAttachmentView:
    """Attach bytes to a draft (kept in the store); the total stays under
    MAX_ATTACHMENT_BYTES."""
    draft, _ticket = _draft(session, draft_id, author)
    used = session.execute(
        select(func.coalesce(func.sum(col(DraftAttachment.size)), 0)).where(
            col(DraftAttachment.draft_id) == draft.id
        )
    ).scalar_one()
    if used + len(content) > MAX_ATTACHMENT_BYTES:
        raise ValidationError(
            _(
                "{filename}: attachments would total {value}, over the "
                "{max_attachment_bytes} a message can carry"
            ).format(
                filename=filename,
                value=_size(used + len(content)),
                max_attachment_bytes=_size(MAX_ATTACHMENT_BYTES),
            )
        )
    name = safe_filename(filename)
    kind = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    row = DraftAttachment(
        draft_id=draft.id,  # type: ignore[arg-type]
        filename=name,
        content_type=kind,
        size=len(content),
        content=content,
    )
    session.add(row)
    draft.updated_at = utcnow()
    session.add(draft)
    session.flush()
    return DraftAttachmentView(row.id, row.filename, row.content_type, row.size)  # type: ignore[arg-type]


def check_attachment_file(path: Path, room: int = MAX_ATTACHMENT_BYTES) -> int:
    """The size of the file at `path` (`~` expanded) if it can be attached to a message with
    `room` bytes still free; else a ValidationError that says why in one line: missing, a
    folder, not a plain file, unreadable, or too big. The attachment picker asks before the
    agent leaves it, and `add_attachment_file` asks again when it reads the file."""
    shown = str(path)
    path = path.expanduser()
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ValidationError(_("{shown}: no such file").format(shown=shown)) from None
    except OSError as exc:
        raise ValidationError(
            _("cannot read {shown}: {value}").format(shown=shown, value=exc.strerror or exc)
        ) from None
    if stat.S_ISDIR(info.st_mode):
        raise ValidationError(_("{shown} is a folder: attach a file inside it").format(shown=shown))
    if not stat.S_ISREG(info.st_mode):
        raise ValidationError(_("{shown} is not a plain file").format(shown=shown))
    if info.st_size > room:
        limit = _("the {size} a message can carry").format(size=_size(MAX_ATTACHMENT_BYTES))
        if room < MAX_ATTACHMENT_BYTES:
            limit = _("the {size} left of {limit}").format(size=_size(max(0, room)), limit=limit)
        raise ValidationError(
            _("{shown}: {st_size} is over {limit}").format(
                shown=shown, st_size=_size(info.st_size), limit=limit
            )
        )
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise ValidationError(
            _("cannot read {shown}: {value}").format(shown=shown, value=exc.strerror or exc)
        ) from None
    return info.st_size


def add_attachment_file(
    session: Session, draft_id: int, author: str, path: Path
) -> DraftAttachmentView:
    """Attach a file from disk: its bytes are read now and kept with the draft."""
    check_attachment_file(path)
    path = path.expanduser()
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise ValidationError(
            _("cannot read {path}: {value}").format(path=path, value=exc.strerror or exc)
        ) from None
    return add_attachment(session, draft_id, author, path.name, content)


def remove_attachment(session: Session, draft_id: int, author: str, attachment_id: int) -> None:
    _draft(session, draft_id, author)
    result = session.execute(
        delete(DraftAttachment).where(
            col(DraftAttachment.id) == attachment_id, col(DraftAttachment.draft_id) == draft_id
        )
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise NotFoundError(
            _("draft {draft_id} has no attachment {attachment_id}").format(
                draft_id=draft_id, attachment_id=attachment_id
            )
        )


def discard_draft(session: Session, draft_id: int, author: str) -> None:
    """Throw a draft away with its attachments; nothing is recorded on the ticket."""
    draft, _ticket = _draft(session, draft_id, author)
    session.execute(delete(DraftAttachment).where(col(DraftAttachment.draft_id) == draft.id))
    session.execute(delete(Draft).where(col(Draft.id) == draft.id))


def drafts_for_ticket(session: Session, number: int) -> list[DraftSummary]:
    """Every agent's draft on a ticket, newest first: who is writing what."""
    ticket = tickets.get_ticket(session, number)
    return [
        DraftSummary(d.id, d.author, d.kind, d.updated_at, " ".join(d.body.split())[:80])  # type: ignore[arg-type]
        for d in session.scalars(
            select(Draft)
            .where(col(Draft.ticket_id) == ticket.id)
            .order_by(col(Draft.updated_at).desc())
        )
    ]


def use_canned(
    session: Session,
    draft_id: int,
    author: str,
    name: str,
    *,
    language: str | None = None,
) -> canned.RenderedCanned:
    """Fill in canned reply `name` for the draft's ticket, in `language` (default: the
    draft's language, detected from the customer's mail), and remember it on the draft so
    its macro is applied with the send. The caller puts `.text` where the cursor is.

    Raises ValidationError naming every placeholder the ticket cannot fill.
    """
    draft, ticket = _draft(session, draft_id, author)
    rendered = canned.render_canned_for(
        session, name, ticket, agent_of(session, author), language=language or draft.language
    )
    draft.canned = rendered.name
    draft.language = rendered.language
    draft.updated_at = utcnow()
    session.add(draft)
    session.flush()
    return rendered


def preview_canned(
    session: Session,
    draft_id: int,
    author: str,
    name: str,
    *,
    language: str | None = None,
) -> canned.RenderedCanned:
    """Canned reply `name` filled in for the draft's ticket, for the picker's preview pane:
    like `use_canned`, but the draft is left as it is. ValidationError names the
    placeholders this ticket cannot fill (show it in the pane: the reply cannot be used)."""
    draft, ticket = _draft(session, draft_id, author)
    return canned.render_canned_for(
        session, name, ticket, agent_of(session, author), language=language or draft.language
    )


def agent_of(session: Session, actor: str) -> Agent | None:
    """The agent an actor names, looked up once per transaction."""
    if not actor.startswith("agent:"):
        return None
    cache: dict[str, Agent | None] = session.info.setdefault("reply_agents", {})
    if actor not in cache:
        handle = actor.removeprefix("agent:")
        cache[actor] = session.scalars(_AGENT_BY_HANDLE, {"handle": handle}).first()
    return cache[actor]


# -- building the message


@dataclass
class ReplySpec:
    """Everything one outgoing message or note says, whether from a draft or a script."""

    kind: str
    body: str
    to: str = ""
    cc: str = ""
    bcc: str = ""
    subject: str | None = None
    in_reply_to_id: int | None = None
    quote_original: bool = False
    attach_original: bool = True
    attachments: list[compose.Attachment] = field(default_factory=list)
    canned: str | None = None
    language: str | None = None
    status_after: str | None = None
    base_version: int | None = None
    automatic: bool = False
    signature: bool = True
    thread_copy: Callable[[str], str] | None = None
    """What the thread keeps of the text (and of the raw copy), when it must not keep all of
    it: a rating request's links are the customer's, not for the console (desk.csat)."""


@dataclass(frozen=True)
class Built:
    """A message ready to queue: its bytes and what the thread and the outbox record."""

    raw: bytes
    identity: Identity
    message_id: str
    to: list[Address]
    cc: list[Address]
    bcc: list[Address]
    subject: str
    text: str
    in_reply_to: str
    references: list[str]
    date: datetime
    attachments: list[compose.Attachment]
    answered: Message | None
    thread_raw: bytes | None = None
    """The thread's copy when it differs from what is sent (ReplySpec.thread_copy)."""
    thread_text: str | None = None

    @property
    def envelope(self) -> list[str]:
        """Every recipient, Bcc and (with bcc_self) our own copy included, each once."""
        found = [a.address for a in (*self.to, *self.cc, *self.bcc)]
        if self.identity.bcc_self:
            found.append(self.identity.address)
        return list(dict.fromkeys(found))


def _forward_header(message: Message) -> str:
    sender = (
        f"{message.from_name} <{message.from_address}>"
        if message.from_name
        else message.from_address
    )
    when = message.sent_at or message.received_at
    lines = [
        "---------- Forwarded message ----------",
        f"From: {compose.one_line(sender)}",
        f"Date: {when:%Y-%m-%d %H:%M %Z}".rstrip(),
        f"Subject: {compose.one_line(message.subject)}",
    ]
    if message.to_addresses:
        lines.append(f"To: {compose.one_line(message.to_addresses)}")
    return "\n".join(lines) + "\n\n" + message.body_text.rstrip() + "\n"


def _quoted(message: Message) -> str:
    who = message.from_name or message.from_address
    return compose.quote(message.body_text, who, message.sent_at or message.received_at)


def signature_for(session: Session, setup: MailSetup, author: str) -> str | None:
    """The signature under `author`'s replies: the config's, else the agent's in the store."""
    if setup.signature is not None:
        return setup.signature
    agent = agent_of(session, author)
    return agent.signature if agent else None


def original_of(session: Session, draft_id: int, author: str) -> str:
    """What the draft's original adds below its text when included, for the composer to
    show: the quote of a reply, or the forwarded message of a forward sent inline. Empty for
    a note, or when there is nothing to quote."""
    draft, ticket = _draft(session, draft_id, author)
    if draft.kind == "note":
        return ""
    answered = answered_message(session, ticket, draft.in_reply_to_id)
    if answered is None:
        return ""
    if draft.kind == "forward":
        return _forward_header(answered)
    return _quoted(answered) if answered.body_text.strip() else ""


def _raw_of(session: Session, message: Message) -> bytes:
    raw = session.execute(
        select(col(MessageRaw.raw)).where(col(MessageRaw.message_id) == message.id)
    ).scalar_one_or_none()
    return bytes(raw) if raw is not None else b""


def build_message(
    session: Session,
    ticket: Ticket,
    spec: ReplySpec,
    setup: MailSetup,
    author: str,
    *,
    now: datetime | None = None,
) -> Built:
    """The exact message `spec` makes on `ticket`: headers, text (with signature and the
    quoted or attached original), attachments. Raises ValidationError for anything that
    cannot be sent (no recipient, a bad address, an empty body)."""
    if spec.kind not in MAILED:
        raise ValidationError(_("a note is not mailed: it has no message to preview"))
    to = compose.parse_addresses(spec.to)
    cc = compose.parse_addresses(spec.cc)
    bcc = compose.parse_addresses(spec.bcc)
    if not to and not cc and not bcc:
        raise ValidationError(_("add a recipient (To) first"))
    if not to:
        raise ValidationError(_("a message needs a To recipient"))
    if not spec.body.strip() and not (spec.kind == "forward" and spec.attach_original):
        raise ValidationError(_("the message is empty: write something first"))
    identity = identity_for(session, ticket, setup)
    answered = answered_message(session, ticket, spec.in_reply_to_id)
    signature = None
    if spec.signature and not spec.automatic:
        signature = signature_for(session, setup, author)
    text = compose.with_signature(spec.body, signature)
    forwarded: bytes | None = None
    if answered is not None and spec.kind == "forward":
        if spec.attach_original:
            forwarded = _raw_of(session, answered) or None
        else:
            text = text.rstrip("\n") + "\n\n" + _forward_header(answered)
    elif answered is not None and spec.quote_original and answered.body_text.strip():
        text = text.rstrip("\n") + "\n\n" + _quoted(answered) + "\n"
    in_reply_to = ""
    references: list[str] = []
    if answered is not None and compose.is_message_id(answered.message_id):
        in_reply_to = answered.message_id
        references = [*answered.references.split(), answered.message_id]
    date = (now or utcnow()).replace(microsecond=0)
    domain = identity.address.rpartition("@")[2]
    message_id = message_ids.make_message_id(
        message_ids.threading_key(session), ticket.number, domain
    )
    subject = spec.subject if spec.subject is not None else _subject_for(spec.kind, ticket)
    subject = compose.one_line(subject, compose.MAX_SUBJECT)
    if not subject:
        raise ValidationError(_("the subject is empty"))
    total = sum(len(a.content) for a in spec.attachments)
    if total > MAX_ATTACHMENT_BYTES:
        raise ValidationError(
            _(
                "attachments total {total}, over the {max_attachment_bytes} a message can carry"
            ).format(total=_size(total), max_attachment_bytes=_size(MAX_ATTACHMENT_BYTES))
        )
    outgoing = compose.Outgoing(
        sender=compose.address(identity.name, identity.address),
        to=to,
        cc=cc,
        subject=subject,
        text=text,
        message_id=message_id,
        date=date,
        in_reply_to=in_reply_to,
        references=references,
        charset=identity.charset,
        language=spec.language,
        automatic=spec.automatic,
        attachments=spec.attachments,
        forwarded=forwarded,
    )
    raw = compose.build(outgoing)
    thread_text = thread_raw = None
    if spec.thread_copy is not None:
        thread_text = spec.thread_copy(text)
        thread_raw = compose.build(replace(outgoing, text=thread_text))
    return Built(
        raw=raw,
        thread_raw=thread_raw,
        thread_text=thread_text,
        identity=identity,
        message_id=message_id,
        to=to,
        cc=cc,
        bcc=bcc,
        subject=subject,
        text=text,
        in_reply_to=in_reply_to,
        references=compose.bounded_references(references),
        date=date,
        attachments=list(spec.attachments)
        + (
            [compose.Attachment(outgoing.forwarded_name, "message/rfc822", forwarded)]
            if forwarded
            else []
        ),
        answered=answered,
    )


def _spec_from_draft(session: Session, draft: Draft) -> ReplySpec:
    attachments = [
        compose.Attachment(a.filename, a.content_type, bytes(a.content))
        for a in session.scalars(
            select(DraftAttachment)
            .where(col(DraftAttachment.draft_id) == draft.id)
            .order_by(col(DraftAttachment.id))
        )
    ]
    return ReplySpec(
        kind=draft.kind,
        body=draft.body,
        to=draft.to_addresses,
        cc=draft.cc_addresses,
        bcc=draft.bcc_addresses,
        subject=draft.subject,
        in_reply_to_id=draft.in_reply_to_id,
        quote_original=draft.quote_original,
        attach_original=draft.attach_original,
        attachments=attachments,
        canned=draft.canned,
        language=draft.language,
        status_after=draft.status_after,
        base_version=draft.base_version,
    )


@dataclass(frozen=True)
class Preview:
    """The exact bytes a draft makes, and what a mail client will read from them."""

    raw: bytes
    sender: str
    to: list[str]
    cc: list[str]
    bcc: list[str]
    subject: str
    text: str
    attachments: list[tuple[str, str, int]]
    headers: list[tuple[str, str]]
    envelope: list[str]
    mailbox: str

    @property
    def size(self) -> int:
        return len(self.raw)


_SHOWN_HEADERS = (
    "date",
    "from",
    "to",
    "cc",
    "subject",
    "message-id",
    "in-reply-to",
    "references",
    "auto-submitted",
    "content-language",
    "content-type",
)


def preview(
    session: Session,
    draft_id: int,
    author: str,
    setup: MailSetup,
    *,
    now: datetime | None = None,
) -> Preview:
    """What pressing send would send, read back by our own parser (so the summary is what a
    customer's client sees, not what we meant). The Message-ID and Date are made afresh at
    the send."""
    draft, ticket = _draft(session, draft_id, author)
    built = build_message(session, ticket, _spec_from_draft(session, draft), setup, author, now=now)
    return preview_of(built)


def preview_of(built: Built) -> Preview:
    parsed = parse_message(built.raw)
    return Preview(
        raw=built.raw,
        sender=str(parsed.from_.address if parsed.from_ else ""),
        to=[str(compose.Address(a.name, a.address)) for a in parsed.to],
        cc=[str(compose.Address(a.name, a.address)) for a in parsed.cc],
        bcc=[str(a) for a in built.bcc],
        subject=parsed.subject,
        text=parsed.text,
        attachments=[(a.filename, a.content_type, a.size) for a in parsed.attachments],
        headers=[(n, v) for n, v in parsed.headers if n.lower() in _SHOWN_HEADERS],
        envelope=built.envelope,
        mailbox=built.identity.mailbox,
    )


# -- sending


@dataclass(frozen=True)
class Queued:
    """What one send did: the outbox item (None for a note) and the ticket after it."""

    ticket_number: int
    ticket_version: int
    status: str
    kind: str
    outbox_id: int | None
    message_row_id: int | None
    message_id: str | None
    recipients: list[str]
    note_id: int | None = None

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def arrived_since(
    session: Session, ticket: Ticket, version: int, *, include_status: bool = False
) -> list[Arrived]:
    """Messages and notes (and status changes, when asked) recorded after `version`."""
    actions = [*COLLIDING, "status"] if include_status else list(COLLIDING)
    events = session.scalars(
        select(Event)
        .where(
            col(Event.ticket_id) == ticket.id,
            col(Event.version) > version,
            col(Event.action).in_(actions),
        )
        .order_by(col(Event.id))
    )
    found: list[Arrived] = []
    for event in events:
        summary, who = event.new_value or "", event.actor
        if event.action.startswith("message_") and event.new_value and event.new_value.isdigit():
            message = session.get(Message, int(event.new_value))
            if message is not None:
                who = message.from_name or message.from_address or event.actor
                summary = compose.one_line(message.body_text, 120) or message.subject
        elif event.action == "note" and event.new_value and event.new_value.isdigit():
            note = session.get(Note, int(event.new_value))
            if note is not None:
                who, summary = note.author, compose.one_line(note.body, 120)
        found.append(Arrived(event.action, event.created_at, who, summary, event.version or 0))
    return found


def _check_collision(
    session: Session, ticket: Ticket, base_version: int | None, changes_status: bool, force: bool
) -> None:
    if base_version is None or force or base_version >= ticket.version:
        return
    arrived = arrived_since(session, ticket, base_version, include_status=changes_status)
    if arrived:
        raise CollisionError(ticket.number, ticket.version, arrived)


def queue_reply(
    session: Session,
    number: int,
    spec: ReplySpec,
    setup: MailSetup,
    change: Change,
    *,
    force: bool = False,
    now: datetime | None = None,
) -> Queued:
    """Queue one reply, reply-all or forward (or add one note), with the status chosen and
    the canned reply's macro, all in the caller's transaction.

    The message goes into the thread and the outbox together with its event; nothing is
    sent from here. With `spec.base_version` set, anything that arrived after it raises
    CollisionError unless `force`.
    """
    _check_kind(spec.kind)
    ticket = session.scalars(_TICKET_BY_NUMBER, {"number": number}).first()
    if ticket is None:
        raise NotFoundError(_("no ticket #{number}").format(number=number))
    if ticket.merged_into_id is not None:
        target = session.get(Ticket, ticket.merged_into_id)
        raise ValidationError(
            _("ticket #{number} was merged into #{value}: answer there").format(
                number=number, value=target.number if target else "?"
            )
        )
    macro = canned.definition(canned.get_canned(session, spec.canned)) if spec.canned else None
    status = spec.status_after or (macro.status if macro else None)
    if status is not None:
        check_status(status)
    changes_status = status is not None and status != ticket.status
    _check_collision(session, ticket, spec.base_version, changes_status, force)
    outbox_id = message_row = note_id = None
    message_id: str | None = None
    recipients: list[str] = []
    if spec.kind == "note":
        if not spec.body.strip():
            raise ValidationError(_("a note needs some text"))
        note = tickets.add_note(session, number, spec.body, change)
        note_id = note.id
    else:
        built = build_message(session, ticket, spec, setup, change.actor, now=now)
        message_row, outbox_id = _enqueue(session, ticket, spec, built, change)
        message_id, recipients = built.message_id, built.envelope
    if status is not None:
        tickets.change_status(session, ticket, status, change)
    if macro is not None and macro.priority:
        tickets.set_priority(session, number, macro.priority, change)
    if macro is not None and macro.tags:
        tickets.add_tags(session, number, macro.tags, change)
    # Every change above went through write_ticket, which keeps this object current.
    return Queued(
        ticket_number=ticket.number,
        ticket_version=ticket.version,
        status=ticket.status,
        kind=spec.kind,
        outbox_id=outbox_id,
        message_row_id=message_row,
        message_id=message_id,
        recipients=recipients,
        note_id=note_id,
    )


def _enqueue(
    session: Session, ticket: Ticket, spec: ReplySpec, built: Built, change: Change
) -> tuple[int, int]:
    agent = agent_of(session, change.actor)
    new = NewMessage(
        raw=built.raw if built.thread_raw is None else built.thread_raw,
        # What is sent, so that its copy in the Sent folder is known as this message.
        content_hash=content_fingerprint(built.raw),
        message_id=built.message_id,
        direction="out",
        from_name=built.identity.name,
        from_address=built.identity.address,
        to_addresses=compose.format_addresses(built.to),
        cc_addresses=compose.format_addresses(built.cc),
        subject=built.subject,
        sent_at=built.date,
        body_text=built.text if built.thread_text is None else built.thread_text,
        in_reply_to=built.in_reply_to,
        references=" ".join(built.references),
        is_auto_reply=spec.automatic,
        author_agent_id=agent.id if agent else None,
        mailbox=built.identity.mailbox,
        attachments=[
            NewAttachment(a.filename, a.content_type, a.content) for a in built.attachments
        ],
    )
    public = spec.kind in PUBLIC and not spec.automatic
    message = add_message(session, ticket, new, change, first_response=public)
    if spec.kind in PUBLIC:
        _remember_ccs(session, ticket, built, spec)
    outbox_id = (
        session.connection()
        .execute(
            _INSERT_OUTBOX,
            {
                "ticket_id": ticket.id,
                "message_id": message.id,
                "mailbox": built.identity.mailbox,
                "recipients": "\n".join(built.envelope),
                "raw": built.raw,
                "state": "queued",
                "attempts": 0,
                "last_error": "",
                "kind": "auto" if spec.automatic else spec.kind,
                "envelope_from": built.identity.address,
                "message_id_header": built.message_id,
                "created_at": change.now(),
                "next_attempt_at": change.now(),
            },
        )
        .scalar_one()
    )
    if not public:
        # Stored, the message looked like an answer; its outbox item says it is none, so
        # the next response is still due (desk.sla.due.answers_customer).
        due.refresh_one(session, ticket.id, change.now())  # type: ignore[arg-type]
    return message.id, outbox_id  # type: ignore[return-value]


def _remember_ccs(session: Session, ticket: Ticket, built: Built, spec: ReplySpec) -> None:
    """People the agent copied may answer into the ticket by its subject tag."""
    if not built.cc:
        return
    requester = _requester(session, ticket).email.lower()
    known = set(
        session.execute(
            select(col(TicketCC.email)).where(col(TicketCC.ticket_id) == ticket.id)
        ).scalars()
    )
    for a in built.cc:
        email = a.address.lower()
        if email not in known and email != requester and email != built.identity.address.lower():
            known.add(email)
            session.add(TicketCC(ticket_id=ticket.id, email=email))  # type: ignore[arg-type]


def send_draft(
    session: Session,
    draft_id: int,
    author: str,
    setup: MailSetup,
    *,
    force: bool = False,
    now: datetime | None = None,
    batch_id: str | None = None,
) -> Queued:
    """Queue the draft (or add it as a note) and delete it, in the caller's transaction.

    Raises CollisionError, with what arrived, when the ticket got a message or note after
    the draft's base version (or a status change, when the send sets one); the draft stays.
    """
    draft, ticket = _draft(session, draft_id, author)
    spec = _spec_from_draft(session, draft)
    result = queue_reply(
        session,
        ticket.number,
        spec,
        setup,
        Change.by(author, batch_id),
        force=force,
        now=now,
    )
    discard_draft(session, draft_id, author)
    return result


def rebase_draft(session: Session, draft_id: int, author: str) -> DraftView:
    """The agent has read what arrived: the draft's base becomes the ticket's version now."""
    draft, ticket = _draft(session, draft_id, author)
    session.refresh(ticket)
    draft.base_version = ticket.version
    draft.updated_at = utcnow()
    session.add(draft)
    session.flush()
    return _view(session, draft, ticket.number)


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} bytes"


def with_attachments(spec: ReplySpec, paths: Sequence[Path]) -> ReplySpec:
    """`spec` with files from disk attached (for scripts)."""
    attachments = list(spec.attachments)
    for path in paths:
        try:
            content = path.expanduser().read_bytes()
        except OSError as exc:
            raise ValidationError(
                _("cannot read {path}: {value}").format(path=path, value=exc.strerror or exc)
            ) from None
        name = safe_filename(path.name)
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        attachments.append(compose.Attachment(name, kind, content))
    return replace(spec, attachments=attachments)
