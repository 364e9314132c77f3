"""The notification digest: one mail to an agent who is away, about what they missed.

An agent is away when none of their consoles has beaten (desk.presence) for `[notifications]
away_minutes`. The team's one feeder (the `sync --watch` leader, whose sender drains the
outbox) gathers such an agent's unread notifications that no digest mentioned yet into one
message to the agent's own address in `agents`, at most once per `digest_minutes`, and
marks them `mailed_at` in the transaction that queues it: a rollback takes both back, so
a notification is mailed once or not at all. The outbox and its sender do the rest, with
their at-most-once sending.

The only address a digest is ever queued for is the agent's own (from `agents`, never from a
message or ticket), and the sender checks again before handing it to the server (`check`):
an item whose recipients are not exactly its agent's current address is failed, unsent. So
a digest cannot reach a customer, nor one of our own mailboxes (where it would come back in
as a ticket).

The text is the feeder's language; subjects that came from mail are made one line, as plain
text in a text/plain body that no terminal shows.
"""

from __future__ import annotations

import email.utils
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Row,
    Select,
    and_,
    bindparam,
    exists,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlmodel import Session, col

from supportdesk.desk import notifications, presence
from supportdesk.i18n import _, ngettext
from supportdesk.mail import compose
from supportdesk.store.models import Agent, Notification, OutboxItem, Ticket, table_of
from supportdesk.store.team import session_actor

if TYPE_CHECKING:
    from supportdesk.config import Mailbox, Settings

KIND = "digest"
ID_MARK = "sd.digest"
"""In every digest's Message-ID (`<...ID_MARK@domain>`): ingest looks up only such ids."""
LISTED = 50
"""Notifications a digest lists one by one; the rest are counted (a bulk reassignment can
tell one agent of 100,000 tickets)."""

_N = table_of(Notification)
_T = table_of(Ticket)
_A = table_of(Agent)
_OUTBOX = table_of(OutboxItem)


@dataclass(frozen=True)
class Queued:
    """One digest queued: for whom, as which outbox item, about how many notifications."""

    handle: str
    outbox_id: int
    count: int


@dataclass(frozen=True)
class Skipped:
    """An agent owed a digest who cannot have one as things stand (a bad address): said, so
    someone fixes it, while the others' digests still go."""

    handle: str
    reason: str


@dataclass(frozen=True)
class Due:
    """What one look for due digests did."""

    queued: list[Queued]
    skipped: list[Skipped]


def _owed(agent_id: Any) -> ColumnElement[bool]:
    """A notification a digest still owes the agent: unread, not mailed, still holding."""
    return and_(
        _N.c.agent_id == agent_id,
        _N.c.read_at.is_(None),
        _N.c.mailed_at.is_(None),
        notifications.holding(),
    )


# Built once: the statements are the same for every agent and every run.
_AGENT: BindParameter[int] = bindparam("agent")
_MAILED: BindParameter[datetime] = bindparam("at", type_=_N.c.mailed_at.type)
_MARK = update(_N).where(_owed(_AGENT)).values(mailed_at=_MAILED)
_OWED_ANY = exists().where(_owed(_A.c.id))


def _ours(settings: Settings) -> set[str]:
    return {_checked(m.address) for m in settings.mailboxes} | {
        _checked(m.from_address) for m in settings.mailboxes
    }


def _checked(address: str) -> str:
    """`address` as queued (compose.check_address: IDNA, lower-case domain), or as it is
    when it is not one (it then matches no address that was queued)."""
    try:
        return compose.check_address(address).lower()
    except compose.ComposeError:
        return address.strip().lower()


def queue_due(session: Session, settings: Settings, now: datetime) -> Due:
    """Queue a digest for every away agent who is owed one and had none in the last
    `digest_minutes`; nothing when the digest is off, no mailbox sends, or the session is
    an agent's (on a team store only a service role, the feeder, sees everyone's)."""
    minutes = settings.notifications.digest_minutes
    box = settings.digest_mailbox()
    if not minutes or box is None:
        return Due([], [])
    if notifications.handle_of(session_actor(session.connection()) or "") is not None:
        return Due([], [])
    here = presence.present(now=now, minutes=settings.notifications.away_minutes)
    # The last digest by the outbox's index, not by the notifications it marked: an agent
    # away with 100,000 of them would make this a scan of all on every look.
    recent = select(_OUTBOX.c.agent_id).where(
        _OUTBOX.c.agent_id.is_not(None),
        _OUTBOX.c.kind == KIND,
        _OUTBOX.c.created_at > now - timedelta(minutes=minutes),
    )
    ours = _ours(settings)
    candidates = session.execute(
        select(_A.c.id, _A.c.handle, _A.c.name, _A.c.email)
        .where(
            _A.c.active.is_(True),
            _A.c.digest.is_(True),
            _A.c.email != "",
            (literal(notifications.AGENT_PREFIX) + _A.c.handle).not_in(here),
            _A.c.id.not_in(recent),
            _OWED_ANY,
        )
        .order_by(_A.c.id)
    ).all()
    due = Due([], [])
    for agent_id, handle, name, address in candidates:
        # Checked before anything is marked: one address SMTP cannot take must not roll
        # back everyone's digest, every minute.
        try:
            checked = compose.check_address(address)
        except compose.ComposeError as exc:
            due.skipped.append(Skipped(handle, str(exc)))
            continue
        if checked.lower() in ours:
            continue  # it would come back in as a ticket
        if not _lock(session, agent_id, recent):
            continue  # another queuer's digest committed while this one looked
        done = _queue_one(session, box, now, agent_id, handle, name, checked)
        if done is not None:
            due.queued.append(done)
    return due


def _lock(session: Session, agent_id: int, recent: Select[Any]) -> bool:
    """Hold `agent_id`'s digest until the commit, and say whether it is still due.

    Two queuers at once on PostgreSQL (the feeder and a `send` beside it) would otherwise
    both find the agent due: the second's marking UPDATE waits on the first's rows, and then
    marks what was notified in between, a second digest in the window. So each takes the
    agent's lock first and looks again, in a new statement that sees the other's commit.
    SQLite's one writer already keeps them apart.
    """
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return True
    conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || :what), :agent)"),
        {"what": " digest", "agent": agent_id},
    )
    return not conn.execute(select(exists(recent.where(_OUTBOX.c.agent_id == agent_id)))).scalar()


def _queue_one(
    session: Session,
    box: Mailbox,
    now: datetime,
    agent_id: int,
    handle: str,
    name: str,
    address: str,
) -> Queued | None:
    conn = session.connection()
    # Marked first: the rows stay locked until the commit, so a second drain running at the
    # same moment finds none left to mail and queues nothing.
    count = int(conn.execute(_MARK, {"agent": agent_id, "at": now}).rowcount)
    if not count:
        return None
    rows = conn.execute(
        select(
            _N.c.kind,
            _T.c.number,
            _T.c.subject,
            _N.c.actor,
            _N.c.created_at,
            _N.c.batch_id,
            _N.c.ticket_count,
        )
        .select_from(_N)
        .outerjoin(_T, _T.c.id == _N.c.ticket_id)
        .where(_N.c.agent_id == agent_id, _N.c.mailed_at == now, _N.c.read_at.is_(None))
        .order_by(_N.c.id.desc())
        .limit(LISTED)
    ).all()
    domain = box.from_address.rpartition("@")[2]
    agent = compose.address(name, address)
    message_id = email.utils.make_msgid(ID_MARK, domain=domain)
    raw = compose.build(
        compose.Outgoing(
            sender=compose.address(box.from_name, box.from_address),
            to=[agent],
            # A reply goes to the agent, not back into the desk (where ingest keeps it
            # without a ticket: desk.ingest).
            reply_to=[agent],
            subject=ngettext(
                "{count} notification while you were away",
                "{count} notifications while you were away",
                count,
            ).format(count=count),
            text=body(handle, name, rows, count),
            message_id=message_id,
            date=now,
            charset=box.charset,
            automatic=True,
        )
    )
    outbox_id = conn.execute(
        insert(_OUTBOX)
        .values(
            ticket_id=None,
            agent_id=agent_id,
            message_id=None,
            mailbox=box.name,
            recipients=address,
            raw=raw,
            state="queued",
            attempts=0,
            last_error="",
            kind=KIND,
            envelope_from=box.from_address,
            message_id_header=message_id,
            created_at=now,
            next_attempt_at=now,
        )
        .returning(_OUTBOX.c.id)
    ).scalar_one()
    return Queued(handle, int(outbox_id), int(count))


def body(handle: str, name: str, rows: Sequence[Row[Any, *tuple[Any, ...]]], count: int) -> str:
    """The digest's text: a line per notification (newest first) and the command that opens
    its ticket; subjects from mail made one line. A bulk assignment is one line however
    many tickets it assigned, with the command that lists them."""
    lines = [
        _("Hello {name},").format(name=compose.one_line(name) or handle),
        "",
        _("While you were away from the console:"),
        "",
    ]
    for kind, number, subject, actor, created_at, batch, tickets in rows:
        when = f"{created_at:%Y-%m-%d %H:%M} UTC"
        if batch is not None:
            lines.append(
                ngettext(
                    "batch {batch}  assigned you {count} ticket",
                    "batch {batch}  assigned you {count} tickets",
                    tickets,
                ).format(batch=notifications.short_batch(batch), count=f"{tickets:,}")
            )
            lines.append(
                "    "
                + _("{when} by {actor}; list them: supportdesk tickets list batch:{batch}").format(
                    when=when, actor=actor, batch=compose.one_line(batch)
                )
            )
            continue
        lines.append(
            f"#{number}  {notifications.kind_label(kind)}: {compose.one_line(subject, 120)}"
        )
        lines.append(
            "    "
            + _("{when} by {actor}; open it: supportdesk tickets show {number}").format(
                when=when, actor=actor, number=number
            )
        )
    more = count - len(rows)
    if more > 0:
        lines += [
            "",
            _("and {count} more: supportdesk notifications list --unread").format(count=more),
        ]
    lines += [
        "",
        _(
            "Read them in the console or mark them read with"
            " `supportdesk notifications read --all`."
            " No more of these mails: `supportdesk agents digest {handle} --off`."
        ).format(handle=handle),
    ]
    return "\n".join(lines) + "\n"


def check(
    session: Session, settings: Settings, agent_id: int | None, recipients: list[str]
) -> str | None:
    """Why a digest may not go to `recipients` (None: it may): only ever to its agent's
    own current address, the agent still active, and never to one of the desk's own
    mailboxes (it would come back in). The sender's last check before SMTP."""
    if agent_id is None:
        return "a digest without its agent"
    found = session.execute(
        select(col(Agent.email), col(Agent.active)).where(col(Agent.id) == agent_id)
    ).first()
    if found is None or not found[1]:
        return "the digest's agent is gone or inactive"
    if [r.lower() for r in recipients] != [_checked(found[0])]:
        return "a digest goes to its agent's own address only"
    if {_checked(r) for r in recipients} & _ours(settings):
        return "a digest never goes to one of the desk's own mailboxes"
    return None


def set_wanted(session: Session, handle: str, wanted: bool) -> None:
    """Whether `handle` gets the digest when away (the team turns it on in the config)."""
    found = session.connection().execute(
        update(Agent).where(col(Agent.handle) == handle.strip().lower()).values(digest=wanted)
    )
    if not found.rowcount:
        from supportdesk.errors import NotFoundError

        raise NotFoundError(
            _("no agent {handle!r} (see `supportdesk agents list`)").format(handle=handle)
        )
