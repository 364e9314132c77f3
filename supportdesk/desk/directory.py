"""Queues, agents, customers and organisations: the people and places tickets refer to."""

from __future__ import annotations

import re

from sqlalchemy import func
from sqlmodel import Session, col, select

from supportdesk.errors import NotFoundError, ValidationError
from supportdesk.i18n import _
from supportdesk.store.models import (
    Agent,
    Customer,
    Organisation,
    Queue,
    QueueMember,
    utcnow,
)

_HANDLE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_QUEUE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")

# Mail providers whose users are individuals: a shared domain is not an organisation.
PUBLIC_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "yahoo.co.jp",
        "icloud.com",
        "me.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.ru",
        "yandex.ru",
        "qq.com",
        "163.com",
        "fastmail.com",
        "zoho.com",
        "docomo.ne.jp",
        "ezweb.ne.jp",
    }
)


def normalise_email(address: str) -> str:
    address = address.strip().lower()
    if not _EMAIL.match(address):
        raise ValidationError(_("{address!r} is not an email address").format(address=address))
    return address


def ensure_queue(session: Session, name: str, *, description: str = "") -> Queue:
    """The queue called `name`, created if missing (queue names are lower-case slugs)."""
    name = name.strip().lower()
    if not _QUEUE.match(name):
        raise ValidationError(
            _("queue name {name!r}: use lower-case letters, digits, '.', '_' or '-'").format(
                name=name
            )
        )
    queue = session.exec(select(Queue).where(Queue.name == name)).first()
    if queue is None:
        queue = Queue(name=name, description=description)
        session.add(queue)
        session.flush()
    return queue


def get_queue(session: Session, name: str) -> Queue:
    queue = session.exec(select(Queue).where(Queue.name == name.strip().lower())).first()
    if queue is None:
        known = ", ".join(q.name for q in list_queues(session)) or _("none yet")
        raise NotFoundError(_("no queue {name!r} (queues: {known})").format(name=name, known=known))
    return queue


def list_queues(session: Session) -> list[Queue]:
    return list(session.exec(select(Queue).order_by(Queue.name)))


def add_agent(
    session: Session, handle: str, *, email: str, name: str = "", signature: str = ""
) -> Agent:
    handle = handle.strip().lower()
    if not _HANDLE.match(handle):
        raise ValidationError(
            _("agent handle {handle!r}: use lower-case letters, digits, '.', '_' or '-'").format(
                handle=handle
            )
        )
    email = normalise_email(email)
    clash = session.exec(
        select(Agent).where((Agent.handle == handle) | (Agent.email == email))
    ).first()
    if clash is not None:
        what = "handle" if clash.handle == handle else "email"
        raise ValidationError(
            _("an agent with {what} {clash!r} already exists").format(
                what=what, clash=getattr(clash, what)
            )
        )
    agent = Agent(handle=handle, email=email, name=name or handle, signature=signature)
    session.add(agent)
    session.flush()
    return agent


def get_agent(session: Session, handle: str) -> Agent:
    agent = session.exec(select(Agent).where(Agent.handle == handle.strip().lower())).first()
    if agent is None:
        raise NotFoundError(
            _("no agent {handle!r} (see `supportdesk agents list`)").format(handle=handle)
        )
    return agent


def list_agents(session: Session) -> list[Agent]:
    return list(session.exec(select(Agent).order_by(Agent.handle)))


def add_queue_member(session: Session, queue: Queue, agent: Agent) -> None:
    exists = session.get(QueueMember, (queue.id, agent.id))
    if exists is None:
        session.add(QueueMember(queue_id=queue.id, agent_id=agent.id))  # type: ignore[arg-type]
        session.flush()


def organisation_for(session: Session, email: str) -> Organisation | None:
    """The organisation of an address's domain, created on first sight; None for free mail."""
    domain = email.rsplit("@", 1)[-1]
    if domain in PUBLIC_MAIL_DOMAINS:
        return None
    org = session.exec(select(Organisation).where(Organisation.domain == domain)).first()
    if org is None:
        org = Organisation(domain=domain, name=organisation_name(domain))
        session.add(org)
        session.flush()
    return org


_SECOND_LEVEL = frozenset({"co", "com", "ac", "or", "ne", "go", "gov", "org", "net", "edu"})


def organisation_name(domain: str) -> str:
    """A readable first guess at a company's name from its domain: acme.co.jp -> Acme."""
    labels = domain.split(".")
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2:
        label = labels[-3]
    else:
        label = labels[-2] if len(labels) >= 2 else labels[0]
    return label.replace("-", " ").title()


def ensure_customer(session: Session, email: str, name: str = "") -> Customer:
    """The customer with this address, created (with its organisation) or given a name."""
    email = normalise_email(email)
    customer = session.exec(select(Customer).where(Customer.email == email)).first()
    if customer is None:
        org = organisation_for(session, email)
        customer = Customer(email=email, name=name.strip(), organisation_id=org.id if org else None)
        session.add(customer)
        session.flush()
    elif name.strip() and not customer.name:
        customer.name = name.strip()
        customer.updated_at = utcnow()
        session.add(customer)
    return customer


def agent_load(session: Session, queue: Queue | None = None) -> dict[int, int]:
    """Active tickets per agent (for least-loaded assignment and the sidebar)."""
    from supportdesk.desk.statuses import ACTIVE
    from supportdesk.store.models import Ticket

    stmt = (
        select(Ticket.assignee_id, func.count())
        .where(col(Ticket.status).in_(ACTIVE), col(Ticket.assignee_id).is_not(None))
        .group_by(col(Ticket.assignee_id))
    )
    if queue is not None:
        stmt = stmt.where(Ticket.queue_id == queue.id)
    return {agent_id: count for agent_id, count in session.exec(stmt) if agent_id is not None}
