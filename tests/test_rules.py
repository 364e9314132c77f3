"""Rules: conditions, actions, order, loop protection, time rules and storage, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from sqlmodel import col, select

from supportdesk.desk import canned, directory, ingest, replies, tickets
from supportdesk.desk.events import Change
from supportdesk.desk.rules import engine, storage
from supportdesk.desk.rules.conditions import MessageFacts
from supportdesk.errors import ValidationError
from supportdesk.mail.parse import parse_message
from supportdesk.store import Store
from supportdesk.store.models import Event, Message, Note, OutboxItem, Queue, Rule, Ticket
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


def events_of(store: Store, number: int, action: str) -> list[tuple[str, str | None]]:
    with store.session() as s:
        t = tickets.get_ticket(s, number)
        rows = s.exec(
            select(Event).where(Event.ticket_id == t.id, Event.action == action).order_by(Event.id)
        ).all()
        return [(e.actor, e.new_value) for e in rows]


def test_a_rule_failing_at_run_time_is_undone_alone_and_recorded(desk: Store) -> None:
    """A queue and a canned reply removed after the rules were stored: visible failures."""
    add(
        desk,
        """\
[[rules]]
name = "to escalations"
trigger = "new_ticket"
actions = [{ add_tags = ["half"] }, { set_queue = "escalations" }]

[[rules]]
name = "ack"
trigger = "new_ticket"
actions = [{ canned_reply = "closing" }]

[[rules]]
name = "good"
trigger = "new_ticket"
actions = [{ add_tags = ["ok"] }]
""",
    )
    with desk.session(write=True) as s:
        s.delete(directory.get_queue(s, "escalations"))
        canned.remove_canned(s, "closing")
    number, fired = receive(desk, mail())
    assert ticket(desk, number)[1] == ["ok"]  # the failed rule's tag was taken back
    assert [(f.rule, f.error is not None) for f in fired] == [
        ("to escalations", True),
        ("ack", True),
        ("good", False),
    ]
    failed = events_of(desk, number, "rule_failed")
    assert [actor for actor, _ in failed] == ["rule:to escalations", "rule:ack"]
    assert "no queue 'escalations'" in (failed[0][1] or "")
    assert "no canned reply 'closing'" in (failed[1][1] or "")
    assert fired[0].failure().startswith(f"rule 'to escalations' on #{number}: ")
    assert events_of(desk, number, "rule_fired") == [("rule:good", "good")]


def test_a_condition_that_no_longer_compiles_fails_only_its_rule(desk: Store) -> None:
    add(
        desk,
        """\
[[rules]]
name = "escalated"
trigger = "new_ticket"
when = { any = [{ query = "queue:escalations" }, { query = "status:new" }] }
actions = [{ add_tags = ["esc"] }]

[[rules]]
name = "new ones"
trigger = "new_ticket"
when = { query = "status:new" }
actions = [{ add_tags = ["new"] }]
""",
    )
    with desk.session(write=True) as s:
        s.delete(directory.get_queue(s, "escalations"))
    number, fired = receive(desk, mail())
    assert ticket(desk, number)[1] == ["new"]
    assert fired[0].error and "unknown queue 'escalations'" in fired[0].error
    [(actor, reason)] = events_of(desk, number, "rule_failed")
    assert actor == "rule:escalated" and "cannot evaluate its conditions" in (reason or "")


def test_sync_and_import_summaries_count_rule_failures(desk: Store) -> None:
    """The pipeline (sync and import both use it) counts failures and keeps their messages."""
    from supportdesk.desk.ingest import Source
    from supportdesk.desk.intake.pipeline import Ingestor, Summary

    add(
        desk,
        '[[rules]]\nname = "ack"\ntrigger = "new_ticket"\n'
        'actions = [{ canned_reply = "closing" }]\n\n'
        '[[rules]]\nname = "tag"\ntrigger = "new_ticket"\nactions = [{ add_tags = ["in"] }]\n',
    )
    with desk.session(write=True) as s:
        canned.remove_canned(s, "closing")
    summary = Summary()
    raws = [mail(f"q{i}", message_id=f"<sum{i}@x>") for i in range(3)]
    with Ingestor(desk, default_queue="general", workers=1) as ingestor:
        results = ingestor.ingest_batch([(raw, Source()) for raw in raws], summary=summary)
    assert summary.messages == 3 and summary.errors == []
    assert summary.rule_failures == 3
    assert len(summary.rule_failure_messages) == 3
    assert all("rule 'ack' on #" in m and "closing" in m for m in summary.rule_failure_messages)
    assert summary.as_dict()["rule_failures"] == 3
    for result in results:
        assert ticket(desk, result.ticket_number)[1] == ["in"]  # type: ignore[arg-type]
    total = Summary()
    total.merge(summary)
    total.merge(summary)
    assert (total.rule_failures, len(total.rule_failure_messages)) == (6, 6)


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


def test_catastrophic_pattern_gets_a_real_answer(desk: Store) -> None:
    """RE2 is linear: `^(a+)+$` is answered, right, instead of timing out as "no match"."""
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
    number, fired = receive(desk, mail(body="a" * 50_000 + "b", message_id="<e1@x>"))
    assert ticket(desk, number)[1] == ["after"]
    assert [f.error for f in fired] == [None]
    number, _ = receive(desk, mail(body="a" * 50_000, message_id="<e2@x>"))
    assert ticket(desk, number)[1] == ["after", "evil"]


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(\\\\w)\\\\1", "backreferences"),
        ("(?P<x>a)(?P=x)", "backreferences"),
        ("foo(?=bar)", "lookahead is not supported"),
        ("foo(?!bar)", "negative lookahead"),
        ("(?<=x)y", "lookbehind is not supported"),
        ("(?<!x)y", "negative lookbehind"),
        ("a++", "possessive quantifiers"),
        ("(?>a)", "atomic groups"),
        ("end\\\\Z", "use \\z"),
        ("(?x) a b", "verbose mode"),
        ("a{,3}", "write {0,n}"),
        ("x{2000}", "invalid repetition size"),
        ("(", "missing )"),
    ],
)
def test_patterns_re2_cannot_run_are_refused_with_the_reason(
    desk: Store, pattern: str, reason: str
) -> None:
    text = (
        '[[rules]]\nname = "p"\ntrigger = "new_ticket"\n'
        f'when = {{ subject = {{ matches = "{pattern}" }} }}\nactions = [{{ stop = true }}]\n'
    )
    with pytest.raises(ValidationError) as caught, desk.session(write=True) as s:
        storage.add_rules(s, text)
    message = str(caught.value)
    assert "line 4: rule 'p': when.subject.matches" in message
    assert reason in message and "\n" not in message
    with desk.session() as s:
        assert storage.list_rules(s) == []


@pytest.mark.parametrize(
    ("pattern", "text", "hit"),
    [
        ("(?i)ÄRGER", "so viel ärger", True),  # (?i) folds Unicode case
        ("ÄRGER", "so viel ärger", False),  # case-sensitive without it
        ("\\\\p{Han}+", "返金してください", True),
        ("^\\\\d+$", "١٢٣", False),  # \d is ASCII digits only
        ("^\\\\p{Nd}+$", "١٢٣", True),
        ("^refund$", "refund\n", False),  # $ is the end of the text, not before a newline
        ("(?m)^refund$", "refund\nplease", True),
        ("a.b", "a\nb", False),
        ("(?s)a.b", "a\nb", True),
        ("caf.", "café", True),  # . is one character, not one byte
        ("over\\\\z", "game over", True),
    ],
)
def test_matching_semantics_as_documented(desk: Store, pattern: str, text: str, hit: bool) -> None:
    add(
        desk,
        '[[rules]]\nname = "m"\ntrigger = "new_ticket"\n'
        f'when = {{ body = {{ matches = "{pattern}" }} }}\nactions = [{{ add_tags = ["m"] }}]\n',
    )
    number, _ = receive(desk, mail(body="x", message_id="<sem@x>"))
    with desk.session(write=True) as s:
        facts = MessageFacts(body=text)
        fired = engine.run_rules(
            s, "new_ticket", number, message=facts, now=T0, change=Change.by("t", at=T0)
        )
    assert bool(fired) is hit


def test_a_stored_pattern_the_engine_refuses_fails_visibly_and_can_be_disabled(
    desk: Store,
) -> None:
    """A rule stored before RE2 (lookahead was fine then) must not stop the others."""
    old = (
        '[[rules]]\nname = "old"\ntrigger = "new_ticket"\n'
        'when = { subject = { matches = "Refund(?= please)" } }\n'
        'actions = [{ add_tags = ["old"] }]\n'
    )
    add(desk, '[[rules]]\nname = "new"\ntrigger = "new_ticket"\nactions = [{ add_tags = ["n"] }]\n')
    with desk.session(write=True) as s:
        s.add(Rule(name="old", position=0, enabled=True, trigger="new_ticket", definition=old))
    number, _ = receive(desk, mail())
    assert ticket(desk, number)[1] == ["n"]
    [(actor, reason)] = events_of(desk, number, "rule_failed")
    assert actor == "rule:old" and "lookahead is not supported" in (reason or "")
    with desk.session(write=True) as s:
        storage.set_enabled(s, "old", False)  # disabling a broken rule always works
        with pytest.raises(ValidationError, match="lookahead"):
            storage.set_enabled(s, "old", True)


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


NAMED = """\
# Routing rules for the desk.
# (a preamble: line numbers must still be the file's)

[[rules]]
name = "refunds"
trigger = "new_ticket"
actions = [{ set_queue = "biling" }]

# escalate
[[rules]]
name = "vip"
trigger = "new_ticket"
when = { query = "queue:escalation" }
actions = [
  { add_tags = ["vip"] },
  { assign = "alcie" },
  { assign = "round-robin" },
  { canned_reply = "closng" },
]
"""


def test_unknown_names_are_refused_on_add_import_and_edit(desk: Store) -> None:
    for call in (storage.add_rules, storage.import_rules):
        with pytest.raises(ValidationError) as caught, desk.session(write=True) as s:
            call(s, NAMED)
        message = str(caught.value)
        assert message.startswith("4 problems: ")
        for expected in (
            "rules file line 7: rule 'refunds': set_queue: unknown queue 'biling' "
            "(did you mean 'billing'?)",
            "rules file line 13: rule 'vip': query: unknown queue 'escalation' "
            "(did you mean 'escalations'?)",
            "rules file line 16: rule 'vip': assign: unknown agent 'alcie' (did you mean 'alice'?)",
            "rules file line 18: rule 'vip': canned_reply: unknown canned reply 'closng' "
            "(did you mean 'closing'?)",
        ):
            assert expected in message
        with desk.session() as s:
            assert storage.list_rules(s) == []
    fixed = (
        NAMED.replace("biling", "billing")
        .replace("escalation", "escalations")
        .replace("alcie", "Alice")  # handles are matched as `assign` matches them
        .replace("closng", "closing")
    )
    with desk.session(write=True) as s:
        assert storage.import_rules(s, fixed).added == ["refunds", "vip"]
    with pytest.raises(ValidationError) as caught, desk.session(write=True) as s:
        storage.replace_rule(s, "refunds", fixed.split("# escalate")[0].replace("billing", "x"))
    assert "rule 'refunds' line 7: rule 'refunds': set_queue: unknown queue 'x'" in str(
        caught.value
    )
    with desk.session() as s:
        assert storage.export_rules(s) == fixed.rstrip("\n") + "\n"


def test_time_rules_fail_visibly_once_and_recover(desk: Store) -> None:
    """A removed canned reply: one event per ticket, not one per run; fixed, it works."""
    add(
        desk,
        """\
[[rules]]
name = "stale"
trigger = "time"
when = { query = "status:pending" }
actions = [{ status = "solved" }, { canned_reply = "closing" }]

[[rules]]
name = "gone queue"
trigger = "time"
when = { query = "queue:escalations" }
actions = [{ add_tags = ["x"] }]
""",
    )
    agent = Change.by("agent:alice", at=T0)
    with desk.session(write=True) as s:
        pending = tickets.create_ticket(
            s, subject="p", requester_email="jo@acme.example", queue="general", change=agent
        ).number
        tickets.set_status(s, pending, "pending", agent)
        canned.remove_canned(s, "closing")
        s.delete(directory.get_queue(s, "escalations"))

    def run(at: datetime) -> list[engine.Fired]:
        with desk.session(write=True) as s:
            return engine.run_time_rules(s, at)

    for minutes in (1, 2):
        fired = run(T0 + timedelta(minutes=minutes))
        assert [(f.rule, f.ticket) for f in fired] == [("gone queue", None), ("stale", pending)]
        assert "unknown queue 'escalations'" in (fired[0].error or "")
        assert "no canned reply 'closing'" in (fired[1].error or "")
    assert ticket(desk, pending)[0].status == "pending"
    assert len(events_of(desk, pending, "rule_failed")) == 1
    with desk.session(write=True) as s:
        canned.add_canned(s, "closing", "Closing", "Closing #{ticket.number}.")
    fired = run(T0 + timedelta(minutes=3))
    assert [(f.rule, f.error) for f in fired if f.ticket] == [("stale", None)]
    assert ticket(desk, pending)[0].status == "solved"
