"""Satisfaction ratings by mail: the request, the rating mail, and CSAT in the report.

The round trip runs on real servers (aiosmtpd receives the request, Dovecot holds the
customer's rating mail for the sync) on SQLite and PostgreSQL; forged, tampered, replayed
and out-of-range tokens are ignored and counted (a token naming another ticket is forged: the
MAC covers the number), and a rating never reopens a ticket nor becomes a message of its
thread. Then the review's findings, each on both backends: only the requester or a CC rates,
the thread keeps no usable link, every rating mail is kept raw, a mail that came without
the key is decided later, one bad address blocks nobody, races count once, arrival time,
and the key is read with no transaction open. The report metric is checked on a small fixture
worked out by hand.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import unquote

import pytest
from sqlalchemy import delete
from sqlmodel import col, select

from supportdesk.desk import canned, directory, reports, tickets
from supportdesk.desk.csat import ratings, requests, token
from supportdesk.desk.csat.overview import overview, rating_of
from supportdesk.desk.csat.setup import CSAT_SETUP, CsatSetup, KeySource
from supportdesk.desk.events import Change
from supportdesk.desk.ingest import ingest
from supportdesk.desk.mailsetup import MAIL_SETUP, Identity, MailSetup
from supportdesk.errors import SecretError, ValidationError
from supportdesk.mail.parse import parse_message
from supportdesk.mail.replytext import strip_quoted
from supportdesk.store import Store
from supportdesk.store.models import (
    CsatRating,
    CsatRejection,
    CsatRequest,
    Message,
    MessageRaw,
    Note,
    OutboxItem,
    StoreMeta,
    Ticket,
    TicketCC,
)
from tests.imap_server import ImapAccount
from tests.smtp_server import SmtpServer, start_server
from tests.test_send import config_text
from tests.test_sync import sd

KEY = "test-rating-key-0123456789abcdef"
SUPPORT = "support@desk.example"


# -- the token and the comment, pure


def test_a_token_is_found_through_re_fwd_and_encoded_words() -> None:
    made = token.make(KEY.encode(), 42, 4, datetime(2026, 12, 1, tzinfo=UTC), "0123456789abcdef")
    assert token.find(f"Re: Fwd: Rating 4/5 {made.text()}") == made
    # A client that re-encodes the subject as RFC 2047 words, folded across lines.
    encoded = Header(f"Re: 評価 4/5 {made.text()}", "utf-8", maxlinelen=40).encode()
    assert "\n" in encoded
    raw = f"From: a@b.example\r\nSubject: {encoded}\r\nMessage-ID: <r@b>\r\n\r\nok\r\n"
    parsed = parse_message(raw.replace("\n ", "\r\n ").encode())
    assert token.find(parsed.subject) == made
    assert token.verify(KEY.encode(), made)
    assert token.find("Re: your ticket [#42]") is None


def test_any_change_to_a_token_breaks_it() -> None:
    made = token.make(KEY.encode(), 42, 2, datetime(2026, 12, 1, tzinfo=UTC), "0123456789abcdef")
    text = made.text()
    for tampered in (
        text.replace("[rate:42.2.", "[rate:42.5."),  # the score
        text.replace("[rate:42.", "[rate:43."),  # the ticket
        text.replace(".0123456789abcdef.", ".0123456789abcdee."),  # the nonce
    ):
        found = token.find(tampered)
        assert found is not None and not token.verify(KEY.encode(), found)
    other = token.find(text)
    assert other is not None and not token.verify(b"another-key-0123456789", other)


def test_the_comment_leaves_the_quote_and_signature_out() -> None:
    text = (
        "Quick and kind, thank you.\n\n"
        "On Tue, 1 Dec 2026 at 10:00, Desk Support <support@desk.example> wrote:\n"
        "> How did we do?\n"
    )
    assert strip_quoted(text) == "Quick and kind, thank you."
    assert strip_quoted("とても助かりました。\n-- \n山田\n") == "とても助かりました。"
    outlook = "Fine.\n\nFrom: Desk <s@d.example>\nSent: Tuesday\nTo: me\nSubject: x\n\nold"
    assert strip_quoted(outlook) == "Fine."
    assert strip_quoted("> only a quote\n") == ""


# -- the round trip on real servers


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = start_server()
    yield server
    server.stop()


def _customer_mail(
    subject: str,
    message_id: str,
    body: str = "Thanks!",
    sender: str = "",
    date: datetime | None = None,
) -> bytes:
    """A customer's plain mail, dated now unless `date` says otherwise."""
    lines = [
        f"From: {sender or 'Jo Bloggs <jo@acme.example>'}",
        "To: {support}",
        f"Subject: {subject}",
        f"Date: {format_datetime(date or datetime.now(UTC))}",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


def _links(raw: bytes) -> dict[int, str]:
    """Score -> the decoded subject of its mailto: link, read from the mail as sent."""
    text = parse_message(raw).text
    found = {}
    for link in re.findall(r"<(mailto:[^>]+)>", text):
        subject = unquote(link.split("?subject=", 1)[1])
        tok = token.find(subject)
        assert tok is not None
        found[tok.score] = subject
    return found


def test_rating_round_trip_through_smtp_and_imap(
    store: Store, imap_account: ImapAccount, smtp: SmtpServer, tmp_path: Path
) -> None:
    key_file = tmp_path / "rating.key"
    key_file.write_text(KEY + "\n")
    config = tmp_path / "config.toml"
    config.write_text(
        config_text(
            imap_account,
            smtp.port,
            database_url=store.url,
            extra=f'default_queue = "general"\n\n[csat]\nenabled = true\n'
            f'key_command = "cat {key_file}"\n',
        )
    )
    support = imap_account.address

    def deliver(raw: bytes) -> None:
        imap_account.append(raw.replace(b"{support}", support.encode()))

    deliver(_customer_mail("Refund please", "<q1@acme.example>"))
    code, _out, err = sd(config, "sync")
    assert code == 0, err
    code, out, err = sd(config, "tickets", "status", "solved", "all", "--yes", "--json")
    assert code == 0, err

    code, out, err = sd(config, "send", "--json")
    assert code == 0, err
    (request,) = smtp.recorder.messages
    assert request.rcpt_tos == ["jo@acme.example"]
    parsed = parse_message(request.data)
    assert parsed.robot.auto_reply  # Auto-Submitted: a robot will not answer it
    assert "How did we do?" in parsed.subject and "[#1]" in parsed.subject
    links = _links(request.data)
    assert sorted(links) == [1, 2, 3, 4, 5]
    assert all(support in link for link in re.findall(r"mailto:[^?]+", parsed.text))
    # A second drain asks nothing more: one request per solve.
    code, out, err = sd(config, "send", "--json")
    assert code == 0, err
    assert len(smtp.recorder.messages) == 1

    with store.session() as s:
        before = s.execute(select(Ticket)).scalar_one()
        count_before = before.message_count

    # The customer clicks 4, writes a line, and their client answers with "Re:".
    deliver(
        _customer_mail(
            "Re: " + links[4],
            "<rate1@acme.example>",
            "Quick and kind.\n\nOn Tue, Desk Support wrote:\n> How did we do?",
        )
    )
    code, out, err = sd(config, "sync", "--json")
    assert code == 0, err
    assert json.loads(out)["total"]["ratings"] == 1
    assert json.loads(out)["total"]["new_tickets"] == 0

    tampered = links[2].replace(".2.", ".5.", 1)
    four = token.find(links[4])
    assert four is not None
    other_ticket = links[4].replace(f"[rate:{four.number}.", f"[rate:{four.number + 1}.")
    out_of_range = links[4].replace(".4.", ".9.", 1)
    for n, subject in enumerate([links[4], links[5], tampered, other_ticket, out_of_range]):
        deliver(_customer_mail(subject, f"<bad{n}@acme.example>", "ha"))
    deliver(_customer_mail("Re: " + links[4], "<rate1@acme.example>", "Quick and kind."))
    code, out, err = sd(config, "sync", "--json")
    assert code == 0, err
    total = json.loads(out)["total"]
    assert (total["ratings"], total["ratings_ignored"], total["duplicates"]) == (0, 5, 1)
    assert (total["new_tickets"], total["follow_ups"], total["reopened"]) == (0, 0, 0)

    with store.session() as s:
        ticket = s.execute(select(Ticket)).scalar_one()
        rating = rating_of(s, ticket.id)
        ratings_in_thread = s.execute(
            select(col(Message.id)).where(col(Message.subject).contains("[rate:"))
        ).all()
    assert rating is not None and (rating.score, rating.comment) == (4, "Quick and kind.")
    assert ratings_in_thread == []
    assert (ticket.message_count, ticket.status) == (count_before, "solved")

    code, out, err = sd(config, "csat", "status", "--json")
    assert code == 0, err
    status = json.loads(out)
    assert status["ratings"] == 1 and status["average"] == 4.0
    assert status["requests_sent"] == 1
    assert status["ignored"] == {"forged": 2, "replayed": 2, "score": 1}
    code, out, err = sd(config, "tickets", "show", "1", "--json")
    assert code == 0, err
    assert json.loads(out)["rating"]["score"] == 4
    code, out, err = sd(config, "tickets", "show", "1")
    assert code == 0 and "4/5" in out and "Quick and kind." in out
    code, out, err = sd(config, "report", "--by", "agent", "--json")
    assert code == 0, err
    (row,) = [r for r in json.loads(out)["rows"] if r["csat_responses"]]
    assert (row["csat_responses"], row["csat_average"], row["csat_satisfied_share"]) == (
        1,
        4.0,
        1.0,
    )


# -- the domain on both backends


@pytest.fixture
def desk(store: Store) -> Store:
    store.info[MAIL_SETUP] = MailSetup(identities=(Identity("support", SUPPORT, "Desk"),))
    store.info[CSAT_SETUP] = CsatSetup(enabled=True, keys=KeySource(lambda: KEY))
    with store.session(write=True) as s:
        directory.ensure_queue(s, "general")
        for handle in ("alice", "bob"):
            directory.add_agent(s, handle, email=f"{handle}@desk.example")
    return store


def _start(desk: Store, at: datetime) -> None:
    """Ratings first asked for at `at` (a store reused by the fixtures may remember another)."""
    with desk.session(write=True) as s:
        s.merge(StoreMeta(key=requests.SINCE_KEY, value=at.isoformat()))
    with desk.session() as s:
        assert requests.since(s, datetime.now(UTC)) == at


def _open(desk: Store, n: int, *, sender: str = "", robot: bool = False) -> int:
    raw = _customer_mail(f"Question {n}", f"<q{n}@x.example>", sender=sender).replace(
        b"{support}", SUPPORT.encode()
    )
    if robot:
        raw = b"Auto-Submitted: auto-replied\r\n" + raw
    with desk.session(write=True) as s:
        result = ingest(s, parse_message(raw), raw, default_queue="general")
    assert result.ticket_number is not None
    return result.ticket_number


def _solve(desk: Store, number: int, assignee: str | None = None, status: str = "solved") -> None:
    with desk.session(write=True) as s:
        if assignee:
            tickets.assign(s, number, assignee, Change.by("agent:alice"))
        tickets.set_status(s, number, status, Change.by("agent:alice"))


def _ask(desk: Store, now: datetime | None = None) -> list[requests.Asked]:
    with desk.session(write=True) as s:
        return requests.queue_due(s, now or datetime.now(UTC) + timedelta(seconds=1))


def _rate(desk: Store, number: int, score: int, message_id: str, body: str = "") -> str:
    with desk.session(write=True) as s:
        ticket = tickets.get_ticket(s, number)
        request = s.execute(
            select(CsatRequest).where(col(CsatRequest.ticket_id) == ticket.id)
        ).scalar_one()
        made = token.make(KEY.encode(), number, score, request.issued_at, request.nonce)
        raw = _customer_mail(f"Re: Rating {made.text()}", message_id, body or "ok").replace(
            b"{support}", SUPPORT.encode()
        )
        return ingest(s, parse_message(raw), raw, default_queue="general").outcome


def test_one_request_per_solve_and_none_again_within_the_window(desk: Store) -> None:
    _start(desk, datetime.now(UTC) - timedelta(minutes=1))
    first = _open(desk, 1)
    _solve(desk, first)
    (asked,) = _ask(desk)
    assert asked.ticket_number == first and asked.outbox_id is not None
    assert _ask(desk) == []
    _solve(desk, first, status="open")
    _solve(desk, first)
    assert _ask(desk) == []  # solved again within repeat_days: not asked twice
    with desk.session() as s:
        outbox = s.execute(select(OutboxItem)).scalars().all()
        assert [o.kind for o in outbox] == ["auto"]
        assert sorted(_links(outbox[0].raw)) == [1, 2, 3, 4, 5]


def test_no_request_to_robots_or_no_reply_addresses_nor_for_old_solves(desk: Store) -> None:
    old = _open(desk, 1)
    _solve(desk, old)  # solved before ratings were first asked for
    _start(desk, datetime.now(UTC) + timedelta(milliseconds=1))
    robot = _open(desk, 2, robot=True)
    no_reply = _open(desk, 3, sender="noreply@shop.example")
    human = _open(desk, 4)
    for number in (robot, no_reply, human):
        _solve(desk, number)
    asked = {a.ticket_number: a for a in _ask(desk)}
    assert old not in asked
    assert asked[robot].skipped == "robot" and asked[robot].outbox_id is None
    assert asked[no_reply].skipped == "no_reply"
    assert asked[human].outbox_id is not None and not asked[human].skipped
    assert _ask(desk) == []  # each solve is decided once


def test_a_rating_never_reopens_and_is_recorded_once(desk: Store) -> None:
    _start(desk, datetime.now(UTC) - timedelta(minutes=1))
    number = _open(desk, 1)
    _solve(desk, number)
    _ask(desk)
    with desk.session() as s:
        version = tickets.get_ticket(s, number).version
    assert _rate(desk, number, 5, "<r1@x>", "Great.\n> quoted") == "rating"
    assert _rate(desk, number, 1, "<r2@x>") == "rating_ignored"  # replayed: first counts
    assert _rate(desk, number, 5, "<r1@x>") == "duplicate"  # the same mail again
    with desk.session() as s:
        ticket = tickets.get_ticket(s, number)
        assert (ticket.status, ticket.version) == ("solved", version)
        rating = rating_of(s, ticket.id)
        assert rating is not None and (rating.score, rating.comment) == (5, "Great.")
        seen = overview(s, datetime.now(UTC) - timedelta(days=1), datetime.now(UTC) + timedelta(1))
    assert (seen.ratings, seen.ignored) == (1, {"replayed": 1})


def test_an_expired_or_unverifiable_token_is_ignored_and_counted(desk: Store) -> None:
    _start(desk, datetime.now(UTC) - timedelta(minutes=1))
    number = _open(desk, 1)
    _solve(desk, number)
    _ask(desk)
    desk.info[CSAT_SETUP] = CsatSetup(enabled=True, valid_days=1, keys=KeySource(lambda: KEY))
    with desk.session(write=True) as s:
        ticket = tickets.get_ticket(s, number)
        request = s.execute(select(CsatRequest)).scalar_one()
        request.issued_at = datetime.now(UTC) - timedelta(days=2)
        s.add(request)
    assert _rate(desk, number, 3, "<late@x>") == "rating_ignored"
    desk.info[CSAT_SETUP] = CsatSetup(enabled=True)  # no key on this machine
    assert _rate(desk, number, 3, "<nokey@x>") == "rating_ignored"
    with desk.session() as s:
        seen = overview(s, datetime.now(UTC) - timedelta(days=1), datetime.now(UTC) + timedelta(1))
        assert rating_of(s, ticket.id) is None
    assert seen.ignored == {"expired": 1, "no_key": 1}


def test_csat_in_the_report_by_agent_and_day(desk: Store) -> None:
    """Four tickets: alice's rated 5 and 4, bob's rated 2, one unassigned and unrated.
    By hand: alice 2 responses, average 4.5, 4-5 share 1.0; bob 1, 2.0, 0.0; the day has
    3 responses, sum 11, average 3.67, 4-5 share 2/3 = 0.6667."""
    _start(desk, datetime.now(UTC) - timedelta(minutes=1))
    numbers = [_open(desk, n) for n in range(1, 5)]
    for number, agent in zip(numbers, ("alice", "alice", "bob", None), strict=True):
        _solve(desk, number, agent)
    assert len(_ask(desk)) == 4
    for number, score in zip(numbers, (5, 4, 2), strict=False):
        assert _rate(desk, number, score, f"<rating{number}@x>") == "rating"
    now = datetime.now(UTC)
    since = datetime(now.year, now.month, now.day, tzinfo=UTC)
    with desk.session() as s:
        by_agent = {
            r.group: r.as_dict()
            for r in reports.build(s, since, since + timedelta(1), "agent").rows
        }
        by_day = reports.build(s, since, since + timedelta(1), "day").rows
    picked = ("csat_responses", "csat_score_sum", "csat_average", "csat_satisfied_share")
    assert {g: tuple(r[k] for k in picked) for g, r in by_agent.items() if r["csat_responses"]} == {
        "alice": (2, 9, 4.5, 1.0),
        "bob": (1, 2, 2.0, 0.0),
    }
    (day,) = by_day
    assert day.solved == 4 and day.replies == 0  # the four rating requests are no replies
    assert (day.csat_responses, day.csat_score_sum, day.csat_average) == (3, 11, 3.67)
    assert day.csat_satisfied_share == 0.6667


def test_a_japanese_customer_gets_the_japanese_request(desk: Store) -> None:
    _start(desk, datetime.now(UTC) - timedelta(minutes=1))
    raw = (
        b"From: =?utf-8?b?5bGx55Sw?= <yamada@example.jp>\r\nTo: support@desk.example\r\n"
        b"Subject: =?utf-8?b?6L+U6YeR44Gr44Gk44GE44Gm?=\r\nMessage-ID: <jp1@example.jp>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n"
    ) + "先日注文した商品の返金について教えてください。よろしくお願いします。\r\n".encode()
    with desk.session(write=True) as s:
        number = ingest(s, parse_message(raw), raw, default_queue="general").ticket_number
    assert number is not None
    _solve(desk, number)
    (asked,) = _ask(desk)
    with desk.session() as s:
        item = s.get(OutboxItem, asked.outbox_id)
        assert item is not None
        sent = parse_message(item.raw)
    assert "対応についてのご評価のお願い" in sent.subject
    assert "とても満足" in sent.text and "山田様" in sent.text
    assert all(subject.startswith("評価 ") for subject in _links(item.raw).values())


def test_the_key_is_read_once_and_a_failure_is_not_retried_at_once() -> None:
    calls: list[int] = []

    def short() -> str:
        calls.append(1)
        return "too short"

    source = KeySource(short)
    for _ in range(3):
        with pytest.raises(SecretError, match="too short"):
            source.key()
    assert len(calls) == 1
    good = KeySource(lambda: (calls.append(2), KEY)[1])
    assert good.key() == good.key() == KEY.encode()
    assert calls.count(2) == 1


def test_the_delay_spares_a_quick_reopen_and_the_window_ends(desk: Store) -> None:
    desk.info[CSAT_SETUP] = CsatSetup(
        enabled=True, delay_minutes=30, repeat_days=14, keys=KeySource(lambda: KEY)
    )
    now = datetime.now(UTC)
    _start(desk, now - timedelta(minutes=1))
    number = _open(desk, 1)
    _solve(desk, number)
    assert _ask(desk, now + timedelta(minutes=10)) == []  # not yet: the delay runs
    _solve(desk, number, status="open")
    assert _ask(desk, now + timedelta(minutes=45)) == []  # reopened: nothing to ask
    _solve(desk, number)
    (asked,) = _ask(desk, now + timedelta(minutes=45))
    assert asked.outbox_id is not None
    # Reopened and solved again: past repeat_days it is a solve like any other, but a solve
    # the sender only sees days later (it was stopped) is too old to ask about.
    _solve(desk, number, status="open")
    _solve(desk, number)
    assert _ask(desk, now + timedelta(days=15)) == []
    with desk.session(write=True) as s:
        ticket = tickets.get_ticket(s, number)
        ticket.solved_at = now + timedelta(days=15)
        s.add(ticket)
    (again,) = _ask(desk, now + timedelta(days=15, hours=1))
    assert again.outbox_id is not None and again.ticket_number == number


def test_a_request_without_links_is_the_senders_error_and_nothing_goes_out(desk: Store) -> None:
    _start(desk, datetime.now(UTC) - timedelta(minutes=1))
    with desk.session(write=True) as s:
        canned.add_canned(s, "csat-request", "Thanks", "Thanks for writing, {customer.name|}.")
    number = _open(desk, 1)
    _solve(desk, number)
    with pytest.raises(ValidationError, match="no rating links"):
        _ask(desk)
    with desk.session() as s:
        assert s.execute(select(CsatRequest)).first() is None
        assert s.execute(select(OutboxItem)).first() is None


# -- the review's findings (sender, raw, no_key, bad addresses, races, arrival, comments)


def _rating_mail(
    desk: Store,
    number: int,
    score: int,
    message_id: str,
    body: str = "ok",
    *,
    sender: str = "",
    date: datetime | None = None,
) -> bytes:
    """A rating mail for ticket `number`'s request, signed with the test key."""
    with desk.session() as s:
        ticket = tickets.get_ticket(s, number)
        request = s.execute(
            select(CsatRequest).where(col(CsatRequest.ticket_id) == ticket.id)
        ).scalar_one()
        made = token.make(KEY.encode(), number, score, request.issued_at, request.nonce)
    return _customer_mail(
        f"Re: Rating {made.text()}", message_id, body, sender=sender, date=date
    ).replace(b"{support}", SUPPORT.encode())


def _deliver(desk: Store, raw: bytes) -> str:
    with desk.session(write=True) as s:
        result = ingest(
            s,
            parse_message(raw),
            raw,
            default_queue="general",
            our_addresses=frozenset({SUPPORT}),
        )
    if result.outcome == "duplicate" and ratings.rating_token(parse_message(raw)):
        assert result.ticket_number is None  # the token's number is not trusted
    return result.outcome


def _seen(desk: Store) -> tuple[int, dict[str, int]]:
    with desk.session() as s:
        found = overview(
            s, datetime.now(UTC) - timedelta(days=400), datetime.now(UTC) + timedelta(days=1)
        )
    return found.ratings, found.ignored


def _asked(desk: Store, n: int = 1, sender: str = "") -> int:
    _start(desk, datetime.now(UTC) - timedelta(minutes=1))
    number = _open(desk, n, sender=sender)
    _solve(desk, number)
    (asked,) = _ask(desk)
    assert asked.outbox_id is not None
    return number


def test_only_the_requester_or_a_cc_rates(desk: Store) -> None:
    number = _asked(desk)
    agent = _rating_mail(desk, number, 5, "<agent@x>", sender="Alice <alice@desk.example>")
    ours = _rating_mail(desk, number, 5, "<ours@x>", sender=SUPPORT)
    stranger = _rating_mail(desk, number, 1, "<stranger@x>", sender="eve@elsewhere.example")
    for raw in (agent, ours, stranger):
        assert _deliver(desk, raw) == "rating_ignored"
    assert _seen(desk) == (0, {"sender": 3})
    with desk.session(write=True) as s:
        ticket = tickets.get_ticket(s, number)
        s.add(TicketCC(ticket_id=ticket.id, email="boss@acme.example"))  # type: ignore[arg-type]
    cc = _rating_mail(desk, number, 4, "<cc@x>", sender="Boss <Boss@Acme.example>")
    assert _deliver(desk, cc) == "rating"
    with desk.session() as s:
        rating = rating_of(s, tickets.get_ticket(s, number).id)
        assert rating is not None and (rating.score, rating.sender) == (4, "boss@acme.example")
        # No note for mail from people who may not rate: only counted, and kept raw.
        assert s.execute(select(Note)).first() is None
        kept = s.execute(select(CsatRejection.raw).order_by(col(CsatRejection.id))).all()
    assert [bytes(r) for (r,) in kept] == [agent, ours, stranger]


def test_the_thread_keeps_no_usable_link_but_the_mail_sent_does(desk: Store) -> None:
    number = _asked(desk)
    with desk.session() as s:
        ticket = tickets.get_ticket(s, number)
        message = s.execute(
            select(Message).where(
                col(Message.ticket_id) == ticket.id, col(Message.direction) == "out"
            )
        ).scalar_one()
        thread_raw = bytes(
            s.execute(
                select(MessageRaw.raw).where(col(MessageRaw.message_id) == message.id)
            ).scalar_one()
        )
        sent = bytes(s.execute(select(OutboxItem.raw)).scalar_one())
    assert sorted(_links(sent)) == [1, 2, 3, 4, 5]  # the customer's links work
    for text in (message.body_text, parse_message(thread_raw).text):
        subjects = [unquote(link) for link in re.findall(r"<(mailto:[^>]+)>", text)]
        assert len(subjects) == 5
        assert all(token.find(s) is None for s in subjects)
        assert "x" * 16 in subjects[0]
    # A link copied from the console is no rating; the Sent copy is the same message.
    copied = unquote(re.findall(r"subject=([^>]+)>", message.body_text)[0])
    raw = _customer_mail(copied, "<copied@x>").replace(b"{support}", SUPPORT.encode())
    assert token.find(parse_message(raw).subject) is None
    assert _deliver(desk, sent) == "duplicate"


def test_every_rating_mail_is_kept_raw_and_a_rejected_one_with_text_is_a_note(
    desk: Store,
) -> None:
    number = _asked(desk)
    good = _rating_mail(desk, number, 2, "<good@x>", "Slow, but it works now.")
    assert _deliver(desk, good) == "rating"
    forged = _customer_mail(
        f"Re: Rating 1/5 [rate:{number}.1.1.0000000000000000.0000000000000000]",
        "<forged@x>",
        "The problem is back, please call me urgently.",
    ).replace(b"{support}", SUPPORT.encode())
    assert _deliver(desk, forged) == "rating_ignored"
    again = _rating_mail(desk, number, 5, "<again@x>", "Changed my mind: great after all.")
    assert _deliver(desk, again) == "rating_ignored"  # replayed: the first rating counts
    assert _seen(desk) == (1, {"forged": 1, "replayed": 1})
    with desk.session() as s:
        ticket = tickets.get_ticket(s, number)
        assert bytes(s.execute(select(CsatRating.raw)).scalar_one()) == good
        rejected = s.execute(select(CsatRejection).order_by(col(CsatRejection.id))).scalars()
        assert [(bytes(r.raw), r.note_id is not None) for r in rejected] == [
            (forged, True),
            (again, True),
        ]
        notes = s.execute(
            select(Note).where(col(Note.ticket_id) == ticket.id).order_by(col(Note.id))
        ).scalars()
        bodies = [n.body for n in notes]
    assert len(bodies) == 2
    assert "jo@acme.example" in bodies[0] and "forged or altered link" in bodies[0]
    assert bodies[0].endswith("The problem is back, please call me urgently.")
    assert bodies[1].endswith("Changed my mind: great after all.")


def test_a_mail_that_came_while_the_key_was_missing_is_rated_once_it_is_back(
    desk: Store,
) -> None:
    number = _asked(desk)
    with_key = desk.info[CSAT_SETUP]
    first = _rating_mail(desk, number, 4, "<first@x>", "Good.")
    second_number = _asked(desk, 2, sender="Ann <ann@acme.example>")
    second = _rating_mail(desk, second_number, 2, "<second@x>", "Meh.", sender="ann@acme.example")
    desk.info[CSAT_SETUP] = CsatSetup(enabled=True)  # keyring locked, no key_command
    assert _deliver(desk, first) == "rating_ignored"
    assert _deliver(desk, second) == "rating_ignored"
    assert _seen(desk) == (0, {"no_key": 2})
    assert _deliver(desk, first) == "rating_ignored"  # still no key: waits, not a duplicate
    desk.info[CSAT_SETUP] = with_key
    # The same bytes seen again (a re-sync) are decided now...
    assert _deliver(desk, first) == "rating"
    assert _deliver(desk, first) == "duplicate"
    # ...and the sender decides those that are not seen again.
    with desk.session(write=True) as s:
        assert ratings.retry_waiting(s) == 1
    assert _seen(desk) == (2, {})
    with desk.session() as s:
        scores = {n: rating_of(s, tickets.get_ticket(s, n).id) for n in (number, second_number)}
    assert {n: r.score for n, r in scores.items() if r} == {number: 4, second_number: 2}


def test_a_customer_that_cannot_be_mailed_blocks_nobody_else(desk: Store) -> None:
    _start(desk, datetime.now(UTC) - timedelta(minutes=1))
    bad = _open(desk, 1, sender="a..b@example.com")
    good = _open(desk, 2)
    for number in (bad, good):
        _solve(desk, number)
    asked = {a.ticket_number: a for a in _ask(desk)}
    assert asked[bad].skipped == "address" and "a..b@example.com" in asked[bad].error
    assert asked[good].outbox_id is not None and not asked[good].skipped
    assert _ask(desk) == []  # decided once: no error on every drain
    with desk.session() as s:
        found = overview(s, datetime.now(UTC) - timedelta(1), datetime.now(UTC) + timedelta(1))
    assert (found.requests_sent, found.requests_skipped) == (1, {"address": 1})


def test_concurrent_ratings_of_one_request_count_once(desk: Store) -> None:
    number = _asked(desk)
    first = _rating_mail(desk, number, 5, "<one@x>")
    second = _rating_mail(desk, number, 1, "<two@x>")
    outcome: list[str] = []
    with desk.session(write=True) as s:
        assert ingest(s, parse_message(first), first, default_queue="general").outcome == "rating"
        # The other ingest starts before this one commits (on PostgreSQL it passes the
        # "rated already?" check and meets the unique index; on SQLite it waits for the lock).
        other = threading.Thread(target=lambda: outcome.append(_deliver(desk, second)))
        other.start()
        time.sleep(1)
    other.join(30)
    assert outcome == ["rating_ignored"]
    assert _seen(desk) == (1, {"replayed": 1})


def test_two_senders_starting_together_agree_on_the_start(desk: Store) -> None:
    with desk.session(write=True) as s:
        s.execute(delete(StoreMeta).where(col(StoreMeta.key) == requests.SINCE_KEY))
    now = datetime.now(UTC)
    seen: list[datetime] = []

    def second() -> None:
        with desk.session(write=True) as s:
            seen.append(requests.since(s, now + timedelta(hours=1)))

    with desk.session(write=True) as s:
        mine = requests.since(s, now)
        other = threading.Thread(target=second)
        other.start()
        time.sleep(1)
    other.join(30)
    assert seen == [mine] and mine == now - requests.GRACE


def test_a_rating_is_judged_and_dated_by_its_arrival(desk: Store) -> None:
    number = _asked(desk)
    issued = datetime.now(UTC).replace(microsecond=0) - timedelta(days=40)
    with desk.session(write=True) as s:
        request = s.execute(select(CsatRequest)).scalar_one()
        request.issued_at = issued
        s.add(request)
    # Sent a day after the request, synced 39 days later (an outage, an imported archive).
    arrived = issued + timedelta(days=1)
    assert _deliver(desk, _rating_mail(desk, number, 5, "<late@x>", date=arrived)) == "rating"
    with desk.session() as s:
        rating = rating_of(s, tickets.get_ticket(s, number).id)
    assert rating is not None and rating.received_at == arrived
    # A Date: in the future is now; one after valid_days is expired.
    second = _asked(desk, 2, sender="ann@acme.example")
    with desk.session(write=True) as s:
        request = s.execute(
            select(CsatRequest).where(
                col(CsatRequest.ticket_id) == tickets.get_ticket(s, second).id
            )
        ).scalar_one()
        request.issued_at = issued
        s.add(request)
    late = _rating_mail(
        desk, second, 3, "<later@x>", sender="ann@acme.example", date=issued + timedelta(days=31)
    )
    assert _deliver(desk, late) == "rating_ignored"
    assert _seen(desk) == (1, {"expired": 1})


def test_a_robots_rating_mail_is_counted_not_quarantined(desk: Store) -> None:
    number = _asked(desk)
    raw = b"Auto-Submitted: auto-replied\r\n" + _rating_mail(desk, number, 5, "<auto@x>")
    assert _deliver(desk, raw) == "rating_ignored"
    assert _seen(desk) == (0, {"robot": 1})
    with desk.session() as s:
        assert len(s.execute(select(Ticket)).all()) == 1


def test_the_comment_keeps_prose_that_looks_like_a_quote() -> None:
    assert (
        strip_quoted("Great service.\nExactly the fix my colleague wrote\nThanks again, Jo")
        == "Great service.\nExactly the fix my colleague wrote\nThanks again, Jo"
    )
    jp = "とても丁寧でした。\nスタッフの方に感謝のメッセージ\nを伝えてください。"
    assert strip_quoted(jp) == jp
    prose = "Fast.\nFrom: the start the agent got it.\nDate: irrelevant\nTo: the point."
    assert strip_quoted(prose) == prose
    # The real shapes are still cut.
    assert strip_quoted("良かったです。\n山田太郎からのメッセージ:\n> 旧文") == "良かったです。"
    assert strip_quoted("Ok.\nFrom: Desk <s@d.example>\nDate: Tue\n\nold") == "Ok."


def test_reasons_are_labels_for_people_and_codes_for_scripts() -> None:
    from supportdesk import i18n

    assert ratings.reason_label("sender") == "not the customer's address"
    assert requests.skip_label("address") == "address cannot be mailed"
    i18n.set_language("ja")
    try:
        assert ratings.reason_label("forged") == "偽造または改変されたリンク"
        assert requests.skip_label("bounced") == "アドレスに配信不能"
    finally:
        i18n.set_language("en")
    assert set(ratings.REASONS) >= {"robot", "sender", "no_key", "forged", "replayed"}


def test_key_generate_keeps_an_existing_key_unless_told(tmp_path: Path) -> None:
    import keyring

    from supportdesk.secrets import CSAT_KEY_ACCOUNT, KEYRING_SERVICE
    from tests.test_secrets import MemoryKeyring

    config = tmp_path / "config.toml"
    config.write_text(f'database_url = "sqlite:///{tmp_path / "store.db"}"\n')
    previous = keyring.get_keyring()
    memory = MemoryKeyring()
    keyring.set_keyring(memory)
    try:
        code, _out, err = sd(config, "csat", "key", "--generate", "--json")
        assert code == 0, err
        first = memory.items[(KEYRING_SERVICE, CSAT_KEY_ACCOUNT)]
        code, _out, err = sd(config, "csat", "key", "--generate")
        assert code != 0 and "--yes" in err and "Traceback" not in err
        assert memory.items[(KEYRING_SERVICE, CSAT_KEY_ACCOUNT)] == first
        code, _out, err = sd(config, "csat", "key", "--generate", "--yes")
        assert code == 0, err
        assert memory.items[(KEYRING_SERVICE, CSAT_KEY_ACCOUNT)] != first
    finally:
        keyring.set_keyring(previous)


def test_status_shows_reasons_as_words(desk: Store, tmp_path: Path) -> None:
    number = _asked(desk)
    stranger = _rating_mail(desk, number, 1, "<s@x>", sender="eve@elsewhere.example")
    assert _deliver(desk, stranger) == "rating_ignored"
    config = tmp_path / "config.toml"
    config.write_text(f'database_url = "{desk.url}"\n')
    code, out, err = sd(config, "csat", "status")
    assert code == 0, err
    assert "not the customer's address" in out and "(sender)" not in out
    code, out, err = sd(config, "csat", "status", "--json")
    assert code == 0, err
    assert json.loads(out)["ignored"] == {"sender": 1}
    # What a stranger wrote is not a note, but it is found here, read back from the raw.
    code, out, err = sd(config, "csat", "ignored", "--json")
    assert code == 0, err
    (mail,) = json.loads(out)
    assert (mail["reason"], mail["ticket_number"], mail["sender"], mail["comment"]) == (
        "sender",
        number,
        "eve@elsewhere.example",
        "ok",
    )
    assert mail["note_id"] is None and "[rate:" in mail["subject"]
    code, out, err = sd(config, "csat", "ignored")
    assert code == 0, err
    assert "eve@elsewhere.example" in out and "not the customer's address" in out


def test_the_sender_reads_the_key_outside_a_transaction_and_says_each_error_once(
    store: Store, imap_account: ImapAccount, smtp: SmtpServer
) -> None:
    from supportdesk.config import parse_settings
    from supportdesk.desk.outbox import Sender
    from tests.test_send import config_text

    settings = parse_settings(
        config_text(imap_account, smtp.port, extra="\n[csat]\nenabled = true\n"),
        Path("/tmp/test-config.toml"),
    )
    open_connections: list[int] = []

    def fetch() -> str:
        open_connections.append(store.engine.pool.checkedout())  # type: ignore[attr-defined]
        return KEY

    store.info.pop(MAIL_SETUP, None)
    store.info[CSAT_SETUP] = CsatSetup(enabled=True, keys=KeySource(fetch))
    with store.session(write=True) as s:
        directory.ensure_queue(s, "general")
        directory.add_agent(s, "alice", email="alice@desk.example")
    _start(store, datetime.now(UTC) - timedelta(minutes=1))
    bad = _open(store, 1, sender="a..b@example.com")
    good = _open(store, 2)
    for number in (bad, good):
        _solve(store, number)
    first = Sender(store, settings).drain()
    assert open_connections == [0]  # no transaction (nor SQLite write lock) held meanwhile
    assert [e for e in first.errors if "a..b@example.com" in e and f"#{bad}" in e] == first.errors
    assert len(first.errors) == 1 and len(first.sent) == 1
    assert smtp.recorder.messages[0].rcpt_tos == ["jo@acme.example"]
    second = Sender(store, settings).drain()
    assert second.errors == [] and second.sent == []

    # A rating that came while the key could not be read is decided by the next drain.
    raw = _rating_mail(store, good, 5, "<waited@x>", "Thanks.")
    keyed = store.info[CSAT_SETUP]
    store.info[CSAT_SETUP] = CsatSetup(enabled=True)
    assert _deliver(store, raw) == "rating_ignored"
    store.info[CSAT_SETUP] = keyed
    assert _seen(store) == (0, {"no_key": 1})
    Sender(store, settings).drain()
    assert _seen(store) == (1, {})


def test_ingest_reads_the_key_before_its_transaction(desk: Store) -> None:
    from supportdesk.desk.ingest import Source
    from supportdesk.desk.intake.pipeline import Ingestor

    number = _asked(desk)
    raw = _rating_mail(desk, number, 4, "<batch@x>")
    open_connections: list[int] = []

    def fetch() -> str:
        open_connections.append(desk.engine.pool.checkedout())  # type: ignore[attr-defined]
        return KEY

    desk.info[CSAT_SETUP] = CsatSetup(enabled=True, keys=KeySource(fetch))
    with Ingestor(desk, default_queue="general") as ingestor:
        (result,) = ingestor.ingest_batch([(raw, Source())])
    assert result.outcome == "rating" and open_connections == [0]


def test_the_watchs_sender_says_a_repeated_problem_once_in_a_while() -> None:
    from supportdesk.desk.outbox import Repeats

    repeats = Repeats()
    said = [
        repeats.fresh(problem, at)
        for problem, at in [
            ("rating requests: no rating key", 0.0),
            ("rating requests: no rating key", 5.0),
            ("outbox item 3: mailbox 'x' is not in config", 5.0),
            ("rating requests: no rating key", Repeats.QUIET - 1),
            ("rating requests: no rating key", Repeats.QUIET + 1),
        ]
    ]
    assert said == [True, False, True, False, True]
