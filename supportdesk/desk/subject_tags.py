"""Ticket tags in subjects: ours (`[#42]`) and those of the help desks mail was imported from.

Help desks put a bracketed token with a number in the subjects they send: `[#1975]`
(osTicket, Freshdesk, ours), `[Ticket#2024031910000012]` (OTRS, Zammad), `[example.com
#123]` (RT), `[ACME #123]`, `[SD-123]`. One pattern reads them all: an optional word (or
dotted name, or a few words) ending in a letter, an optional `#`, `:` or `-`, and the
number. A bare number (`[2]`, `[PATCH 2/5]`, `[v1.2]`) is no tag. Tags are compared in a
normal form: the prefix in lower case with single spaces, `#`, the digits.
"""

from __future__ import annotations

import re

MAX_TAGS = 3
"""Tags read from one subject: a subject with more is not a reply to any of them."""

_TAG = re.compile(
    r"\[\s*([A-Za-z](?:[A-Za-z0-9_. -]{0,38}[A-Za-z])??)?\s*([#:-])?\s*(\d{1,24})\s*\]"
)
_SCAN = 1000


def subject_tags(subject: str) -> list[str]:
    """The tags in `subject`, normalised, in order, each once, at most MAX_TAGS."""
    if "[" not in subject:
        return []
    found: list[str] = []
    for match in _TAG.finditer(subject[:_SCAN]):
        prefix, separator, number = match.groups()
        if not prefix and separator != "#":
            continue
        tag = f"{' '.join((prefix or '').lower().split())}#{number}"
        if tag not in found:
            found.append(tag)
        if len(found) == MAX_TAGS:
            break
    return found


def own_ticket_number(tag: str) -> int | None:
    """N for our own tag form `[#N]` (normalised `#N`), None for any other tag."""
    if tag.startswith("#") and len(tag) <= 19:
        return int(tag[1:])
    return None
