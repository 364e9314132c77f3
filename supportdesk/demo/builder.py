"""A realistic demo help desk, built through the same domain functions a person would use.

Everything goes through desk.directory, desk.tickets, desk.messages and desk.canned, with
`Change.by(..., at=...)` backdating each step, so the demo's history, search index and counts
are exactly what real use would leave behind, and a change to the domain layer shows up here.

The build is deterministic for a seed: one `random.Random` drives every choice, batch ids and
Message-IDs included, and tickets are played out in creation order. Only `now` moves the dates.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.headerregistry import Address, BaseHeader
from email.message import EmailMessage
from email.policy import default as MAIL_POLICY
from typing import TypeVar

from sqlalchemy import func
from sqlmodel import Session, select

from supportdesk.demo.text import (
    AGENT_CHASE,
    AGENTS,
    ANGRY,
    APP_VERSIONS,
    AUTO_REPLY,
    BOUNCE_BODY,
    BOUNCE_SUBJECT,
    CANNED,
    CITIES,
    COMPANY_RENAMES,
    CURRENCIES,
    CUSTOMER_CHASE,
    CUSTOMER_THANKS,
    EN_AGENT_HELLO,
    EN_CLOSING,
    EN_FAMILY,
    EN_FREE_MAIL,
    EN_GIVEN,
    EN_HELLO_AGAIN,
    EN_HELLO_FIRST,
    EN_MONTHS,
    EN_ORG_DOMAINS,
    EN_QUOTE_INTRO,
    ENDPOINTS,
    FAMILIES,
    GENERIC_NOTES,
    HTTP_ERRORS,
    JA_AGENT_HELLO,
    JA_CLOSING,
    JA_FAMILY,
    JA_FREE_MAIL,
    JA_GIVEN,
    JA_HELLO_AGAIN,
    JA_HELLO_FIRST,
    JA_ORG_DOMAINS,
    JA_QUOTE_INTRO,
    JAPANESE_SPEAKER,
    LEAD,
    PRODUCTS,
    QUARANTINE,
    QUEUES,
    ROBOT_BODIES,
    ROBOT_SENDERS,
    ROBOT_SUBJECTS,
    STREETS,
    SUPPORT_DOMAIN,
    VIP_DOMAINS,
    Family,
    Texts,
)
from supportdesk.desk import canned, directory
from supportdesk.desk import tickets as ticket_ops
from supportdesk.desk.events import Change
from supportdesk.desk.messages import NewMessage, add_message
from supportdesk.desk.rules import storage
from supportdesk.desk.sla import storage as sla_storage
from supportdesk.errors import ValidationError
from supportdesk.store import Store
from supportdesk.store.models import (
    STATUSES,
    Agent,
    CannedReply,
    Customer,
    Message,
    Note,
    Queue,
    Ticket,
)

_T = TypeVar("_T")

TICKETS_PER_SESSION = 50
MAX_AGE = timedelta(days=90)
JST = timezone(timedelta(hours=9), "JST")
EN_UTC_OFFSETS = (0, 0, 1, 1, 2, -5, -5, -8, 10)
SUPPORT_NAME = "Supportdesk Example"


@dataclass
class DemoSummary:
    """What was built; the CLI prints it as JSON, so plain counts only."""

    tickets: int
    messages: int
    queues: int
    agents: int
    customers: int
    notes: int
    canned: int


def demo_is_built(store: Store) -> bool:
    """Whether a complete demo is there: canned replies are written last, so they mark it."""
    with store.session() as session:
        has_ticket = session.exec(select(Ticket.id).limit(1)).first() is not None
        has_canned = session.exec(select(CannedReply.id).limit(1)).first() is not None
    return has_ticket and has_canned


def build_demo(
    store: Store,
    *,
    tickets: int = 600,
    seed: int = 7,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DemoSummary:
    """Fill an empty store with about three months of a help desk's life, ending at `now`.

    Refuses a store that already holds queues, agents or tickets: the demo is never mixed
    with real work, and a half-built demo is rebuilt rather than patched. The build takes
    seconds, so `progress(done, total)` is called after each committed batch of tickets.
    """
    if tickets < 1:
        raise ValidationError("a demo needs at least one ticket")
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        raise ValidationError("build_demo needs an aware `now` (UTC), not a naive datetime")
    now = now.astimezone(UTC)
    rng = random.Random(seed)
    with store.session(write=True) as session:
        _require_empty(session)
        agent_ids = _add_queues_and_agents(session)
        people = _add_customers(session, rng)
    builder = _Builder(rng=rng, now=now, people=people, agent_ids=agent_ids)
    plans = _plan(rng, tickets, now)
    for start in range(0, len(plans), TICKETS_PER_SESSION):
        with store.session(write=True) as session:
            for plan in plans[start : start + TICKETS_PER_SESSION]:
                builder.play(session, plan)
        if progress is not None:
            done = plans[: start + TICKETS_PER_SESSION]
            progress(len(done) + sum(plan.duplicate for plan in done), tickets)
    with store.session(write=True) as session:
        storage.import_rules(session, demo_rules(), origin="the demo's rules")
        for name, title, body in CANNED:
            canned.add_canned(session, name, title, body)
        # Set last, once: the due times and breaches of every ticket come from its history.
        sla_storage.set_policies(session, DEMO_SLA, origin="the demo's SLA", at=now)
    with store.session() as session:
        return _summarise(session)


DEMO_SLA = """\
# Logins and the apps are looked after around the clock, so at any hour of the day
# some of their tickets are due soon and some have breached; billing keeps London office
# hours and shipping works Tokyo's long week, so their clocks pause at night.

[[sla]]
queue = "accounts"
first_response = "2h"
next_response = "8h"

[sla.hours]
mon = "00:00-24:00"
tue = "00:00-24:00"
wed = "00:00-24:00"
thu = "00:00-24:00"
fri = "00:00-24:00"
sat = "00:00-24:00"
sun = "00:00-24:00"

[sla.priority.urgent]
first_response = "1h"

[[sla]]
queue = "technical"
first_response = "8h"
next_response = "24h"

[sla.hours]
mon = "00:00-24:00"
tue = "00:00-24:00"
wed = "00:00-24:00"
thu = "00:00-24:00"
fri = "00:00-24:00"
sat = "00:00-24:00"
sun = "00:00-24:00"

[sla.priority.urgent]
first_response = "1h"
next_response = "4h"

[[sla]]
queue = "billing"
timezone = "Europe/London"
first_response = "8h"
next_response = "16h"
resolution = "120h"

[sla.hours]
mon = "09:00-17:30"
tue = "09:00-17:30"
wed = "09:00-17:30"
thu = "09:00-17:30"
fri = "09:00-17:30"

[[sla]]
queue = "shipping"
timezone = "Asia/Tokyo"
first_response = "6h"
next_response = "16h"

[sla.hours]
mon = "09:00-18:00"
tue = "09:00-18:00"
wed = "09:00-18:00"
thu = "09:00-18:00"
fri = "09:00-18:00"
sat = "10:00-16:00"
"""
"""The demo's service levels (`supportdesk sla export` shows them)."""
AROUND_THE_CLOCK = tuple(f for f in FAMILIES if f.queue == "accounts")
"""Where the newest ticket comes from: first response within 2 h (1 h if urgent), any hour."""


def demo_rules() -> str:
    """The rules the demo's history says ran (its `rule:NAME` events), as rules TOML.

    Stored with the demo so `supportdesk rules list` shows the rules its events name, and
    `rules test` on the demo has something real to try. The builder plays their actions
    itself (it writes history at past dates), acting as each rule by name.
    """
    vip = "|".join(sorted(d.removesuffix(".example") for d in VIP_DOMAINS))
    bounce = '{ header = { name = "Return-Path", matches = "^<>$" } }'
    return rf"""[[rules]]
name = "tag-bounces"
trigger = "new_ticket"
description = "Delivery failures: mail with an empty return path."
when = {{ all = [{{ robot = true }}, {bounce}] }}
actions = [{{ add_tags = ["bounce"] }}]

[[rules]]
name = "tag-auto-replies"
trigger = "new_ticket"
description = "Out-of-office and other automatic answers."
when = {{ all = [{{ robot = true }}, {{ not = {bounce} }}] }}
actions = [{{ add_tags = ["auto-reply"] }}]

[[rules]]
name = "quarantine-robots"
trigger = "new_ticket"
description = "Robot mail never waits in an agent's queue."
when = {{ robot = true }}
actions = [{{ set_queue = "{QUARANTINE.name}" }}, {{ priority = "low" }}, {{ stop = true }}]

[[rules]]
name = "auto-tag"
trigger = "new_ticket"
description = "Japanese mail gets the ja tag, for the agents who read it."
when = {{ body = {{ matches = "[ぁ-んァ-ン]" }} }}
actions = [{{ add_tags = ["ja"] }}]

[[rules]]
name = "vip"
trigger = "new_ticket"
description = "Customers on a premium contract."
when = {{ from = {{ matches = '@({vip})\.example$' }} }}
actions = [{{ add_tags = ["vip"] }}, {{ priority = "high" }}]

[[rules]]
name = "round-robin"
trigger = "new_ticket"
description = "New mail goes to the queue's agents in turn."
when = {{ robot = false }}
actions = [{{ assign = "round-robin" }}]
"""


def _count(session: Session, model: type) -> int:
    return int(session.exec(select(func.count()).select_from(model)).one())


def _require_empty(session: Session) -> None:
    found = {
        "tickets": _count(session, Ticket),
        "queues": _count(session, Queue),
        "agents": _count(session, Agent),
    }
    if any(found.values()):
        held = ", ".join(f"{n} {what}" for what, n in found.items() if n)
        raise ValidationError(
            f"the demo is built only into an empty store, and this one has {held}; "
            "for a fresh demo run `supportdesk demo --rebuild`"
        )


def _summarise(session: Session) -> DemoSummary:
    return DemoSummary(
        tickets=_count(session, Ticket),
        messages=_count(session, Message),
        queues=_count(session, Queue),
        agents=_count(session, Agent),
        customers=_count(session, Customer),
        notes=_count(session, Note),
        canned=_count(session, CannedReply),
    )


def _add_queues_and_agents(session: Session) -> dict[str, int]:
    queues = {
        spec.name: directory.ensure_queue(session, spec.name, description=spec.description)
        for spec in (*QUEUES, QUARANTINE)
    }
    quarantine = queues[QUARANTINE.name]
    quarantine.is_quarantine = True
    session.add(quarantine)
    agent_ids: dict[str, int] = {}
    for spec in AGENTS:
        agent = directory.add_agent(
            session,
            spec.handle,
            email=f"{spec.handle}@{SUPPORT_DOMAIN}",
            name=spec.name,
            signature=spec.signature,
        )
        agent_ids[spec.handle] = agent.id  # type: ignore[assignment]
        for queue_name in spec.queues:
            directory.add_queue_member(session, queues[queue_name], agent)
    return agent_ids


@dataclass(frozen=True)
class _Person:
    """A customer as the story needs them: how they write, and how they are greeted."""

    email: str
    name: str
    lang: str
    greet: str
    company: str
    vip: bool
    tz: timezone


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii() and c.isalnum()).lower()


def _add_customers(session: Session, rng: random.Random) -> list[_Person]:
    """About 200 customers: most at one of 30 organisations, some on free mail."""
    people: list[_Person] = []
    taken: set[str] = set()

    def unique(local: str, domain: str) -> str:
        address = f"{local}@{domain}"
        while address in taken:
            address = f"{local}{rng.randint(2, 99)}@{domain}"
        taken.add(address)
        return address

    for _ in range(150):
        given, family = rng.choice(EN_GIVEN), rng.choice(EN_FAMILY)
        if rng.random() < 0.75:
            domain = rng.choice(EN_ORG_DOMAINS)
            local = rng.choice(
                (f"{_ascii(given)}.{_ascii(family)}", f"{_ascii(given)[0]}{_ascii(family)}")
            )
        else:
            domain = rng.choice(EN_FREE_MAIL)
            local = f"{_ascii(given)}.{_ascii(family)}{rng.randint(1, 99)}"
        offset = timezone(timedelta(hours=rng.choice(EN_UTC_OFFSETS)))
        people.append(
            _Person(
                email=unique(local, domain),
                name=f"{given} {family}",
                lang="en",
                greet=given,
                company="",
                vip=domain in VIP_DOMAINS,
                tz=offset,
            )
        )
    for _ in range(50):
        (family_kanji, family_romaji), (given_kanji, given_romaji) = (
            rng.choice(JA_FAMILY),
            rng.choice(JA_GIVEN),
        )
        if rng.random() < 0.7:
            domain, company = rng.choice(JA_ORG_DOMAINS)
            local = f"{given_romaji}.{family_romaji}"
        else:
            domain, company = rng.choice(JA_FREE_MAIL), ""
            local = f"{family_romaji}-{given_romaji}{rng.randint(1, 999)}"
        people.append(
            _Person(
                email=unique(local, domain),
                name=f"{family_kanji} {given_kanji}",
                lang="ja",
                greet=family_kanji,
                company=company,
                vip=domain in VIP_DOMAINS,
                tz=JST,
            )
        )
    for person in people:
        directory.ensure_customer(session, person.email, person.name)
    return people


@dataclass
class _Plan:
    """One ticket slot: when it arrives and where its story ends."""

    created: datetime
    status: str
    length: int
    robot: bool = False
    duplicate: bool = False
    fresh: bool = False
    """The newest ticket: a new one in a queue that works around the clock, so the demo
    has a ticket due soon at any hour it is built."""


# Older tickets are mostly finished; the last days hold the open work.
_STATUS_BY_AGE: tuple[tuple[float, dict[str, int]], ...] = (
    (2, {"new": 35, "open": 33, "pending": 15, "on-hold": 4, "solved": 13}),
    (7, {"new": 8, "open": 27, "pending": 25, "on-hold": 8, "solved": 30, "closed": 2}),
    (21, {"open": 8, "pending": 12, "on-hold": 8, "solved": 37, "closed": 35}),
    (float("inf"), {"open": 1, "pending": 2, "on-hold": 3, "solved": 6, "closed": 88}),
)
# Messages alternate customer, agent, customer...: a ticket waiting on the customer ends on
# an agent's reply (even length), one waiting on an agent ends on the customer's (odd). A
# finished ticket ends on the customer's thanks or the agent's resolution, never on a first
# reply, except a closed one whose customer never answered (two messages, swept as stale).
_WAITING_ON_CUSTOMER = {2: 58, 4: 28, 6: 10, 8: 4}
_LENGTHS: dict[str, dict[int, int]] = {
    "new": {1: 1},
    "open": {1: 35, 3: 45, 5: 14, 7: 6},
    "pending": _WAITING_ON_CUSTOMER,
    "on-hold": _WAITING_ON_CUSTOMER,
    "solved": {3: 38, 4: 34, 5: 10, 6: 10, 7: 4, 8: 4},
    "closed": {2: 28, 3: 27, 4: 26, 5: 7, 6: 7, 7: 2, 8: 3},
}


def _weighted(rng: random.Random, weights: Mapping[_T, int]) -> _T:
    return rng.choices(list(weights), list(weights.values()))[0]


def _status_for(rng: random.Random, age: timedelta) -> str:
    days = age / timedelta(days=1)
    for limit, weights in _STATUS_BY_AGE:
        if days < limit:
            return _weighted(rng, weights)
    raise AssertionError("the last age band is unbounded")


def _length_for(rng: random.Random, status: str) -> int:
    return _weighted(rng, _LENGTHS[status])


def _plan(rng: random.Random, count: int, now: datetime) -> list[_Plan]:
    """Every ticket's arrival and fate, decided before any is written.

    Arrivals lean a little towards the recent past and the newest is minutes old. A few
    slots are robots for the quarantine; a couple of tickets get a duplicate from the same
    customer, which takes the place of the next slot so the total stays `count`.
    """
    ages = sorted((MAX_AGE * rng.random() ** 1.3 for _ in range(count)), reverse=True)
    ages[-1] = min(ages[-1], timedelta(minutes=rng.uniform(4, 15)))
    plans: list[_Plan] = []
    for age in ages:
        status = _status_for(rng, age)
        plans.append(_Plan(created=now - age, status=status, length=_length_for(rng, status)))
    for index in rng.sample(range(count), max(1, round(count * 0.03)) if count >= 10 else 0):
        robot = plans[index]
        robot.robot, robot.status, robot.length = True, "new", 1
    newest = plans[-1]
    newest.robot, newest.status, newest.length, newest.fresh = False, "new", 1, True
    if count >= 20:
        _plan_duplicates(rng, plans, max(1, count // 250))
    _cover_every_status(rng, plans)
    return plans


def _plan_duplicates(rng: random.Random, plans: list[_Plan], wanted: int) -> None:
    eligible = [
        i
        for i in range(len(plans) - 1)
        if not plans[i].robot
        and not plans[i + 1].robot
        and not plans[i + 1].fresh
        and plans[i].status in ("open", "pending", "on-hold", "solved")
        and plans[i].length <= 7
    ]
    chosen: list[int] = []
    for i in rng.sample(eligible, len(eligible)):
        if all(abs(i - j) > 1 for j in chosen):
            chosen.append(i)
        if len(chosen) == wanted:
            break
    for i in sorted(chosen, reverse=True):
        plans[i].duplicate = True
        del plans[i + 1]


def _cover_every_status(rng: random.Random, plans: list[_Plan]) -> None:
    """Make sure each status shows up at least once, even in a small demo."""
    humans = [p for p in plans if not p.robot and not p.duplicate and not p.fresh]
    if len(humans) < 2 * len(STATUSES):
        return
    for status in STATUSES:
        if any(p.status == status for p in humans):
            continue
        counts = {s: sum(p.status == s for p in humans) for s in STATUSES}
        spare = [p for p in humans if counts[p.status] > 1]
        pick = max(spare, key=lambda p: p.created) if status == "new" else rng.choice(spare)
        pick.status, pick.length = status, _length_for(rng, status)


@dataclass
class _Sent:
    """A message already in a thread, as the next reply quotes and references it."""

    message_id: str
    references: tuple[str, ...]
    name: str
    address: str
    at: datetime
    text: str


@dataclass
class _Story:
    """The ticket being played out and what the story knows about it."""

    row: Ticket
    subject: str
    person: _Person
    lang: str
    values: dict[str, str]
    queue: str
    variant: int = 0
    assignee: str | None = None
    thread: list[_Sent] = field(default_factory=list)
    messages: int = 0

    @property
    def number(self) -> int:
        return self.row.number

    def say(self, texts: Texts) -> str:
        """This ticket's variant of `texts`, filled with its values."""
        options = texts.of(self.lang)
        return options[self.variant % len(options)].format_map(self.values)


def _between(start: datetime, end: datetime, fraction: float) -> datetime:
    return start + (end - start) * fraction


def _next_at(moment: datetime, days: int, hour: int) -> datetime:
    """`hour` o'clock UTC on the day after `moment + days`: when a daily job would act."""
    day = (moment + timedelta(days=days + 1)).date()
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _quote(sent: _Sent, lang: str, tz: timezone) -> str:
    """The quoted previous message, introduced the way the replier's mail client would."""
    at = sent.at.astimezone(tz)
    if lang == "ja":
        weekday = "月火水木金土日"[at.weekday()]
        when = f"{at.year}年{at.month}月{at.day}日({weekday}) {at:%H:%M}"
        intro = JA_QUOTE_INTRO.format(date=when, name=sent.name, address=sent.address)
    else:
        when = f"{at:%a, %d %b %Y at %H:%M}"
        intro = EN_QUOTE_INTRO.format(date=when, name=sent.name, address=sent.address)
    lines = "\n".join(f"> {line}" if line else ">" for line in sent.text.splitlines())
    return f"{intro}\n{lines}"


def _raw_mail(
    *,
    sender: BaseHeader,
    recipient: BaseHeader,
    subject: BaseHeader,
    date: datetime,
    message_id: str,
    parent: _Sent | None,
    references: tuple[str, ...],
    body: str,
    extra: tuple[tuple[str, str], ...] = (),
) -> bytes:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = recipient
    mail["Subject"] = subject
    mail["Date"] = date
    mail["Message-ID"] = message_id
    if parent is not None:
        mail["In-Reply-To"] = parent.message_id
        mail["References"] = " ".join(references)
    for name, value in extra:
        mail[name] = value
    mail.set_content(body)
    return mail.as_bytes()


@dataclass
class _Builder:
    """Plays each planned ticket out through the domain layer, in time order."""

    rng: random.Random
    now: datetime
    people: list[_Person]
    agent_ids: dict[str, int]
    _daily_batches: dict[tuple[str, datetime], str] = field(default_factory=dict)
    _turns: dict[str, int] = field(default_factory=dict)
    _headers: dict[tuple[str, str | tuple[str, str]], BaseHeader] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.agents = {spec.handle: spec for spec in AGENTS}
        # Fumiko answers every Japanese ticket, so the English rotation leaves her out.
        self.members = {
            queue.name: [
                a.handle for a in AGENTS if queue.name in a.queues and a.handle != JAPANESE_SPEAKER
            ]
            for queue in QUEUES
        }
        self.addresses = {q.name: f"{q.address}@{SUPPORT_DOMAIN}" for q in (*QUEUES, QUARANTINE)}
        # A few customers write often, most now and then.
        self.by_lang: dict[str, tuple[list[_Person], list[float]]] = {}
        for lang in ("en", "ja"):
            group = [p for p in self.people if p.lang == lang]
            total, cumulative = 0.0, []
            for _ in group:
                total += min(self.rng.paretovariate(1.2), 20.0)
                cumulative.append(total)
            self.by_lang[lang] = (group, cumulative)

    def play(self, session: Session, plan: _Plan) -> None:
        if plan.robot:
            self._robot(session, plan)
        else:
            self._human(session, plan)

    # Who acts, and when.

    def _batch_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def change(self, actor: str, at: datetime) -> Change:
        return Change.by(actor, batch_id=self._batch_id(), at=at)

    def daily(self, actor: str, at: datetime) -> Change:
        """A change by a job that sweeps many tickets at once: one batch per run."""
        key = (actor, at)
        if key not in self._daily_batches:
            self._daily_batches[key] = self._batch_id()
        return Change.by(actor, batch_id=self._daily_batches[key], at=at)

    def _requester(self, lang: str) -> _Person:
        group, cumulative = self.by_lang[lang]
        return self.rng.choices(group, cum_weights=cumulative)[0]

    def _next_agent(self, story: _Story) -> str:
        if story.lang == "ja":
            return JAPANESE_SPEAKER
        members = self.members[story.queue]
        turn = self._turns.get(story.queue, 0)
        self._turns[story.queue] = turn + 1
        return members[turn % len(members)]

    def _assign(self, session: Session, story: _Story, handle: str, change: Change) -> None:
        ticket_ops.assign(session, story.number, handle, change)
        story.assignee = handle

    def _status(self, session: Session, story: _Story, status: str, change: Change) -> None:
        ticket_ops.set_status(session, story.number, status, change)

    # What the ticket is about.

    def _values(self, person: _Person, lang: str, created: datetime) -> dict[str, str]:
        """One set of slot values per ticket, so a thread keeps to the same order and amount."""
        rng = self.rng
        ja = lang == "ja"
        side = 1 if ja else 0
        earlier = created - timedelta(days=rng.randint(2, 20))
        version = rng.randrange(len(APP_VERSIONS))
        if ja:
            amount = f"¥{rng.randint(12, 480) * 100:,}"
            date = f"{earlier.month}月{earlier.day}日"
            month = f"{earlier.month}月"
        else:
            amount = (
                f"{rng.choice(CURRENCIES)}{rng.randint(12, 480)}.{rng.choice(('00', '50', '99'))}"
            )
            date = f"{earlier.day} {EN_MONTHS[earlier.month - 1]}"
            month = EN_MONTHS[earlier.month - 1]
        return {
            "order": f"SD-{rng.randint(10000, 99999)}",
            "invoice": f"INV-{earlier.year}-{rng.randint(1000, 9999)}",
            "amount": amount,
            "date": date,
            "month": month,
            "product": rng.choice(PRODUCTS)[side],
            "city": rng.choice(CITIES)[side],
            "street": rng.choice(STREETS),
            "last4": f"{rng.randint(0, 9999):04d}",
            "code": rng.choice(HTTP_ERRORS),
            "endpoint": rng.choice(ENDPOINTS),
            "time": f"{rng.randint(0, 23):02d}:{rng.choice(('05', '20', '35', '50'))}",
            "version": APP_VERSIONS[version],
            "version_next": APP_VERSIONS[version + 1]
            if version + 1 < len(APP_VERSIONS)
            else "5.0.1",
            "tracking": f"1Z{rng.getrandbits(40):010X}",
            "tracking2": f"1Z{rng.getrandbits(40):010X}",
            "ref": str(rng.randint(100000, 999999)),
            "vat": str(rng.randint(100000000, 999999999)),
            "company": rng.choice(COMPANY_RENAMES),
            "email": person.email,
            "lead": self.agents[LEAD].name.split()[0],
        }

    # Mail.

    def _header(self, name: str, value: str | tuple[str, str]) -> BaseHeader:
        """A parsed header, kept: parsing headers is most of the cost of building mail."""
        key = (name, value)
        header = self._headers.get(key)
        if header is None:
            parsed = value if isinstance(value, str) else Address(value[0], addr_spec=value[1])
            header = self._headers[key] = MAIL_POLICY.header_factory(name, parsed)
        return header

    def _message_id(self, domain: str, prefix: str = "") -> str:
        rng = self.rng
        return f"<{prefix}{rng.getrandbits(64):016x}.{rng.getrandbits(24):06x}@{domain}>"

    def _send(
        self,
        session: Session,
        story: _Story,
        change: Change,
        *,
        outgoing: bool,
        sender: tuple[str, str],
        recipient: tuple[str, str],
        subject: str,
        text: str,
        tz: timezone,
        auto_reply: bool = False,
        bounce: bool = False,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """Write one message with raw bytes a mail client would accept, and the parsed fields."""
        parent = story.thread[-1] if story.thread else None
        if parent is None or auto_reply or bounce:
            body = text
        elif outgoing:
            # The desk answers below the quote, so a reply ends with the agent's signature.
            body = f"{_quote(parent, story.lang, tz)}\n\n{text}"
        else:
            body = f"{text}\n\n{_quote(parent, story.lang, tz)}"
        if outgoing:
            message_id = self._message_id(SUPPORT_DOMAIN, f"sd{story.number}.")
        else:
            message_id = self._message_id(sender[1].rsplit("@", 1)[1])
        references = (*parent.references, parent.message_id)[-10:] if parent else ()
        at = change.now()
        raw = _raw_mail(
            sender=self._header("From", sender),
            recipient=self._header("To", recipient),
            subject=self._header("Subject", subject),
            date=at.astimezone(tz),
            message_id=message_id,
            parent=parent,
            references=references,
            body=body,
            extra=extra,
        )
        new = NewMessage(
            raw=raw,
            message_id=message_id,
            direction="out" if outgoing else "in",
            from_name=sender[0],
            from_address=sender[1],
            to_addresses=recipient[1],
            subject=subject,
            sent_at=at.replace(microsecond=0),
            body_text=body,
            in_reply_to=parent.message_id if parent else "",
            references=" ".join(references),
            is_auto_reply=auto_reply,
            is_bounce=bounce,
            author_agent_id=self.agent_ids[story.assignee] if outgoing and story.assignee else None,
        )
        add_message(session, story.row, new, change)
        story.messages += 1
        if not (auto_reply or bounce):
            story.thread.append(
                _Sent(message_id, references, sender[0], sender[1], at.astimezone(tz), text)
            )

    def _from_customer(
        self, session: Session, story: _Story, change: Change, text: str, *, first: bool = False
    ) -> None:
        rng, person = self.rng, story.person
        agent = self.agents.get(story.assignee or LEAD, self.agents[LEAD])
        if story.lang == "ja":
            if first:
                hello = JA_HELLO_FIRST[1 if person.company and rng.random() < 0.6 else 0]
            else:
                hello = rng.choice(JA_HELLO_AGAIN)
            agent_family = "田中" if agent.handle == JAPANESE_SPEAKER else agent.greeting_name
            hello = hello.format(
                family=person.greet, org_ja=person.company, agent_family=agent_family
            )
            body = f"{hello}\n\n{text}\n\n{rng.choice(JA_CLOSING)}\n{person.name}"
        else:
            hello = rng.choice(EN_HELLO_FIRST if first else EN_HELLO_AGAIN)
            hello = hello.format(agent_first=agent.greeting_name)
            body = f"{hello}\n\n{text}\n\n{rng.choice(EN_CLOSING)}\n{person.greet}"
        self._send(
            session,
            story,
            change,
            outgoing=False,
            sender=(person.name, person.email),
            recipient=(SUPPORT_NAME, self.addresses[story.queue]),
            subject=story.subject if first else f"Re: [#{story.number}] {story.subject}",
            text=body,
            tz=person.tz,
        )

    def _out_of_office(self, session: Session, story: _Story, at: datetime) -> None:
        person = story.person
        back = at + timedelta(days=self.rng.randint(3, 12))
        if story.lang == "ja":
            back_text = f"{back.month}月{back.day}日"
        else:
            back_text = f"{back.day} {EN_MONTHS[back.month - 1]}"
        self._send(
            session,
            story,
            self.change(f"mail:{person.email}", at),
            outgoing=False,
            sender=(person.name, person.email),
            recipient=(SUPPORT_NAME, self.addresses[story.queue]),
            subject=f"Automatic reply: Re: [#{story.number}] {story.subject}",
            text=self.rng.choice(AUTO_REPLY.of(story.lang)).format(date=back_text),
            tz=person.tz,
            auto_reply=True,
            extra=(("Auto-Submitted", "auto-replied"), ("X-Autoreply", "yes")),
        )

    def _from_agent(self, session: Session, story: _Story, change: Change, text: str) -> None:
        agent = self.agents[story.assignee or LEAD]
        if story.lang == "ja":
            hello = self.rng.choice(JA_AGENT_HELLO).format(greet=story.person.greet)
            body = f"{hello}\n{text}\n\n-- \n{agent.signature}"
        else:
            hello = self.rng.choice(EN_AGENT_HELLO).format(greet=story.person.greet)
            body = f"{hello}\n\n{text}\n\n-- \n{agent.signature}"
        self._send(
            session,
            story,
            change,
            outgoing=True,
            sender=(agent.name, self.addresses[story.queue]),
            recipient=(story.person.name, story.person.email),
            subject=f"Re: [#{story.number}] {story.subject}",
            text=body,
            tz=UTC,
        )

    def _note(self, session: Session, story: _Story, family: Family, at: datetime) -> None:
        rng = self.rng
        pool = family.notes if rng.random() < 0.75 else GENERIC_NOTES
        body = rng.choice(pool).format_map(story.values)
        actor = f"agent:{story.assignee or LEAD}"
        ticket_ops.add_note(session, story.number, body, self.change(actor, at))

    # A customer's ticket, from first mail to its planned status.

    def _timeline(self, plan: _Plan) -> tuple[list[datetime], datetime]:
        """When each message arrives, and when the story settles after the last one.

        Agents answer within hours, customers within a day or so; a thread that would run
        past `now` is squeezed to fit, so nothing in the demo happens in the future.
        """
        rng = self.rng
        hours = [0.0]
        for i in range(1, plan.length):
            if i % 2:
                gap = min(max(rng.expovariate(1 / 5), 0.15), 30.0)
            else:
                gap = min(max(rng.expovariate(1 / 20), 0.25), 96.0)
            hours.append(hours[-1] + gap)
        finished = plan.status in ("solved", "closed")
        tail = rng.uniform(0.3, 6.0) if finished and plan.length % 2 == 1 else 0.0
        settle = hours[-1] + tail
        room = (self.now - plan.created) / timedelta(hours=1) * 0.9
        scale = min(1.0, room / settle) if settle > 0 else 1.0
        times = [plan.created + timedelta(hours=h * scale) for h in hours]
        return times, plan.created + timedelta(hours=settle * scale)

    def _priority(self, family: Family, angry: bool) -> str:
        roll = self.rng.random()
        if angry:
            return "urgent" if roll < 0.3 else "high"
        if roll < 0.03:
            return "urgent"
        if family.usual_priority != "normal" and roll < 0.45:
            return family.usual_priority
        if roll < 0.12:
            return "high"
        if roll < 0.2:
            return "low"
        return "normal"

    def _human(self, session: Session, plan: _Plan) -> None:
        """A customer's ticket, played in time order so its history reads as it happened."""
        rng = self.rng
        lang = "ja" if rng.random() < 0.2 else "en"
        person = self._requester(lang)
        family = rng.choice(AROUND_THE_CLOCK if plan.fresh else FAMILIES)
        misrouted = plan.status != "new" and rng.random() < 0.05
        arrival = family.queue
        if misrouted:
            arrival = rng.choice([q.name for q in QUEUES if q.name != family.queue])
        values = self._values(person, lang, plan.created)
        variant = rng.randrange(len(family.openings.of(lang)))
        subject = family.subjects.of(lang)[variant % len(family.subjects.of(lang))]
        subject = subject.format_map(values)
        angry = family.usual_priority != "low" and rng.random() < 0.07
        times, settle = self._timeline(plan)
        length = plan.length
        if length > 1:
            triage_at = _between(plan.created, times[1], rng.uniform(0.2, 0.6))
        else:
            wait = min((self.now - plan.created) / 2, timedelta(hours=rng.uniform(0.1, 3.0)))
            triage_at = plan.created + wait

        arrived = self.change(f"mail:{person.email}", plan.created)
        row = ticket_ops.create_ticket(
            session,
            subject=subject,
            requester_email=person.email,
            requester_name=person.name,
            queue=arrival,
            change=arrived,
        )
        story = _Story(
            row=row,
            subject=subject,
            person=person,
            lang=lang,
            values=values,
            queue=arrival,
            variant=variant,
        )
        opening = story.say(family.openings)
        if angry:
            opening += ("" if lang == "ja" else " ") + rng.choice(ANGRY.of(lang))
        self._from_customer(session, story, arrived, opening, first=True)
        self._arrival_rules(session, story, plan.created + timedelta(seconds=2))
        auto_assign = 0.45 if plan.status == "new" else 0.0 if misrouted else 0.65
        if rng.random() < auto_assign:
            rule = self.change("rule:round-robin", plan.created + timedelta(seconds=3))
            self._assign(session, story, self._next_agent(story), rule)
        duplicate = None
        if plan.duplicate:
            resent_at = _between(plan.created, triage_at, rng.uniform(0.2, 0.8))
            duplicate = self._resend(session, story, opening, resent_at)
        if plan.status == "new":
            return
        opens = length == 1 or rng.random() < 0.25
        self._triage(session, story, family, angry, misrouted, triage_at, duplicate, opens)
        note_after = rng.randrange(length) if rng.random() < 0.2 else None
        if note_after == 0:
            end = times[1] if length > 1 else self.now
            self._note(session, story, family, _between(triage_at, end, 0.5))
        for i in range(1, length):
            at, last = times[i], i == length - 1
            following = times[i + 1] if not last else settle if settle > at else self.now
            if i % 2:
                self._agent_turn(session, story, family, plan, i, at, following)
            else:
                self._customer_turn(session, story, family, plan, angry, i, at)
            if note_after == i:
                self._note(session, story, family, _between(at, following, 0.3))
        if plan.status in ("solved", "closed") and length % 2 == 1:
            self._finish(session, story, plan, self.change(f"agent:{story.assignee}", settle))

    def _arrival_rules(self, session: Session, story: _Story, at: datetime) -> None:
        """What routing rules do the moment mail lands: language and VIP tags."""
        ja, vip = story.lang == "ja", story.person.vip
        if not (ja or vip):
            return
        # Batch ids are drawn as they were before vip had a rule of its own, so a seed still
        # builds the same demo (and the console's snapshots stay as they are).
        tagging = self.change("rule:auto-tag", at)
        if ja:
            ticket_ops.add_tags(session, story.number, ["ja"], tagging)
        if vip:
            rule = self.change("rule:vip", at)
            ticket_ops.add_tags(session, story.number, ["vip"], rule)
            ticket_ops.set_priority(session, story.number, "high", rule)

    def _resend(self, session: Session, story: _Story, opening: str, at: datetime) -> int:
        """The customer, hearing nothing yet, sends the same mail again: a second ticket."""
        person = story.person
        again = self.change(f"mail:{person.email}", at)
        row = ticket_ops.create_ticket(
            session,
            subject=story.subject,
            requester_email=person.email,
            requester_name=person.name,
            queue=story.queue,
            change=again,
        )
        copy = _Story(
            row=row,
            subject=story.subject,
            person=person,
            lang=story.lang,
            values=story.values,
            queue=story.queue,
            variant=story.variant,
        )
        prefix = (
            "念のため再送いたします。\n"
            if story.lang == "ja"
            else "Sending this again in case it got lost. "
        )
        self._from_customer(session, copy, again, prefix + opening, first=True)
        self._arrival_rules(session, copy, at + timedelta(seconds=2))
        return copy.number

    def _triage(
        self,
        session: Session,
        story: _Story,
        family: Family,
        angry: bool,
        misrouted: bool,
        at: datetime,
        duplicate: int | None,
        opens: bool,
    ) -> None:
        """An agent first looks at the ticket: route, take, prioritise, tag, fold duplicates."""
        rng = self.rng
        if misrouted:
            lead = self.change(f"agent:{LEAD}", at)
            ticket_ops.move_queue(session, story.number, family.queue, lead)
            story.queue = family.queue
            self._assign(session, story, self._next_agent(story), lead)
        if story.assignee is None:
            handle = self._next_agent(story)
            self._assign(session, story, handle, self.change(f"agent:{handle}", at))
        look = self.change(f"agent:{story.assignee}", at + timedelta(seconds=40))
        priority = self._priority(family, angry)
        if priority != story.row.priority and not (
            story.person.vip and priority in ("low", "normal")
        ):
            ticket_ops.set_priority(session, story.number, priority, look)
        if rng.random() < 0.85:
            ticket_ops.add_tags(
                session, story.number, [*family.tags, *(["angry"] if angry else [])], look
            )
        if duplicate is not None:
            ticket_ops.merge(session, duplicate, story.number, look)
            story.messages += 1
        if opens:
            self._status(session, story, "open", look)

    def _agent_turn(
        self,
        session: Session,
        story: _Story,
        family: Family,
        plan: _Plan,
        i: int,
        at: datetime,
        following: datetime,
    ) -> None:
        rng = self.rng
        last = i == plan.length - 1
        change = self.change(f"agent:{story.assignee}", at)
        if i == 1:
            text = story.say(family.agent_first)
        elif last and plan.status in ("solved", "closed"):
            text = story.say(family.resolution)
        elif i == 3 or rng.random() < 0.5:
            text = story.say(family.agent_more)
        else:
            text = rng.choice(AGENT_CHASE.of(story.lang))
        self._from_agent(session, story, change, text)
        if last:
            if plan.status in ("pending", "on-hold"):
                self._status(session, story, plan.status, change)
            else:
                self._finish(session, story, plan, change)
        else:
            roll = rng.random()
            waiting = "on-hold" if roll < 0.08 else "solved" if roll < 0.13 else "pending"
            self._status(session, story, waiting, change)
        room = story.messages + (plan.length - 1 - i) < 8
        bounce_back = at + timedelta(seconds=rng.randint(20, 180))
        if room and rng.random() < 0.05 and bounce_back < min(following, self.now):
            self._out_of_office(session, story, bounce_back)

    def _customer_turn(
        self,
        session: Session,
        story: _Story,
        family: Family,
        plan: _Plan,
        angry: bool,
        i: int,
        at: datetime,
    ) -> None:
        rng = self.rng
        last = i == plan.length - 1
        change = self.change(f"mail:{story.person.email}", at)
        if last and plan.status in ("solved", "closed"):
            if rng.random() < 0.6:
                text = story.say(family.customer_thanks)
            else:
                text = rng.choice(CUSTOMER_THANKS.of(story.lang))
        else:
            if i == 2 and rng.random() < 0.85:
                text = story.say(family.customer_more)
            else:
                text = rng.choice(CUSTOMER_CHASE.of(story.lang))
            if angry and rng.random() < 0.5:
                text += ("" if story.lang == "ja" else " ") + rng.choice(ANGRY.of(story.lang))
        self._from_customer(session, story, change, text)
        if story.row.status in ("pending", "on-hold", "solved"):
            self._status(session, story, "open", change)
        if i == 2 and story.lang == "en" and plan.length >= 4 and rng.random() < 0.07:
            others = [h for h in self.members[story.queue] if h != story.assignee]
            handover = self.change(f"agent:{LEAD}", at + timedelta(minutes=rng.randint(5, 50)))
            self._assign(session, story, rng.choice(others), handover)

    def _finish(self, session: Session, story: _Story, plan: _Plan, change: Change) -> None:
        """Solve the ticket; for a closed one, also close it the way tickets get closed."""
        at = change.now()
        if plan.status == "solved":
            self._status(session, story, "solved", change)
            return
        stale_sweep = _next_at(at, 14, 9)
        unanswered = plan.length == 2 or (plan.length % 2 == 0 and self.rng.random() < 0.1)
        if unanswered and stale_sweep < self.now:
            # The customer never answered: the lead's morning "close pending older than 14 days".
            self._status(session, story, "pending", change)
            self._status(session, story, "closed", self.daily(f"cli:{LEAD}", stale_sweep))
            return
        self._status(session, story, "solved", change)
        auto_close = _next_at(at, 4, 2)
        if auto_close < self.now:
            self._status(session, story, "closed", self.daily("system:auto-close", auto_close))
        else:
            closing = min(at + timedelta(minutes=self.rng.randint(1, 30)), self.now)
            self._status(session, story, "closed", self.change(change.actor, closing))

    # Robots: auto-replies and bounces to the desk's own mail, which a rule quarantines.

    def _robot(self, session: Session, plan: _Plan) -> None:
        rng = self.rng
        domain = rng.choice((*EN_ORG_DOMAINS, *(d for d, _ in JA_ORG_DOMAINS)))
        order, invoice = (
            f"SD-{rng.randint(10000, 99999)}",
            f"INV-{plan.created.year}-{rng.randint(1000, 9999)}",
        )
        bounce = rng.random() < 0.25
        extra: tuple[tuple[str, str], ...]
        if bounce:
            name, address = "Mail Delivery System", f"mailer-daemon@{domain}"
            subject = BOUNCE_SUBJECT.format(invoice=invoice)
            text = BOUNCE_BODY.format(domain=domain, recipient=f"accounts@{domain}")
            extra = (("Auto-Submitted", "auto-replied"), ("Return-Path", "<>"))
        else:
            name, local = rng.choice(ROBOT_SENDERS)
            address = f"{local}@{domain}"
            subject = rng.choice(ROBOT_SUBJECTS).format(order=order, invoice=invoice)
            back = plan.created + timedelta(days=rng.randint(2, 10))
            text = rng.choice(ROBOT_BODIES).format(date=f"{back.day} {EN_MONTHS[back.month - 1]}")
            extra = (
                ("Auto-Submitted", "auto-replied"),
                ("X-Autoreply", "yes"),
                ("X-Auto-Response-Suppress", "All"),
                ("Precedence", "auto_reply"),
            )
        arrived = self.change(f"mail:{address}", plan.created)
        row = ticket_ops.create_ticket(
            session,
            subject=subject,
            requester_email=address,
            requester_name=name,
            queue=QUEUES[1].name,
            change=arrived,
        )
        story = _Story(
            row=row,
            subject=subject,
            person=_robot_person(address, name),
            lang="en",
            values={},
            queue=QUEUES[1].name,
        )
        self._send(
            session,
            story,
            arrived,
            outgoing=False,
            sender=(name, address),
            recipient=(SUPPORT_NAME, self.addresses[story.queue]),
            subject=subject,
            text=text,
            tz=UTC,
            auto_reply=not bounce,
            bounce=bounce,
            extra=extra,
        )
        # The rules a message meets run in the transaction that stores it: one batch.
        rule = self.change("rule:quarantine-robots", plan.created + timedelta(seconds=1))
        tagger = "rule:tag-bounces" if bounce else "rule:tag-auto-replies"
        tagging = Change.by(tagger, batch_id=rule.batch_id, at=rule.at)
        ticket_ops.add_tags(session, story.number, ["bounce" if bounce else "auto-reply"], tagging)
        ticket_ops.move_queue(session, story.number, QUARANTINE.name, rule)
        ticket_ops.set_priority(session, story.number, "low", rule)
        age = self.now - plan.created
        if age > timedelta(days=3) and rng.random() < 0.7:
            swept = plan.created + min(age / 2, timedelta(hours=rng.uniform(1, 48)))
            self._status(session, story, "closed", self.change(f"agent:{LEAD}", swept))


def _robot_person(address: str, name: str) -> _Person:
    return _Person(email=address, name=name, lang="en", greet=name, company="", vip=False, tz=UTC)
