"""Sending the outbox: every reply arrives once, and none is ever sent twice.

An item's life (the `state` column):

    queued ──claim──> sending ──250──> sent
       ^                 │ 4xx, or the link failed before the handover: back to queued
       │                 │ 5xx: failed (the server's words kept for a person)
       │                 └ no answer after the handover: checking ──found in Sent──> sent
       │                                                     └──not found──> uncertain
       └── `outbox retry` (failed), `outbox retry --force` (uncertain, checking)

Three commits per message, each before the step it guards: the claim (state sending,
attempts + 1, who and when) before MAIL FROM; `handed_over_at` after the server's 354 and
before the first byte of the message; the outcome after the server's answer. A sender that
dies leaves its claim behind; the next drain finds it (the claimant's process is gone, or its
lease ran out) and reads `handed_over_at`: unset means the server cannot have the message
(queued again), set means it may have (checking, never a blind resend).

The window that remains is between the handover commit and the commit of the server's answer:
a crash there leaves an item that was perhaps delivered. It cannot be closed from our side
(SMTP has no way to ask a server whether it took a message, and the server's 250 can always
be lost on the wire after it decided), so it is narrowed: the item is looked for by Message-ID
in Sent (and the inbox with bcc_self) and marked sent when found; otherwise a person decides
(`supportdesk outbox retry --force` or `cancel`).
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlmodel import Session, col

from supportdesk.desk import events
from supportdesk.desk.events import Change
from supportdesk.desk.sla import due
from supportdesk.errors import NotFoundError, SupportdeskError, ValidationError
from supportdesk.i18n import N_, _
from supportdesk.store.models import Message, OutboxItem, Ticket, table_of, utcnow

if TYPE_CHECKING:
    from imapclient import IMAPClient

    from supportdesk.config import Mailbox, Settings
    from supportdesk.mail.smtp import SmtpSession
    from supportdesk.store import Store

SENDER_ACTOR = "system:sender"
STATES = ("queued", "sending", "sent", "failed", "checking", "uncertain", "cancelled")
LEASE = timedelta(minutes=15)
"""A claim older than this belongs to a sender that is gone, wherever it ran: longer than any
one message's SMTP exchange can take with our timeouts."""
DIGEST_EVERY = timedelta(minutes=1)
DIGEST_NEXT = "outbox.digest_next"
"""When this process looks for due digests next (in the store's info)."""
RETRY_FIRST = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=1)
EX_TEMPFAIL = 75

_OUTBOX = table_of(OutboxItem)


_EXPLANATIONS = {
    "queued": N_("waiting to be sent"),
    "sending": N_("being sent now"),
    "sent": N_("sent"),
    "failed": N_("the server refused it: fix and `outbox retry`, or `outbox cancel`"),
    "checking": N_("delivery uncertain: looking for it in Sent"),
    "uncertain": N_(
        "delivery uncertain, not found in Sent: `outbox retry --force` "
        "resends, `outbox cancel` drops it"
    ),
    "cancelled": N_("cancelled, never sent"),
}
"""What each state means for a person (`ItemView.explanation`)."""
_RETRY_AFTER = N_(" (retry after {time})")


@dataclass(frozen=True)
class ItemView:
    """One outbox item as `outbox list` and the console show it."""

    id: int
    ticket_number: int | None
    """None: mail about no one ticket (kind "digest", an agent's notification digest)."""
    state: str
    kind: str
    mailbox: str
    recipients: list[str]
    subject: str
    attempts: int
    last_error: str
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    message_id: str
    message_row_id: int | None
    copied: bool

    @property
    def explanation(self) -> str:
        """What the state means for a person, in one line, in the current language."""
        return self._explain(_)

    def _explain(self, translate: Callable[[str], str]) -> str:
        text = translate(_EXPLANATIONS[self.state]) if self.state in _EXPLANATIONS else self.state
        if self.state == "queued" and self.attempts:
            text += translate(_RETRY_AFTER).format(time=f"{self.next_attempt_at:%H:%M}")
        return text

    def as_dict(self) -> dict[str, object]:
        # Scripts read the English explanation whatever the language (JSON never changes).
        return {**self.__dict__, "explanation": self._explain(str)}


def _views(session: Session, where: object, limit: int | None = None) -> list[ItemView]:
    stmt = (
        select(
            OutboxItem,
            col(Ticket.number),
            col(Message.subject),
        )
        .outerjoin(Ticket, col(Ticket.id) == col(OutboxItem.ticket_id))
        .outerjoin(Message, col(Message.id) == col(OutboxItem.message_id))
        .where(where)  # type: ignore[arg-type]
        .order_by(col(OutboxItem.id))
        .limit(limit)
    )
    return [
        ItemView(
            id=item.id,
            ticket_number=number,
            state=item.state,
            kind=item.kind,
            mailbox=item.mailbox,
            recipients=item.recipients.split("\n") if item.recipients else [],
            subject=subject or (_own_subject(item.raw) if item.message_id is None else ""),
            attempts=item.attempts,
            last_error=item.last_error,
            created_at=item.created_at,
            next_attempt_at=item.next_attempt_at,
            sent_at=item.sent_at,
            message_id=item.message_id_header,
            message_row_id=item.message_id,
            copied=item.copied_at is not None,
        )
        for item, number, subject in session.execute(stmt)
    ]


def _own_subject(raw: bytes) -> str:
    """The Subject of mail we composed that is no ticket's message (a digest), from its
    bytes: there is no message row to read it from."""
    import email.parser
    import email.policy

    from supportdesk.mail.compose import one_line

    head = email.parser.BytesParser(policy=email.policy.default).parsebytes(
        bytes(raw), headersonly=True
    )
    return one_line(str(head.get("Subject", "")), 200)


def list_items(
    session: Session, states: list[str] | None = None, *, limit: int = 500
) -> list[ItemView]:
    """Outbox items, oldest first; by default everything not yet sent or cancelled."""
    wanted = states or ["queued", "sending", "failed", "checking", "uncertain"]
    for state in wanted:
        if state not in STATES:
            raise ValidationError(
                _("unknown state {state!r}; expected one of {states}").format(
                    state=state, states=", ".join(STATES)
                )
            )
    return _views(session, col(OutboxItem.state).in_(wanted), limit)


def get_item(session: Session, item_id: int) -> ItemView:
    found = _views(session, col(OutboxItem.id) == item_id)
    if not found:
        raise NotFoundError(_("no outbox item {item_id}").format(item_id=item_id))
    return found[0]


def delivery_states(session: Session, ticket_number: int) -> dict[int, ItemView]:
    """The delivery of each outgoing message on a ticket, by message row id, for the thread
    view ("queued", "sent", "failed: 550 …").

    Found through the messages, not the item's ticket: a merge moves both, but stores from
    before it did left their merged tickets' items where they were queued.
    """
    ticket_id = select(col(Ticket.id)).where(col(Ticket.number) == ticket_number).scalar_subquery()
    on_ticket = select(col(Message.id)).where(col(Message.ticket_id) == ticket_id)
    return {
        v.message_row_id: v
        for v in _views(session, col(OutboxItem.message_id).in_(on_ticket))
        if v.message_row_id is not None
    }


def _item(session: Session, item_id: int) -> OutboxItem:
    item = session.get(OutboxItem, item_id, populate_existing=True)
    if item is None:
        raise NotFoundError(_("no outbox item {item_id}").format(item_id=item_id))
    return item


def _record(session: Session, item: OutboxItem, action: str, change: Change, text: str) -> None:
    if item.ticket_id is None:
        return  # a digest: no ticket's history to tell
    ticket = session.get(Ticket, item.ticket_id)
    if ticket is not None:
        events.record(session, ticket, action, change, new=text)


def retry(session: Session, item_id: int, change: Change, *, force: bool = False) -> ItemView:
    """Queue a failed item again now; an uncertain one only with `force` (it may have
    arrived already: resending is a person's decision)."""
    item = _item(session, item_id)
    if item.state in ("checking", "uncertain") and not force:
        raise ValidationError(
            _(
                "outbox item {item_id}: delivery is uncertain (it may have "
                "arrived); look in the customer's thread or your Sent "
                "folder, then `outbox retry --force`"
            ).format(item_id=item_id)
        )
    if item.state not in ("failed", "queued", "checking", "uncertain"):
        raise ValidationError(
            _("outbox item {item_id} is {state}: nothing to retry").format(
                item_id=item_id, state=item.state
            )
        )
    item.state, item.next_attempt_at = "queued", change.now()
    item.claimed_by = item.claimed_at = item.handed_over_at = None
    session.add(item)
    _record(session, item, "mail_retry", change, str(item.id))
    session.flush()
    return get_item(session, item_id)


def cancel(session: Session, item_id: int, change: Change) -> ItemView:
    """Never send this item. A public reply that set the first response time gives it back."""
    item = _item(session, item_id)
    if item.state in ("sent", "cancelled"):
        raise ValidationError(
            _("outbox item {item_id} is already {state}").format(item_id=item_id, state=item.state)
        )
    if item.state == "sending":
        raise ValidationError(
            _("outbox item {item_id} is being sent right now; wait a moment and look again").format(
                item_id=item_id
            )
        )
    item.state = "cancelled"
    session.add(item)
    _record(session, item, "mail_cancel", change, str(item.id))
    session.flush()
    if item.ticket_id is not None:
        _recompute_first_response(session, item.ticket_id, change.now())
    return get_item(session, item_id)


def _recompute_first_response(session: Session, ticket_id: int, at: datetime) -> None:
    messages = table_of(Message)
    first = session.execute(
        select(messages.c.received_at)
        .where(messages.c.ticket_id == ticket_id, due.answers_customer(messages))
        .order_by(messages.c.id)
        .limit(1)
    ).scalar_one_or_none()
    session.execute(
        update(Ticket).where(col(Ticket.id) == ticket_id).values(first_response_at=first)
    )
    due.refresh_one(session, ticket_id, at)


# -- draining


@dataclass
class DrainReport:
    """What one drain did; `exit_code` is what `supportdesk send` exits with."""

    sent: list[int] = field(default_factory=list)
    deferred: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    uncertain: list[int] = field(default_factory=list)
    found: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    temporary_trouble: bool = False

    @property
    def exit_code(self) -> int:
        """0: all due mail went out; 75: some waits for a retry; 1: a person is needed."""
        if self.failed or self.uncertain:
            return 1
        if self.deferred or self.temporary_trouble:
            return EX_TEMPFAIL
        return 0

    def as_dict(self) -> dict[str, object]:
        return {**self.__dict__, "exit_code": self.exit_code}


def claimant() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _alive(claim: str | None) -> bool:
    """Whether the process that made a claim may still be working on it."""
    if not claim:
        return False
    host, __, rest = claim.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True  # another machine: only the lease can tell
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 … minutes up to an hour, each drawn from its upper half (no herd)."""
    ceiling = min(RETRY_CAP, RETRY_FIRST * 2 ** max(0, attempts - 1))
    return ceiling * random.uniform(0.5, 1.0)


class ClaimLost(SupportdeskError):
    """The item was taken over by another sender between our claim and the handover."""


@dataclass(frozen=True)
class _Claimed:
    """What sending one claimed item needs, read in the claim's transaction."""

    id: int
    ticket_id: int | None
    envelope_from: str
    recipients: str
    raw: bytes
    attempts: int
    created_at: datetime
    kind: str
    agent_id: int | None


class Sender:
    """Drains the outbox: one SMTP connection per mailbox for a batch, IMAP for Sent.

    `now` is a clock (tests move it to make retries due).
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        now: Callable[[], datetime] = utcnow,
        on_event: Callable[[str, ItemView | None, str], None] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.now = now
        self.on_event = on_event
        self.me = claimant()
        self.change = Change.by(SENDER_ACTOR)
        self._imap: dict[str, IMAPClient] = {}

    # -- bookkeeping in short transactions

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self.store.session(write=True) as session:
            yield session

    def _emit(self, what: str, item_id: int | None, text: str = "") -> None:
        if self.on_event is None:
            return
        view = None
        if item_id is not None:
            with self.store.session() as session:
                view = get_item(session, item_id)
        self.on_event(what, view, text)

    def _mailbox(self, name: str) -> Mailbox | None:
        return next((m for m in self.settings.mailboxes if m.name == name), None)

    def drain(self, *, mailbox: str | None = None) -> DrainReport:
        """Recover what a dead sender left, settle uncertain items, send what is due."""
        report = DrainReport()
        try:
            self._recover(report)
            self._check_uncertain(report, mailbox)
            self._ask_ratings(report)
            self._queue_digests(report)
            self._send_due(report, mailbox)
            self._check_uncertain(report, mailbox)
            self._copy_to_sent(report, mailbox)
        finally:
            self._close_imap()
        return report

    def _ask_ratings(self, report: DrainReport) -> None:
        """Queue the satisfaction rating requests that are due (desk.csat.requests), so
        they go out in this drain. A problem (no key, no canned reply) is reported and the
        replies still go out."""
        from supportdesk.desk.csat import ratings, requests
        from supportdesk.desk.csat.setup import CSAT_SETUP, CsatSetup
        from supportdesk.desk.mailsetup import MAIL_SETUP, MailSetup

        if not self.settings.csat.enabled:
            return
        # Kept in the store's info: the key is read once per process, not once per drain.
        if CSAT_SETUP not in self.store.info:
            self.store.info[CSAT_SETUP] = CsatSetup.from_settings(self.settings)
        if MAIL_SETUP not in self.store.info:
            self.store.info[MAIL_SETUP] = MailSetup.from_settings(self.settings)
        setup = self.store.info[CSAT_SETUP]
        try:
            # Read before the write transaction: a key command may take seconds, and the
            # store's write lock must not wait for it.
            setup.key()
            with self._write() as session:
                asked = requests.queue_due(session, self.now())
                ratings.retry_waiting(session, our_addresses=self._our_addresses())
        except SupportdeskError as exc:
            report.errors.append(_("rating requests: {error}").format(error=exc))
            return
        for item in asked:  # each such solve is decided once, so this is said once
            if item.error:
                report.errors.append(
                    _("rating request for #{number} not sent: {error}").format(
                        number=item.ticket_number, error=item.error
                    )
                )

    def _queue_digests(self, report: DrainReport) -> None:
        """Queue the notification digests that are due (desk.digest), so they go out in
        this drain; a problem is reported and the replies still go out."""
        from supportdesk.desk import digest

        if not self.settings.notifications.digest_minutes:
            return
        # Looked for once a minute, not on every drain (every few seconds): whether anyone
        # is owed one reads each away agent's unread notifications.
        now = self.now()
        if now < self.store.info.get(DIGEST_NEXT, now):
            return
        self.store.info[DIGEST_NEXT] = now + DIGEST_EVERY
        try:
            with self._write() as session:
                due = digest.queue_due(session, self.settings, now)
        except SupportdeskError as exc:
            report.errors.append(_("notification digest: {error}").format(error=exc))
            return
        for skipped in due.skipped:
            report.errors.append(
                _("notification digest: none for {handle}: {reason}").format(
                    handle=skipped.handle, reason=skipped.reason
                )
            )

    def _our_addresses(self) -> frozenset[str]:
        return frozenset(m.address.lower() for m in self.settings.mailboxes)

    def _recover(self, report: DrainReport) -> None:
        stale = self.now() - LEASE
        with self._write() as session:
            rows = session.execute(
                select(
                    col(OutboxItem.id),
                    col(OutboxItem.claimed_by),
                    col(OutboxItem.claimed_at),
                    col(OutboxItem.handed_over_at),
                ).where(col(OutboxItem.state) == "sending")
            ).all()
            for item_id, claim, claimed_at, handed_over in rows:
                if claim == self.me or (_alive(claim) and claimed_at and claimed_at > stale):
                    continue
                if handed_over is None:
                    state, note = "queued", "the sender stopped before handing it over; sent again"
                    report.requeued.append(item_id)
                else:
                    state, note = "checking", "the sender stopped after handing it over"
                session.execute(
                    update(_OUTBOX)
                    .where(_OUTBOX.c.id == item_id, _OUTBOX.c.state == "sending")
                    .values(state=state, last_error=note, claimed_by=None)
                )

    # -- IMAP

    def _client(self, box: Mailbox) -> IMAPClient:
        from supportdesk.mail import imap

        if box.name not in self._imap:
            self._imap[box.name] = imap.connect(box)
        return self._imap[box.name]

    def _drop_imap(self, name: str) -> None:
        from supportdesk.mail import imap

        client = self._imap.pop(name, None)
        if client is not None:
            imap.close(client, polite=False)

    def _close_imap(self) -> None:
        from supportdesk.mail import imap

        for client in self._imap.values():
            imap.close(client)
        self._imap.clear()

    def _check_uncertain(self, report: DrainReport, only: str | None) -> None:
        from supportdesk.mail import sentcopy

        with self.store.session() as session:
            rows = session.execute(
                select(
                    col(OutboxItem.id), col(OutboxItem.mailbox), col(OutboxItem.message_id_header)
                ).where(col(OutboxItem.state) == "checking")
            ).all()
        for item_id, name, message_id in rows:
            if only is not None and name != only:
                continue
            box = self._mailbox(name)
            if box is None:
                report.errors.append(f"outbox item {item_id}: mailbox {name!r} is not in config")
                continue
            try:
                client = self._client(box)
                found = any(
                    sentcopy.contains(client, box, folder, message_id)
                    for folder in sentcopy.places_to_look(box)
                )
            except SupportdeskError as exc:
                self._drop_imap(box.name)
                report.errors.append(f"outbox item {item_id}: cannot look in Sent: {exc}")
                report.temporary_trouble = True
                continue
            now = self.now()
            with self._write() as session:
                item = _item(session, item_id)
                if item.state != "checking":
                    continue
                if found:
                    item.state, item.sent_at, item.copied_at = "sent", now, now
                    item.last_error = "delivery was uncertain; found in the mailbox, so it went out"
                    _record(session, item, "mail_sent", self.change, str(item_id))
                    report.found.append(item_id)
                else:
                    item.state = "uncertain"
                    item.last_error = (
                        "the connection was lost after the message was handed over and it is "
                        f"not in {', '.join(sentcopy.places_to_look(box))}: it may or may not "
                        "have arrived"
                    )
                    _record(session, item, "mail_uncertain", self.change, str(item_id))
                    report.uncertain.append(item_id)
                session.add(item)
            self._emit("found" if found else "uncertain", item_id)

    def _copy_to_sent(self, report: DrainReport, only: str | None) -> None:
        """Append sent mail to Sent where the mailbox wants it (retrying earlier failures).

        A copy that may already be there (an append whose commit was lost) is looked for
        first, so Sent never holds two."""
        from supportdesk.mail import sentcopy

        with self.store.session() as session:
            rows = session.execute(
                select(col(OutboxItem.id), col(OutboxItem.mailbox), col(OutboxItem.sent_at))
                .where(col(OutboxItem.state) == "sent", col(OutboxItem.copied_at).is_(None))
                .order_by(col(OutboxItem.id))
            ).all()
        for item_id, name, sent_at in rows:
            if only is not None and name != only:
                continue
            box = self._mailbox(name)
            if box is None or not box.sent_copy:
                continue
            with self.store.session() as session:
                item = _item(session, item_id)
                raw, message_id, fresh = (
                    bytes(item.raw),
                    item.message_id_header,
                    item.id in report.sent,
                )
            try:
                client = self._client(box)
                if fresh or not sentcopy.contains(client, box, box.sent_folder, message_id):
                    sentcopy.append(client, box, raw, sent_at or self.now())
            except SupportdeskError as exc:
                self._drop_imap(box.name)
                report.errors.append(f"outbox item {item_id}: sent, but not copied to Sent: {exc}")
                report.temporary_trouble = True
                continue
            with self._write() as session:
                session.execute(
                    update(_OUTBOX).where(_OUTBOX.c.id == item_id).values(copied_at=self.now())
                )

    # -- SMTP

    def _due(self, only: str | None) -> dict[str, list[int]]:
        with self.store.session() as session:
            rows = session.execute(
                select(col(OutboxItem.id), col(OutboxItem.mailbox))
                .where(
                    col(OutboxItem.state) == "queued", col(OutboxItem.next_attempt_at) <= self.now()
                )
                .order_by(col(OutboxItem.id))
            ).all()
        due: dict[str, list[int]] = {}
        for item_id, name in rows:
            if only is None or name == only:
                due.setdefault(name, []).append(item_id)
        return due

    def _defer_all(self, ids: list[int], error: str, report: DrainReport) -> None:
        """The server could not be reached: the items wait, none of them was tried; those
        waiting longer than `give_up_hours` are failed for a person to look at."""
        now = self.now()
        give_up = timedelta(hours=self.settings.send.give_up_hours)
        with self._write() as session:
            for item_id in ids:
                item = _item(session, item_id)
                if item.state != "queued":
                    continue
                if now - item.created_at > give_up:
                    item.state, item.last_error = "failed", f"gave up retrying: {error}"
                    _record(session, item, "mail_failed", self.change, str(item_id))
                    report.failed.append(item_id)
                else:
                    item.last_error = error
                    item.next_attempt_at = now + backoff(item.attempts + 1)
                    report.deferred.append(item_id)
                session.add(item)

    def _send_due(self, report: DrainReport, only: str | None) -> None:
        for name, ids in self._due(only).items():
            box = self._mailbox(name)
            if box is None or not box.sends:
                error = (
                    f"mailbox {name!r} is not in config"
                    if box is None
                    else f"mailbox {name!r} has no smtp_host"
                )
                report.errors.append(error)
                self._defer_all(ids, error, report)
                continue
            self._send_mailbox(box, ids, report)

    def _open_smtp(self, box: Mailbox) -> SmtpSession:
        from supportdesk.mail.smtp import SmtpSession

        return SmtpSession(box)

    def _send_mailbox(self, box: Mailbox, ids: list[int], report: DrainReport) -> None:
        """Send `ids` over as few connections as `max_per_connection` allows.

        Each connection's share is claimed in one commit (the attempt is on record before
        any of them meets MAIL FROM); what a dropped connection did not reach is released
        unsent and goes over a new connection, at most twice, then waits for a retry.
        """
        from supportdesk.mail.smtp import SmtpError

        remaining = list(ids)
        reconnects = 0
        per_connection = self.settings.send.max_per_connection
        while remaining:
            chunk, remaining = remaining[:per_connection], remaining[per_connection:]
            claimed = self._claim(chunk)
            if not claimed:
                continue
            try:
                smtp = self._open_smtp(box)
            except SupportdeskError as exc:
                report.errors.append(str(exc))
                report.temporary_trouble = True
                self._release(claimed, str(exc), report, later=True)
                self._defer_all(remaining, str(exc), report)
                return
            try:
                for index, item in enumerate(claimed):
                    try:
                        self._send_one(smtp, item, report)
                    except SmtpError as exc:
                        if not exc.connection:
                            raise
                        reconnects += 1
                        rest = claimed[index + 1 :]
                        if reconnects > 2:
                            self._release(rest, str(exc), report, later=True)
                            self._defer_all(remaining, str(exc), report)
                            return
                        self._release(rest, str(exc), report, later=False)
                        remaining = [i.id for i in rest] + remaining
                        break
            finally:
                smtp.close()

    def _claim(self, ids: list[int]) -> list[_Claimed]:
        """Claim the queued ones among `ids` for this sender, in one commit."""
        now = self.now()
        with self._write() as session:
            session.execute(
                update(_OUTBOX)
                .where(_OUTBOX.c.id.in_(ids), _OUTBOX.c.state == "queued")
                .values(
                    state="sending",
                    claimed_by=self.me,
                    claimed_at=now,
                    handed_over_at=None,
                    attempts=_OUTBOX.c.attempts + 1,
                )
            )
            rows = session.execute(
                select(
                    _OUTBOX.c.id,
                    _OUTBOX.c.ticket_id,
                    _OUTBOX.c.envelope_from,
                    _OUTBOX.c.recipients,
                    _OUTBOX.c.raw,
                    _OUTBOX.c.attempts,
                    _OUTBOX.c.created_at,
                    _OUTBOX.c.kind,
                    _OUTBOX.c.agent_id,
                )
                .where(
                    _OUTBOX.c.id.in_(ids),
                    _OUTBOX.c.state == "sending",
                    _OUTBOX.c.claimed_by == self.me,
                )
                .order_by(_OUTBOX.c.id)
            ).all()
            return [_Claimed(*row) for row in rows]

    def _release(
        self, items: list[_Claimed], error: str, report: DrainReport, *, later: bool
    ) -> None:
        """Give back claimed items that never met the server: not an attempt after all."""
        if not items:
            return
        now = self.now()
        with self._write() as session:
            for item in items:
                session.execute(
                    update(_OUTBOX)
                    .where(
                        _OUTBOX.c.id == item.id,
                        _OUTBOX.c.claimed_by == self.me,
                        _OUTBOX.c.handed_over_at.is_(None),
                    )
                    .values(
                        state="queued",
                        claimed_by=None,
                        attempts=_OUTBOX.c.attempts - 1,
                        last_error=error,
                        next_attempt_at=now,
                    )
                )
        if later:
            self._defer_all([item.id for item in items], error, report)

    def _handover(self, item_id: int) -> None:
        """The last commit before the message's bytes go out; raises ClaimLost when the item
        is no longer ours (another sender took over a claim it thought abandoned)."""
        with self._write() as session:
            done = session.execute(
                update(_OUTBOX)
                .where(
                    _OUTBOX.c.id == item_id,
                    _OUTBOX.c.claimed_by == self.me,
                    _OUTBOX.c.state == "sending",
                )
                .values(handed_over_at=self.now())
            ).rowcount  # type: ignore[attr-defined]
        if done != 1:
            raise ClaimLost(
                _("outbox item {item_id} is no longer this sender's: left alone").format(
                    item_id=item_id
                )
            )

    def _finish(self, item: _Claimed, action: str | None, **values: object) -> None:
        with self._write() as session:
            session.execute(
                update(_OUTBOX)
                .where(_OUTBOX.c.id == item.id, _OUTBOX.c.claimed_by == self.me)
                .values(claimed_by=None, **values)
            )
            if action is not None and item.ticket_id is not None:
                version = session.execute(
                    select(col(Ticket.version)).where(col(Ticket.id) == item.ticket_id)
                ).scalar_one()
                change = replace(self.change, at=self.now())
                events.write(
                    session.connection(),
                    [events.row(item.ticket_id, version, action, change, new=str(item.id))],
                )

    def _digest_refused(self, item: _Claimed, recipients: list[str]) -> str | None:
        """Why a digest may not go out as queued (desk.digest.check): the last look, in a
        transaction of its own, before the handover."""
        from supportdesk.desk import digest

        with self.store.session() as session:
            return digest.check(session, self.settings, item.agent_id, recipients)

    def _send_one(self, smtp: SmtpSession, item: _Claimed, report: DrainReport) -> None:
        from supportdesk.mail.smtp import HandoverLost, SmtpError

        item_id = item.id
        recipients = [r for r in item.recipients.split("\n") if r]
        if item.kind == "digest":
            refused = self._digest_refused(item, recipients)
            if refused is not None:
                self._finish(item, None, state="failed", last_error=refused)
                report.failed.append(item_id)
                self._emit("failed", item_id, refused)
                return
        try:
            smtp.deliver(
                item.envelope_from, recipients, bytes(item.raw), lambda: self._handover(item_id)
            )
        except ClaimLost as exc:
            report.errors.append(str(exc))
            raise SmtpError(str(exc), temporary=True, connection=True) from None
        except HandoverLost as exc:
            self._finish(item, None, state="checking", last_error=str(exc))
            self._emit("lost", item_id, str(exc))
            return
        except SmtpError as exc:
            give_up = item.created_at + timedelta(hours=self.settings.send.give_up_hours)
            if exc.temporary and self.now() < give_up:
                self._finish(
                    item,
                    None,
                    state="queued",
                    last_error=str(exc),
                    next_attempt_at=self.now() + backoff(item.attempts + 1),
                )
                report.deferred.append(item_id)
                self._emit("deferred", item_id, str(exc))
            else:
                reason = str(exc) if not exc.temporary else f"gave up retrying: {exc}"
                self._finish(item, "mail_failed", state="failed", last_error=reason)
                report.failed.append(item_id)
                self._emit("failed", item_id, reason)
            if exc.connection:
                raise
            return
        self._finish(item, "mail_sent", state="sent", sent_at=self.now(), last_error="")
        report.sent.append(item_id)
        self._emit("sent", item_id)


def drain(store: Store, settings: Settings, *, mailbox: str | None = None) -> DrainReport:
    """Send what is due once (`supportdesk send`)."""
    return Sender(store, settings).drain(mailbox=mailbox)


class Repeats:
    """Which problems to say again: one that comes back every poll (no rating key, say) is
    said once per QUIET seconds, not every few seconds for as long as the watch runs."""

    QUIET = 600.0

    def __init__(self) -> None:
        self._said: dict[str, float] = {}

    def fresh(self, problem: str, now: float) -> bool:
        said = self._said.get(problem)
        if said is not None and now - said < self.QUIET:
            return False
        self._said[problem] = now
        return True


def serve(
    store: Store,
    settings: Settings,
    stop: threading.Event,
    *,
    on_event: Callable[[str, ItemView | None, str], None] | None = None,
    on_error: Callable[[Exception], None] | None = None,
) -> None:
    """Drain every `send.poll_seconds` until `stop` is set (the sender of `sync --watch`).

    A failure (a bug included) is reported and the loop goes on: replies must keep going
    out while the watch runs.
    """
    if not any(m.sends for m in settings.mailboxes):
        return
    repeats = Repeats()
    while not stop.is_set():
        try:
            report = Sender(store, settings, on_event=on_event).drain()
            for problem in report.errors:
                if on_event is not None and repeats.fresh(problem, time.monotonic()):
                    on_event("error", None, problem)
        except Exception as exc:
            if on_error is not None:
                on_error(exc)
        stop.wait(settings.send.poll_seconds)
