"""Ticket statuses, priorities and the transitions allowed between statuses.

    new      -> open, pending, on-hold, solved, closed
    open     -> pending, on-hold, solved, closed
    pending  -> open, on-hold, solved, closed
    on-hold  -> open, pending, solved, closed
    solved   -> open, closed          (a customer reply reopens a solved ticket)
    closed   -> (nothing)             (final: a reply opens a new ticket linked to it)

Nothing returns to `new`: it means "nobody has looked yet".
"""

from __future__ import annotations

from supportdesk.errors import ValidationError
from supportdesk.store.models import PRIORITIES, STATUSES

ACTIVE = ("new", "open", "pending", "on-hold")

TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"open", "pending", "on-hold", "solved", "closed"}),
    "open": frozenset({"pending", "on-hold", "solved", "closed"}),
    "pending": frozenset({"open", "on-hold", "solved", "closed"}),
    "on-hold": frozenset({"open", "pending", "solved", "closed"}),
    "solved": frozenset({"open", "closed"}),
    "closed": frozenset(),
}


def check_status(status: str) -> str:
    if status not in STATUSES:
        raise ValidationError(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
    return status


def check_priority(priority: str) -> str:
    if priority not in PRIORITIES:
        raise ValidationError(
            f"unknown priority {priority!r}; expected one of {', '.join(PRIORITIES)}"
        )
    return priority


def check_transition(number: int, old: str, new: str) -> None:
    check_status(new)
    if new != old and new not in TRANSITIONS[old]:
        allowed = ", ".join(sorted(TRANSITIONS[old])) or "nothing (closed is final)"
        raise ValidationError(f"ticket #{number} is {old}; it can go to {allowed}, not {new}")
