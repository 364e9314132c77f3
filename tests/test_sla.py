"""SLA due times on SQLite and PostgreSQL, with a controllable clock (each change's `at`).

Every expected time below is worked out by hand from the policy in POLICY: Berlin business
hours, Monday to Friday 09:00-17:00, Christmas Day off. Berlin is UTC+1 in winter and
UTC+2 from 29 March 2026 (DST).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import and_, event, not_, or_
from sqlmodel import col, select

from supportdesk.desk import bulk, directory, tickets, views
from supportdesk.desk.events import Change
from supportdesk.desk.messages import NewMessage, add_message
from supportdesk.desk.query import Matching, parse
from supportdesk.desk.rules import engine
from supportdesk.desk.rules import storage as rules_storage
from supportdesk.desk.sla import due, storage
from supportdesk.desk.undo import undo_batch
from supportdesk.errors import NotFoundError, QueryError, ValidationError
from supportdesk.store import Store
from supportdesk.store.models import Customer, Ticket
from tests.test_bulk_cli import run

POLICY = """\
# the support team's promise
[[sla]]
queue = "support"
timezone = "Europe/Berlin"
holidays = [2026-12-25]
first_response = "4h"
next_response = "2h"
resolution = "16h"

[sla.priority.urgent]
first_response = "1h"
"""


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.fixture
def desk(store: Store) -> Store:
    with store.session(write=True) as s:
        directory.ensure_queue(s, "support")
        directory.ensure_queue(s, "sales")
        storage.set_policies(s, POLICY, at=utc(2026, 1, 1))
    return store


def new_ticket(store: Store, at: datetime, *, priority: str = "normal") -> int:
    with store.session(write=True) as s:
        ticket = tickets.create_ticket(
            s,
            subject="help",
            requester_email="jo@acme.example",
            queue="support",
            priority=priority,
            change=Change.by("agent:alice", at=at),
        )
        return ticket.number


def sla(store: Store, number: int) -> tuple[datetime | None, bool]:
    with store.session() as s:
        t = s.exec(select(Ticket).where(Ticket.number == number)).one()
        return (None if t.sla_due is None else datetime.fromtimestamp(t.sla_due, UTC)), (
            t.sla_breached
        )


def message(store: Store, number: int, direction: str, at: datetime) -> None:
    with store.session(write=True) as s:
        ticket = tickets.get_ticket(s, number)
        stamp = f"<{direction}-{at.timestamp()}-{number}@x.example>"
        add_message(
            s,
            ticket,
            NewMessage(raw=b"x", message_id=stamp, direction=direction),
            Change.by("agent:alice", at=at),
        )


def status(store: Store, number: int, value: str, at: datetime) -> None:
    with store.session(write=True) as s:
        tickets.set_status(s, number, value, Change.by("agent:alice", at=at))


def test_first_response_runs_over_the_weekend_and_the_dst_change(desk: Store) -> None:
    # Friday 27 March, 15:00 Berlin (14:00 UTC): two hours on Friday, two on Monday
    # 30 March, now in summer time: 11:00 Berlin is 09:00 UTC.
    number = new_ticket(desk, utc(2026, 3, 27, 14))
    assert sla(desk, number) == (utc(2026, 3, 30, 9), False)


def test_holidays_and_the_weekend_are_skipped(desk: Store) -> None:
    # Thursday 24 December 16:00 Berlin: one hour, Christmas Day off, weekend, then three
    # hours on Monday 28 December: 12:00 Berlin, 11:00 UTC.
    number = new_ticket(desk, utc(2026, 12, 24, 15))
    assert sla(desk, number) == (utc(2026, 12, 28, 11), False)


def test_a_ticket_opened_out_of_hours_starts_at_the_next_working_hour(desk: Store) -> None:
    # Saturday night: the clock starts Monday 09:00 Berlin (08:00 UTC); 4 h -> 12:00 UTC.
    number = new_ticket(desk, utc(2026, 11, 21, 22))
    assert sla(desk, number) == (utc(2026, 11, 23, 12), False)


def test_a_priority_has_its_own_target(desk: Store) -> None:
    number = new_ticket(desk, utc(2026, 11, 16, 8), priority="urgent")  # Monday 09:00 Berlin
    assert sla(desk, number) == (utc(2026, 11, 16, 9), False)
    with desk.session(write=True) as s:  # back to normal: four hours from creation
        tickets.set_priority(
            s, number, "normal", Change.by("agent:alice", at=utc(2026, 11, 16, 8, 30))
        )
    assert sla(desk, number) == (utc(2026, 11, 16, 12), False)


def test_response_pause_and_resume(desk: Store) -> None:
    monday = utc(2026, 11, 16, 8)  # 09:00 Berlin
    number = new_ticket(desk, monday)
    message(desk, number, "in", monday)
    assert sla(desk, number) == (monday + timedelta(hours=4), False)
    message(desk, number, "out", monday + timedelta(hours=1))  # first response in time
    # Nothing waits for us: the resolution is due after 16 business hours, Tuesday 17:00.
    assert sla(desk, number) == (utc(2026, 11, 17, 16), False)
    status(desk, number, "pending", monday + timedelta(hours=2))  # 2 h used
    assert sla(desk, number) == (None, False)
    # The customer answers on Wednesday 11:00 Berlin: the clock runs again, and the
    # next response is due two business hours later.
    wednesday = utc(2026, 11, 18, 10)
    message(desk, number, "in", wednesday)
    status(desk, number, "open", wednesday)
    assert sla(desk, number) == (wednesday + timedelta(hours=2), False)
    message(desk, number, "out", wednesday + timedelta(hours=1))
    # 14 h of resolution time left from Wednesday 11:00: Wed 6 h, Thursday 8 h.
    assert sla(desk, number) == (utc(2026, 11, 19, 16), False)
    status(desk, number, "solved", utc(2026, 11, 19, 9))
    assert sla(desk, number) == (None, False)


def test_a_missed_target_is_breached(desk: Store) -> None:
    monday = utc(2026, 11, 16, 8)
    number = new_ticket(desk, monday)
    assert sla(desk, number) == (monday + timedelta(hours=4), False)
    with desk.session() as s:
        late = due.breached_condition(monday + timedelta(hours=5))
        assert s.exec(select(Ticket.number).where(late)).all() == [number]
        on_time = due.breached_condition(monday + timedelta(hours=3))
        assert s.exec(select(Ticket.number).where(on_time)).all() == []
    with desk.session(write=True) as s:
        assert due.sweep(s, monday + timedelta(hours=5)) == 1
    assert sla(desk, number)[1] is True
    # Answered late: the first response target stays missed after the answer.
    message(desk, number, "out", monday + timedelta(hours=6))
    assert sla(desk, number) == (utc(2026, 11, 17, 16), True)


def test_a_next_response_answered_late_stays_breached(desk: Store) -> None:
    monday = utc(2026, 11, 16, 8)
    number = new_ticket(desk, monday)
    message(desk, number, "out", monday + timedelta(hours=1))  # first response in time
    message(desk, number, "in", monday + timedelta(hours=2))  # next response due 12:00 UTC
    assert sla(desk, number) == (monday + timedelta(hours=4), False)
    message(desk, number, "out", monday + timedelta(hours=5))  # an hour late
    assert sla(desk, number) == (utc(2026, 11, 17, 16), True)
    with desk.session(write=True) as s:  # a later change recomputes: the miss stays
        tickets.set_priority(s, number, "high", Change.by("bob", at=monday + timedelta(hours=6)))
    assert sla(desk, number)[1] is True


def test_pausing_a_customer_left_waiting_too_long_is_a_breach(desk: Store) -> None:
    """Set pending or solved without an answer after the next response was due: the miss
    stays; set pending while still in time: no breach."""
    monday = utc(2026, 11, 16, 8)
    late, in_time = new_ticket(desk, monday), new_ticket(desk, monday)
    for number in (late, in_time):
        message(desk, number, "out", monday + timedelta(hours=1))  # first response in time
        message(desk, number, "in", monday + timedelta(hours=2))  # next response due 12:00
    status(desk, late, "pending", monday + timedelta(hours=5))
    status(desk, in_time, "pending", monday + timedelta(hours=3))
    assert sla(desk, late) == (None, True)
    assert sla(desk, in_time) == (None, False)
    status(desk, late, "solved", monday + timedelta(hours=6))
    assert sla(desk, late) == (None, True)


def test_an_answer_in_time_is_no_breach_even_when_read_later(desk: Store) -> None:
    monday = utc(2026, 11, 16, 8)
    number = new_ticket(desk, monday)
    message(desk, number, "out", monday + timedelta(hours=3, minutes=59))
    status(desk, number, "solved", monday + timedelta(hours=5))
    with desk.session(write=True) as s:
        tickets.set_priority(s, number, "high", Change.by("agent:bob", at=utc(2026, 12, 1)))
    assert sla(desk, number) == (None, False)


def test_bulk_changes_and_their_undo_keep_due_times(desk: Store) -> None:
    monday = utc(2026, 11, 16, 8)
    numbers = [new_ticket(desk, monday + timedelta(minutes=m)) for m in (0, 10, 20)]
    before = [sla(desk, n) for n in numbers]
    assert before[1] == (monday + timedelta(hours=4, minutes=10), False)
    with desk.session(write=True) as s:
        ids = bulk.ids_for_numbers(s, numbers)
        moved = bulk.move(s, ids, "sales", Change.by("lead", at=monday + timedelta(hours=1)))
    assert [sla(desk, n) for n in numbers] == [(None, False)] * 3  # sales has no policy
    with desk.session(write=True) as s:
        undo_batch(s, moved.batch_id, at=monday + timedelta(hours=1, minutes=5))
    assert [sla(desk, n) for n in numbers] == before
    with desk.session(write=True) as s:
        urgent = bulk.set_priority(s, ids, "urgent", Change.by("lead", at=monday))
    assert sla(desk, numbers[2]) == (monday + timedelta(hours=1, minutes=20), False)
    with desk.session(write=True) as s:
        undo_batch(s, urgent.batch_id, at=monday + timedelta(hours=2))
    assert [sla(desk, n) for n in numbers] == before
    # A bulk pause: nothing due; resumed a business day later, resolution moves a day on.
    with desk.session(write=True) as s:
        pending = bulk.set_status(
            s, ids, "pending", Change.by("lead", at=monday + timedelta(hours=1))
        )
    assert [sla(desk, n) for n in numbers] == [(None, False)] * 3
    with desk.session(write=True) as s:
        undo_batch(s, pending.batch_id, at=utc(2026, 11, 17, 9))  # Tuesday 10:00 Berlin
    # First response (4 h from creation) is not paused: missed by Tuesday.
    assert [sla(desk, n)[1] for n in numbers] == [True] * 3


def test_setting_a_policy_computes_existing_tickets_and_removing_clears_them(
    desk: Store,
) -> None:
    monday = utc(2026, 11, 16, 8)
    with desk.session(write=True) as s:
        ticket = tickets.create_ticket(
            s,
            subject="x",
            requester_email="a@b.example",
            queue="sales",
            change=Change.by("a", at=monday),
        )
        number = ticket.number
    assert sla(desk, number) == (None, False)
    with desk.session(write=True) as s:
        storage.update_policy(s, "sales", {"timezone": "UTC", "first_response": "30m"}, at=monday)
    assert sla(desk, number) == (utc(2026, 11, 16, 9, 30), False)  # 09:00 UTC start
    with desk.session(write=True) as s:
        storage.remove_policy(s, "sales")
    assert sla(desk, number) == (None, False)
    with desk.session() as s, pytest.raises(NotFoundError, match="sales"):
        storage.get_policy(s, "sales")


def test_a_policy_set_later_measures_solved_tickets_to_their_solve(store: Store) -> None:
    """Answered in half an hour and solved in an hour, a month before any queue had a policy
    (a store upgraded to service levels): neither target was missed."""
    desk = store
    monday = utc(2026, 11, 16, 9)
    with desk.session(write=True) as s:
        directory.ensure_queue(s, "sales")
        number = tickets.create_ticket(
            s,
            subject="x",
            requester_email="a@b.example",
            queue="sales",
            change=Change.by("a", at=monday),
        ).number
    message(desk, number, "out", monday + timedelta(minutes=30))
    status(desk, number, "solved", monday + timedelta(hours=1))
    with desk.session(write=True) as s:
        storage.update_policy(
            s,
            "sales",
            {"timezone": "UTC", "first_response": "1h", "resolution": "4h"},
            at=utc(2026, 12, 16, 12),
        )
    assert sla(desk, number) == (None, False)
    with desk.session() as s:
        assert Matching(s, "breached:yes", me=None, now=utc(2026, 12, 16, 12)).count() == 0


def test_import_replaces_and_reports_and_a_bad_file_changes_nothing(desk: Store) -> None:
    sales = '[[sla]]\nqueue = "sales"\nresolution = "8h"\n'
    with desk.session(write=True) as s:
        summary = storage.import_policies(s, sales, origin="team.toml")
    assert summary.as_dict() == {
        "added": ["sales"],
        "changed": [],
        "removed": ["support"],
        "unchanged": [],
    }
    bad = sales + '\n[[sla]]\nqueue = "nope"\nresolution = "8h"\n'
    with desk.session(write=True) as s, pytest.raises(ValidationError, match=r"team\.toml line 5"):
        storage.import_policies(s, bad, origin="team.toml")
    with desk.session() as s:
        assert [p.queue for p in storage.list_policies(s)] == ["sales"]
        assert storage.export_text(s) == sales


@pytest.fixture
def config(tmp_path: Path, desk: Store) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'database_url = "{desk.url}"\nagent = "lead"\n')
    return path


def test_cli_set_show_list_export_import_round_trip(config: Path, tmp_path: Path) -> None:
    code, out, err = run(
        config,
        "sla",
        "set",
        "sales",
        "--timezone",
        "America/New_York",
        "--first-response",
        "1h30m",
        "--hours",
        "sat=10:00-12:00,13:00-14:00",
        "--holiday",
        "2026-11-26",
        "--json",
    )
    assert code == 0, err
    shown = json.loads(out)
    assert shown["queue"] == "sales" and shown["timezone"] == "America/New_York"
    assert shown["hours"]["mon"] == "09:00-17:00"  # the default week, plus Saturday
    assert shown["hours"]["sat"] == ["10:00-12:00", "13:00-14:00"]
    assert shown["effective"]["normal"]["first_response"] == 5400
    code, out, err = run(
        config, "sla", "set", "sales", "--priority", "urgent", "--resolution", "2h"
    )
    assert code == 0, err
    assert "[sla.priority.urgent]" in out
    code, out, _ = run(config, "sla", "list", "--json")
    assert [p["queue"] for p in json.loads(out)] == ["sales", "support"]
    code, exported, _ = run(config, "sla", "export")
    assert code == 0 and exported.startswith('[[sla]]\nqueue = "sales"')
    assert POLICY in exported  # stored exactly as written, comments included
    path = tmp_path / "team.toml"
    path.write_text(exported)
    code, out, err = run(config, "sla", "import", str(path), "--json")
    assert code == 0, err
    assert json.loads(out)["unchanged"] == ["sales", "support"]
    code, out, _ = run(config, "sla", "show", "support")
    assert out == POLICY
    code, out, err = run(config, "sla", "refresh", "--json")
    assert (code, json.loads(out)) == (0, {"policies": 2}), err
    code, out, err = run(config, "sla", "remove", "sales", "--json")
    assert (code, json.loads(out)) == (0, {"removed": "sales"})


def test_cli_errors_name_the_file_line_key_and_change_nothing(config: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[sla]]\nqueue = "support"\nfirst_response = "4 days"\n\n'
        '[sla.hours]\nfri = "17:00-09:00"\n'
    )
    code, out, err = run(config, "sla", "import", str(bad))
    assert code != 0 and "Traceback" not in err
    assert "bad.toml line 3" in err and "first_response" in err
    assert "line 6" in err and "hours.fri" in err
    code, out, _ = run(config, "sla", "show", "support")
    assert out == POLICY
    code, _, err = run(config, "sla", "set", "nowhere", "--resolution", "8h")
    assert code != 0 and "no queue 'nowhere'" in err
    code, _, err = run(config, "sla", "set", "support", "--timezone", "Mars/Olympus")
    assert code != 0 and "unknown time zone 'Mars/Olympus'" in err
    code, _, err = run(config, "sla", "show", "sales")
    assert code != 0 and "has no SLA policy" in err


def test_query_terms_views_and_sort_by_due_time(desk: Store) -> None:
    monday = utc(2026, 11, 16, 8)
    late = new_ticket(desk, monday)  # due 12:00 UTC
    soon = new_ticket(desk, monday + timedelta(hours=2, minutes=50))  # due 14:50 UTC
    answered = new_ticket(desk, monday)
    message(desk, answered, "out", monday + timedelta(hours=5))  # late first response
    quiet = new_ticket(desk, monday + timedelta(hours=4))
    status(desk, quiet, "pending", monday + timedelta(hours=4))  # nothing due
    now = utc(2026, 11, 16, 13)

    def numbers(text: str) -> list[int]:
        with desk.session() as s:
            return Matching(s, text, me=None, now=now).numbers()

    assert numbers("breached:yes sort:number") == [late, answered]
    assert numbers("breached:no sort:number") == [soon, quiet]
    assert numbers("due:<2h breached:no") == [soon]
    assert numbers("due:<2h sort:due") == [late, soon]  # overdue counts as due within 2 h
    assert numbers("due:>1d") == [answered]  # its resolution, Tuesday evening
    assert numbers("-due:<1d sort:number") == [answered, quiet]  # nothing due counts as not
    assert numbers("first_response:>4h sort:number") == [late, answered]
    assert numbers("first_response:<4h sort:number") == [soon, quiet]
    assert numbers("status:active sort:due") == [late, soon, answered, quiet]
    with desk.session() as s:
        counts = views.overview(s, now=now)
    assert (counts.breaching_soon, counts.breached) == (1, 2)
    with desk.session() as s:
        rows = {r.number: r for r in views.list_tickets(s)}
    assert rows[late].sla_state(now) == "breached"
    assert rows[soon].sla_state(now) == "due-soon"
    assert rows[quiet].sla_state(now) == ""
    assert rows[soon].sla_due == utc(2026, 11, 16, 14, 50)


EDGE_NOW = utc(2026, 11, 16, 13)
_B = due.seconds(EDGE_NOW)  # breached below this due time
_A = due.seconds(EDGE_NOW + views.DUE_SOON)  # due soon below this one
EDGES = [  # number, status, sla_due, sla_breached: stored as given, no policy recomputes them
    (1, "open", None, False),  # nothing due
    (2, "pending", None, True),  # flagged, clock stopped: breached with nothing due
    (3, "open", _B - 1, False),  # overdue by a second, not swept yet
    (4, "new", _B, False),  # due this very second: not breached yet, due soon
    (5, "on-hold", _B + 1, False),
    (6, "open", _A - 1, False),  # the last second of "soon"
    (7, "open", _A, False),  # the first second after it
    (8, "new", _A + 1, False),
    (9, "open", _B + 60, True),  # flagged, its next target still ahead
    (10, "open", _A + 3600, True),
    (11, "open", _B - 3600, True),  # flagged and overdue
    (12, "solved", _B + 10, False),  # not active
    (13, "closed", _B - 5, True),
    (14, "closed", None, True),
    (15, "pending", _B + 30, False),  # active with a due time (stale, but the query can't tell)
    (16, "open", _B - 10**6, False),
]
_ACTIVE = {"new", "open", "pending", "on-hold"}
_NOT_PENDING = {"new", "open", "on-hold", "solved", "closed"}


def _late(due_at: int | None, flagged: bool) -> bool:
    """`breached:yes` as desk.sla.due defines it, read in Python."""
    return flagged or (due_at is not None and due_at < _B)


def _by_due(numbers: list[int]) -> list[int]:
    """`sort:due`: earliest due first, nothing due last, then by ticket (created in order)."""
    dues = {n: d for n, _, d, _ in EDGES}
    return sorted(numbers, key=lambda n: (dues[n] is None, dues[n] or 0, n))


@pytest.fixture
def edges(store: Store) -> Store:
    with store.session(write=True) as s:
        queue = directory.ensure_queue(s, "support")
        customer = Customer(email="jo@acme.example")
        s.add(customer)
        s.flush()
        for number, state, due_at, flagged in EDGES:
            s.add(
                Ticket(
                    number=number,
                    subject=f"edge {number}",
                    status=state,
                    queue_id=queue.id,
                    requester_id=customer.id,
                    sla_due=due_at,
                    sla_breached=flagged,
                )
            )
    return store


def _sidebar_query(key: str) -> str:
    from supportdesk.tui.data import DeskData

    return next(v.query for v in DeskData._entries([], [], []) if v.key == key)


DueTest = Callable[[int | None], bool]


def _any(due_at: int | None) -> bool:
    return True


def _before(edge: int) -> DueTest:
    return lambda due_at: due_at is not None and due_at < edge


def _at_most(edge: int) -> DueTest:
    return lambda due_at: due_at is not None and due_at <= edge


def _after(edge: int) -> DueTest:
    return lambda due_at: due_at is not None and due_at > edge


def _from(edge: int) -> DueTest:
    return lambda due_at: due_at is not None and due_at >= edge


def _not_before(edge: int) -> DueTest:
    """A negated due term: nothing due counts as not due before `edge`."""
    return lambda due_at: not _before(edge)(due_at)


@pytest.mark.parametrize(
    ("text", "statuses", "due_test", "late"),
    [
        ("view:breaching", _ACTIVE, _before(_A), False),
        ("view:breached", _ACTIVE, _any, True),
        ("breached:yes sort:due", None, _any, True),
        ("breached:no sort:due", None, _any, False),
        ("-breached:yes sort:due", None, _any, False),
        ("-breached:no sort:due", None, _any, True),
        ("due:<2h breached:no sort:due", None, _before(_A), False),
        ("due:<2h -breached:yes sort:due", None, _before(_A), False),
        ("due:<2h -breached:no sort:due", None, _before(_A), True),
        ("due:<=2h breached:no sort:due", None, _at_most(_A), False),
        ("due:>1h breached:no sort:due", None, _after(_B + 3600), False),
        ("due:>=0m breached:no sort:due", None, _from(_B), False),
        ("-due:<2h breached:no sort:due", None, _not_before(_A), False),
        ("-due:<2h -breached:no sort:due", None, _not_before(_A), True),
        ("due:<2h breached:no -status:pending", _NOT_PENDING, _before(_A), False),
    ],
)
def test_sla_views_find_exactly_the_tickets_the_definition_names(
    edges: Store, text: str, statuses: set[str] | None, due_test: DueTest, late: bool
) -> None:
    """The SLA terms are written as index ranges (`due.on_time_condition`), not as the negated
    OR they stand for: every ticket at and around each bound, with nothing due, flagged with
    a target still ahead, or not active, is in a view exactly when the definition says so,
    in `sort:due` order, read as a first page, as the whole set and as a count."""
    query = _sidebar_query(text.removeprefix("view:")) if text.startswith("view:") else text
    if "sort:" not in query:
        query += " sort:due"
    expected = _by_due(
        [
            number
            for number, state, due_at, flagged in EDGES
            if (statuses is None or state in statuses)
            and due_test(due_at)
            and _late(due_at, flagged) == late
        ]
    )
    assert expected  # every case finds some tickets and leaves others out
    assert len(expected) < len(EDGES)
    with edges.session() as s:
        matching = Matching(s, query, me=None, now=EDGE_NOW)
        page = [r.number for r in matching.page(0, 46)]
        assert (page, matching.numbers(), matching.count()) == (expected, expected, len(expected))


@pytest.mark.parametrize(
    ("text", "negated", "due_soon"),
    [
        ("breached:yes", False, False),
        ("breached:no", True, False),
        ("-breached:yes", True, False),
        ("due:<2h breached:no", True, True),
        ("due:<2h breached:yes", False, True),
    ],
)
def test_sla_terms_find_what_their_old_compiled_form_found(
    edges: Store, text: str, negated: bool, due_soon: bool
) -> None:
    """Each term against the condition it was compiled to before it was written as ranges
    (`flag IS true OR (due IS NOT NULL AND due < now)`, negated with NOT), run by the same
    backend with its own NULL logic: the same tickets, nothing due included."""
    due_at = col(Ticket.sla_due)
    old = or_(col(Ticket.sla_breached).is_(True), and_(due_at.is_not(None), due_at < _B))
    condition = not_(old) if negated else old
    if due_soon:
        condition = and_(due_at < _A, condition)
    with edges.session() as s:
        before = s.exec(select(Ticket.number).where(condition).order_by(col(Ticket.number)))
        expected = before.all()
        found = Matching(s, f"{text} sort:number", me=None, now=EDGE_NOW).numbers()
    assert found == expected
    assert 0 < len(expected) < len(EDGES)


def test_sla_sidebar_counts_match_their_views(edges: Store) -> None:
    with edges.session() as s:
        counts = views.overview(s, now=EDGE_NOW)
        soon = Matching(s, _sidebar_query("breaching"), me=None, now=EDGE_NOW).count()
        late = Matching(s, _sidebar_query("breached"), me=None, now=EDGE_NOW).count()
    assert (counts.breaching_soon, counts.breached) == (soon, late) == (4, 6)


def test_sla_views_read_the_status_sla_index_on_sqlite(sqlite_store: Store) -> None:
    """Without statistics SQLite took `status IN (...)` for ten rows a status and looked up
    every active ticket; "Breaching soon" seeks a due-time range of the unflagged tickets
    within each status of `ix_tickets_status_sla`, and "Breached" tests each active ticket
    inside it, never the table (revision 0015). PostgreSQL chooses by its statistics: the
    index is what counts."""
    statements: list[tuple[str, Any]] = []

    def seen(conn: object, cursor: object, statement: str, parameters: Any, *_: object) -> None:
        statements.append((statement, parameters))

    plans: dict[str, list[list[str]]] = {}
    with sqlite_store.session() as s:
        for key in ("breaching", "breached"):
            matching = Matching(s, _sidebar_query(key), me=None, now=EDGE_NOW)
            statements.clear()
            event.listen(sqlite_store.engine, "before_cursor_execute", seen)
            try:
                matching.page(0, 46)
                matching.count()
            finally:
                event.remove(sqlite_store.engine, "before_cursor_execute", seen)
            plans[key] = [
                [
                    row[-1]
                    for row in s.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
                    if " tickets " in f"{row[-1]} " and "PRIMARY KEY" not in row[-1]
                ]
                for sql, params in statements
                if sql.lstrip().startswith("SELECT")
            ]
    index = "SEARCH tickets USING COVERING INDEX ix_tickets_status_sla"
    ranges = f"{index} (status=? AND sla_breached=? AND sla_due>? AND sla_due<?)"
    statuses = f"{index} (status=?)"
    assert plans == {"breaching": [[ranges], [ranges]], "breached": [[statuses], [statuses]]}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("due:2h", "a duration needs < or >"),
        ("due:<soon", "bad duration 'soon'"),
        ("breached:maybe", "takes yes or no"),
        ("first_respons:>4h", "did you mean 'first_response'"),
    ],
)
def test_query_mistakes_are_named(text: str, problem: str) -> None:
    with pytest.raises(QueryError, match=problem):
        parse(text)


def test_a_time_rule_escalates_half_an_hour_before_a_breach(desk: Store) -> None:
    rule = """\
[[rules]]
name = "escalate before breach"
trigger = "time"
when = { query = "due:<30m breached:no status:active" }
actions = [{ priority = "urgent" }]
"""
    monday = utc(2026, 11, 16, 8)
    number = new_ticket(desk, monday)  # first response due 12:00 UTC
    with desk.session(write=True) as s:
        rules_storage.import_rules(s, rule, origin="rules.toml")
    with desk.session(write=True) as s:
        assert engine.run_time_rules(s, monday + timedelta(hours=3)) == []
    with desk.session(write=True) as s:
        fired = engine.run_time_rules(s, monday + timedelta(hours=3, minutes=31))
    assert [f.ticket for f in fired] == [number]
    with desk.session() as s:
        assert tickets.get_ticket(s, number).priority == "urgent"
    # urgent has a one-hour first response target: now breached, and flagged so.
    assert sla(desk, number) == (monday + timedelta(hours=1), True)


def test_tickets_show_names_the_due_time(config: Path, desk: Store) -> None:
    number = new_ticket(desk, utc(2026, 11, 16, 8))
    code, out, err = run(config, "tickets", "show", str(number))
    assert code == 0, err
    assert "SLA due" in out and "2026-11-16 12:00 UTC" in out
    code, out, err = run(config, "tickets", "show", str(number), "--json")
    assert json.loads(out)["row"]["sla_due"].startswith("2026-11-16T12:00")


def test_what_answers_the_customer_finds_outbox_items_by_index(sqlite_store: Store) -> None:
    """answers_customer asks outbox about every message of ours: by ix_outbox_message_id,
    not a scan of outbox per message."""
    from sqlalchemy import select as sa_select
    from sqlalchemy.dialects import sqlite

    from supportdesk.store.models import Message, table_of

    m = table_of(Message).alias()
    query = sa_select(m.c.id).where(due.answers_customer(m))
    sql = str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    with sqlite_store.engine.connect() as conn:
        steps = [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
    outbox = [step for step in steps if "outbox" in step]
    assert outbox and all("USING INDEX ix_outbox_message_id" in s for s in outbox), steps
