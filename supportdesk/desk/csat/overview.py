"""What the ratings say, for `supportdesk csat`, `tickets show` and the console."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from supportdesk.store.models import CsatRating, CsatRejection, CsatRequest


@dataclass(frozen=True)
class TicketRating:
    """A ticket's latest rating. The comment is the customer's text: filter before showing."""

    score: int
    comment: str
    received_at: datetime
    sender: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def rating_of(session: Session, ticket_id: int) -> TicketRating | None:
    row = session.execute(
        select(
            col(CsatRating.score),
            col(CsatRating.comment),
            col(CsatRating.received_at),
            col(CsatRating.sender),
        )
        .where(col(CsatRating.ticket_id) == ticket_id)
        .order_by(col(CsatRating.received_at).desc(), col(CsatRating.id).desc())
        .limit(1)
    ).first()
    return None if row is None else TicketRating(*row)


@dataclass
class Overview:
    """Requests, ratings and ignored rating mails over a period (all counted in SQL)."""

    since: datetime
    until: datetime
    requests_sent: int = 0
    requests_skipped: dict[str, int] = field(default_factory=dict)
    ratings: int = 0
    score_sum: int = 0
    satisfied: int = 0
    scores: dict[int, int] = field(default_factory=dict)
    ignored: dict[str, int] = field(default_factory=dict)

    @property
    def average(self) -> float | None:
        return round(self.score_sum / self.ratings, 2) if self.ratings else None

    @property
    def satisfied_share(self) -> float | None:
        return round(self.satisfied / self.ratings, 4) if self.ratings else None

    @property
    def ignored_total(self) -> int:
        return sum(self.ignored.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "requests_sent": self.requests_sent,
            "requests_skipped": dict(sorted(self.requests_skipped.items())),
            "ratings": self.ratings,
            "average": self.average,
            "satisfied": self.satisfied,
            "satisfied_share": self.satisfied_share,
            "scores": {str(s): self.scores.get(s, 0) for s in range(1, 6)},
            "ignored": dict(sorted(self.ignored.items())),
            "ignored_total": self.ignored_total,
        }


def overview(session: Session, since: datetime, until: datetime) -> Overview:
    """Requests issued, ratings and ignored rating mails received in [since, until)."""
    found = Overview(since, until)
    issued = col(CsatRequest.issued_at)
    for skipped, n in session.execute(
        select(col(CsatRequest.skipped), func.count())
        .where(issued >= since, issued < until)
        .group_by(col(CsatRequest.skipped))
    ):
        if skipped:
            found.requests_skipped[skipped] = int(n)
        else:
            found.requests_sent = int(n)
    received = col(CsatRating.received_at)
    for score, n in session.execute(
        select(col(CsatRating.score), func.count())
        .where(received >= since, received < until)
        .group_by(col(CsatRating.score))
    ):
        found.scores[int(score)] = int(n)
        found.ratings += int(n)
        found.score_sum += int(score) * int(n)
        found.satisfied += int(n) if score >= 4 else 0
    at = col(CsatRejection.received_at)
    for reason, n in session.execute(
        select(col(CsatRejection.reason), func.count())
        .where(at >= since, at < until)
        .group_by(col(CsatRejection.reason))
    ):
        found.ignored[str(reason)] = int(n)
    return found


@dataclass(frozen=True)
class IgnoredMail:
    """A rating mail that was not counted, read back from its raw bytes (mail text: filter
    before showing). The way to find what a stranger or a robot wrote in one."""

    received_at: datetime
    reason: str
    ticket_number: int | None
    sender: str
    subject: str
    comment: str
    note_id: int | None

    def as_dict(self) -> dict[str, Any]:
        found = dict(self.__dict__)
        found["received_at"] = self.received_at.isoformat()
        return found


def ignored_mails(
    session: Session, since: datetime, until: datetime, *, limit: int = 200
) -> list[IgnoredMail]:
    """The ignored rating mails received in [since, until), newest first, at most `limit`."""
    from supportdesk.mail.parse import parse_message
    from supportdesk.mail.replytext import strip_quoted

    at = col(CsatRejection.received_at)
    rows = session.execute(
        select(
            at,
            col(CsatRejection.reason),
            col(CsatRejection.ticket_number),
            col(CsatRejection.sender),
            col(CsatRejection.raw),
            col(CsatRejection.note_id),
        )
        .where(at >= since, at < until)
        .order_by(at.desc(), col(CsatRejection.id).desc())
        .limit(limit)
    ).all()
    found = []
    for received, reason, number, sender, raw, note_id in rows:
        parsed = parse_message(bytes(raw))
        found.append(
            IgnoredMail(
                received,
                reason,
                number,
                sender,
                parsed.subject,
                strip_quoted(parsed.text),
                note_id,
            )
        )
    return found
