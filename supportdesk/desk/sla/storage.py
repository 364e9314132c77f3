"""SLA policies in the store: set, import, export, remove, each laying out the queue's
targets and working hours and bringing its tickets' due times up to date.

The working hours are laid out from a week before the store's oldest ticket to three years
ahead; setting or importing the policy again (or `supportdesk sla refresh`) extends them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlmodel import Session, col

from supportdesk.clock import utcnow
from supportdesk.desk import directory
from supportdesk.desk.sla import due
from supportdesk.desk.sla.calendar import with_business_counts
from supportdesk.desk.sla.policy import (
    KINDS,
    PolicyDef,
    PolicyText,
    parse_definition,
    parse_policy_file,
    to_toml,
)
from supportdesk.desk.tomlblocks import ImportSummary
from supportdesk.errors import NotFoundError, ValidationError
from supportdesk.i18n import _
from supportdesk.store.models import Queue, SlaHours, SlaPolicy, SlaTarget, Ticket, table_of

AHEAD = timedelta(days=3 * 366)
BEFORE = timedelta(days=7)


@dataclass(frozen=True)
class StoredPolicy:
    queue: str
    text: str
    policy: PolicyDef


def list_policies(session: Session) -> list[StoredPolicy]:
    rows = session.execute(
        select(col(Queue.name), col(SlaPolicy.definition))
        .join(SlaPolicy, col(SlaPolicy.queue_id) == col(Queue.id))
        .order_by(col(Queue.name))
    ).all()
    return [StoredPolicy(name, text, parse_definition(text)) for name, text in rows]


def get_policy(session: Session, queue: str) -> StoredPolicy:
    row = directory.get_queue(session, queue)
    policy = session.get(SlaPolicy, row.id)
    if policy is None:
        raise NotFoundError(
            _("queue {name!r} has no SLA policy (see `supportdesk sla set`)").format(name=row.name)
        )
    return StoredPolicy(row.name, policy.definition, parse_definition(policy.definition))


def get_policy_or_none(session: Session, queue: str) -> StoredPolicy | None:
    try:
        return get_policy(session, queue)
    except NotFoundError:
        directory.get_queue(session, queue)  # an unknown queue is still an error
        return None


def export_text(session: Session) -> str:
    return "\n".join(p.text for p in list_policies(session))


def _queues_of(session: Session, entries: list[PolicyText], origin: str) -> list[Queue]:
    queues, problems = [], []
    for entry in entries:
        try:
            queues.append(directory.get_queue(session, entry.policy.queue))
        except NotFoundError as exc:
            problems.append(
                _("{origin} line {line}: queue: {exc}").format(
                    origin=origin, line=entry.line, exc=exc
                )
            )
    if problems:
        raise ValidationError("; ".join(problems))
    return queues


def set_policies(
    session: Session, source: str, *, origin: str = "SLA file", at: datetime | None = None
) -> list[str]:
    """Set the policies of the queues a file names (others stay); the queue names set."""
    entries = parse_policy_file(source, origin=origin)
    if not entries:
        raise ValidationError(_("{origin}: no [[sla]] table").format(origin=origin))
    queues = _queues_of(session, entries, origin)
    for entry, queue in zip(entries, queues, strict=True):
        _store(session, queue, entry.text, entry.policy, at or utcnow())
    return [q.name for q in queues]


def import_policies(
    session: Session, source: str, *, origin: str = "SLA file", at: datetime | None = None
) -> ImportSummary:
    """Make the stored policies exactly the file's: queues it leaves out lose theirs.

    Everything is validated first; a bad entry changes nothing."""
    entries = parse_policy_file(source, origin=origin)
    queues = _queues_of(session, entries, origin)
    stored = {p.queue: p for p in list_policies(session)}
    wanted = {q.name for q in queues}
    removed = sorted(set(stored) - wanted)
    added, changed, unchanged = [], [], []
    for name in removed:
        remove_policy(session, name)
    for entry, queue in zip(entries, queues, strict=True):
        old = stored.get(queue.name)
        if old is None:
            added.append(queue.name)
        elif old.text == entry.text:
            unchanged.append(queue.name)
            continue
        else:
            changed.append(queue.name)
        _store(session, queue, entry.text, entry.policy, at or utcnow())
    return ImportSummary(added=added, changed=changed, removed=removed, unchanged=unchanged)


def update_policy(
    session: Session, queue: str, changes: dict[str, Any], *, at: datetime | None = None
) -> StoredPolicy:
    """Change some settings of a queue's policy (creating it with defaults if it has none).

    `changes` holds PolicyDef fields; a target key may be `priority.<name>.<kind>`.
    """
    row = directory.get_queue(session, queue)
    existing = session.get(SlaPolicy, row.id)
    base: dict[str, Any] = (
        parse_definition(existing.definition).model_dump() if existing else {"queue": row.name}
    )
    for key, value in changes.items():
        if key.startswith("priority."):
            __, name, kind = key.split(".", 2)
            if kind not in KINDS:
                raise ValidationError(_("unknown target {kind!r}").format(kind=kind))
            priorities: dict[str, dict[str, Any]] = base.setdefault("priority", {})
            priorities.setdefault(name, {})[kind] = value
        else:
            base[key] = value
    text = to_toml(_validated(base))
    set_policies(session, text, origin=_("SLA for queue {queue!r}").format(queue=row.name), at=at)
    return get_policy(session, row.name)


def _validated(data: dict[str, Any]) -> PolicyDef:
    from pydantic import ValidationError as ModelError

    try:
        return PolicyDef.model_validate(data)
    except ModelError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc'])}: " + str(e["msg"]).removeprefix("Value error, ")
            for e in exc.errors()
        ]
        raise ValidationError("; ".join(problems)) from None


def remove_policy(session: Session, queue: str) -> None:
    row = directory.get_queue(session, queue)
    if session.get(SlaPolicy, row.id) is None:
        raise NotFoundError(_("queue {name!r} has no SLA policy").format(name=row.name))
    for model in (SlaPolicy, SlaTarget, SlaHours):
        session.execute(delete(table_of(model)).where(table_of(model).c.queue_id == row.id))
    session.execute(
        update(table_of(Ticket))
        .where(col(Ticket.queue_id) == row.id)
        .values(sla_due=None, sla_breached=False, sla_paused_since=None, sla_paused_seconds=0)
    )


def _store(session: Session, queue: Queue, text: str, policy: PolicyDef, at: datetime) -> None:
    row = session.get(SlaPolicy, queue.id)
    if row is None:
        row = SlaPolicy(queue_id=queue.id, definition=text)  # type: ignore[arg-type]
    row.definition, row.updated_at = text, at
    session.add(row)
    session.flush()
    lay_out(session, queue.id, policy, at)  # type: ignore[arg-type]


def lay_out(session: Session, queue_id: int, policy: PolicyDef, at: datetime) -> None:
    """Write the queue's targets and working hours, then recompute its tickets' due times."""
    session.execute(delete(table_of(SlaTarget)).where(col(SlaTarget.queue_id) == queue_id))
    session.execute(delete(table_of(SlaHours)).where(col(SlaHours.queue_id) == queue_id))
    session.execute(
        table_of(SlaTarget).insert(),
        [
            {"queue_id": queue_id, "priority": name, **targets}
            for name, targets in policy.targets().items()
        ],
    )
    # From the oldest ticket of any queue: a ticket moved here keeps its creation time.
    oldest = session.execute(select(func.min(Ticket.created_at))).scalar_one_or_none()
    start = min(oldest, at) if oldest is not None else at
    rows = with_business_counts(policy.calendar().intervals(start - BEFORE, at + AHEAD))
    if not rows:
        raise ValidationError(
            _("queue {queue!r}: the calendar has no working hours").format(queue=policy.queue)
        )
    session.execute(
        table_of(SlaHours).insert(),
        [
            {
                "queue_id": queue_id,
                "start": s,
                "end": e,
                "start_business": sb,
                "end_business": eb,
            }
            for s, e, sb, eb in rows
        ],
    )
    due.refresh(session, col(Ticket.queue_id) == queue_id, at)


def refresh_all(session: Session, at: datetime | None = None) -> int:
    """Lay every policy out again from `at` (extending the hours) and recompute every due
    time; the number of policies."""
    at = at or utcnow()
    policies = list_policies(session)
    for stored in policies:
        queue = directory.get_queue(session, stored.queue)
        lay_out(session, queue.id, stored.policy, at)  # type: ignore[arg-type]
    due.sweep(session, at)
    return len(policies)
