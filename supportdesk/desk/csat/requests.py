"""Who is asked for a rating, and when: the sender queues the requests before each drain.

Requests are not written by the solve itself (an agent's, a bulk change's or a rule's): the
sender (`supportdesk send`, the sender of `sync --watch`) asks the store which tickets are
solved and not asked yet, and queues one canned reply each through the outbox, like any
automatic reply. One place serves every way of solving, a bulk solve stays one UPDATE, the
key is read by the sender alone, and `delay_minutes` lets a ticket reopened by mistake go
unasked.

Decisions:

- One request per solve: the pair (ticket, solved_at) is unique in `csat_requests`; a
  second sender racing for the same ticket loses at the insert and moves on.
- Each ticket in its own savepoint: one that cannot be mailed (an address ingest took but
  no mail can carry, say) gets a row with `skipped` = "address" (or "error") and the
  error is reported once; the other tickets are asked as usual.
- The thread keeps the request with the links' signatures blanked (`ratings.redact`): only
  the mail sent (the outbox item, the Sent copy) holds working links.
- Solved, reopened and solved again within `repeat_days` of the last request: not asked
  again for that solve (a solve after the window is asked as usual).
- Only tickets solved after the feature first ran (`csat_since` in store_meta, an hour
  of grace before that): turning it on does not mail every customer ever served. And only
  solves of the last two days (after the delay): a sender stopped for a week does not mail
  a week of stale requests when it starts again.
- Never to a robot or a bounce: not for tickets in quarantine, whose requester takes no
  replies (no-reply addresses), whose address bounced, or whose latest mail from the
  customer was an auto-reply, bounce or list mail. Such a solve gets a row with `skipped`
  set, so it is decided once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import exists, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from supportdesk.desk import canned, replies
from supportdesk.desk.csat import token as tokens
from supportdesk.desk.csat.ratings import redact
from supportdesk.desk.csat.setup import DEFAULT_CANNED, CsatSetup, setup_of
from supportdesk.desk.events import Change
from supportdesk.desk.ingest import UNKNOWN_SENDER
from supportdesk.desk.reports import CSAT_ACTOR
from supportdesk.errors import NotFoundError, SupportdeskError, ValidationError
from supportdesk.i18n import N_, _
from supportdesk.mail import compose
from supportdesk.mail.robots import is_no_reply_address
from supportdesk.store.models import (
    CsatRequest,
    Customer,
    Message,
    Queue,
    StoreMeta,
    Ticket,
    table_of,
)

SKIPPED = {
    "robot": N_("a robot's ticket"),
    "no_reply": N_("no-reply address"),
    "bounced": N_("address bounced"),
    "template": N_("request text failed"),
    "address": N_("address cannot be mailed"),
    "error": N_("request failed"),
}
"""Why a solve got no request: the code (stored, in --json) and its label for people."""
SINCE_KEY = "csat_since"
BATCH = 200
"""Requests queued per drain at most: a bulk solve of thousands goes out over a few drains."""
GRACE = timedelta(hours=1)
"""Solves this long before ratings were first turned on are asked too (the sender may
start a little after the agents), older ones never: turning ratings on does not mail every
customer ever served."""
LATEST = timedelta(days=2)
"""A solve not asked about within this long after its delay (the sender was stopped) is not
asked any more: a late survey helps nobody, and the sender's query, run every few seconds by
`sync --watch`, reads only the solves of these last days instead of every solve ever."""
_REQUESTS = table_of(CsatRequest)

# The words of the links, in the customer's language (not the agent's: this is their mail).
_LABELS = {
    "en": ("Very dissatisfied", "Dissatisfied", "Neutral", "Satisfied", "Very satisfied"),
    "ja": ("とても不満", "不満", "ふつう", "満足", "とても満足"),
}
RATING_PLACEHOLDERS = ("rating.links", *(f"rating.link_{n}" for n in range(1, 6)))
_SUBJECTS = {"en": "Rating {score}/5", "ja": "評価 {score}/5"}

DEFAULT_TEXT = """[[canned]]
name = "csat-request"
title = "How did we do?"
language = "en"
body = '''
Hello {customer.first_name|there},

Your request "{ticket.subject}" (#{ticket.number}) has been solved. How did we do?

Pick a rating below: your mail program opens a message to us, which you just send. You are
welcome to add a comment to it.

{rating.links}

Thank you for your time.
'''

[canned.variants.ja]
title = "対応についてのご評価のお願い"
body = '''
{customer.name|お客}様

お問い合わせ「{ticket.subject}」（#{ticket.number}）は解決済みとなりました。
今回の対応はいかがでしたか。

下のいずれかを選ぶと弊社宛てのメールが作成されますので、そのまま送信してください。
ご意見・ご感想もあわせてご記入いただけます。

{rating.links}

ご協力ありがとうございました。
'''
"""


@dataclass(frozen=True)
class Asked:
    """One request decided by `queue_due`: queued (outbox id) or skipped (the reason)."""

    ticket_number: int
    outbox_id: int | None
    skipped: str = ""
    error: str = ""
    """Why the request could not be built (skipped "address" or "error"), for the report."""


class NoRatingLinks(ValidationError):
    """The request's canned reply has no rating links: no request can go out, so it stops
    the drain's requests rather than skipping one ticket."""


def skip_label(reason: str) -> str:
    """Why a solve got no request, for people (the code itself for an unknown one)."""
    label = SKIPPED.get(reason)
    return _(label) if label else reason


def rating_links(
    key: bytes, number: int, issued: datetime, nonce: str, address: str, language: str | None
) -> dict[str, str]:
    """The values of the {rating.*} placeholders: five mailto: links, best score last."""
    lang = language if language in _LABELS else "en"
    values: dict[str, str] = {}
    lines = []
    for score in range(5, 0, -1):
        signed = tokens.make(key, number, score, issued, nonce)
        subject = _SUBJECTS[lang].format(score=score) + " " + signed.text()
        link = f"mailto:{address}?subject={quote(subject, safe='')}"
        values[f"rating.link_{score}"] = link
        stars = "★" * score + "☆" * (5 - score)
        lines.append(f"{score} {stars} {_LABELS[lang][score - 1]}\n  <{link}>")
    values["rating.links"] = "\n\n".join(lines)
    return values


def since(session: Session, now: datetime, delay_minutes: int = 0) -> datetime:
    """The earliest solve that is asked about, fixed on the first call: GRACE (plus the
    delay) before the sender first ran with ratings on."""
    meta = session.get(StoreMeta, SINCE_KEY)
    if meta is not None:
        return datetime.fromisoformat(meta.value)
    start = now - GRACE - timedelta(minutes=delay_minutes)
    # Two senders starting together: the first one's time stands, the other reads it.
    conn = session.connection()
    from sqlalchemy.dialects.postgresql import insert as postgresql_insert

    insert = sqlite_insert if conn.dialect.name == "sqlite" else postgresql_insert
    table = table_of(StoreMeta)
    conn.execute(
        insert(table).on_conflict_do_nothing(index_elements=["key"]),
        {"key": SINCE_KEY, "value": start.isoformat()},
    )
    value = conn.execute(select(table.c.value).where(table.c.key == SINCE_KEY)).scalar_one()
    return datetime.fromisoformat(value)


def ensure_default_canned(session: Session, name: str) -> None:
    """Create the shipped request (English and Japanese) when it is the one asked for."""
    if name != DEFAULT_CANNED:
        return
    try:
        canned.get_canned(session, name)
    except NotFoundError:
        canned.add_canned_text(session, DEFAULT_TEXT, origin="default rating request")


def due_tickets(
    session: Session, setup: CsatSetup, now: datetime
) -> list[tuple[int, int, datetime]]:
    """(id, number, solved_at) of solved tickets to ask now, oldest solve first."""
    start = max(
        since(session, now, setup.delay_minutes),
        now - timedelta(minutes=setup.delay_minutes) - LATEST,
    )
    same_solve = exists().where(
        col(CsatRequest.ticket_id) == col(Ticket.id),
        col(CsatRequest.solved_at) == col(Ticket.solved_at),
    )
    recent = exists().where(
        col(CsatRequest.ticket_id) == col(Ticket.id),
        col(CsatRequest.issued_at) > now - timedelta(days=setup.repeat_days),
    )
    stmt = (
        select(col(Ticket.id), col(Ticket.number), col(Ticket.solved_at))
        .where(
            col(Ticket.status) == "solved",
            col(Ticket.solved_at) >= start,
            col(Ticket.solved_at) <= now - timedelta(minutes=setup.delay_minutes),
            col(Ticket.merged_into_id).is_(None),
            ~same_solve,
            ~recent,
        )
        .order_by(col(Ticket.solved_at), col(Ticket.id))
        .limit(BATCH)
    )
    return [(id_, number, solved) for id_, number, solved in session.execute(stmt)]


def _skip_reason(session: Session, ticket: Ticket) -> str:
    """Why this ticket's requester must not get automatic mail, or "" when they may."""
    queue = session.get(Queue, ticket.queue_id)
    if queue is not None and queue.is_quarantine:
        return "robot"
    customer = session.get(Customer, ticket.requester_id)
    email = customer.email if customer else ""
    if not email or email == UNKNOWN_SENDER or is_no_reply_address(email):
        return "no_reply"
    if customer is not None and customer.bounced_at is not None:
        return "bounced"
    latest = session.execute(
        select(col(Message.is_auto_reply), col(Message.is_bounce), col(Message.is_list))
        .where(
            col(Message.ticket_id) == ticket.id,
            col(Message.direction) == "in",
            col(Message.author_agent_id).is_(None),
        )
        .order_by(col(Message.id).desc())
        .limit(1)
    ).first()
    if latest is not None and any(latest):
        return "robot"
    return ""


def queue_due(session: Session, now: datetime) -> list[Asked]:
    """Queue the rating requests that are due, in the caller's transaction.

    Does nothing when ratings are off or no mailbox can send. Raises SecretError when the
    key cannot be read and NotFoundError when the configured canned reply is missing: both
    stop every request, so they are the sender's error to report, not a ticket's skip.
    """
    setup = setup_of(session)
    mail = replies.setup_of(session)
    if not setup.enabled or not mail.identities:
        return []
    due = due_tickets(session, setup, now)
    if not due:
        return []
    key = setup.key()
    ensure_default_canned(session, setup.canned)
    change = Change.by(CSAT_ACTOR, at=now)
    asked: list[Asked] = []
    for ticket_id, number, solved_at in due:
        try:
            with session.begin_nested():
                asked.append(_ask(session, setup, key, ticket_id, number, solved_at, now, change))
        except IntegrityError:
            continue  # another sender asked for this solve first
        except (NoRatingLinks, NotFoundError):
            raise
        except SupportdeskError as exc:
            reason = "address" if isinstance(exc, compose.ComposeError) else "error"
            try:
                with session.begin_nested():
                    _skip(session, ticket_id, solved_at, now, reason)
            except IntegrityError:
                continue
            asked.append(Asked(number, None, reason, str(exc)))
    return asked


def _skip(session: Session, ticket_id: int, solved_at: datetime, now: datetime, why: str) -> None:
    """Decide this solve once, without a mail: the reason is counted by `csat status`."""
    session.connection().execute(
        _REQUESTS.insert(),
        {
            "ticket_id": ticket_id,
            "solved_at": solved_at,
            "nonce": tokens.new_nonce(),
            "issued_at": now.replace(microsecond=0),
            "outbox_id": None,
            "language": "",
            "skipped": why,
        },
    )


def _ask(
    session: Session,
    setup: CsatSetup,
    key: bytes,
    ticket_id: int,
    number: int,
    solved_at: datetime,
    now: datetime,
    change: Change,
) -> Asked:
    ticket = session.get(Ticket, ticket_id)
    assert ticket is not None
    nonce = tokens.new_nonce()
    issued = now.replace(microsecond=0)
    row = {
        "ticket_id": ticket_id,
        "solved_at": solved_at,
        "nonce": nonce,
        "issued_at": issued,
        "outbox_id": None,
        "language": "",
        "skipped": "",
    }
    reason = _skip_reason(session, ticket)
    if reason:
        session.connection().execute(_REQUESTS.insert(), {**row, "skipped": reason})
        return Asked(number, None, reason)
    mail = replies.setup_of(session)
    language = replies.customer_language(session, number)
    name = setup.canned_for(language)
    entry = canned.definition(canned.get_canned(session, name))
    chosen, title, body = entry.text_for(language)
    if not canned.placeholders(body) & set(RATING_PLACEHOLDERS):
        # Every request would go out without a way to answer it: the sender reports this.
        raise NoRatingLinks(
            _("canned reply {name} ({language}) has no rating links: add {{rating.links}}").format(
                name=name, language=chosen
            )
        )
    customer = session.get(Customer, ticket.requester_id)
    assert customer is not None
    address = replies.identity_for(session, ticket, mail).address
    values = canned.template_values(session, ticket, None)
    values.update(rating_links(key, number, issued, nonce, address, chosen))
    try:
        text = canned.render(body, values)
    except ValidationError:
        session.connection().execute(_REQUESTS.insert(), {**row, "skipped": "template"})
        return Asked(number, None, "template")
    spec = replies.ReplySpec(
        kind="reply",
        body=text,
        to=compose.format_addresses([compose.address(customer.name, customer.email)]),
        subject=f"{title} [#{number}]",
        language=chosen,
        automatic=True,
        signature=False,
        thread_copy=redact,
    )
    # The request row first: a second sender racing for this solve fails here, before
    # anything is queued.
    request_id = (
        session.connection()
        .execute(_REQUESTS.insert().returning(_REQUESTS.c.id), {**row, "language": chosen})
        .scalar_one()
    )
    queued = replies.queue_reply(session, number, spec, mail, change, now=now)
    session.connection().execute(
        _REQUESTS.update().where(_REQUESTS.c.id == request_id).values(outbox_id=queued.outbox_id)
    )
    return Asked(number, queued.outbox_id)
