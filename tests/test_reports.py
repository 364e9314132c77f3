"""Reports on a small fixture, every figure worked out by hand, on SQLite and PostgreSQL.

The week of Monday 16 November 2026, UTC. Queue support has a policy (UTC, Monday to Friday
09:00-17:00, first response 2 h, resolution 8 h); queue sales has none.

    T1 support alice  Mon 09:00 created, Mon 10:00 reply, Mon 13:00 solved
    T2 support bob    Mon 16:00 created, Tue 10:00 reply + pending, Tue 12:00 open,
                      Tue 15:00 solved
    T3 sales   -      Sun 12:00 created, Mon 12:00 solved, Tue 09:00 reopened,
                      Tue 11:00 solved
    T4 support alice  Tue 09:00 created, nothing since
    T5 support bob    Mon 09:00 created, Mon 12:00 reply (first response breached),
                      Mon 14:00 solved
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from supportdesk.desk import directory, reports, tickets
from supportdesk.desk.events import Change
from supportdesk.desk.messages import NewMessage, add_message
from supportdesk.desk.query import Matching
from supportdesk.desk.sla import storage
from supportdesk.errors import ValidationError
from supportdesk.store import Store
from tests.test_bulk_cli import run

MON = datetime(2026, 11, 16, tzinfo=UTC)
H = 3600
POLICY = """\
[[sla]]
queue = "support"
timezone = "UTC"
first_response = "2h"
resolution = "8h"
"""


def at(day: int, hour: int) -> datetime:
    """`hour` o'clock on day `day` of the week (0 = Monday, -1 = the Sunday before)."""
    return MON + timedelta(days=day, hours=hour)


@pytest.fixture
def desk(store: Store) -> Store:
    with store.session(write=True) as s:
        for name in ("support", "sales"):
            directory.ensure_queue(s, name)
        for handle in ("alice", "bob"):
            directory.add_agent(s, handle, email=f"{handle}@desk.example")
        storage.set_policies(s, POLICY, at=at(-14, 0))

    def create(queue: str, assignee: str | None, when: datetime) -> int:
        with store.session(write=True) as s:
            return tickets.create_ticket(
                s,
                subject="s",
                requester_email="c@x.example",
                queue=queue,
                assignee=assignee,
                change=Change.by("a", at=when),
            ).number

    def reply(number: int, when: datetime) -> None:
        with store.session(write=True) as s:
            add_message(
                s,
                tickets.get_ticket(s, number),
                NewMessage(
                    raw=b"x", message_id=f"<{number}-{when.timestamp()}@x>", direction="out"
                ),
                Change.by("a", at=when),
            )

    def status(number: int, value: str, when: datetime) -> None:
        with store.session(write=True) as s:
            tickets.set_status(s, number, value, Change.by("a", at=when))

    t3 = create("sales", None, at(-1, 12))
    t1 = create("support", "alice", at(0, 9))
    t5 = create("support", "bob", at(0, 9))
    reply(t1, at(0, 10))
    reply(t5, at(0, 12))
    status(t3, "solved", at(0, 12))
    status(t1, "solved", at(0, 13))
    status(t5, "solved", at(0, 14))
    t2 = create("support", "bob", at(0, 16))
    t4 = create("support", "alice", at(1, 9))
    status(t3, "open", at(1, 9))
    reply(t2, at(1, 10))
    status(t2, "pending", at(1, 10))
    status(t3, "solved", at(1, 11))
    status(t2, "open", at(1, 12))
    status(t2, "solved", at(1, 15))
    assert (t1, t2, t3, t4, t5) != ()
    return store


def figures(desk: Store, by: reports.By, query: str = "") -> dict[str, dict[str, object]]:
    from supportdesk.desk.query import Matching

    with desk.session() as s:
        where = Matching(s, query, me=None).where() if query else None
        report = reports.build(s, at(0, 0), at(2, 0), by, where)
    return {r.group: r.as_dict() for r in report.rows}


def test_by_day(desk: Store) -> None:
    days = figures(desk, "day")
    assert list(days) == ["2026-11-16", "2026-11-17"]
    monday, tuesday = days["2026-11-16"], days["2026-11-17"]
    assert {k: monday[k] for k in ("created", "solved", "reopened", "backlog")} == {
        "created": 3,  # T1, T5, T2
        "solved": 3,  # T3, T1, T5
        "reopened": 0,
        "backlog": 1,  # T3 from Sunday, +3 created, -3 solved: T2 is left
    }
    assert {k: tuesday[k] for k in ("created", "solved", "reopened", "backlog")} == {
        "created": 1,  # T4
        "solved": 2,  # T3 again, T2
        "reopened": 1,  # T3
        "backlog": 1,  # T4
    }
    # First responses on Monday: T1 after 1 h, T5 after 3 h (nearest rank: n=2, the
    # median is the 1st value, p90 the 2nd); business hours are the same within the day.
    assert (monday["first_response_median"], monday["first_response_p90"]) == (1 * H, 3 * H)
    assert (monday["first_response_business_median"], monday["first_response_business_p90"]) == (
        1 * H,
        3 * H,
    )
    # T2: Mon 16:00 to Tue 10:00 is 18 h on the clock, 2 business hours (Mon 16-17, Tue 9-10).
    assert (tuesday["first_response_median"], tuesday["first_response_business_median"]) == (
        18 * H,
        2 * H,
    )
    # Resolved on Monday: T1 in 4 h, T5 in 5 h (T3's latest solve is on Tuesday).
    assert (monday["resolution_median"], monday["resolution_p90"]) == (4 * H, 5 * H)
    assert (monday["resolution_business_median"], monday["resolution_business_p90"]) == (
        4 * H,
        5 * H,
    )
    # Tuesday: T2 in 23 h (7 business hours, less 2 pending), T3 in 47 h (no policy).
    assert (tuesday["resolution_median"], tuesday["resolution_p90"]) == (23 * H, 47 * H)
    assert (tuesday["resolution_business_median"], tuesday["resolution_business_p90"]) == (
        5 * H,
        5 * H,
    )
    assert (monday["replies_per_resolved"], tuesday["replies_per_resolved"]) == (1.0, 0.5)
    # SLA: Monday T1 met, T5 missed its first response; Tuesday T2 met (T3 has no policy).
    assert (monday["sla_attainment"], tuesday["sla_attainment"]) == (0.5, 1.0)


def test_by_agent_and_queue(desk: Store) -> None:
    agents = figures(desk, "agent")
    assert list(agents) == ["(unassigned)", "alice", "bob"]
    alice, bob, nobody = agents["alice"], agents["bob"], agents["(unassigned)"]
    assert (alice["created"], alice["solved"], alice["backlog"]) == (2, 1, 1)
    assert (bob["created"], bob["solved"], bob["backlog"]) == (2, 2, 0)
    assert (nobody["created"], nobody["solved"], nobody["reopened"], nobody["backlog"]) == (
        0,
        2,
        1,
        0,
    )
    assert (bob["first_response_median"], bob["first_response_p90"]) == (3 * H, 18 * H)
    assert (bob["resolution_median"], bob["resolution_p90"]) == (5 * H, 23 * H)
    assert (bob["resolution_business_median"], bob["sla_attainment"]) == (5 * H, 0.5)
    assert (nobody["resolution_median"], nobody["resolution_business_median"]) == (47 * H, None)
    assert (nobody["replies_per_resolved"], nobody["sla_attainment"]) == (0.0, None)
    queues = figures(desk, "queue")
    assert (queues["support"]["created"], queues["support"]["backlog"]) == (4, 1)
    assert (queues["sales"]["solved"], queues["sales"]["backlog"]) == (2, 0)


def test_a_query_narrows_and_weeks_start_on_monday(desk: Store) -> None:
    weeks = figures(desk, "week", "assignee:bob")
    assert list(weeks) == ["2026-11-16"]
    assert (weeks["2026-11-16"]["created"], weeks["2026-11-16"]["solved"]) == (2, 2)
    with desk.session() as s, pytest.raises(ValidationError, match="after"):
        reports.build(s, at(1, 0), at(0, 0), "day")


def desk_config(desk: Store, folder: Path) -> Path:
    config = folder / "config.toml"
    config.write_text(f'database_url = "{desk.url}"\nagent = "lead"\n')
    return config


def test_cli_json_and_csv(desk: Store, tmp_path: Path) -> None:
    config = desk_config(desk, tmp_path)
    args = ("report", "--since", "2026-11-16", "--until", "2026-11-17", "--by", "day")
    code, out, err = run(config, *args, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert [r["group"] for r in data["rows"]] == ["2026-11-16", "2026-11-17"]
    assert data["rows"][1]["reopened"] == 1
    code, out, err = run(config, *args, "--csv")
    assert code == 0, err
    table = list(csv.DictReader(io.StringIO(out)))
    assert [r["solved"] for r in table] == ["3", "2"]
    code, out, err = run(config, *args, "queue:support", "--json")
    assert [r["solved"] for r in json.loads(out)["rows"]] == [2, 1]
    code, _, err = run(config, "report", "--since", "16/11/2026")
    assert code != 0 and "bad date '16/11/2026'" in err
    code, _, err = run(config, "report", "--until", "9999-12-31")
    assert code == 1 and "bad date '9999-12-31'" in err
    code, _, err = run(config, "report", "--until", "0001-01-05")
    assert code == 1 and "too early for a 30-day report" in err
    code, _, err = run(config, "report", "--by", "month")
    assert code != 0 and "month" in err


def test_handle_time(desk: Store, tmp_path: Path) -> None:
    """Console time recorded per agent, ticket and day (desk.handle_time), reported as each
    solved ticket's total (median, p90) and as the time spent in each group's days."""
    from sqlmodel import col, select

    from supportdesk.desk import handle_time
    from supportdesk.store.models import Ticket

    with desk.session() as s:
        t3, t1, t5, t2, t4 = s.exec(
            select(Ticket.number).order_by(col(Ticket.created_at), col(Ticket.id))
        ).all()
    spent = [
        ("alice", t1, at(0, 18), 1500),
        ("alice", t1, at(0, 19), 500),  # the same day: adds to the row
        ("alice", t4, at(1, 10), 600),
        ("alice", t3, at(-1, 13), 100),  # Sunday: before the period
        ("bob", t1, at(0, 11), 400),
        ("bob", t5, at(0, 13), 900),
        ("bob", t2, at(0, 16), 300),
        ("bob", t2, at(1, 14), 1200),
    ]
    for handle, number, when, seconds in spent:
        with desk.session(write=True) as s:
            assert handle_time.record(s, handle, {number: seconds}, at=when) == 1
    with desk.session() as s:
        assert handle_time.of_ticket(s, t1, "alice") == handle_time.TicketHandleTime(2000, 2400)
        assert handle_time.of_ticket(s, t4, "bob") == handle_time.TicketHandleTime(0, 600)
        assert handle_time.record(s, "nobody", {t1: 5}) == 0

    days = figures(desk, "day")
    monday, tuesday = days["2026-11-16"], days["2026-11-17"]
    # Recorded on Monday: 2000 (alice, T1) + 400 + 900 + 300 (bob); Tuesday 600 + 1200.
    assert (monday["handle_time_total"], tuesday["handle_time_total"]) == (3600, 1800)
    # Solved on Monday: T5 900, T1 2400; on Tuesday T3 100 (Sunday's time counts: it is the
    # ticket's), T2 1500. Nearest rank of two: the median is the first, p90 the second.
    assert (monday["handle_time_median"], monday["handle_time_p90"]) == (900, 2400)
    assert (tuesday["handle_time_median"], tuesday["handle_time_p90"]) == (100, 1500)

    agents = figures(desk, "agent")
    alice, bob, nobody = agents["alice"], agents["bob"], agents["(unassigned)"]
    # Totals are each agent's own time in the period; the medians are over the tickets
    # assigned to them (alice: T1; bob: T5, T2; nobody: T3).
    assert (alice["handle_time_total"], bob["handle_time_total"]) == (2600, 2800)
    assert (alice["handle_time_median"], alice["handle_time_p90"]) == (2400, 2400)
    assert (bob["handle_time_median"], bob["handle_time_p90"]) == (900, 1500)
    assert (nobody["handle_time_median"], nobody["handle_time_total"]) == (100, 0)
    queues = figures(desk, "queue")
    assert queues["support"]["handle_time_total"] == 5400
    assert queues["support"]["handle_time_median"] == 1500  # T5 900, T2 1500, T1 2400

    config = desk_config(desk, tmp_path)
    code, out, err = run(config, "report", "--since", "2026-11-16", "--until", "2026-11-17")
    assert code == 0, err
    assert "handle total" in out and "1h00m" in out  # Monday's 3600 s
    code, out, err = run(config, "report", "--since", "2026-11-16", "--by", "agent", "--json")
    by_agent = {r["group"]: r for r in json.loads(out)["rows"]}
    assert by_agent["bob"]["handle_time_total"] == 2800


def test_the_whole_period_in_one_row_and_the_response_histogram(desk: Store) -> None:
    """The console's report screen reads the period as one group and the histogram."""
    everything = figures(desk, "all")
    assert list(everything) == ["all"]
    row = everything["all"]
    assert {k: row[k] for k in ("created", "solved", "reopened", "backlog")} == {
        "created": 4,  # T1, T5, T2, T4 (T3 came on Sunday)
        "solved": 5,  # T3 twice, T1, T5, T2
        "reopened": 1,
        "backlog": 1,  # T4
    }
    # First responses T1 1 h, T5 3 h, T2 18 h: nearest rank of three, 2nd and 3rd.
    assert (row["first_response_median"], row["first_response_p90"]) == (3 * H, 18 * H)
    with desk.session() as s:
        histogram = reports.first_response_histogram(s, at(0, 0), at(2, 0))
        assert histogram == [
            ("<15m", 0),
            ("<1h", 0),
            ("<4h", 2),  # T1 (1 h is not under 1 h), T5
            ("<8h", 0),
            ("<1d", 1),  # T2
            ("<3d", 0),
            ("3d+", 0),
        ]
        bob = Matching(s, "assignee:bob", me=None).where()
        assert dict(reports.first_response_histogram(s, at(0, 0), at(2, 0), bob))["<4h"] == 1


def test_merging_a_solved_ticket_leaves_the_backlog_alone(desk: Store) -> None:
    """A merge closes the merged ticket; one that was already solved was never in the
    backlog, so Monday's backlog stays 1 (it counted the merge as a close, and said 2)."""
    from sqlmodel import col, select

    from supportdesk.store.models import Ticket

    with desk.session(write=True) as s:
        _t3, t1, _t5, _t2, t4 = s.exec(
            select(Ticket.number).order_by(col(Ticket.created_at), col(Ticket.id))
        ).all()
        tickets.merge(s, t1, t4, Change.by("a", at=at(1, 12)))
    days = figures(desk, "day")
    assert (days["2026-11-16"]["backlog"], days["2026-11-17"]["backlog"]) == (1, 1)
    everything = figures(desk, "all")
    assert everything["all"]["backlog"] == 1


def test_waiting_on_the_customer_just_before_the_solve_is_no_resolution_time(
    desk: Store,
) -> None:
    """Wednesday: created 09:00, answered and pending 10:00, solved from pending 15:00. The
    business resolution is the hour before the customer was asked (it said 6 h: the pause
    was only subtracted when a ticket came back from pending)."""
    wednesday = at(2, 0)
    with desk.session(write=True) as s:
        number = tickets.create_ticket(
            s,
            subject="s",
            requester_email="c@x.example",
            queue="support",
            change=Change.by("a", at=at(2, 9)),
        ).number
        add_message(
            s,
            tickets.get_ticket(s, number),
            NewMessage(raw=b"x", message_id="<wed@x>", direction="out"),
            Change.by("a", at=at(2, 10)),
        )
        tickets.set_status(s, number, "pending", Change.by("a", at=at(2, 10)))
        tickets.set_status(s, number, "solved", Change.by("a", at=at(2, 15)))
    with desk.session() as s:
        row = reports.build(s, wednesday, wednesday + timedelta(days=1), "all").rows[0]
    assert (row.resolution_median, row.resolution_business_median) == (6 * H, 1 * H)
