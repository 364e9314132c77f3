"""Rules: conditions, actions, order, loop protection, time rules and storage, on both backends."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from sqlmodel import col, select

from supportdesk.desk import canned, directory, ingest, replies, tickets
from supportdesk.desk.events import Change
from supportdesk.desk.rules import engine, patterns, storage
from supportdesk.desk.rules.conditions import MessageFacts
from supportdesk.errors import ValidationError
from supportdesk.mail.parse import parse_message
from supportdesk.store import Store
from supportdesk.store.models import Event, Message, Note, OutboxItem, Queue, Ticket
from tests.replies_helpers import SETUP

# A Wednesday, 10:00 UTC: inside business hours for a rule in UTC.
T0 = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)


def mail(
    subject: str = "Refund please",
    sender: str = "Jo Bloggs <jo@acme.example>",
    body: str = "I would like a refund.",
    headers: dict[str, str] | None = None,
    message_id: str | None = None,
    in_reply_to: str | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "support@desk.example"
    msg["Cc"] = "boss@acme.example"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(T0)
    msg["Message-ID"] = message_id or f"<{abs(hash((subject, sender, body)))}@mail.example>"
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg.as_bytes()


@pytest.fixture
def desk(store: Store) -> Store:
    with store.session(write=True) as s:
        general = directory.ensure_queue(s, "general")
        billing = directory.ensure_queue(s, "billing")
        billing.first_response_minutes = 60
        s.add(billing)
        directory.ensure_queue(s, "escalations")
        alice = directory.add_agent(s, "alice", email="alice@desk.example", name="Alice")
        bob = directory.add_agent(s, "bob", email="bob@desk.example", name="Bob")
        for queue in (general, billing):
            directory.add_queue_member(s, queue, alice)
            directory.add_queue_member(s, queue, bob)
        canned.add_canned(
            s, "closing", "Closing", "Hello {customer.name}, closing #{ticket.number}."
        )
    store.info[replies.MAIL_SETUP] = SETUP
    return store


def add(store: Store, text: str) -> None:
    with store.session(write=True) as s:
        storage.add_rules(s, text)


def receive(store: Store, raw: bytes, at: datetime = T0) -> tuple[int, list[engine.Fired]]:
    """Ingest one message as the pipeline does, then the ingest hook."""
    parsed = parse_message(raw)
    with store.session(write=True) as s:
        result = ingest.ingest(
            s, parsed, raw, default_queue="general", change=Change.by("system:ingest", at=at)
        )
        fired = engine.apply_ingest_rules(s, result, parsed, at)
    assert result.ticket_number is not None
    return result.ticket_number, fired


def ticket(store: Store, number: int) -> tuple[Ticket, list[str], str, str | None]:
    with store.session() as s:
        t = tickets.get_ticket(s, number)
        queue = s.get(Queue, t.queue_id)
        agent = directory.list_agents(s)
        handle = next((a.handle for a in agent if a.id == t.assignee_id), None)
        return t, tickets.ticket_tags(s, t.id), queue.name if queue else "", handle  # type: ignore[arg-type]


def notes(store: Store, number: int) -> list[str]:
    with store.session() as s:
        t = tickets.get_ticket(s, number)
        return [n.body for n in s.exec(select(Note).where(Note.ticket_id == t.id))]


def mailed(store: Store, number: int) -> list[str]:
    """The text of each reply queued in the outbox for this ticket."""
    with store.session() as s:
        t = tickets.get_ticket(s, number)
        return list(
            s.exec(
                select(Message.body_text)
                .join(OutboxItem, col(OutboxItem.message_id) == col(Message.id))
                .where(OutboxItem.ticket_id == t.id)
                .order_by(col(OutboxItem.id))
            )
        )


RULE = """\
[[rules]]
name = "{name}"
trigger = "{trigger}"
when = {when}
actions = [{{ add_tags = ["hit"] }}]
"""


@pytest.mark.parametrize(
    ("when", "hit"),
    [
        ('{ query = "status:new queue:general" }', True),
        ('{ query = "queue:billing" }', False),
        ('{ header = { name = "X-Priority", matches = "^1" } }', True),
        ('{ header = { name = "X-Priority", contains = "5" } }', False),
        ('{ from = { contains = "@ACME.example" } }', True),
        ('{ from = { matches = "^Jo Bloggs" } }', True),
        ('{ to = { contains = "support@desk" } }', True),
        ('{ cc = { matches = "boss@" } }', True),
        ('{ subject = { contains = "refund" } }', True),
        ('{ subject = { matches = "^Refund$" } }', False),
        ('{ body = { matches = "would\\\\s+like" } }', True),
        ('{ mailbox = "support" }', False),
        ("{ robot = false }", True),
        ("{ robot = true }", False),
        ('{ since = { event = "created", less_than = "5m" } }', True),
        ("{ business_hours = true }", True),
        ("{ business_hours = false }", False),
        ('{ any = [{ robot = true }, { subject = { contains = "refund" } }] }', True),
        ('{ all = [{ robot = false }, { subject = { contains = "nope" } }] }', False),
        ('{ not = { subject = { contains = "nope" } } }', True),
        ('{ all = [{ any = [{ robot = true }, { all = [{ query = "is:unassigned" }] }] }] }', True),
    ],
)
def test_each_condition(desk: Store, when: str, hit: bool) -> None:
    add(
        desk,
        RULE.format(name="r", trigger="new_ticket", when=when).replace(
            'trigger = "new_ticket"', 'trigger = "new_ticket"\ntimezone = "UTC"'
        ),
    )
    number, fired = receive(desk, mail(headers={"X-Priority": "1 (Highest)"}))
    assert ("hit" in ticket(desk, number)[1]) is hit
    assert bool(fired) is hit


def test_actions_route_assign_tag_note_and_record_rule_actor(desk: Store) -> None:
    add(
        desk,
        """\
[[rules]]
name = "billing"
trigger = "new_ticket"
when = { subject = { contains = "refund" } }
actions = [
  { set_queue = "billing" },
  { assign = "bob" },
  { priority = "up" },
  { add_tags = ["money", "vip"] },
  { remove_tags = ["vip"] },
  { note = "routed by rule" },
  { status = "open" },
]
""",
    )
    number, fired = receive(desk, mail())
    t, tags, queue, agent = ticket(desk, number)
    assert (queue, agent, t.priority, tags, t.status) == (
        "billing",
        "bob",
        "high",
        ["money"],
        "open",
    )
    assert notes(desk, number) == ["routed by rule"]
    assert fired[0].error is None
    with desk.session() as s:
        actors = set(s.exec(select(Event.actor).where(Event.ticket_id == t.id)))
    assert "rule:billing" in actors


def test_round_robin_and_least_loaded(desk: Store) -> None:
    add(
        desk,
        """\
[[rules]]
name = "rr"
trigger = "new_ticket"
when = { subject = { contains = "rr" } }
actions = [{ assign = "round-robin" }, { stop = true }]

[[rules]]
name = "ll"
trigger = "new_ticket"
actions = [{ assign = "least-loaded" }]
""",
    )
    owners = [ticket(desk, receive(desk, mail(subject=f"rr {i}"))[0])[3] for i in range(4)]
    assert owners == ["alice", "bob", "alice", "bob"]
    with desk.session(write=True) as s:
        extra = tickets.create_ticket(
            s, subject="x", requester_email="z@z.example", queue="general", change=Change.by("t")
        )
        tickets.assign(s, extra.number, "alice", Change.by("t"))
    assert ticket(desk, receive(desk, mail(subject="other"))[0])[3] == "bob"


def test_order_stop_and_catch_all(desk: Store) -> None:
    add(
        desk,
        """\
[[rules]]
name = "vip first"
trigger = "new_ticket"
when = { from = { contains = "@vip.example" } }
actions = [{ add_tags = ["vip"] }, { stop = true }]

[[rules]]
name = "disabled"
enabled = false
trigger = "new_ticket"
actions = [{ add_tags = ["never"] }]

# Whatever nothing above claimed.
[[rules]]
name = "catch-all"
trigger = "new_ticket"
actions = [{ add_tags = ["triage"] }]
""",
    )
    vip = receive(desk, mail(sender="a@vip.example"))[0]
    other = receive(desk, mail(sender="b@other.example"))[0]
    assert ticket(desk, vip)[1] == ["vip"]
    assert ticket(desk, other)[1] == ["triage"]
    with desk.session(write=True) as s:
        storage.move_rule(s, "catch-all", 1)
    assert ticket(desk, receive(desk, mail(sender="c@vip.example"))[0])[1] == ["triage", "vip"]


def test_customer_message_trigger_and_no_retrigger(desk: Store) -> None:
    add(
        desk,
        """\
[[rules]]
name = "follow-up"
trigger = "customer_message"
actions = [{ add_tags = ["followed"] }, { note = "customer wrote again" }]
""",
    )
    first = mail(message_id="<first@x>")
    number, fired = receive(desk, first)
    assert fired == []
    number2, fired = receive(
        desk, mail(body="again", message_id="<second@x>", in_reply_to="<first@x>")
    )
    assert number2 == number and [f.rule for f in fired] == ["follow-up"]
    # The rule's own changes (tag, note) ran no rules: one note, one firing.
    assert notes(desk, number) == ["customer wrote again"]
    with desk.session() as s:
        t = tickets.get_ticket(s, number)
        count = len(
            s.exec(select(Event).where(Event.ticket_id == t.id, Event.action == "rule_fired")).all()
        )
    assert count == 1


def test_failed_rule_is_undone_alone_and_ingest_survives(desk: Store) -> None:
    add(
        desk,
        """\
[[rules]]
name = "bad"
trigger = "new_ticket"
actions = [{ add_tags = ["half"] }, { set_queue = "no-such-queue" }]

[[rules]]
name = "good"
trigger = "new_ticket"
actions = [{ add_tags = ["ok"] }]
""",
    )
    number, fired = receive(desk, mail())
    assert ticket(desk, number)[1] == ["ok"]
    assert fired[0].error and "no-such-queue" in fired[0].error


def test_robots_and_no_reply_never_get_canned_replies(desk: Store) -> None:
    add(
        desk,
        """\
[[rules]]
name = "ack"
trigger = "new_ticket"
actions = [{ canned_reply = "closing" }]
""",
    )
    human = receive(desk, mail(sender="Jo <jo@acme.example>"))[0]
    assert mailed(desk, human) == [f"Hello Jo, closing #{human}.\n"]
    with desk.session() as s:
        item = s.exec(select(OutboxItem)).one()
        assert item.kind == "auto" and item.recipients == "jo@acme.example"
        assert b"Auto-Submitted: auto-replied" in bytes(item.raw)
        assert tickets.get_ticket(s, human).first_response_at is None  # no person answered
    robot = receive(desk, mail(subject="Out of office", headers={"Auto-Submitted": "auto-replied"}))
    assert mailed(desk, robot[0]) == [] and "robot" in robot[1][0].actions[0]
    noreply = receive(desk, mail(subject="Your invoice", sender="noreply@shop.example"))
    assert mailed(desk, noreply[0]) == []
    desk.info.clear()  # no mailbox can send: skipped, never an error
    nobody = receive(desk, mail(subject="Again", sender="Jo <jo@acme.example>"))
    assert mailed(desk, nobody[0]) == [] and "no mailbox can send" in nobody[1][0].actions[0]


def test_a_queue_acknowledges_new_tickets_through_the_same_path(desk: Store) -> None:
    with desk.session(write=True) as s:
        queue = directory.get_queue(s, "general")
        queue.acknowledge_with = "closing"
        s.add(queue)
    first = receive(desk, mail(sender="Jo <jo@acme.example>"))
    assert mailed(desk, first[0]) == [f"Hello Jo, closing #{first[0]}.\n"]
    assert first[1][-1].rule == "acknowledgement"
    follow_up = receive(desk, mail(subject=f"Re: [#{first[0]}] Refund please", body="more"))
    assert follow_up[0] == first[0] and len(mailed(desk, first[0])) == 1
    robot = receive(desk, mail(subject="Auto", headers={"Auto-Submitted": "auto-generated"}))
    assert mailed(desk, robot[0]) == []


def test_canned_replies_are_rate_limited_per_customer(desk: Store) -> None:
    add(
        desk,
        '[[rules]]\nname = "ack"\ntrigger = "new_ticket"\n'
        'actions = [{ canned_reply = "closing" }]\n',
    )
    numbers = [
        receive(desk, mail(subject=f"s{i}", sender="Jo <jo@acme.example>"))[0] for i in range(12)
    ]
    sent = [n for n in numbers if mailed(desk, n)]
    assert len(sent) == 10


def test_catastrophic_regex_is_bounded(desk: Store) -> None:
    add(
        desk,
        """\
[[rules]]
name = "evil"
trigger = "new_ticket"
when = { body = { matches = "^(a+)+$" } }
actions = [{ add_tags = ["evil"] }]

[[rules]]
name = "after"
trigger = "new_ticket"
actions = [{ add_tags = ["after"] }]
""",
    )
    start = time.monotonic()
    number, fired = receive(desk, mail(body="a" * 5000 + "b"))
    assert time.monotonic() - start < 5  # unbounded, this pattern would run for ages
    assert ticket(desk, number)[1] == ["after"]
    assert "longer than" in fired[0].problems[0]
    # The guard recovers: the next message's patterns run normally.
    assert patterns.guard().search_many([("^a", "abc")]) == [True]


def test_guard_bounds_a_single_pattern() -> None:
    guard = patterns.PatternGuard(timeout=0.3)
    start = time.monotonic()
    assert guard.search_many([(r"(x+x+)+y", "x" * 5000)]) is None
    assert time.monotonic() - start < 3
    assert guard.search_many([(r"y$", "xy")]) == [True]
    guard.close()


def _time_rules(store: Store) -> None:
    add(
        store,
        """\
[[rules]]
name = "pending 3 days"
trigger = "time"
when = { all = [{ query = "status:pending" }, { since = { event = "status", more_than = "3d" } }] }
actions = [{ status = "solved" }, { canned_reply = "closing" }]

[[rules]]
name = "urgent unassigned"
trigger = "time"
when = { all = [
  { query = "priority:urgent is:unassigned" },
  { since = { event = "created", more_than = "30m" } },
] }
actions = [{ set_queue = "escalations" }, { add_tags = ["escalated"] }]

[[rules]]
name = "first response overdue"
trigger = "time"
when = { first_response_overdue = true }
actions = [{ priority = "up" }, { add_tags = ["overdue"] }]
""",
    )


def test_time_rules_with_a_controllable_clock(desk: Store) -> None:
    _time_rules(desk)
    agent = Change.by("agent:alice", at=T0)
    with desk.session(write=True) as s:
        pending = tickets.create_ticket(
            s,
            subject="p",
            requester_email="jo@acme.example",
            requester_name="Jo",
            queue="general",
            change=agent,
        )
        tickets.set_status(s, pending.number, "pending", agent)
        urgent = tickets.create_ticket(
            s,
            subject="u",
            requester_email="u@acme.example",
            queue="general",
            priority="urgent",
            change=agent,
        )
        late = tickets.create_ticket(
            s, subject="l", requester_email="l@acme.example", queue="billing", change=agent
        )

    def run(at: datetime) -> list[engine.Fired]:
        with desk.session(write=True) as s:
            return engine.run_time_rules(s, at)

    assert run(T0 + timedelta(minutes=10)) == []
    fired = run(T0 + timedelta(minutes=45))
    assert [(f.rule, f.ticket) for f in fired] == [("urgent unassigned", urgent.number)]
    assert ticket(desk, urgent.number)[2] == "escalations"
    fired = run(T0 + timedelta(minutes=61))
    assert [(f.rule, f.ticket) for f in fired] == [("first response overdue", late.number)]
    assert ticket(desk, late.number)[0].priority == "high"
    assert ticket(desk, late.number)[1] == ["overdue"]
    # Fired once: the next runs leave it alone (no priority creeping up every minute).
    assert run(T0 + timedelta(hours=2)) == []
    assert ticket(desk, late.number)[0].priority == "high"
    fired = run(T0 + timedelta(days=3, minutes=1))
    assert [(f.rule, f.ticket) for f in fired] == [("pending 3 days", pending.number)]
    assert ticket(desk, pending.number)[0].status == "solved"
    assert mailed(desk, pending.number) == [f"Hello Jo, closing #{pending.number}.\n"]
    # A person touches the overdue ticket: the rule may fire once more.
    with desk.session(write=True) as s:
        tickets.add_note(
            s, late.number, "looking", Change.by("agent:bob", at=T0 + timedelta(days=4))
        )
    fired = run(T0 + timedelta(days=4, minutes=1))
    assert [(f.rule, f.ticket) for f in fired] == [("first response overdue", late.number)]
    assert ticket(desk, late.number)[0].priority == "urgent"


def test_export_import_round_trip_exactly(desk: Store) -> None:
    _time_rules(desk)
    add(
        desk,
        '[[rules]]\nname = "x"  # trailing comment\ntrigger = "new_ticket"\n'
        "actions = [{ stop = true }]\n",
    )
    with desk.session(write=True) as s:
        storage.set_enabled(s, "x", False)
        first = storage.export_rules(s)
    assert "enabled = false" in first
    with desk.session(write=True) as s:
        summary = storage.import_rules(s, first)
        assert summary.unchanged == [r.name for r in storage.list_rules(s)]
        assert storage.export_rules(s) == first
    edited = first.replace('name = "x"', 'name = "y"')
    with desk.session(write=True) as s:
        summary = storage.import_rules(s, edited)
        assert (summary.added, summary.removed) == (["y"], ["x"])
        assert storage.export_rules(s) == edited


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[[rules]]\nname = "a"\ntrigger = "new_ticket"\nactions = [{ stop = tru }]\n', "line 4"),
        (
            '[[rules]]\nname = "a"\ntrigger = "new_ticket"\nactions = [{ stop = true }]\n\n'
            '[[rules]]\nname = "b"\ntrigger = "new_ticket"\n'
            'when = { subject = { matches = "(" } }\n'
            "actions = [{ stop = true }]\n",
            "line 9: rule 'b': when.subject.matches: invalid regular expression",
        ),
        (
            '[[rules]]\nname = "a"\ntrigger = "sometimes"\nactions = [{ stop = true }]\n',
            "line 3: rule 'a': trigger",
        ),
        (
            '[[rules]]\nname = "a"\ntrigger = "new_ticket"\ncolour = "red"\n'
            "actions = [{ stop = true }]\n",
            "line 4: rule 'a': colour: Extra inputs are not permitted",
        ),
        (
            '[[rules]]\nname = "a"\ntrigger = "time"\nwhen = { robot = true }\n'
            "actions = [{ stop = true }]\n",
            "rule 'a'",
        ),
        (
            '[[rules]]\nname = "a"\ntrigger = "new_ticket"\nwhen = { query = "stauts:open" }\n'
            "actions = [{ stop = true }]\n",
            "line 4: rule 'a': when.query",
        ),
        (
            '[[rules]]\nname = "a"\ntrigger = "new_ticket"\nactions = [{ stop = true }]\n'
            '[[rules]]\nname = "a"\ntrigger = "new_ticket"\nactions = [{ stop = true }]\n',
            "line 5: rule 'a': the name is already used by the rule on line 1",
        ),
    ],
)
def test_invalid_files_are_refused_and_change_nothing(
    desk: Store, text: str, expected: str
) -> None:
    add(desk, '[[rules]]\nname = "keep"\ntrigger = "new_ticket"\nactions = [{ stop = true }]\n')
    with desk.session() as s:
        before = storage.export_rules(s)
    with pytest.raises(ValidationError) as caught, desk.session(write=True) as s:
        storage.import_rules(s, text)
    assert expected in str(caught.value)
    with desk.session() as s:
        assert storage.export_rules(s) == before


def test_dry_run_writes_nothing(desk: Store) -> None:
    number = receive(desk, mail())[0]
    rules = [
        r.rule
        for r in storage.parse_rules(
            '[[rules]]\nname = "t"\ntrigger = "new_ticket"\nactions = [{ add_tags = ["would"] }]\n'
        )
    ]
    fired = engine.dry_run(desk, rules, window=timedelta(days=30), now=T0 + timedelta(hours=1))
    assert [(f.rule, f.ticket, f.actions) for f in fired] == [("t", number, ["tag would"])]
    assert ticket(desk, number)[1] == []


def test_message_facts_from_a_stored_message_match_the_parsed_ones(desk: Store) -> None:
    raw = mail(headers={"X-Priority": "1"})
    number = receive(desk, raw)[0]
    with desk.session() as s:
        from supportdesk.store.models import Message, MessageRaw

        row = s.exec(select(Message)).first()
        stored = s.get(MessageRaw, row.id)  # type: ignore[union-attr]
        facts = MessageFacts.from_row(row, stored.raw)  # type: ignore[arg-type,union-attr]
    fresh = MessageFacts.from_parsed(parse_message(raw))
    assert facts.field_text("header", "x-priority") == fresh.field_text("header", "X-Priority")
    assert facts.subject == fresh.subject and facts.robot == fresh.robot
    assert number == 1


def test_the_ingest_pipeline_runs_routing_rules(desk: Store) -> None:
    """Mail arriving through the real pipeline (sync and import use it) is routed by rules."""
    from supportdesk.desk.ingest import Source
    from supportdesk.desk.intake.pipeline import Ingestor

    add(
        desk,
        """\
[[rules]]
name = "refunds to billing"
trigger = "new_ticket"
when = { subject = { contains = "refund" } }
actions = [{ set_queue = "billing" }, { add_tags = ["money"] }]
""",
    )
    first = mail(message_id="<p1@x>")
    reply = mail("Re: Refund please", body="any news?", message_id="<p2@x>", in_reply_to="<p1@x>")
    other = mail("Shipping question", body="where is it", message_id="<p3@x>")
    with Ingestor(desk, default_queue="general", workers=1) as ingestor:
        results = ingestor.ingest_batch([(first, Source()), (reply, Source()), (other, Source())])
    assert [r.outcome for r in results] == ["new_ticket", "follow_up", "new_ticket"]
    _, tags, queue, _ = ticket(desk, results[0].ticket_number)  # type: ignore[arg-type]
    assert (queue, tags) == ("billing", ["money"])
    _, _, untouched_queue, _ = ticket(desk, results[2].ticket_number)  # type: ignore[arg-type]
    assert untouched_queue == "general"
