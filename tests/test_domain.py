"""The domain layer, run against SQLite and PostgreSQL alike (see the `store` fixture)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection
from sqlmodel import Session, col, select

from supportdesk.desk import bulk, directory, tickets, views
from supportdesk.desk.events import Change
from supportdesk.desk.messages import NewMessage, add_message
from supportdesk.errors import ConflictError, NotFoundError, ValidationError
from supportdesk.store import Store, search
from supportdesk.store.models import Customer, Event, Message, Organisation, Ticket

ALICE = Change.by("agent:alice")


def _events(session: Session, number: int) -> list[tuple[str, str | None, str | None]]:
    ticket = tickets.get_ticket(session, number)
    return [
        (e.action, e.old_value, e.new_value)
        for e in session.exec(
            select(Event).where(Event.ticket_id == ticket.id).order_by(col(Event.id))
        )
    ]


@pytest.fixture
def desk(store: Store) -> Store:
    with store.session(write=True) as s:
        directory.ensure_queue(s, "billing")
        directory.ensure_queue(s, "tech")
        directory.add_agent(s, "alice", email="alice@desk.example", name="Alice")
        directory.add_agent(s, "bob", email="bob@desk.example", name="Bob")
    return store


def _ticket(store: Store, subject: str = "Refund please", **kwargs: object) -> int:
    with store.session(write=True) as s:
        args: dict = {"requester_email": "jo@acme.example", "queue": "billing"} | kwargs
        return tickets.create_ticket(s, subject=subject, change=ALICE, **args).number


def test_create_numbers_tickets_and_records_the_customer(desk: Store) -> None:
    first = _ticket(desk, requester_email="Jo@ACME.example", requester_name="Jo Bloggs")
    second = _ticket(desk, "Second", requester_email="sam@gmail.com")
    assert (first, second) == (1, 2)
    with desk.session() as s:
        jo = s.exec(select(Customer).where(Customer.email == "jo@acme.example")).one()
        assert jo.name == "Jo Bloggs"
        org = s.get(Organisation, jo.organisation_id)
        assert org is not None and org.domain == "acme.example"
        sam = s.exec(select(Customer).where(Customer.email == "sam@gmail.com")).one()
        assert sam.organisation_id is None  # free mail is nobody's organisation
        assert _events(s, first) == [("create", None, "billing/new/normal")]
        assert tickets.get_ticket(s, first).status == "new"


def test_create_refuses_unknown_queue_and_bad_values(desk: Store) -> None:
    with pytest.raises(NotFoundError, match="no queue 'nope'"):
        _ticket(desk, queue="nope")
    with pytest.raises(ValidationError, match="unknown priority"):
        _ticket(desk, priority="huge")
    with pytest.raises(ValidationError, match="not an email address"):
        _ticket(desk, requester_email="not-an-address")


def test_assign_and_unassign_record_old_and_new(desk: Store) -> None:
    number = _ticket(desk)
    with desk.session(write=True) as s:
        tickets.assign(s, number, "alice", ALICE)
        tickets.assign(s, number, "alice", ALICE)  # no change, no event
        tickets.assign(s, number, "bob", ALICE)
        tickets.assign(s, number, None, ALICE)
    with desk.session() as s:
        assert _events(s, number)[1:] == [
            ("assign", None, "alice"),
            ("assign", "alice", "bob"),
            ("unassign", "bob", None),
        ]
        ticket = tickets.get_ticket(s, number)
        assert ticket.assignee_id is None
        assert ticket.version == 4
    with desk.session(write=True) as s, pytest.raises(NotFoundError, match="no agent 'zed'"):
        tickets.assign(s, number, "zed", ALICE)


def test_status_transitions_follow_the_documented_table(desk: Store) -> None:
    number = _ticket(desk)
    with desk.session(write=True) as s:
        tickets.set_status(s, number, "open", ALICE)
        tickets.set_status(s, number, "solved", ALICE)
        assert tickets.get_ticket(s, number).solved_at is not None
        tickets.set_status(s, number, "open", ALICE)  # reopened
        assert tickets.get_ticket(s, number).solved_at is None
        with pytest.raises(ValidationError, match="it can go to"):
            tickets.set_status(s, number, "new", ALICE)
        tickets.set_status(s, number, "closed", ALICE)
    with desk.session(write=True) as s:
        with pytest.raises(ValidationError, match="closed is final"):
            tickets.set_status(s, number, "open", ALICE)
        with pytest.raises(ValidationError, match="unknown status"):
            tickets.set_status(s, number, "done", ALICE)
    with desk.session() as s:
        statuses = [(old, new) for action, old, new in _events(s, number) if action == "status"]
        assert statuses == [
            ("new", "open"),
            ("open", "solved"),
            ("solved", "open"),
            ("open", "closed"),
        ]


def test_priority_queue_tags_and_notes(desk: Store) -> None:
    number = _ticket(desk)
    with desk.session(write=True) as s:
        tickets.set_priority(s, number, "urgent", ALICE)
        tickets.move_queue(s, number, "tech", ALICE)
        tickets.add_tags(s, number, ["VIP", "refund", "vip"], ALICE)
        tickets.add_tags(s, number, ["vip"], ALICE)  # already there: nothing
        tickets.remove_tags(s, number, ["refund", "absent"], ALICE)
        note = tickets.add_note(s, number, "Called them back.", ALICE)
        with pytest.raises(ValidationError, match="tag"):
            tickets.add_tags(s, number, ["no spaces allowed"], ALICE)
        with pytest.raises(ValidationError, match="needs some text"):
            tickets.add_note(s, number, "   ", ALICE)
    with desk.session() as s:
        assert _events(s, number)[1:] == [
            ("priority", "normal", "urgent"),
            ("queue", "billing", "tech"),
            ("tag", None, "vip"),
            ("tag", None, "refund"),
            ("untag", "refund", None),
            ("note", None, str(note.id)),
        ]
        detail = views.ticket_detail(s, number)
        assert detail.tags == ["vip"]
        assert detail.row.queue == "tech"
        assert [n.body for n in detail.notes] == ["Called them back."]


def test_one_batch_id_for_one_command(desk: Store) -> None:
    number = _ticket(desk)
    change = Change.by("cli:lead")
    with desk.session(write=True) as s:
        tickets.assign(s, number, "bob", change)
        tickets.set_priority(s, number, "high", change)
    with desk.session() as s:
        batches = {e.batch_id for e in s.exec(select(Event).where(Event.actor == "cli:lead"))}
    assert batches == {change.batch_id}


def _message(
    text: str, message_id: str, direction: str = "in", subject: str = "Refund please"
) -> NewMessage:
    return NewMessage(
        raw=f"Message-ID: {message_id}\r\nSubject: s\r\n\r\n{text}".encode(),
        message_id=message_id,
        direction=direction,
        from_address="jo@acme.example",
        subject=subject,
        body_text=text,
    )


def test_messages_are_indexed_and_count_towards_the_ticket(desk: Store) -> None:
    number = _ticket(desk)
    other = _ticket(desk, "Shipping")
    with desk.session(write=True) as s:
        ticket = tickets.get_ticket(s, number)
        add_message(s, ticket, _message("I would like a refund for order 1234", "<a@x>"), ALICE)
        add_message(s, ticket, _message("返金をお願いします", "<b@x>"), ALICE)
        add_message(s, ticket, _message("We refunded it.", "<c@x>", "out"), ALICE)
        add_message(
            s,
            tickets.get_ticket(s, other),
            _message("Where is my parcel?", "<d@x>", subject="Shipping"),
            ALICE,
        )
    with desk.session() as s:
        detail = views.ticket_detail(s, number)
        assert [m.message_id for m in detail.messages] == ["<a@x>", "<b@x>", "<c@x>"]
        assert detail.row.message_count == 3
        assert tickets.get_ticket(s, number).first_response_at is not None
        conn = s.connection()

        def found(*terms: str) -> list[int]:
            condition = search.ticket_matches(conn, terms, name="q")
            return sorted(s.exec(select(Ticket.number).where(condition)))

        assert found("refund") == [number]
        assert found("返金") == [number]
        assert found("parcel") == [other]
        assert found("order 1234") == [number]
        assert found("refund", "parcel") == []
        assert found("nowhere") == []


def test_merge_moves_the_thread_and_closes_the_source(desk: Store) -> None:
    target = _ticket(desk)
    source = _ticket(desk, "Re: refund", requester_email="jo@acme.example")
    with desk.session(write=True) as s:
        add_message(s, tickets.get_ticket(s, source), _message("one more thing", "<m@x>"), ALICE)
        tickets.add_tags(s, source, ["dup"], ALICE)
        tickets.merge(s, source, target, ALICE)
        with pytest.raises(ValidationError, match="already merged"):
            tickets.merge(s, source, target, ALICE)
        with pytest.raises(ValidationError, match="into itself"):
            tickets.merge(s, target, target, ALICE)
    with desk.session() as s:
        merged = tickets.get_ticket(s, source)
        assert merged.status == "closed"
        assert views.ticket_detail(s, source).merged_into == target
        detail = views.ticket_detail(s, target)
        assert [m.message_id for m in detail.messages] == ["<m@x>"]
        assert detail.tags == ["dup"]
        assert ("merged_from", None, str(source)) in _events(s, target)
        assert ("merge", "new", str(target)) in _events(s, source)  # the status it had


def test_a_merged_tickets_mail_is_found_on_its_target_only(desk: Store) -> None:
    """SQLite keys its index by ticket (search.TICKET_SHIFT): a merge moves the index rows
    with the messages, and the index stays whole (FTS5 forgets a row only given its text)."""
    target = _ticket(desk, "Printer")
    source = _ticket(desk, "Re: printer", requester_email="jo@acme.example")
    with desk.session(write=True) as s:
        add_message(s, tickets.get_ticket(s, source), _message("toner 返金 please", "<t@x>"), ALICE)
        tickets.merge(s, source, target, ALICE)
    with desk.session() as s:
        for plan in ("page", "whole", "per_ticket"):
            condition = search.ticket_matches(s.connection(), ["toner 返金"], name="q", plan=plan)
            assert list(s.exec(select(Ticket.number).where(condition))) == [target], plan
        if desk.dialect == "sqlite":
            s.connection().exec_driver_sql(
                "INSERT INTO message_fts(message_fts, rank) VALUES ('integrity-check', 0)"
            )


def test_a_message_is_indexed_as_stored_so_a_merge_forgets_exactly_that(
    desk: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sender address is stored lower-cased: the index takes the stored text too, the
    text a merge makes again to delete the row under the source's key (FTS5 contentless)."""
    indexed: list[tuple[int, int, str]] = []
    index_documents = search.index_documents

    def recording(conn: Connection, rows: Iterable[tuple[int, int, str]]) -> None:
        rows = list(rows)
        indexed.extend(rows)
        index_documents(conn, rows)

    monkeypatch.setattr(search, "index_documents", recording)
    target = _ticket(desk, "Printer")
    source = _ticket(desk, "Re: printer", requester_email="jo@acme.example")
    new = _message("toner please", "<u@x>")
    new.from_address = "İNAN.ÖZ@ÖRNEK.example"
    with desk.session(write=True) as s:
        ticket = tickets.get_ticket(s, source)
        add_message(s, ticket, new, ALICE)
        assert ticket.id is not None
        assert [(m, doc) for m, _, doc in indexed] == search.stored_documents(
            s.connection(), ticket.id
        )
        tickets.merge(s, source, target, ALICE)
    with desk.session() as s:
        for plan in ("page", "whole", "per_ticket"):
            for term in ("İNAN.ÖZ@ÖRNEK.example", "inan.oz@ornek.example", "toner"):
                condition = search.ticket_matches(s.connection(), [term], name="q", plan=plan)
                assert list(s.exec(select(Ticket.number).where(condition))) == [target], plan
        if desk.dialect == "sqlite":
            s.connection().exec_driver_sql(
                "INSERT INTO message_fts(message_fts, rank) VALUES ('integrity-check', 0)"
            )


def test_stale_version_is_refused_and_nothing_is_overwritten(desk: Store) -> None:
    number = _ticket(desk)
    with desk.session() as s:
        shown = tickets.get_ticket(s, number).version
    with desk.session(write=True) as s:
        tickets.set_priority(s, number, "high", Change.by("agent:bob"))
    with desk.session(write=True) as s, pytest.raises(ConflictError, match="changed since"):
        tickets.set_priority(s, number, "low", ALICE, expected_version=shown)
    with desk.session() as s:
        assert tickets.get_ticket(s, number).priority == "high"
        assert [e[0] for e in _events(s, number)] == ["create", "priority"]


@pytest.mark.postgres
def test_two_writers_at_once_the_second_is_told(pg_store: Store) -> None:
    """Interleaved transactions on PostgreSQL: the later write touches nothing and says so."""
    with pg_store.session(write=True) as s:
        directory.ensure_queue(s, "billing")
    number = _ticket(pg_store)
    with pg_store.session(write=True) as first:
        ticket = tickets.get_ticket(first, number)  # first writer reads version 1
        with pg_store.session(write=True) as second:
            tickets.set_priority(second, number, "urgent", Change.by("agent:bob"))
        with pytest.raises(ConflictError, match="changed by someone else"):
            tickets.write_ticket(first, ticket, {"priority": "low"}, ticket.version, ALICE)
    with pg_store.session() as s:
        assert tickets.get_ticket(s, number).priority == "urgent"


def test_bulk_assign_records_an_event_per_changed_ticket(desk: Store) -> None:
    numbers = [_ticket(desk, f"t{i}") for i in range(7)]
    with desk.session(write=True) as s:
        tickets.assign(s, numbers[0], "bob", ALICE)
        ids = list(s.exec(select(Ticket.id).where(col(Ticket.number).in_(numbers))))
    change = Change.by("cli:lead")
    with desk.session(write=True) as s:
        result = bulk.assign(s, ids, "alice", change)
    assert (result.matched, result.changed) == (7, 7)
    with desk.session() as s:
        batch = s.exec(select(Event).where(Event.batch_id == change.batch_id)).all()
        assert len(batch) == 7
        olds = sorted((e.old_value or "-") for e in batch)
        assert olds == ["-"] * 6 + ["bob"]
        assert {e.new_value for e in batch} == {"alice"}
        versions = {e.ticket_id: e.version for e in batch}
        for t in s.exec(select(Ticket).where(col(Ticket.id).in_(ids))):
            assert versions[t.id] == t.version
    with desk.session(write=True) as s:
        again = bulk.assign(s, ids, "alice", Change.by("cli:lead"))
        assert again.changed == 0
        gone = bulk.assign(s, ids, None, Change.by("cli:lead"))
        assert gone.changed == 7
        moved = bulk.move(s, ids[:3], "tech", Change.by("cli:lead"))
        assert moved.changed == 3
    with desk.session() as s:
        assert views.count_tickets(s, col(Ticket.assignee_id).is_(None)) == 7
        assert views.overview(s).queues[1].active == 3


def test_overview_counts_and_list_order(desk: Store) -> None:
    now = datetime.now(UTC)
    for days, status in [(5, "open"), (3, "pending"), (2, "solved"), (30, "solved"), (1, "new")]:
        with desk.session(write=True) as s:
            at = Change.by("agent:alice", at=now - timedelta(days=days))
            number = tickets.create_ticket(
                s,
                subject=f"{status} {days}",
                requester_email="a@b.example",
                queue="billing",
                change=at,
            ).number
            if status != "new":
                tickets.set_status(s, number, status, at)
    with desk.session(write=True) as s:
        tickets.assign(s, 1, "alice", Change.by("agent:alice", at=now - timedelta(days=5)))
    with desk.session() as s:
        o = views.overview(s, me="alice", now=now)
        assert (o.mine, o.unassigned, o.all_active, o.pending, o.recently_solved) == (
            1,
            2,
            3,
            1,
            1,
        )
        assert [q.name for q in o.queues] == ["billing", "tech"]
        rows = views.list_tickets(s, limit=3)
        assert [r.subject for r in rows] == ["new 1", "solved 2", "pending 3"]
        assert [r.subject for r in views.list_tickets(s, limit=2, offset=3)] == [
            "open 5",
            "solved 30",
        ]


def test_ticket_numbers_are_unique_across_sessions(store: Store) -> None:
    with store.session(write=True) as s:
        first = tickets.next_ticket_numbers(s, 3)
    with store.session(write=True) as s:
        second = tickets.next_ticket_numbers(s, 2)
    assert list(first) == [1, 2, 3]
    assert list(second) == [4, 5]


def test_messages_keep_raw_bytes(desk: Store) -> None:
    number = _ticket(desk)
    raw = b"Subject: =?utf-8?b?5pel5pys?=\r\nX-Odd: \xff\xfe\r\n\r\nbody\r\n"
    with desk.session(write=True) as s:
        message = add_message(
            s,
            tickets.get_ticket(s, number),
            NewMessage(raw=raw, message_id="<raw@x>", body_text="body"),
            ALICE,
        )
    from supportdesk.store.models import MessageRaw

    with desk.session() as s:
        stored = s.get(MessageRaw, message.id)
        assert stored is not None and bytes(stored.raw) == raw
        assert s.get(Message, message.id).size == len(raw)  # type: ignore[union-attr]
