"""The ticket query language: parsing (pure) and compiling against a real store.

Compile tests use conftest's `store` fixture, so each runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Connection, func, select
from sqlmodel import Session

from supportdesk.desk.query import (
    Filter,
    Matching,
    NumberFilter,
    SortKey,
    Term,
    TextTerm,
    TimeFilter,
    compile_query,
    parse,
)
from supportdesk.errors import QueryError
from supportdesk.store import Store, search
from supportdesk.store.models import (
    Agent,
    Customer,
    Message,
    Organisation,
    Queue,
    Tag,
    Ticket,
    TicketTag,
)

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


# --- parsing -------------------------------------------------------------------------------


def only(text: str) -> Term:
    query = parse(text)
    assert len(query.terms) == 1, query
    return query.terms[0]


def names(term: Filter) -> list[str]:
    return [v.text for v in term.values]


def test_empty_query_has_no_terms() -> None:
    query = parse("   ")
    assert query.terms == ()
    assert query.sort == ()


def test_field_with_several_values() -> None:
    term = only("status:open,pending")
    assert isinstance(term, Filter)
    assert term.field == "status"
    assert names(term) == ["open", "pending"]
    assert [v.position for v in term.values] == [7, 12]
    assert not term.negated


def test_field_names_and_enum_values_ignore_case() -> None:
    term = only("Status:OPEN")
    assert isinstance(term, Filter)
    assert (term.field, names(term)) == ("status", ["open"])


def test_status_active_expands() -> None:
    assert names(only("status:active")) == ["new", "open", "pending", "on-hold"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("priority:high", ["high"]),
        ("priority:=high", ["high"]),
        ("priority:>=high", ["high", "urgent"]),
        ("priority:>normal", ["high", "urgent"]),
        ("priority:<normal", ["low"]),
        ("priority:<=normal", ["low", "normal"]),
        ("priority:>urgent", []),
        ("priority:low,urgent", ["low", "urgent"]),
    ],
)
def test_priority_comparisons(text: str, expected: list[str]) -> None:
    assert names(only(text)) == expected


def test_negation_of_field_and_text() -> None:
    query = parse('-tag:spam -refund -"money back"')
    tag, word, phrase = query.terms
    assert isinstance(tag, Filter) and tag.negated and names(tag) == ["spam"]
    assert word == TextTerm("refund", negated=True, position=10, token="-refund")
    assert phrase == TextTerm("money back", negated=True, position=18, token='-"money back"')


def test_quoted_values_and_phrases() -> None:
    query = parse(r'subject:"late, again" "refund request" "say \"hi\""')
    subject, phrase, escaped = query.terms
    assert isinstance(subject, Filter) and names(subject) == ["late, again"]
    assert subject.values[0].raw == '"late, again"'
    assert phrase == TextTerm("refund request", position=22, token='"refund request"')
    assert isinstance(escaped, TextTerm) and escaped.text == 'say "hi"'


def test_quoted_and_bare_values_mix_in_a_list() -> None:
    assert names(only('subject:"a b",c')) == ["a b", "c"]


def test_bare_words_and_cjk_are_text() -> None:
    query = parse("refund 返金 10:30")
    assert [t.text for t in query.text_terms] == ["refund", "返金", "10:30"]


def test_punctuation_only_words_are_ignored() -> None:
    assert [t.text for t in parse("Tom & Jerry").text_terms] == ["Tom", "Jerry"]


@pytest.mark.parametrize(
    ("text", "op", "numbers"),
    [
        ("#123", "=", (123,)),
        ("number:7", "=", (7,)),
        ("#1,2", "=", (1, 2)),
        ("number:>=10", ">=", (10,)),
    ],
)
def test_ticket_numbers(text: str, op: str, numbers: tuple[int, ...]) -> None:
    assert only(text) == NumberFilter(op=op, numbers=numbers, position=0, token=text)


def test_negated_number() -> None:
    term = only("-#5")
    assert isinstance(term, NumberFilter) and term.negated and term.numbers == (5,)


@pytest.mark.parametrize(
    ("text", "op", "age"),
    [
        ("created:<7d", "<", timedelta(days=7)),
        ("updated:>2h", ">", timedelta(hours=2)),
        ("solved:<=30m", "<=", timedelta(minutes=30)),
        ("created:>=2w", ">=", timedelta(weeks=2)),
        ("updated:<3D", "<", timedelta(days=3)),
    ],
)
def test_relative_ages(text: str, op: str, age: timedelta) -> None:
    term = only(text)
    assert isinstance(term, TimeFilter)
    assert (term.op, term.age, term.day) == (op, age, None)


@pytest.mark.parametrize(
    ("text", "op"),
    [("created:>=2026-01-01", ">="), ("created:<2026-01-01", "<"), ("created:2026-01-01", "")],
)
def test_absolute_dates(text: str, op: str) -> None:
    term = only(text)
    assert isinstance(term, TimeFilter)
    assert (term.op, term.day, term.age) == (op, datetime(2026, 1, 1).date(), None)


def test_name_fields_are_lowercased_but_subject_is_kept() -> None:
    query = parse("queue:Billing assignee:Bob tag:VIP org:@Example.com subject:Refund")
    assert [names(t) for t in query.terms] == [
        ["billing"],
        ["bob"],
        ["vip"],
        ["example.com"],
        ["Refund"],
    ]


@pytest.mark.parametrize("field", ["requester", "from"])
def test_requester_takes_address_or_domain(field: str) -> None:
    term = only(f"{field}:Carol@Example.com,@acme.org")
    assert names(term) == ["carol@example.com", "@acme.org"]


def test_is_values() -> None:
    assert names(only("is:unassigned,merged")) == ["unassigned", "merged"]


def test_sort_keys() -> None:
    query = parse("sort:-priority,created status:open")
    assert query.sort == (SortKey("priority", descending=True), SortKey("created"))
    assert len(query.terms) == 1


def test_tags_may_contain_colons() -> None:
    assert names(only("tag:lang:ja")) == ["lang:ja"]


@pytest.mark.parametrize(
    ("text", "message", "position", "token"),
    [
        ("stauts:open", "unknown field 'stauts' (did you mean 'status'?)", 0, "stauts:open"),
        ("x http://a", "unknown field 'http'", 2, "http://a"),
        ("status:opne", "unknown status 'opne'; expected one of new, open, pending", 7, "opne"),
        ("priority:hgih", "unknown priority 'hgih'", 9, "hgih"),
        ("status:>open", "'status' cannot be compared with '>'", 0, "status:>open"),
        ("queue:>a", "'queue' cannot be compared with '>'", 0, "queue:>a"),
        ("priority:>high,low", "takes a single value", 0, "priority:>high,low"),
        ("created:<7x", "bad age '7x'; use a number and m, h, d or w", 9, "7x"),
        ("created:7d", "an age needs < or >", 0, "created:7d"),
        ("created:<2026-02-30", "bad date '2026-02-30'", 9, "2026-02-30"),
        ("created:<1,2", "takes a single value", 0, "created:<1,2"),
        ("updated:<999999999w", "more than 100 years", 9, "999999999w"),
        ('a "refund', "unterminated quote", 2, '"refund'),
        ('subject:"refund', "unterminated quote", 8, '"refund'),
        ("status:", "empty value for 'status'", 0, "status:"),
        ("x status: y", "empty value for 'status'", 2, "status:"),
        ("status:open,", "empty value after ','", 0, "status:open,"),
        ("status:open,,new", "empty value after ','", 0, "status:open,,new"),
        ('subject:""', "empty value in quotes", 8, '""'),
        ('""', "empty phrase", 0, '""'),
        ("a -", "'-' must be followed by a term", 2, "-"),
        ("--spam", "negated only once", 0, "--spam"),
        ('"!!!"', "nothing to search for", 0, '"!!!"'),
        ("-&", "nothing to search for", 0, "-&"),
        ('ref"und', "a quote may only start", 0, 'ref"und'),
        ('"a"b', "space after the closing quote", 0, '"a"b'),
        ('subject:"a"b', "expected ',' or a space", 0, 'subject:"a"b'),
        ("#", "'#' must be followed by a ticket number", 0, "#"),
        ("#12a", "bad ticket number '12a'", 1, "12a"),
        ("number:>x", "bad ticket number 'x'", 8, "x"),
        ("from:alice", "neither an address", 5, "alice"),
        ("requester:a@b@c", "neither an address", 10, "a@b@c"),
        ("is:lost", "unknown is: value 'lost'", 3, "lost"),
        ("sort:size", "unknown sort key 'size'", 5, "size"),
        ("sort:updated,-updated", "given twice", 13, "-updated"),
        ("sort:updated sort:created", "only one sort", 13, "sort:created"),
        ("-sort:updated", "cannot be negated", 0, "-sort:updated"),
    ],
)
def test_parse_errors_name_the_token_and_position(
    text: str, message: str, position: int, token: str
) -> None:
    with pytest.raises(QueryError) as caught:
        parse(text)
    error = caught.value
    assert message in str(error)
    assert (error.position, error.token) == (position, token)
    assert f"at position {position + 1}: {token!r}" in str(error)


# --- compiling against a store ---------------------------------------------------------------


# number, subject, status, priority, queue, assignee, requester, created, updated, solved, tags,
# message body
TICKETS = [
    (1, "Refund request for order 1001", "open", "high", "billing", "alice",
     "carol@example.com", NOW - timedelta(days=10), NOW - timedelta(hours=1), None, ["vip"],
     "Hello, I would like my refund request processed."),
    (2, "Login problem", "pending", "normal", "tech", "bob",
     "dave@acme.org", NOW - timedelta(days=3), NOW - timedelta(hours=3), None, ["spam"],
     "I cannot log in. Please refund nothing."),
    (3, "返金について", "new", "urgent", "billing", None,
     "erin@gmail.com", NOW - timedelta(days=1), NOW - timedelta(minutes=30), None,
     ["vip", "spam"], "返金をお願いします。"),
    (4, "100% broken", "solved", "low", "tech", "alice",
     "ivan@examplemail.com", datetime(2026, 1, 1, tzinfo=UTC), NOW - timedelta(days=20),
     NOW - timedelta(days=2), [], "Everything is broken, I request a callback."),
    (5, "Invoice copy", "closed", "normal", "billing", None,
     "quinn@exxmple.com", datetime(2025, 12, 31, 23, tzinfo=UTC), NOW - timedelta(days=40),
     NOW - timedelta(days=30), [], "Please send an invoice copy."),
    (6, "Question about 1000 items", "on-hold", "high", "tech", "bob",
     "carol@example.com", NOW - timedelta(hours=5), NOW - timedelta(hours=5), None, [],
     "Question: a request for a quote."),
]  # fmt: skip


@pytest.fixture
def desk(store: Store) -> Store:
    """Two queues, two agents, two organisations, five customers, six tickets with mail."""
    with store.session(write=True) as session:
        queues = {name: Queue(name=name) for name in ("billing", "tech")}
        agents = {
            h: Agent(handle=h, name=h.title(), email=f"{h}@desk.test") for h in ("alice", "bob")
        }
        example = Organisation(domain="example.com", name="Example Ltd")
        acme = Organisation(domain="acme.org", name="Acme")
        orgs = {"example.com": example, "acme.org": acme, "examplemail.com": example}
        tags = {name: Tag(name=name) for name in ("vip", "spam", "unused")}
        session.add_all([*queues.values(), *agents.values(), example, acme, *tags.values()])
        session.flush()
        customers: dict[str, Customer] = {}
        for row in TICKETS:
            email = row[6]
            if email not in customers:
                org = orgs.get(email.split("@")[1])
                customers[email] = Customer(email=email, organisation_id=org.id if org else None)
        session.add_all(customers.values())
        session.flush()
        documents: list[tuple[int, int, str]] = []
        tickets: dict[int, Ticket] = {}
        for number, subject, status, priority, queue, assignee, email, created, updated, solved, \
                ticket_tags, body in TICKETS:  # fmt: skip
            ticket = Ticket(
                number=number,
                subject=subject,
                status=status,
                priority=priority,
                queue_id=queues[queue].id,
                assignee_id=agents[assignee].id if assignee else None,
                requester_id=customers[email].id,
                created_at=created,
                updated_at=updated,
                solved_at=solved,
            )
            session.add(ticket)
            session.flush()
            tickets[number] = ticket
            session.add_all(TicketTag(ticket_id=ticket.id, tag_id=tags[t].id) for t in ticket_tags)
            message = Message(
                ticket_id=ticket.id,
                message_id=f"<{number}@mail.test>",
                from_address=email,
                subject=subject,
                body_text=body,
                received_at=created,
            )
            session.add(message)
            session.flush()
            documents.append(
                (
                    message.id,
                    ticket.id,
                    search.message_document(subject, body, "", message.from_address),
                )
            )
        tickets[5].merged_into_id = tickets[1].id
        session.add(tickets[5])
        search.index_documents(session.connection(), documents)
    return store


@pytest.fixture
def conn(desk: Store) -> Iterator[Connection]:
    with desk.engine.connect() as connection:
        yield connection


def run(conn: Connection, text: str, *, me: str | None = "alice", now: datetime = NOW) -> list[int]:
    """Ticket numbers matching `text`, in the query's order, asked as every face asks.

    `Matching` shapes the condition two ways (fast for a first page, fast for the whole
    set); both must find the same tickets in the same order.
    """
    with Session(bind=conn) as session:
        matching = Matching(session, text, me=me, now=now)
        whole = matching.numbers()
        first_page = [r.number for r in matching.rows(limit=1000)]
    assert first_page == whole
    return whole


def matching(conn: Connection, text: str, **kwargs: object) -> list[int]:
    return sorted(run(conn, text, **kwargs))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", [1, 2, 3, 4, 5, 6]),
        ("status:open", [1]),
        ("status:open,pending", [1, 2]),
        ("status:on-hold", [6]),
        ("status:active", [1, 2, 3, 6]),
        ("-status:solved,closed", [1, 2, 3, 6]),
        ("priority:high", [1, 6]),
        ("priority:>=high", [1, 3, 6]),
        ("priority:<normal", [4]),
        ("priority:<=normal", [2, 4, 5]),
        ("priority:>urgent", []),
        ("-priority:>urgent", [1, 2, 3, 4, 5, 6]),
        ("queue:billing", [1, 3, 5]),
        ("queue:BILLING", [1, 3, 5]),
        ("queue:billing,tech", [1, 2, 3, 4, 5, 6]),
        ("-queue:billing", [2, 4, 6]),
        ("assignee:me", [1, 4]),
        ("assignee:none", [3, 5]),
        ("assignee:me,none", [1, 3, 4, 5]),
        ("assignee:bob", [2, 6]),
        ("-assignee:alice", [2, 3, 5, 6]),
        ("-assignee:none", [1, 2, 4, 6]),
        ("requester:carol@example.com", [1, 6]),
        ("requester:CAROL@example.com", [1, 6]),
        ("from:@example.com", [1, 4, 6]),
        ("from:@acme.org,@gmail.com", [2, 3]),
        ("from:@exxmple.com", [5]),
        ("from:@ex_mple.com", []),
        ("from:nobody@example.com", []),
        ("-from:@example.com", [2, 3, 5]),
        ("org:example.com", [1, 4, 6]),
        ('org:"example ltd"', [1, 4, 6]),
        ("org:Acme", [2]),
        ("org:@acme.org", [2]),
        ("org:nothing", []),
        ("tag:vip", [1, 3]),
        ("tag:vip,spam", [1, 2, 3]),
        ("-tag:spam", [1, 4, 5, 6]),
        ("tag:vip -tag:spam", [1]),
        ("tag:unused", []),
        ("tag:never-made", []),
        ("-tag:never-made", [1, 2, 3, 4, 5, 6]),
        ("#3", [3]),
        ("#2,4", [2, 4]),
        ("-#1", [2, 3, 4, 5, 6]),
        ("number:>4", [5, 6]),
        ("number:<=2", [1, 2]),
        ("subject:refund", [1]),
        ('subject:"REFUND request"', [1]),
        ("subject:100%", [4]),
        ("subject:o_d", []),
        ("subject:1000,invoice", [5, 6]),
        ("subject:返金", [3]),
        ("is:unassigned", [3, 5]),
        ("is:assigned", [1, 2, 4, 6]),
        ("is:merged", [5]),
        ("-is:merged", [1, 2, 3, 4, 6]),
    ],
)
def test_filters(conn: Connection, text: str, expected: list[int]) -> None:
    assert matching(conn, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("created:<7d", [2, 3, 6]),
        ("created:>7d", [1, 4, 5]),
        ("created:<2d", [3, 6]),
        ("created:<=5h", [6]),
        ("created:<5h", []),
        ("updated:>2h", [2, 4, 5, 6]),
        ("updated:<2h", [1, 3]),
        ("updated:<=1h", [1, 3]),
        ("updated:<1h", [3]),
        ("updated:<90m", [1, 3]),
        ("updated:>2w", [4, 5]),
        ("solved:<7d", [4]),
        ("solved:>7d", [5]),
        ("-solved:<7d", [1, 2, 3, 5, 6]),
        ("created:>=2026-01-01", [1, 2, 3, 4, 6]),
        ("created:<2026-01-01", [5]),
        ("created:2026-01-01", [4]),
        ("created:=2025-12-31", [5]),
        ("created:>2026-01-01", [1, 2, 3, 6]),
        ("created:<=2025-12-31", [5]),
        ("-created:2026-01-01", [1, 2, 3, 5, 6]),
    ],
)
def test_dates(conn: Connection, text: str, expected: list[int]) -> None:
    assert matching(conn, text) == expected


def test_calendar_days_follow_the_time_zone_of_now(conn: Connection) -> None:
    tokyo = NOW.astimezone(timezone(timedelta(hours=9)))
    assert matching(conn, "created:2026-01-01", now=tokyo) == [4, 5]
    assert matching(conn, "created:<2026-01-01", now=tokyo) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("refund", [1, 2]),
        ("REFUND", [1, 2]),
        ('"refund request"', [1]),
        ("refund request", [1]),
        ("request", [1, 4, 6]),
        ("返金", [3]),
        ('"お願い"', [3]),
        ("-refund", [3, 4, 5, 6]),
        ("request -refund", [4, 6]),
        ('request -"refund request" -quote', [4]),
        ("invoice queue:billing", [5]),
        ("refund tag:spam", [2]),
        ("nothingmatchesthis", []),
        ("Tom & refund", []),
    ],
)
def test_full_text(conn: Connection, text: str, expected: list[int]) -> None:
    assert matching(conn, text) == expected


def test_everything_together(conn: Connection) -> None:
    text = (
        "status:open,pending,new queue:billing assignee:me,none tag:vip -tag:spam "
        'from:@example.com priority:>=high created:<30d updated:<2h "refund request"'
    )
    assert matching(conn, text) == [1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", [3, 1, 2, 6, 4, 5]),
        ("sort:-updated", [3, 1, 2, 6, 4, 5]),
        ("sort:updated", [5, 4, 6, 2, 1, 3]),
        ("sort:created", [5, 4, 1, 2, 3, 6]),
        ("sort:-created", [6, 3, 2, 1, 4, 5]),
        ("sort:number", [1, 2, 3, 4, 5, 6]),
        ("sort:-number", [6, 5, 4, 3, 2, 1]),
        ("sort:-priority", [3, 6, 1, 5, 2, 4]),
        ("sort:priority", [4, 2, 5, 1, 6, 3]),
        ("sort:-priority,created", [3, 1, 6, 5, 2, 4]),
        ("status:active sort:number", [1, 2, 3, 6]),
    ],
)
def test_sort(conn: Connection, text: str, expected: list[int]) -> None:
    assert run(conn, text) == expected


def test_order_always_ends_with_the_ticket_id(conn: Connection) -> None:
    for text in ("", "sort:priority", "sort:-created,number"):
        order = compile_query(parse(text), conn, me=None, now=NOW).order_by
        assert "tickets.id" in str(order[-1])


@pytest.mark.parametrize(
    ("text", "me", "message", "position", "token"),
    [
        ("queue:nope", "alice", "unknown queue 'nope'", 6, "nope"),
        ("status:open queue:biling", "alice", "(did you mean 'billing'?)", 18, "biling"),
        ("assignee:zed", "alice", "unknown agent 'zed'", 9, "zed"),
        ("assignee:bob,alcie", "alice", "(did you mean 'alice'?)", 13, "alcie"),
        ("assignee:me", None, "set `agent` in the config", 9, "me"),
        ("assignee:none,me", None, "set `agent` in the config", 14, "me"),
        ("assignee:me", "ghost", "unknown agent 'ghost'", 9, "me"),
    ],
)
def test_compile_errors_name_the_token(
    conn: Connection, text: str, me: str | None, message: str, position: int, token: str
) -> None:
    with pytest.raises(QueryError) as caught:
        compile_query(parse(text), conn, me=me, now=NOW)
    assert message in str(caught.value)
    assert (caught.value.position, caught.value.token) == (position, token)


def test_unknown_queue_with_no_queues_says_so(store: Store) -> None:
    with store.engine.connect() as connection, pytest.raises(QueryError, match="none yet"):
        compile_query(parse("queue:billing"), connection, me=None, now=NOW)


def test_assignee_none_needs_no_agent(conn: Connection) -> None:
    assert matching(conn, "assignee:none", me=None) == [3, 5]


def test_now_must_be_aware(conn: Connection) -> None:
    with pytest.raises(ValueError, match="aware"):
        compile_query(parse("created:<1d"), conn, me=None, now=datetime(2026, 1, 1))


def test_user_text_only_reaches_sql_as_parameters(conn: Connection) -> None:
    evil = "x'); DROP TABLE tickets; --"
    squashed = "x');DROP/**/TABLE/**/tickets;--"
    text = (
        f'subject:"{evil}" tag:"{evil}" org:"{evil}" "{evil}" -"{evil}y" '
        f'requester:"{squashed}@a.b" from:"@{squashed}"'
    )
    with Session(bind=conn) as session:
        statement = Matching(session, text, me=None, now=NOW).compiled().select_ids()
    assert "drop" not in str(statement.compile(conn)).lower()
    assert conn.execute(statement).all() == []
    assert conn.execute(select(func.count()).select_from(Ticket)).scalar_one() == 6


def test_compiled_where_plugs_into_other_selects(conn: Connection) -> None:
    compiled = compile_query(parse("tag:vip refund"), conn, me=None, now=NOW)
    count = select(func.count()).select_from(Ticket).where(compiled.where)
    assert conn.execute(count).scalar_one() == 1


FIRST_BATCH = "aaaaaaaa-1111-4000-8000-000000000001"
SECOND_BATCH = "aaaaaaaa-2222-4000-8000-000000000002"


@pytest.fixture
def batches(desk: Store) -> Store:
    """Tickets 2 and 4 changed by one batch (with an event on no ticket), 6 by another that
    starts the same way."""
    from supportdesk.store.models import Event

    with desk.session(write=True) as session:
        ids = {n: i for n, i in session.execute(select(Ticket.number, Ticket.id))}
        for batch, ticket in ((FIRST_BATCH, 2), (FIRST_BATCH, 4), (SECOND_BATCH, 6)):
            session.add(Event(ticket_id=ids[ticket], batch_id=batch, actor="x", action="assign"))
        session.add(Event(ticket_id=None, batch_id=FIRST_BATCH, actor="x", action="note"))
    return desk


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"batch:{FIRST_BATCH}", [2, 4]),
        (f"batch:{FIRST_BATCH.upper()}", [2, 4]),
        (f"batch:{FIRST_BATCH},{SECOND_BATCH}", [2, 4, 6]),
        (f"-batch:{FIRST_BATCH}", [1, 3, 5, 6]),  # an event on no ticket hides nothing
        ("batch:aaaaaaaa-2", [6]),
        (f"batch:{FIRST_BATCH[:13]} status:pending", [2]),
    ],
)
def test_batch_names_the_tickets_a_batch_changed(
    batches: Store, text: str, expected: list[int]
) -> None:
    with batches.engine.connect() as connection:
        assert matching(connection, text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("batch:aaaaaaaa", "batch 'aaaaaaaa' is ambiguous"),
        ("batch:aaaa", "no batch 'aaaa' (give its id or at least its first 8 characters)"),
        ("batch:bbbbbbbbbb", "no batch 'bbbbbbbbbb'"),
        # Unescaped, % would make this a start of both batches: ambiguous, not unknown.
        ("batch:aaaaaaa%", "no batch 'aaaaaaa%'"),
        ("batch:aaaaaaa_-", "no batch 'aaaaaaa_-'"),
    ],
)
def test_batch_errors_name_the_value(batches: Store, text: str, message: str) -> None:
    with batches.engine.connect() as connection, pytest.raises(QueryError) as caught:
        compile_query(parse(text), connection, me=None, now=NOW)
    assert message in str(caught.value)
    assert (caught.value.position, caught.value.token) == (6, text.removeprefix("batch:"))


@pytest.mark.parametrize("given", [FIRST_BATCH, FIRST_BATCH[:10]])
def test_batch_reads_the_events_through_their_batch_index(batches: Store, given: str) -> None:
    """`batch:` looks the batch up, whole or by its start, and reads its events by
    `ix_events_batch`, never by a scan of every event (a million of them on a large store):
    on SQLite every statement that reads events SEARCHes that index."""
    import sqlalchemy as sa

    ran: list[tuple[str, object]] = []

    def record(
        conn: object, cursor: object, statement: str, parameters: object, *_: object
    ) -> None:
        if "events" in statement and not statement.startswith("EXPLAIN"):
            ran.append((statement, parameters))

    with batches.engine.connect() as connection:
        indexes = sa.inspect(connection).get_indexes("events")
        assert {"name": "ix_events_batch", "columns": ["batch_id"]} in [
            {"name": i["name"], "columns": i["column_names"]} for i in indexes
        ]
        if connection.dialect.name != "sqlite":
            return  # PostgreSQL's plan depends on its statistics; the index is what counts
        sa.event.listen(connection, "before_cursor_execute", record)
        where = compile_query(parse(f"batch:{given}"), connection, me=None, now=NOW).where
        connection.execute(select(Ticket.id).where(where)).all()
        sa.event.remove(connection, "before_cursor_execute", record)
        assert len(ran) >= 2 + (given != FIRST_BATCH)  # the lookups, then the tickets
        for statement, parameters in ran:
            plan = [
                row[-1]
                for row in connection.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {statement}",
                    parameters,  # type: ignore[arg-type]
                )
            ]
            on_events = [step for step in plan if " events " in f"{step} "]
            assert on_events, plan
            for step in on_events:
                assert step.startswith("SEARCH") and "ix_events_batch" in step, (statement, plan)
