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

from datetime import datetime
from typing import Any

from sqlalchemy import func

from supportdesk.errors import ValidationError
from supportdesk.i18n import _
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
        raise ValidationError(
            _("unknown status {status!r}; expected one of {statuses}").format(
                status=status, statuses=", ".join(STATUSES)
            )
        )
    return status


def check_priority(priority: str) -> str:
    if priority not in PRIORITIES:
        raise ValidationError(
            _("unknown priority {priority!r}; expected one of {priorities}").format(
                priority=priority, priorities=", ".join(PRIORITIES)
            )
        )
    return priority


def check_transition(number: int, old: str, new: str) -> None:
    check_status(new)
    if new != old and new not in TRANSITIONS[old]:
        allowed = ", ".join(sorted(TRANSITIONS[old])) or _("nothing (closed is final)")
        raise ValidationError(
            _("ticket #{number} is {old}; it can go to {allowed}, not {new}").format(
                number=number, old=old, allowed=allowed, new=new
            )
        )


def status_values(status: str, at: Any, solved_at: Any) -> dict[str, Any]:
    """The columns a ticket moving to `status` at `at` gets: the status and its timestamps.

    The one rule for every path that changes a status (single change, bulk, undo, a
    customer's reply reopening, rules, replies, merge, creation): solving stamps solved_at;
    closing stamps closed_at and keeps the time it was solved (stamping it now if it never
    was); any other status (a reopen) clears both, so "solved in the last week" never counts
    a ticket that is open again. The old status plays no part, only where the ticket lands.

    Per ticket, `at` is a datetime and `solved_at` the ticket's value; set-based, pass SQL
    expressions (`Ticket.solved_at`) and the result is the SET of an UPDATE.
    """
    if status == "solved":
        return {"status": status, "solved_at": at, "closed_at": None}
    if status == "closed":
        return {"status": status, "closed_at": at, "solved_at": _or(solved_at, at)}
    return {"status": status, "solved_at": None, "closed_at": None}


def _or(value: Any, fallback: Any) -> Any:
    if value is None:
        return fallback
    if isinstance(value, datetime):
        return value
    return func.coalesce(value, fallback)


def woken_by_customer(status: str) -> str | None:
    """The status a customer's new message moves a ticket to, if any: someone is needed
    again on a ticket that was waiting for the customer or solved."""
    return "open" if status in ("solved", "pending") else None
