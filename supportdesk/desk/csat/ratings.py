"""A rating mail, from ingest to the ticket: verified, recorded once, never a conversation.

Decisions (docs/METRICS.md has the metric):

- The mail is recognised by the token in its subject alone (see `token.find`), whatever
  else it says; it is never stored as a message, never opens, wakes or reopens a ticket
  and runs no rules. Its text above any quoted original is the comment. Its raw bytes are
  kept with the rating or the rejection (DESIGN: the raw bytes of every message are kept).
- Only the ticket's requester (or one of its CCs) rates. A link forwarded to anyone else,
  an agent's address or one of our own mailboxes is refused (`sender`): the links are in
  the customer's mailbox, and agents must not vote for customers. The thread's copy of the
  request has the links' signatures blanked (`redact`), so the console shows no usable one.
- A token is ignored, and counted by reason in `csat_rejections`, when the mail is a
  robot's (`robot`: an auto-reply quoting our subject is no vote), its score is not 1-5
  (`score`), its MAC does not match (`forged`: a tampered score, ticket, time or nonce is
  one; the MAC covers the ticket number, so a token naming another ticket is forged), no
  request has its nonce (`unknown`), the sender may not rate (`sender`), it arrived more
  than `valid_days` after the request (`expired`), or the request was rated already
  (`replayed`: the first rating counts, a customer cannot vote twice).
- `no_key` (the key could not be read, or ratings are off here) is not a verdict: the mail
  waits with its raw bytes and is evaluated again by `retry_waiting` once the key can be
  read (the sender's next drain, the next sync batch with a rating mail), or when the same
  mail is seen again. It is never a duplicate.
- A rejected mail whose sender is the named ticket's requester or CC and which has text of
  its own (a follow-up typed into a rating mail, say) becomes an internal note on that
  ticket, so agents see it; any other rejected mail is kept raw in `csat_rejections`.
- Arrival is the mail's Date:, bounded by now and, once the request is known, by the time
  it was issued: a sync after an outage or an imported archive neither expires genuine
  ratings nor puts them on the wrong report day.
- The same mail seen again (a re-sync; same Message-ID) is a duplicate: neither recorded
  nor counted twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from supportdesk.desk.csat import token as tokens
from supportdesk.desk.csat.setup import setup_of
from supportdesk.errors import SecretError
from supportdesk.i18n import N_, _
from supportdesk.mail.replytext import strip_quoted
from supportdesk.store.models import (
    Agent,
    CsatRating,
    CsatRejection,
    CsatRequest,
    Customer,
    Note,
    Ticket,
    TicketCC,
    table_of,
)

if TYPE_CHECKING:
    from supportdesk.mail.parse import ParsedMessage

WAITING = "no_key"
"""The reason of a mail that waits for the key: counted, but evaluated again later."""
REASONS = {
    "robot": N_("sent by a robot"),
    "score": N_("score not 1-5"),
    "forged": N_("forged or altered link"),
    "unknown": N_("no such request"),
    "sender": N_("not the customer's address"),
    "expired": N_("link too old"),
    "replayed": N_("rated already"),
    WAITING: N_("waiting for the key"),
}
"""Why a rating mail was not counted: the code (stored, in --json) and its label for people."""
NOTED = frozenset({"score", "forged", "unknown", "expired", "replayed"})
"""Rejections whose text, from the ticket's own customer, is shown to agents as a note."""
NOTE_AUTHOR = "system:csat"
_RATINGS = table_of(CsatRating)
_REJECTIONS = table_of(CsatRejection)
_NOTES = table_of(Note)
_MAC_IN_TEXT = re.compile(
    r"(rate(?::|%3a)\d{1,18}\.\d{1,2}\.\d{1,12}\.[0-9a-f]{16}\.)[0-9a-f]{16}", re.IGNORECASE
)


def reason_label(reason: str) -> str:
    """The reason of an ignored rating mail, for people (the code itself for an unknown one)."""
    label = REASONS.get(reason)
    return _(label) if label else reason


def redact(text: str) -> str:
    """`text` with the MAC of every rating token (plain or in a mailto: link) blanked: what
    the thread keeps of a rating request, so nobody rates from the console's copy."""
    return _MAC_IN_TEXT.sub(lambda m: m.group(1) + "x" * 16, text)


@dataclass(frozen=True)
class RatingOutcome:
    """What ingest did with a rating mail: recorded, ignored (with the reason) or a duplicate.

    `ticket_number` is the rated ticket's, and only when the token was genuine."""

    recorded: bool
    reason: str
    ticket_number: int | None
    score: int | None = None


def rating_token(parsed: ParsedMessage) -> tokens.Token | None:
    """The token of a rating mail (a robot's too: `record` refuses it); None for other mail."""
    return tokens.find(parsed.subject)


def might_rate(raw: bytes) -> bool:
    """Whether a mail may be a rating, from its header bytes alone, cheaply and without a
    parse: a token, or an encoded subject that may hide one. Lets ingest read the key before
    it takes the write lock (a key command may take seconds)."""
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        end = raw.find(b"\n\n")
    head = (raw if end < 0 else raw[:end])[:65536].lower()
    return b"rate:" in head or b"rate%3a" in head or b"=?" in head


def record(
    session: Session,
    parsed: ParsedMessage,
    raw: bytes,
    token: tokens.Token,
    now: datetime,
    *,
    our_addresses: frozenset[str] = frozenset(),
) -> RatingOutcome:
    """Verify `token` and record the rating, or keep the mail and count why it was ignored."""
    message_id = parsed.message_id[:998]
    sender = (parsed.from_.address if parsed.from_ else "").strip().lower()[:320]
    conn = session.connection()
    if message_id and _seen(session, message_id):
        return RatingOutcome(False, "duplicate", None)
    if message_id:  # a mail that waited for the key is decided now
        conn.execute(
            delete(_REJECTIONS).where(
                _REJECTIONS.c.message_id == message_id, _REJECTIONS.c.reason == WAITING
            )
        )
    arrived = min(parsed.date or now, now)

    def reject(reason: str, ticket_id: int | None = None) -> RatingOutcome:
        number = token.number if token.number < 2**31 else None
        note_id = None
        if reason in NOTED:
            note_id = _note(session, parsed, ticket_id, number, sender, reason, now)
        conn.execute(
            _REJECTIONS.insert(),
            {
                "received_at": arrived,
                "reason": reason,
                "ticket_number": number,
                "sender": sender,
                "message_id": message_id,
                "raw": raw,
                "note_id": note_id,
            },
        )
        return RatingOutcome(False, reason, None)

    if parsed.robot.automatic:
        return reject("robot")
    if not 1 <= token.score <= 5:
        return reject("score")
    setup = setup_of(session)
    # The key is read only where ratings are on, where ingest reads it before the write lock.
    if not setup.enabled:
        return reject(WAITING)
    try:
        key = setup.key()
    except SecretError:
        return reject(WAITING)
    if not tokens.verify(key, token):
        return reject("forged")
    request = session.execute(
        select(CsatRequest).where(col(CsatRequest.nonce) == token.nonce)
    ).scalar_one_or_none()
    if request is None:
        return reject("unknown")
    arrived = max(arrived, request.issued_at)
    if not _may_rate(session, request.ticket_id, sender, our_addresses):
        return reject("sender")
    if arrived - token.issued_at > timedelta(days=setup.valid_days):
        return reject("expired", request.ticket_id)
    rated = session.execute(
        select(col(CsatRating.id)).where(col(CsatRating.request_id) == request.id)
    ).first()
    if rated is not None:
        return reject("replayed", request.ticket_id)
    try:
        with session.begin_nested():  # a concurrent ingest of another rating may win
            # session.connection() here, not `conn`: it is what emits the SAVEPOINT.
            session.connection().execute(
                _RATINGS.insert(),
                {
                    "request_id": request.id,
                    "ticket_id": request.ticket_id,
                    "score": token.score,
                    "comment": strip_quoted(parsed.text),
                    "received_at": arrived,
                    "sender": sender,
                    "message_id": message_id,
                    "raw": raw,
                },
            )
    except IntegrityError:
        return reject("replayed", request.ticket_id)
    return RatingOutcome(True, "", token.number, token.score)


def retry_waiting(
    session: Session, *, our_addresses: frozenset[str] = frozenset(), limit: int = 200
) -> int:
    """Evaluate again the mails that waited for the key; the number decided. Call it only
    when the key can be read (or they wait again). Each is judged as of its arrival."""
    from supportdesk.mail.parse import parse_message

    rows = session.execute(
        select(_REJECTIONS.c.id, _REJECTIONS.c.raw, _REJECTIONS.c.received_at)
        .where(_REJECTIONS.c.reason == WAITING)
        .order_by(_REJECTIONS.c.id)
        .limit(limit)
    ).all()
    decided = 0
    for row_id, raw, received_at in rows:
        session.connection().execute(delete(_REJECTIONS).where(_REJECTIONS.c.id == row_id))
        data = bytes(raw)
        parsed = parse_message(data, our_addresses=our_addresses)
        found = rating_token(parsed)
        if found is None:  # cannot happen for a row this module wrote; nothing to decide
            continue
        outcome = record(session, parsed, data, found, received_at, our_addresses=our_addresses)
        decided += outcome.reason != WAITING
    return decided


def _may_rate(session: Session, ticket_id: int, sender: str, our_addresses: frozenset[str]) -> bool:
    """Whether `sender` is the ticket's requester or CC, and not an agent nor our mailbox."""
    if not sender or sender in our_addresses:
        return False
    agent = session.execute(
        select(col(Agent.id)).where(col(Agent.email) == sender).limit(1)
    ).first()
    if agent is not None:
        return False
    requester = session.execute(
        select(col(Customer.email))
        .join(Ticket, col(Ticket.requester_id) == col(Customer.id))
        .where(col(Ticket.id) == ticket_id)
    ).scalar_one_or_none()
    if requester is not None and requester.lower() == sender:
        return True
    cc = session.execute(
        select(col(TicketCC.email))
        .where(col(TicketCC.ticket_id) == ticket_id, col(TicketCC.email) == sender)
        .limit(1)
    ).first()
    return cc is not None


def _note(
    session: Session,
    parsed: ParsedMessage,
    ticket_id: int | None,
    number: int | None,
    sender: str,
    reason: str,
    now: datetime,
) -> int | None:
    """A note showing agents what the ticket's own customer wrote in an ignored rating mail.

    Inserted alone (no version bump): ingest keeps the batch's tickets in memory, and a note
    changes nothing a view of the ticket's fields shows."""
    comment = strip_quoted(parsed.text)
    if not comment:
        return None
    if ticket_id is None:
        if number is None:
            return None
        ticket_id = session.execute(
            select(col(Ticket.id)).where(col(Ticket.number) == number)
        ).scalar_one_or_none()
        if ticket_id is None or not _may_rate(session, ticket_id, sender, frozenset()):
            return None
    body = _("A rating mail from {sender} was not counted ({reason}). It said:").format(
        sender=sender, reason=reason_label(reason)
    )
    return (
        session.connection()
        .execute(
            _NOTES.insert().returning(_NOTES.c.id),
            {
                "ticket_id": ticket_id,
                "author": NOTE_AUTHOR,
                "body": f"{body}\n\n{comment}",
                "created_at": now,
            },
        )
        .scalar_one()
    )


def _seen(session: Session, message_id: str) -> bool:
    for table, waiting in ((_RATINGS, None), (_REJECTIONS, WAITING)):
        query = select(table.c.id).where(table.c.message_id == message_id).limit(1)
        if waiting is not None:
            query = query.where(table.c.reason != waiting)
        if session.execute(query).first() is not None:
            return True
    return False
