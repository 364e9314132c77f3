"""What a sync or an import did: counts for people (a table) and scripts (JSON).

Kept apart from the pipeline so that reporting a sync that found nothing new does not load
the store's machinery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from supportdesk.desk.ingest import IngestResult
    from supportdesk.desk.rules.engine import Fired


@dataclass
class Summary:
    """What a sync or an import did, for people (a table) and scripts (JSON)."""

    messages: int = 0
    new_tickets: int = 0
    follow_ups: int = 0
    reopened: int = 0
    robots: int = 0
    quarantined: int = 0
    duplicates: int = 0
    ratings: int = 0
    """Satisfaction ratings recorded (desk.csat); they are no messages of a thread."""
    ratings_ignored: int = 0
    """Rating mails ignored: forged, replayed, expired... (`supportdesk csat` says which)."""
    digest_replies: int = 0
    """Agents' replies to their notification digest: kept, no ticket (desk.digest)."""
    oversize: int = 0
    errors: list[str] = field(default_factory=list)
    # Rules that failed on a message (the mail is stored, that rule's changes are not): each
    # is also a `rule_failed` event on its ticket.
    rule_failures: int = 0
    rule_failure_messages: list[str] = field(default_factory=list)

    def count(self, result: IngestResult) -> None:
        if result.outcome == "duplicate":
            self.duplicates += 1
            return
        if result.outcome in ("rating", "rating_ignored"):
            self.ratings += result.outcome == "rating"
            self.ratings_ignored += result.outcome == "rating_ignored"
            return
        if result.outcome == "digest_reply":
            self.digest_replies += 1
            return
        self.messages += 1
        if result.outcome == "new_ticket":
            self.new_tickets += 1
        elif result.outcome in ("follow_up", "reopened"):
            self.follow_ups += 1
            self.reopened += result.outcome == "reopened"
        elif result.outcome == "quarantined":
            self.quarantined += 1
        if result.robot:
            self.robots += 1

    def merge(self, other: Summary) -> None:
        for name in (
            "messages",
            "new_tickets",
            "follow_ups",
            "reopened",
            "robots",
            "quarantined",
            "duplicates",
            "ratings",
            "ratings_ignored",
            "digest_replies",
            "oversize",
            "rule_failures",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)
        self.rule_failure_messages.extend(other.rule_failure_messages)

    def count_rules(self, fired: Sequence[Fired]) -> None:
        for f in fired:
            if f.error is not None:
                self.rule_failures += 1
                self.rule_failure_messages.append(f.failure())

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)
