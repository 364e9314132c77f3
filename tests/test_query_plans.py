"""Every plan a text search can take finds the same tickets, and counts say how exact they are.

The compiler chooses per term between collecting the tickets of every matching message and
testing tickets one by one against one evaluation of the match set (inside a small filtered
set, for an exclusion, for a count's sample), and a page has its own plans on top. Which
one runs depends on thresholds measured at a million messages; here the thresholds are set
so that each plan runs on a small store (on SQLite and PostgreSQL), and every plan must find
exactly the tickets a plain Python reading of the same mail finds.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlmodel import Session, col
from typer.testing import CliRunner

from supportdesk.cli import app
from supportdesk.desk import bulk_commands
from supportdesk.desk.query import Count, Matching
from supportdesk.desk.query import compile as compiler
from supportdesk.desk.query import matching as matching_module
from supportdesk.errors import StoreError
from supportdesk.store import Store, search
from supportdesk.store.models import Agent, Customer, Message, Queue, Ticket

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
WORDS = ["refund", "invoice", "order", "request", "late", "hello", "thanks", "返金", "配送"]
STATUSES = ["new", "open", "pending", "solved", "closed"]


@dataclass(frozen=True)
class Mail:
    number: int
    status: str
    queue: str
    assignee: str | None
    bodies: tuple[str, ...]


def _generate() -> list[Mail]:
    rng = random.Random(15)
    mails = []
    for number in range(1, 91):
        bodies = []
        for _ in range(rng.randint(1, 4)):
            words = rng.choices(WORDS, weights=[3, 4, 4, 4, 2, 5, 5, 2, 2], k=rng.randint(2, 5))
            if rng.random() < 0.15:
                words[rng.randrange(len(words))] = "refund request"
            bodies.append(" ".join(words))
        mails.append(
            Mail(
                number,
                rng.choice(STATUSES),
                rng.choice(["billing", "tech"]),
                rng.choice(["alice", None]),
                tuple(bodies),
            )
        )
    return mails


MAIL = _generate()


def has(body: str, term: str) -> bool:
    """Whether one message contains `term` as the index reads it: a word, phrase or CJK run."""
    if not term.isascii():
        return term in body
    tokens = body.split()
    wanted = term.split()
    return any(tokens[i : i + len(wanted)] == wanted for i in range(len(tokens)))


def words(*terms: str) -> Callable[[Mail], bool]:
    """One message holds every term."""
    return lambda m: any(all(has(b, t) for t in terms) for b in m.bodies)


def no(term: str) -> Callable[[Mail], bool]:
    return lambda m: not any(has(b, term) for b in m.bodies)


def every(*tests: Callable[[Mail], bool]) -> Callable[[Mail], bool]:
    return lambda m: all(test(m) for test in tests)


def status(*names: str) -> Callable[[Mail], bool]:
    return lambda m: m.status in names


QUERIES: list[tuple[str, Callable[[Mail], bool]]] = [
    ("refund", words("refund")),
    ("-refund", no("refund")),
    ("refund invoice", words("refund", "invoice")),
    ('"refund request"', words("refund request")),
    ('-"refund request"', no("refund request")),
    ("返金", words("返金")),
    ("-返金", no("返金")),
    ("status:open refund", every(status("open"), words("refund"))),
    ("status:open -refund", every(status("open"), no("refund"))),
    (
        "queue:billing refund invoice",
        every(lambda m: m.queue == "billing", words("refund", "invoice")),
    ),
    (
        "status:open,pending -refund -invoice",
        every(status("open", "pending"), no("refund"), no("invoice")),
    ),
    ("refund -invoice", every(words("refund"), no("invoice"))),
    ("assignee:none 返金 order", every(lambda m: m.assignee is None, words("返金", "order"))),
    (
        'queue:tech "refund request" -late',
        every(lambda m: m.queue == "tech", words("refund request"), no("late")),
    ),
]

# Thresholds that make each plan run on ninety tickets.
PLANS: dict[str, dict[tuple[object, str], float]] = {
    # every word counts as rare: its tickets are collected (NOT IN them for an exclusion)
    "collect": {
        (search, "SELECTIVE_LIMIT"): 10**9,
        (search, "POSTGRES_SELECTIVE_LIMIT"): 10**9,
    },
    # every word is common enough that a page tests the tickets in its own order against
    # the collected list (SQLite; elsewhere as "collect")
    "listed": {
        (search, "SELECTIVE_LIMIT"): 10**9,
        (search, "POSTGRES_SELECTIVE_LIMIT"): 10**9,
        (search, "SORTED_LIMIT"): 0,
    },
    # every word is common and every set small: tickets are tested one by one, a page's
    # in its own order (on SQLite, one index lookup over each ticket's key range)
    "per-ticket": {
        (search, "SELECTIVE_LIMIT"): 0,
        (search, "POSTGRES_SELECTIVE_LIMIT"): 0,
        (compiler, "PER_TICKET_MAX"): 10**9,
        (compiler, "MESSAGES_PER_TICKET"): 0,
        (compiler, "SMALL_SET"): 10**9,
        (compiler, "POSTGRES_SMALL_SET"): 10**9,
    },
    # on PostgreSQL the planner's estimate calls every word common without counting its
    # matches, while a phrase is still counted (and here collected); elsewhere as "collect"
    "estimated": {
        (search, "SELECTIVE_LIMIT"): 10**9,
        (search, "POSTGRES_SELECTIVE_LIMIT"): 10**9,
        (search, "ESTIMATE_MARGIN"): 0,
    },
    # every word is common and every set large: a count collects, a page tests each
    # ticket on its way, exclusions are anti-joins ticket by ticket
    "large": {
        (search, "SELECTIVE_LIMIT"): 0,
        (search, "POSTGRES_SELECTIVE_LIMIT"): 0,
        (compiler, "PER_TICKET_MAX"): 0,
        (compiler, "SMALL_SET"): 0,
        (compiler, "POSTGRES_SMALL_SET"): 0,
    },
}


@pytest.fixture(scope="module")
def mailed(module_store: Store) -> Store:
    """MAIL written once per backend for the tests that only read it (about 100 of them)."""
    return write_mail(module_store)


@pytest.fixture
def mailed_to_change(store: Store) -> Store:
    """MAIL in a store of the test's own, for a test that changes tickets."""
    return write_mail(store)


def write_mail(store: Store) -> Store:
    """Ninety tickets with one to four messages each, drawn from a few words (see MAIL)."""
    with store.session(write=True) as session:
        queues = {name: Queue(name=name) for name in ("billing", "tech")}
        alice = Agent(handle="alice", name="Alice", email="alice@desk.test")
        customer = Customer(email="customer@example.com")
        session.add_all([*queues.values(), alice, customer])
        session.flush()
        documents: list[tuple[int, int, str]] = []
        for mail in MAIL:
            ticket = Ticket(
                number=mail.number,
                subject=f"Ticket {mail.number}",
                status=mail.status,
                queue_id=queues[mail.queue].id,
                assignee_id=alice.id if mail.assignee else None,
                requester_id=customer.id,
                created_at=NOW - timedelta(days=100 - mail.number),
                updated_at=NOW - timedelta(hours=mail.number * 7 % 90),
            )
            session.add(ticket)
            session.flush()
            for index, body in enumerate(mail.bodies):
                message = Message(
                    ticket_id=ticket.id,
                    message_id=f"<{mail.number}.{index}@mail.test>",
                    from_address=customer.email,
                    subject=ticket.subject,
                    body_text=body,
                    received_at=ticket.created_at,
                )
                session.add(message)
                session.flush()
                assert message.id is not None
                documents.append(
                    (message.id, ticket.id, search.message_document(ticket.subject, body, "", ""))
                )
        search.index_documents(session.connection(), documents)
    return store


@pytest.fixture(params=list(PLANS))
def plan(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for (module, name), value in PLANS[request.param].items():
        monkeypatch.setattr(module, name, value)
    yield request.param


@pytest.mark.parametrize(("text", "test"), QUERIES, ids=[q for q, _ in QUERIES])
def test_every_plan_finds_what_the_mail_says(
    mailed: Store, plan: str, text: str, test: Callable[[Mail], bool]
) -> None:
    expected = sorted(m.number for m in MAIL if test(m))
    assert expected, "a query that matches nothing proves little"
    assert len(expected) < len(MAIL), "nor does one that matches everything"
    with mailed.session() as session:
        matching = Matching(session, text, me="alice", now=NOW)
        whole = matching.numbers()
        assert sorted(whole) == expected
        assert [r.number for r in matching.rows(limit=1000)] == whole
        assert len(matching.ids()) == matching.count() == len(expected)
        assert matching.quick_count(sample=10**6) == Count.exactly(len(expected))


def _sql(session: Session, text: str, *, whole_set: bool) -> str:
    where = Matching(session, text, me="alice", now=NOW).where(whole_set=whole_set)
    return " ".join(str(where.compile(bind=session.get_bind())).split())


def _per_ticket(sql: str) -> bool:
    """Whether the text is tested ticket by ticket rather than by collecting its tickets."""
    tested = (
        "EXISTS (SELECT 1 FROM messages AS m" in sql and "m.ticket_id = tickets.id" in sql
    ) or "rowid >= (tickets.id << 32)" in sql
    collected = "tickets.id IN (SELECT m.ticket_id" in sql or "tickets.id IN (SELECT (rowid" in sql
    return tested and not collected and "ANY(ARRAY" not in sql


def test_an_exclusion_of_a_common_word_is_an_anti_join_ticket_by_ticket(
    mailed: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`status:open -refund` tests the open tickets against refund's matches, in a page
    and in a count, instead of first collecting every ticket that mentions a refund."""
    monkeypatch.setattr(search, "SELECTIVE_LIMIT", 0)
    monkeypatch.setattr(search, "POSTGRES_SELECTIVE_LIMIT", 0)
    with mailed.session() as session:
        for whole_set in (False, True):
            assert _per_ticket(_sql(session, "status:open -refund", whole_set=whole_set))


@pytest.mark.postgres
def test_postgresql_counts_a_phrase_but_not_a_word_its_estimate_calls_common(
    pg_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counting a common word's matches reads its whole GIN bitmap: the planner's estimate
    decides instead when the index alone answers the terms. A phrase is estimated as its
    words together, which may be far more than stand side by side: it is counted."""
    write_mail(pg_store)
    monkeypatch.setattr(search, "ESTIMATE_MARGIN", 0)  # any estimate (at least 1) is common
    monkeypatch.setattr(search, "NEWEST_MIN_TICKETS", 1)  # the newest hits may share tickets
    counted: list[str] = []

    def capture(conn: object, cursor: object, statement: str, *_: object) -> None:
        if "AS probe" in statement:
            counted.append(statement)

    event.listen(pg_store.engine, "before_cursor_execute", capture)
    try:
        with pg_store.session() as session:
            conn = session.connection()
            for terms in (["refund"], ["返金"], ["refund", "invoice"]):
                assert not search.matches_at_most(conn, terms, 10**9), terms
            assert counted == []
            for terms in (["refund request"], ["返金", "refund request"]):
                assert search.matches_at_most(conn, terms, 10**9), terms
            assert len(counted) == 2
            # Now every estimate is common (above 1e-6) and, whatever the size of the mail,
            # one message of the newest must hold the words together (ceil(2,000 * 1e-6 /
            # messages) = 1): two that never meet are counted after all.
            monkeypatch.setattr(search, "ESTIMATE_MARGIN", 1e-15)
            monkeypatch.setattr(search, "DENSITY_WINDOW", 2_000)
            counted.clear()
            assert not search.matches_at_most(conn, ["refund", "invoice"], 10**9)
            assert counted == []
            assert search.matches_at_most(conn, ["refund", "zebra"], 10**9)
            assert len(counted) == 1
    finally:
        event.remove(pg_store.engine, "before_cursor_execute", capture)


@pytest.mark.postgres
def test_postgresql_counts_a_word_pair_whose_newest_matches_are_one_mail_loop(
    pg_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forty messages of a loop in the newest ticket hold `refund zebra`: the newest
    messages hold the pair densely, but in one ticket, which says nothing of the others.
    The pair is counted (and, rare, collected) instead of being taken as common, which
    would walk every ticket; `refund invoice`, in 39 tickets, is still taken as common."""
    monkeypatch.setattr(search, "ESTIMATE_MARGIN", 1e-15)  # one hit in the window suffices
    monkeypatch.setattr(search, "DENSITY_WINDOW", 2_000)
    monkeypatch.setattr(search, "NEWEST_MIN_TICKETS", 30)
    _open_tickets(pg_store, [(None, ["refund invoice"])] * 39 + [(None, ["refund zebra"] * 40)])
    counted: list[str] = []

    def capture(conn: object, cursor: object, statement: str, *_: object) -> None:
        if "AS probe" in statement:
            counted.append(statement)

    event.listen(pg_store.engine, "before_cursor_execute", capture)
    try:
        with pg_store.session() as session:
            assert "ANY(ARRAY" in _sql(session, "refund zebra", whole_set=False)
            assert len(counted) == 1
            counted.clear()
            assert "ANY(ARRAY" not in _sql(session, "refund invoice", whole_set=False)
            assert counted == []
    finally:
        event.remove(pg_store.engine, "before_cursor_execute", capture)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("text", "asked"), [("refund invoice", "EXPLAIN"), ('"refund request"', "AS probe")]
)
def test_a_postgresql_page_asks_how_common_its_words_are_once(
    pg_store: Store, monkeypatch: pytest.MonkeyPatch, text: str, asked: str
) -> None:
    """The compiler's answer (`is_selective`) reaches the page's plan: neither the planner's
    estimate, nor the newest messages, nor the count is read twice."""
    write_mail(pg_store)
    monkeypatch.setattr(search, "ESTIMATE_MARGIN", 0)  # a phrase is counted all the same
    monkeypatch.setattr(search, "NEWEST_MIN_TICKETS", 1)
    statements: list[str] = []

    def capture(conn: object, cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(pg_store.engine, "before_cursor_execute", capture)
    try:
        with pg_store.session() as session:
            _sql(session, text, whole_set=False)
    finally:
        event.remove(pg_store.engine, "before_cursor_execute", capture)
    assert len([s for s in statements if asked in s]) == 1
    assert len([s for s in statements if "AS hit" in s]) == (asked == "EXPLAIN")


def test_a_word_inside_a_small_filtered_set_is_searched_there(
    mailed: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A count of `status:open refund` tests the open tickets, not every refund message."""
    monkeypatch.setattr(search, "SELECTIVE_LIMIT", 0)
    monkeypatch.setattr(search, "POSTGRES_SELECTIVE_LIMIT", 0)
    monkeypatch.setattr(compiler, "MESSAGES_PER_TICKET", 0)
    with mailed.session() as session:
        assert _per_ticket(_sql(session, "status:open refund", whole_set=True))
        monkeypatch.setattr(compiler, "PER_TICKET_MAX", 0)
        broad = _sql(session, "status:open refund", whole_set=True)
        if mailed.dialect == "sqlite":  # from the index keys alone
            assert "tickets.id IN (SELECT (rowid >> 32) FROM message_fts" in broad


@pytest.mark.parametrize(
    ("count", "label"),
    [
        (Count.exactly(12_345), "12,345"),
        (Count.exactly(0), "0"),
        (Count.at_least(10_000), "10,000+"),
        (Count.about(571_234), "≈570,000"),
        (Count.about(73_719), "≈74,000"),
        (Count.about(42.4), "≈42"),
        (Count.about(-3), "≈0"),
    ],
)
def test_a_count_says_how_exact_it_is(count: Count, label: str) -> None:
    assert count.label() == label
    assert count.is_exact == (count.kind == "exact")


@pytest.mark.parametrize(
    ("count", "short"),
    [
        (Count.exactly(12_345), "12,345"),
        (Count.about(4_630), "≈4,600"),
        (Count.about(76_086), "≈76k"),
        (Count.about(571_234), "≈570k"),
        (Count.at_least(10_000), "10k+"),
    ],
)
def test_a_narrow_column_keeps_the_kind_visible(count: Count, short: str) -> None:
    assert count.short() == short
    assert len(short) <= 6


def _estimating(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every word common and every set large: a quick count has to estimate."""
    for (module, name), value in PLANS["large"].items():
        monkeypatch.setattr(module, name, value)
    monkeypatch.setattr(matching_module, "COUNT_SAMPLE", 10)
    monkeypatch.setattr(matching_module, "POSTGRES_COUNT_SAMPLE", 10)
    monkeypatch.setattr(search, "NEWEST_SAMPLE", 5)
    monkeypatch.setattr(search, "POSTGRES_NEWEST_SAMPLE", 5)
    monkeypatch.setattr(search, "NEWEST_MIN_TICKETS", 1)


@pytest.mark.parametrize("text", ["refund", "-refund", "status:open,pending,new refund invoice"])
def test_above_the_threshold_a_quick_count_is_an_estimate_and_says_so(
    mailed: Store, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    _estimating(monkeypatch)
    with mailed.session() as session:
        matching = Matching(session, text, me="alice", now=NOW)
        quick = matching.quick_count()
        exact = matching.count()
    assert quick.kind == "about"
    assert quick.label().startswith("≈")
    assert not quick.is_exact
    assert 0 <= quick.value <= len(MAIL)
    assert exact == len(matching_numbers(mailed, text))


def matching_numbers(store: Store, text: str) -> list[int]:
    with store.session() as session:
        return Matching(session, text, me="alice", now=NOW).numbers()


@pytest.mark.parametrize("text", ["", "status:open,pending", "queue:billing -status:closed"])
def test_without_words_a_quick_count_is_exact(
    mailed: Store, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    _estimating(monkeypatch)
    with mailed.session() as session:
        matching = Matching(session, text, me="alice", now=NOW)
        assert matching.quick_count() == Count.exactly(matching.count())


def test_below_the_threshold_a_quick_count_is_exact(mailed: Store) -> None:
    with mailed.session() as session:
        for text, _ in QUERIES:
            matching = Matching(session, text, me="alice", now=NOW)
            assert matching.quick_count() == Count.exactly(matching.count()), text


def test_a_bulk_change_states_and_changes_the_exact_set_while_counts_estimate(
    mailed_to_change: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailed = mailed_to_change
    _estimating(monkeypatch)
    expected = sorted(m.number for m in MAIL if words("refund")(m))
    with mailed.session() as session:
        assert not Matching(session, "refund", me="alice", now=NOW).quick_count().is_exact
    prepared = bulk_commands.prepare("tag", tags="refunds")
    selection = bulk_commands.Selection(query="refund", me="alice")
    preview = bulk_commands.preview(mailed, prepared, selection, confirm_above=10)
    assert preview.matched == len(expected)
    assert preview.needs_confirmation
    outcome = bulk_commands.run(mailed, prepared, selection, actor="test")
    assert outcome.result.matched == outcome.result.changed == len(expected)
    assert sorted(matching_numbers(mailed, "tag:refunds")) == expected


def test_the_cli_list_shows_an_estimate_to_people_and_the_exact_total_to_scripts(
    mailed_to_change: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    mailed = mailed_to_change  # the CLI opens the store as it would any other
    _estimating(monkeypatch)
    config = tmp_path / "config.toml"
    config.write_text(f'database_url = "{mailed.url}"\nagent = "alice"\n', encoding="utf-8")
    expected = sum(1 for m in MAIL if words("refund")(m))
    runner = CliRunner(env={"COLUMNS": "200"})
    shown = runner.invoke(
        app, ["--config", str(config), "tickets", "list", "refund", "--limit", "5"]
    )
    assert shown.exit_code == 0, shown.output
    assert "showing 5 of ≈" in shown.stdout
    scripted = runner.invoke(
        app, ["--config", str(config), "tickets", "list", "refund", "--limit", "5", "--json"]
    )
    assert scripted.exit_code == 0, scripted.output
    assert json.loads(scripted.stdout)["total"] == expected


def _open_tickets(store: Store, threads: Sequence[tuple[int | None, list[str]]]) -> None:
    """One open ticket per (id or None, bodies), numbered from 1, each body one indexed message."""
    with store.session(write=True) as session:
        customer = Customer(email="customer@example.com")
        queue = Queue(name="billing")
        session.add_all([customer, queue])
        session.flush()
        assert queue.id is not None and customer.id is not None
        documents: list[tuple[int, int, str]] = []
        for number, (ticket_id, bodies) in enumerate(threads, start=1):
            ticket = Ticket(
                id=ticket_id,
                number=number,
                subject=f"Ticket {number}",
                status="open",
                queue_id=queue.id,
                requester_id=customer.id,
            )
            session.add(ticket)
            session.flush()
            assert ticket.id is not None
            for index, body in enumerate(bodies):
                message = Message(
                    ticket_id=ticket.id,
                    message_id=f"<{number}.{index}@mail.test>",
                    from_address=customer.email,
                    subject=ticket.subject,
                    body_text=body,
                    received_at=NOW,
                )
                session.add(message)
                session.flush()
                assert message.id is not None
                document = search.message_document(ticket.subject, body, "", "")
                documents.append((message.id, ticket.id, document))
        search.index_documents(session.connection(), documents)


def test_a_mail_loop_in_the_newest_ticket_is_counted_not_scaled_into_every_ticket(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forty tickets, the newest holding six messages of a loop: the newest five matches all
    fall in one ticket, which scaled by the ticket-id span they cover read as about forty."""
    monkeypatch.setattr(search, "NEWEST_SAMPLE", 5)
    _open_tickets(sqlite_store, [(None, ["hello"])] * 39 + [(None, ["auto reply loop"] * 6)])
    with sqlite_store.session() as session:
        assert Matching(session, "loop", me="alice", now=NOW).quick_count() == Count.exactly(1)
        monkeypatch.setattr(search, "NEWEST_MIN_TICKETS", 1)
        scaled = Matching(session, "loop", me="alice", now=NOW).quick_count()
    assert scaled.kind == "about" and scaled.value > 20, "the shape no longer shows the fault"


@pytest.mark.parametrize(
    ("ticket_id", "message_id"), [(1, 2**32), (2**31, 1), (-1, 1), (1, -1), (2**40, 2**40)]
)
def test_an_index_key_out_of_range_is_refused(ticket_id: int, message_id: int) -> None:
    with pytest.raises(StoreError, match="cannot be searched"):
        search.index_key(ticket_id, message_id)


def test_the_highest_ticket_id_keeps_its_range_and_a_higher_one_borrows_none(
    sqlite_store: Store,
) -> None:
    """Ticket 2**31 - 1's range ends at the largest rowid instead of wrapping below zero, and
    ticket 2**32 + 1, which shifts to ticket 1's range in 64 bits, finds nothing there."""
    top, beyond = search.TICKET_ID_LIMIT - 1, 2**32 + 1
    assert search.index_key(top, search.MESSAGE_ID_LIMIT - 1) == 2**63 - 1
    _open_tickets(sqlite_store, [(1, ["refund"]), (top, ["refund"]), (beyond, [])])
    with sqlite_store.session() as session:
        conn = session.connection()
        for plan in ("whole", "per_ticket"):
            condition = search.ticket_matches(conn, ["refund"], name="t", plan=plan)
            found = conn.execute(
                select(col(Ticket.id)).where(condition).order_by(col(Ticket.id))
            ).scalars()
            assert list(found) == [1, top], plan


def test_a_page_of_several_statuses_sorts_ids_from_the_index_then_joins_fifty_rows(
    sqlite_store: Store,
) -> None:
    """`status:active` (four statuses, by last update) has no index that gives its order:
    SQLite sorts every match. The page picks its ids from `ix_tickets_status_updated`
    alone, then joins only those rows, instead of joining every active ticket to sort it."""
    from sqlalchemy import event

    write_mail(sqlite_store)
    statements: list[tuple[str, object]] = []
    engine = sqlite_store.engine

    def seen(conn: object, cursor: object, statement: str, parameters: object, *_: object) -> None:
        statements.append((statement, parameters))

    with sqlite_store.session() as session:
        matching = Matching(session, "status:active", me="alice", now=NOW)
        event.listen(engine, "before_cursor_execute", seen)
        try:
            rows = matching.page(0, 5)
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        numbers = matching.numbers(limit=5)
    statement, parameters = next(s for s in statements if "JOIN queues" in s[0])
    with sqlite_store.session() as session:
        explain = session.connection().exec_driver_sql(
            "EXPLAIN QUERY PLAN " + statement,
            parameters,  # type: ignore[arg-type]
        )
        plan = [row[3] for row in explain]
    assert "SEARCH tickets USING COVERING INDEX ix_tickets_status_updated (status=?)" in plan
    assert [r.number for r in rows] == numbers
