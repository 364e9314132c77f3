"""A rating mail, from ingest to the ticket: verified, recorded once, never a conversation.

Decisions (docs/METRICS.md has the metric):

- The mail is recognised by the token in its subject alone (see `token.find`), whatever
  else it says; it is never stored as a message, never opens, wakes or reopens a ticket
  and runs no rules. Its text above any quoted original is the comment.
- A token is ignored, and counted by reason in `csat_rejections`, when its score is not
  1-5 (`score`), its MAC does not match (`forged`: a tampered score, ticket, time or nonce
  is one), no request has its nonce (`unknown`), the request is another ticket's
  (`wrong_ticket`), it is older than `valid_days` (`expired`), the request was rated already
  (`replayed`: the first rating counts, a customer cannot vote twice), or the key could not be
  read (`no_key`: nothing can be verified; the sync goes on).
- The same mail seen again (a re-sync; same Message-ID) is a duplicate: neither recorded
  nor counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlmodel import Session, col

from supportdesk.desk.csat import token as tokens
from supportdesk.desk.csat.setup import setup_of
from supportdesk.errors import SecretError
from supportdesk.mail.replytext import strip_quoted
from supportdesk.store.models import CsatRating, CsatRejection, CsatRequest, Ticket, table_of

if TYPE_CHECKING:
    from supportdesk.mail.parse import ParsedMessage

REASONS = ("score", "forged", "unknown", "wrong_ticket", "expired", "replayed", "no_key")
_RATINGS = table_of(CsatRating)
_REJECTIONS = table_of(CsatRejection)


@dataclass(frozen=True)
class RatingOutcome:
    """What ingest did with a rating mail: recorded, ignored (with the reason) or a duplicate."""

    recorded: bool
    reason: str
    ticket_number: int | None
    score: int | None = None


def rating_token(parsed: ParsedMessage) -> tokens.Token | None:
    """The token of a rating mail; None for any other mail (robots' included: an
    auto-reply quoting our subject is not a customer's vote)."""
    if parsed.robot.automatic:
        return None
    return tokens.find(parsed.subject)


def record(
    session: Session, parsed: ParsedMessage, token: tokens.Token, now: datetime
) -> RatingOutcome:
    """Verify `token` and record the rating, or count why it was ignored."""
    message_id = parsed.message_id[:998]
    sender = (parsed.from_.address if parsed.from_ else "")[:320]
    conn = session.connection()
    if message_id and _seen(session, message_id):
        return RatingOutcome(False, "duplicate", token.number)

    def reject(reason: str) -> RatingOutcome:
        conn.execute(
            _REJECTIONS.insert(),
            {
                "received_at": now,
                "reason": reason,
                "ticket_number": token.number if token.number < 2**31 else None,
                "sender": sender,
                "message_id": message_id,
            },
        )
        return RatingOutcome(False, reason, token.number)

    if not 1 <= token.score <= 5:
        return reject("score")
    setup = setup_of(session)
    try:
        key = setup.key()
    except SecretError:
        return reject("no_key")
    if not tokens.verify(key, token):
        return reject("forged")
    request = session.execute(
        select(CsatRequest).where(col(CsatRequest.nonce) == token.nonce)
    ).scalar_one_or_none()
    if request is None:
        return reject("unknown")
    number = session.execute(
        select(col(Ticket.number)).where(col(Ticket.id) == request.ticket_id)
    ).scalar_one_or_none()
    if number != token.number:
        return reject("wrong_ticket")
    if now - token.issued_at > timedelta(days=setup.valid_days):
        return reject("expired")
    rated = session.execute(
        select(col(CsatRating.id)).where(col(CsatRating.request_id) == request.id)
    ).first()
    if rated is not None:
        return reject("replayed")
    conn.execute(
        _RATINGS.insert(),
        {
            "request_id": request.id,
            "ticket_id": request.ticket_id,
            "score": token.score,
            "comment": strip_quoted(parsed.text),
            "received_at": now,
            "sender": sender,
            "message_id": message_id,
        },
    )
    return RatingOutcome(True, "", token.number, token.score)


def _seen(session: Session, message_id: str) -> bool:
    for table in (_RATINGS, _REJECTIONS):
        found = session.execute(
            select(table.c.id).where(table.c.message_id == message_id).limit(1)
        ).first()
        if found is not None:
            return True
    return False
