"""Applying a rule's actions, each through the domain function a person would use.

Canned replies are real mail: rendered (placeholders checked as for an agent, in the
customer's language when the reply has that variant), marked `Auto-Submitted: auto-replied`
and queued in the outbox through desk.replies, plus a `canned_reply` event that the rate
limit counts. Robots and no-reply addresses never get one, whatever the rule says. A queue's
acknowledgement of new tickets (`acknowledge`) takes the same path and the same limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlmodel import Session, col

from supportdesk.desk import canned, directory, events, replies, tickets
from supportdesk.desk.events import Change
from supportdesk.desk.ingest import QUARANTINE_QUEUE, UNKNOWN_SENDER
from supportdesk.desk.rules.conditions import Evaluation
from supportdesk.desk.rules.model import Action
from supportdesk.i18n import _
from supportdesk.mail import compose
from supportdesk.mail.robots import is_no_reply_address
from supportdesk.store.models import (
    PRIORITIES,
    Agent,
    Customer,
    Event,
    Queue,
    QueueMember,
    Ticket,
)

# Automatic mail per customer (FreeScout's limit): more is a loop or an angry robot.
CANNED_LIMIT = 10
CANNED_WINDOW = timedelta(hours=3)


@dataclass(frozen=True)
class Outcome:
    """What one action did, in words for `rules test` and the ticket history."""

    text: str
    stop: bool = False
    changed: bool = True


def apply(action: Action, ev: Evaluation, change: Change) -> Outcome:
    session, number = ev.session, ev.ticket().number
    kind = action.kind
    if kind == "stop":
        return Outcome("stop", stop=True, changed=False)
    if kind == "set_queue":
        tickets.move_queue(session, number, action.set_queue or "", change)
        return Outcome(f"queue {action.set_queue}")
    if kind == "quarantine":
        queue = directory.ensure_queue(session, QUARANTINE_QUEUE)
        if not queue.is_quarantine:
            queue.is_quarantine = True
            session.add(queue)
        tickets.move_queue(session, number, QUARANTINE_QUEUE, change)
        return Outcome("quarantine")
    if kind == "assign":
        handle = _assignee(session, ev.ticket(), action.assign or "")
        if handle is None:
            return Outcome(f"assign {action.assign}: nobody to pick", changed=False)
        tickets.assign(session, number, handle, change)
        return Outcome(f"assign {handle}")
    if kind == "status":
        tickets.set_status(session, number, action.status or "", change)
        return Outcome(f"status {action.status}")
    if kind == "priority":
        priority = _priority(ev.ticket().priority, action.priority or "")
        tickets.set_priority(session, number, priority, change)
        return Outcome(f"priority {priority}")
    if kind == "add_tags":
        tickets.add_tags(session, number, action.add_tags or [], change)
        return Outcome("tag " + " ".join(action.add_tags or []))
    if kind == "remove_tags":
        tickets.remove_tags(session, number, action.remove_tags or [], change)
        return Outcome("untag " + " ".join(action.remove_tags or []))
    if kind == "note":
        tickets.add_note(session, number, action.note or "", change)
        return Outcome("note")
    if kind == "canned_reply":
        return _canned(action.canned_reply or "", ev, change)
    raise AssertionError(_("unhandled action {kind}").format(kind=kind))


def _priority(current: str, wanted: str) -> str:
    if wanted not in ("up", "down"):
        return wanted
    step = 1 if wanted == "up" else -1
    index = min(max(PRIORITIES.index(current) + step, 0), len(PRIORITIES) - 1)
    return PRIORITIES[index]


def _assignee(session: Session, ticket: Ticket, wanted: str) -> str | None:
    if wanted not in ("round-robin", "least-loaded"):
        return directory.get_agent(session, wanted).handle
    members = list(
        session.execute(
            select(Agent)
            .join(QueueMember, col(QueueMember.agent_id) == col(Agent.id))
            .where(col(QueueMember.queue_id) == ticket.queue_id, col(Agent.active).is_(True))
            .order_by(col(Agent.handle))
        ).scalars()
    )
    if not members:
        return None
    if wanted == "least-loaded":
        load = directory.agent_load(session, session.get(Queue, ticket.queue_id))
        return min(members, key=lambda a: (load.get(a.id, 0), a.handle)).handle
    # Round-robin without stored state: whoever in the queue was assigned longest ago.
    handles = [a.handle for a in members]
    last = dict(
        session.execute(
            select(col(Event.new_value), func.max(col(Event.id)))
            .where(col(Event.action) == "assign", col(Event.new_value).in_(handles))
            .group_by(col(Event.new_value))
        ).all()
    )
    return min(handles, key=lambda h: (last.get(h, 0), h))


def _canned(name: str, ev: Evaluation, change: Change) -> Outcome:
    session, ticket = ev.session, ev.ticket()
    # A canned reply removed since the rule was stored is the rule's failure, whoever the
    # message came from and whether or not a mailbox can send: it must not pass unseen.
    canned.get_canned(session, name)
    if ev.message is not None and ev.message.robot:
        return Outcome(f"canned {name}: skipped, the message came from a robot", changed=False)
    customer = session.get(Customer, ticket.requester_id)
    recipient = customer.email if customer else ""
    if not recipient or recipient == UNKNOWN_SENDER or is_no_reply_address(recipient):
        return Outcome(f"canned {name}: skipped, {recipient or 'nobody'} takes no replies", False)
    if ev.message is not None and ev.message.no_reply:
        return Outcome(f"canned {name}: skipped, the sender takes no replies", changed=False)
    if _recent_canned(session, ticket.requester_id, ev) >= CANNED_LIMIT:
        return Outcome(
            f"canned {name}: skipped, {CANNED_LIMIT} automatic replies to {recipient} "
            f"within {CANNED_WINDOW}",
            changed=False,
        )
    setup = replies.setup_of(session)
    if not setup.identities:
        return Outcome(f"canned {name}: skipped, no mailbox can send (set smtp_host)", False)
    rendered = canned.render_canned_for(
        session, name, ticket, None, language=replies.customer_language(session, ticket.number)
    )
    spec = replies.ReplySpec(
        kind="reply",
        body=rendered.text,
        to=compose.format_addresses(
            [compose.address(customer.name if customer else "", recipient)]
        ),
        language=rendered.language,
        automatic=True,
    )
    replies.queue_reply(session, ticket.number, spec, setup, change)
    events.record(session, ev.ticket(), "canned_reply", change, new=name)
    return Outcome(f"canned {name} queued to {recipient}")


def acknowledge(ev: Evaluation, change: Change) -> Outcome | None:
    """A new ticket's acknowledgement, when its queue names one (`acknowledge_with`)."""
    queue = ev.session.get(Queue, ev.ticket().queue_id)
    if queue is None or not queue.acknowledge_with:
        return None
    return _canned(queue.acknowledge_with, ev, change)


def _recent_canned(session: Session, requester_id: int, ev: Evaluation) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(Event)
            .join(Ticket, col(Ticket.id) == col(Event.ticket_id))
            .where(
                col(Ticket.requester_id) == requester_id,
                col(Event.action) == "canned_reply",
                col(Event.created_at) > ev.now - CANNED_WINDOW,
            )
        ).scalar_one()
    )
