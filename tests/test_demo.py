"""The demo store: realistic enough to show every feature, deterministic, and quick to build."""

from __future__ import annotations

import email
import inspect
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, func, select
from typer.testing import CliRunner

from supportdesk.demo.builder import DemoSummary, build_demo, demo_is_built
from supportdesk.desk import canned
from supportdesk.desk.statuses import TRANSITIONS
from supportdesk.errors import ValidationError
from supportdesk.store import Store, open_store
from supportdesk.store.models import (
    STATUSES,
    Agent,
    CannedReply,
    Event,
    Message,
    MessageRaw,
    Note,
    Queue,
    QueueMember,
    Tag,
    Ticket,
    TicketTag,
)

NOW = datetime(2025, 3, 14, 15, 9, tzinfo=UTC)
CJK = re.compile("[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, DemoSummary]]:
    path = tmp_path_factory.mktemp("demo") / "d.db"
    store = open_store(f"sqlite:///{path}", create=True)
    summary = build_demo(store, tickets=120, now=NOW)
    yield store, summary
    store.dispose()


@pytest.fixture
def session(demo: tuple[Store, DemoSummary]) -> Iterator[Session]:
    with demo[0].session() as s:
        yield s


def test_summary_counts_what_is_in_the_store(
    demo: tuple[Store, DemoSummary], session: Session
) -> None:
    summary = demo[1]
    assert summary.tickets == 120
    assert summary.messages == session.exec(select(func.count()).select_from(Message)).one()
    assert summary.queues >= 5 and summary.agents >= 5 and summary.customers >= 150
    assert summary.notes > 0 and 4 <= summary.canned <= 6
    assert demo_is_built(demo[0])


def test_queues_and_agents(session: Session) -> None:
    queues = session.exec(select(Queue)).all()
    assert len([q for q in queues if not q.is_quarantine]) >= 4
    assert [q.name for q in queues if q.is_quarantine] == ["quarantine"]
    assert all(q.description for q in queues)
    agents = session.exec(select(Agent)).all()
    assert len(agents) >= 5
    assert all(a.email.endswith("@supportdesk.example") and a.signature for a in agents)
    members = {m.agent_id for m in session.exec(select(QueueMember))}
    assert members == {a.id for a in agents}


def test_every_status_and_a_plausible_mix(session: Session) -> None:
    counts = dict(
        session.exec(select(Ticket.status, func.count()).group_by(Ticket.status)).all()  # type: ignore[arg-type]
    )
    assert set(counts) == set(STATUSES)
    finished = counts["solved"] + counts["closed"]
    assert finished > sum(counts.values()) / 2
    priorities = dict(
        session.exec(select(Ticket.priority, func.count()).group_by(Ticket.priority)).all()  # type: ignore[arg-type]
    )
    assert max(priorities, key=priorities.__getitem__) == "normal"
    assert {"high", "low"} <= set(priorities)
    unassigned_new = session.exec(
        select(func.count()).where(Ticket.status == "new", col(Ticket.assignee_id).is_(None))
    ).one()
    assigned = session.exec(select(func.count()).where(col(Ticket.assignee_id).is_not(None))).one()
    assert unassigned_new > 0 and assigned > 120 / 2


def test_tickets_span_three_months_and_nothing_happens_in_the_future(session: Session) -> None:
    oldest, newest = session.exec(
        select(func.min(Ticket.created_at), func.max(Ticket.created_at))
    ).one()
    assert oldest.tzinfo is not None
    assert NOW - oldest > timedelta(days=60)
    assert NOW - newest < timedelta(days=1)
    latest_event = session.exec(select(func.max(Event.created_at))).one()
    latest_message = session.exec(select(func.max(Message.received_at))).one()
    assert latest_event <= NOW and latest_message <= NOW


def test_threads_hold_one_to_eight_messages(session: Session) -> None:
    per_ticket = dict(
        session.exec(select(Message.ticket_id, func.count()).group_by(Message.ticket_id)).all()  # type: ignore[arg-type]
    )
    merged = 0
    for ticket in session.exec(select(Ticket)):
        if ticket.merged_into_id is not None:
            merged += 1
            assert ticket.id not in per_ticket and ticket.status == "closed"
            continue
        assert 1 <= per_ticket[ticket.id] <= 8
        assert ticket.message_count == per_ticket[ticket.id]
    assert merged >= 1


def test_status_history_follows_the_allowed_transitions(session: Session) -> None:
    history: dict[int, list[tuple[str | None, str | None]]] = {}
    for event in session.exec(
        select(Event).where(Event.action == "status").order_by(col(Event.id))
    ):
        history.setdefault(event.ticket_id, []).append((event.old_value, event.new_value))  # type: ignore[arg-type]
    for ticket in session.exec(select(Ticket).where(col(Ticket.merged_into_id).is_(None))):
        status = "new"
        for old, new in history.get(ticket.id, []):  # type: ignore[arg-type]
            assert old == status and new in TRANSITIONS[status], (ticket.number, old, new)
            status = new  # type: ignore[assignment]
        assert status == ticket.status


def test_english_and_japanese_mail(session: Session) -> None:
    bodies = session.exec(select(Message.body_text).where(col(Message.direction) == "in")).all()
    japanese = sum(bool(CJK.search(body)) for body in bodies)
    assert 0.08 < japanese / len(bodies) < 0.4
    assert any(re.search(r"\b(refund|order|invoice|log in)\b", b, re.I) for b in bodies)


def test_replies_quote_and_agents_sign(session: Session) -> None:
    signatures = {a.id: a.signature for a in session.exec(select(Agent))}
    replies = session.exec(
        select(Message).where(Message.direction == "out").order_by(col(Message.id))
    ).all()
    assert replies
    for reply in replies:
        assert reply.author_agent_id is not None
        assert reply.body_text.rstrip().endswith(signatures[reply.author_agent_id])
        assert "\n> " in reply.body_text and reply.in_reply_to
        assert re.search(r"\[#\d+\]", reply.subject)


def test_raw_mail_parses_back_to_the_stored_fields(session: Session) -> None:
    rows = session.exec(
        select(Message, MessageRaw.raw).join(MessageRaw, col(MessageRaw.message_id) == Message.id)
    ).all()
    assert len(rows) == session.exec(select(func.count()).select_from(Message)).one()
    for message, raw in rows:
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert parsed["Message-ID"] == message.message_id
        assert parsed["Subject"] == message.subject
        assert parsed["From"].addresses[0].addr_spec == message.from_address
        assert parsed.get("In-Reply-To", "") == message.in_reply_to
        assert parsed.get_content().rstrip("\n") == message.body_text.rstrip("\n")
        assert email.utils.parsedate_to_datetime(parsed["Date"]) == message.sent_at
    plain = email.message_from_bytes(rows[0][1])
    assert plain["Message-ID"] == rows[0][0].message_id


def test_robots_are_flagged_and_quarantined(session: Session) -> None:
    quarantine = session.exec(select(Queue).where(Queue.is_quarantine)).one()
    auto = session.exec(
        select(Ticket.queue_id, Message.subject, MessageRaw.raw)
        .join(Message, col(Message.ticket_id) == Ticket.id)
        .join(MessageRaw, col(MessageRaw.message_id) == Message.id)
        .where(col(Message.is_auto_reply))
    ).all()
    assert any(queue_id == quarantine.id for queue_id, _, _ in auto)
    assert any(queue_id != quarantine.id for queue_id, _, _ in auto)
    for _, subject, raw in auto:
        assert subject.startswith("Automatic reply: ")
        assert email.message_from_bytes(raw)["Auto-Submitted"] == "auto-replied"
    in_quarantine = session.exec(select(Ticket).where(Ticket.queue_id == quarantine.id)).all()
    assert in_quarantine and all(t.assignee_id is None for t in in_quarantine)


def test_notes_tags_and_canned_replies(session: Session) -> None:
    notes = session.exec(select(func.count()).select_from(Note)).one()
    assert 120 * 0.1 <= notes <= 120 * 0.4
    tags = set(
        session.exec(select(Tag.name).join(TicketTag, col(TicketTag.tag_id) == Tag.id)).all()
    )
    assert {"ja", "refund", "bug"} <= tags
    replies = session.exec(select(CannedReply)).all()
    assert 4 <= len(replies) <= 6
    for reply in replies:
        used = canned.placeholders(reply.body)
        assert used and used <= canned.KNOWN_PLACEHOLDERS


def test_the_same_seed_builds_the_same_desk(tmp_path: Path) -> None:
    def build(name: str, seed: int) -> tuple[list[str], list[bytes]]:
        store = open_store(f"sqlite:///{tmp_path / name}", create=True)
        try:
            build_demo(store, tickets=30, seed=seed, now=NOW)
            with store.session() as s:
                subjects = list(s.exec(select(Ticket.subject).order_by(col(Ticket.number))))
                raws = list(s.exec(select(MessageRaw.raw).order_by(col(MessageRaw.message_id))))
            return subjects, raws
        finally:
            store.dispose()

    first, again, other = build("a.db", 7), build("b.db", 7), build("c.db", 8)
    assert first == again
    assert first[0] != other[0]


def test_building_needs_an_empty_store(demo: tuple[Store, DemoSummary], tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="empty store"):
        build_demo(demo[0], tickets=5)
    with pytest.raises(ValidationError, match="aware"):
        build_demo(demo[0], tickets=5, now=datetime(2025, 1, 1))
    empty = open_store(f"sqlite:///{tmp_path / 'empty.db'}", create=True)
    try:
        assert not demo_is_built(empty)
    finally:
        empty.dispose()


def test_builds_the_same_desk_on_both_backends(store: Store, tmp_path: Path) -> None:
    def subjects(target: Store) -> list[str]:
        with target.session() as s:
            return list(s.exec(select(Ticket.subject).order_by(col(Ticket.number))))

    seen: list[tuple[int, int]] = []
    summary = build_demo(store, tickets=25, seed=3, now=NOW, progress=lambda *p: seen.append(p))
    assert summary.tickets == 25 and summary.messages >= 25
    assert seen[-1] == (25, 25)
    assert demo_is_built(store)
    reference = open_store(f"sqlite:///{tmp_path / 'reference.db'}", create=True)
    try:
        build_demo(reference, tickets=25, seed=3, now=NOW)
        assert subjects(store) == subjects(reference)
    finally:
        reference.dispose()


def test_the_default_demo_is_a_realistic_size() -> None:
    assert inspect.signature(build_demo).parameters["tickets"].default >= 500


@pytest.mark.slow
def test_cli_builds_the_demo_once_then_shows_it(tmp_path: Path) -> None:
    from supportdesk.cli import app

    runner = CliRunner(
        env={
            "COLUMNS": "200",
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
            "SUPPORTDESK_CONFIG": None,
        }
    )
    built = runner.invoke(app, ["demo", "--no-console"])
    assert built.exit_code == 0, built.output
    assert (tmp_path / "data" / "supportdesk" / "demo.db").exists()
    shown = runner.invoke(app, ["demo"])
    assert shown.exit_code == 0, shown.output
    assert "building" not in shown.output
    for queue in ("billing", "technical", "accounts", "shipping", "quarantine"):
        assert queue in shown.output


def test_service_levels_show_due_and_breached_tickets(session: Session) -> None:
    """Every human queue has a policy; the newest ticket, in a queue that works around the
    clock, is due within the hour or two, and some older ones have breached, whatever hour
    the demo is built at (the round-the-clock queues do not depend on it)."""
    from supportdesk.desk import views
    from supportdesk.desk.sla import storage

    assert {p.queue for p in storage.list_policies(session)} == {
        "accounts",
        "billing",
        "technical",
        "shipping",
    }
    overview = views.overview(session, me=None, now=NOW)
    assert overview.breaching_soon >= 1
    assert 1 <= overview.breached < overview.all_active
    newest = session.exec(select(Ticket).order_by(col(Ticket.created_at).desc())).first()
    assert newest is not None and newest.status == "new" and newest.sla_due is not None
    assert not newest.sla_breached
