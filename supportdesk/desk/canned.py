"""Canned replies: named reply templates with `{customer.name}`-style placeholders.

Templates are written by people and rendered into mail that leaves the building, so rendering
is plain substitution by a small parser of our own: no `str.format`, no attribute lookups, no
expressions. A placeholder without a value is an error that names it, raised before anything
is sent, never an empty gap in a customer's mail.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sqlmodel import Session, col, select

from supportdesk.errors import NotFoundError, ValidationError
from supportdesk.store.models import (
    Agent,
    CannedReply,
    Customer,
    Organisation,
    Queue,
    Ticket,
    utcnow,
)

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_PLACEHOLDER = re.compile(rf"^{_IDENT}(?:\.{_IDENT})*$")
# Escapes first, so `{{x}}` is the literal text "{x}" and not a brace around a placeholder.
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}\n]*)\}|[{}]")

# What the composer fills in; saving a template that uses anything else is refused, so a
# typo is found when the template is written rather than when a reply is sent.
KNOWN_PLACEHOLDERS = frozenset(
    {
        "customer.name",
        "customer.email",
        "customer.organisation",
        "ticket.number",
        "ticket.subject",
        "ticket.status",
        "ticket.priority",
        "ticket.queue",
        "agent.name",
        "agent.handle",
        "agent.email",
        "agent.signature",
    }
)


def _scan(body: str) -> list[tuple[re.Match[str], str | None]]:
    """Every brace token with its placeholder name (None for an escape); bad syntax raises."""
    tokens: list[tuple[re.Match[str], str | None]] = []
    for match in _TOKEN.finditer(body):
        text = match.group()
        if text in ("{{", "}}"):
            tokens.append((match, None))
            continue
        name = match.group(1)
        if name is None:
            raise ValidationError(
                f"unmatched {text!r} at position {match.start() + 1}: "
                "write {{ or }} for a literal brace"
            )
        name = name.strip()
        if not _PLACEHOLDER.match(name):
            raise ValidationError(
                f"{text!r} at position {match.start() + 1} is not a placeholder: use names "
                "like {customer.name}, or {{ and }} for literal braces"
            )
        tokens.append((match, name))
    return tokens


def placeholders(body: str) -> set[str]:
    """The placeholder names a template uses; raises ValidationError on malformed braces."""
    return {name for _, name in _scan(body) if name is not None}


def render(body: str, values: Mapping[str, str]) -> str:
    """`body` with each placeholder replaced by its value, in one pass.

    Values are inserted verbatim (a value containing braces is not expanded again). A value
    that is missing or blank counts as missing: every such placeholder is named in one
    ValidationError, so the agent fixes them all at once.
    """
    tokens = _scan(body)
    missing = sorted(
        {name for _, name in tokens if name is not None and not str(values.get(name, "")).strip()}
    )
    if missing:
        listed = ", ".join("{" + name + "}" for name in missing)
        raise ValidationError(f"no value for {listed}: fill it in or edit the reply")
    parts: list[str] = []
    position = 0
    for match, name in tokens:
        parts.append(body[position : match.start()])
        parts.append(match.group()[0] if name is None else str(values[name]))
        position = match.end()
    parts.append(body[position:])
    return "".join(parts)


def template_values(session: Session, ticket: Ticket, agent: Agent | None) -> dict[str, str]:
    """The values of KNOWN_PLACEHOLDERS for a reply on `ticket` by `agent`.

    Unknown facts (a customer without a name, a free-mail customer's organisation) are left
    blank on purpose, so `render` refuses rather than greeting someone as "Dear ,".
    """
    customer = session.get(Customer, ticket.requester_id)
    organisation = (
        session.get(Organisation, customer.organisation_id)
        if customer is not None and customer.organisation_id is not None
        else None
    )
    queue = session.get(Queue, ticket.queue_id)
    return {
        "customer.name": customer.name if customer else "",
        "customer.email": customer.email if customer else "",
        "customer.organisation": organisation.name if organisation else "",
        "ticket.number": str(ticket.number),
        "ticket.subject": ticket.subject,
        "ticket.status": ticket.status,
        "ticket.priority": ticket.priority,
        "ticket.queue": queue.name if queue else "",
        "agent.name": agent.name if agent else "",
        "agent.handle": agent.handle if agent else "",
        "agent.email": agent.email if agent else "",
        "agent.signature": agent.signature if agent else "",
    }


def _check_name(name: str) -> str:
    name = name.strip()
    if not _NAME.match(name):
        raise ValidationError(
            f"canned reply name {name!r}: use lower-case letters, digits, '.', '_' or '-'"
        )
    return name


def _check_body(body: str) -> str:
    if not body.strip():
        raise ValidationError("a canned reply needs a body")
    unknown = sorted(placeholders(body) - KNOWN_PLACEHOLDERS)
    if unknown:
        listed = ", ".join("{" + name + "}" for name in unknown)
        known = ", ".join("{" + name + "}" for name in sorted(KNOWN_PLACEHOLDERS))
        raise ValidationError(f"unknown placeholder {listed}; known: {known}")
    return body


def _find(session: Session, name: str) -> CannedReply | None:
    return session.exec(select(CannedReply).where(CannedReply.name == name.strip())).first()


def add_canned(session: Session, name: str, title: str, body: str) -> CannedReply:
    name = _check_name(name)
    body = _check_body(body)
    if _find(session, name) is not None:
        raise ValidationError(f"a canned reply called {name!r} already exists")
    reply = CannedReply(name=name, title=title.strip() or name, body=body)
    session.add(reply)
    session.flush()
    return reply


def get_canned(session: Session, name: str) -> CannedReply:
    reply = _find(session, name)
    if reply is None:
        known = ", ".join(r.name for r in list_canned(session)) or "none yet"
        raise NotFoundError(f"no canned reply {name!r} (canned replies: {known})")
    return reply


def list_canned(session: Session) -> list[CannedReply]:
    return list(session.exec(select(CannedReply).order_by(col(CannedReply.name))))


def update_canned(
    session: Session,
    name: str,
    *,
    title: str | None = None,
    body: str | None = None,
    new_name: str | None = None,
) -> CannedReply:
    """Change what is given; a rename keeps names unique."""
    reply = get_canned(session, name)
    if new_name is not None:
        new_name = _check_name(new_name)
        if new_name != reply.name and _find(session, new_name) is not None:
            raise ValidationError(f"a canned reply called {new_name!r} already exists")
        reply.name = new_name
    if title is not None:
        reply.title = title.strip() or reply.name
    if body is not None:
        reply.body = _check_body(body)
    reply.updated_at = utcnow()
    session.add(reply)
    session.flush()
    return reply


def remove_canned(session: Session, name: str) -> None:
    session.delete(get_canned(session, name))
    session.flush()


def render_canned(session: Session, name: str, ticket: Ticket, agent: Agent | None) -> str:
    """The canned reply `name` filled in for `ticket`, as the composer inserts it.

    Raises ValidationError naming every placeholder this ticket cannot fill, so the agent
    sees the gap before anything is sent.
    """
    return render(get_canned(session, name).body, template_values(session, ticket, agent))
