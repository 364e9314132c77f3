"""Threading fidelity: reused Message-IDs, ghosts, bounces, foreign subject tags, arrival order.

Every test runs on SQLite and PostgreSQL (the `store` fixture). The mail is made here, by
hand, as bytes: fixed dates, fixed ids, nothing random but a seeded shuffle.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from supportdesk.cli import app
from supportdesk.desk import directory, ingest, message_ids, tickets, views
from supportdesk.desk.events import Change
from supportdesk.desk.intake.pipeline import Ingestor
from supportdesk.desk.subject_tags import subject_tags
from supportdesk.mail.dsn import read_report
from supportdesk.mail.fingerprint import content_fingerprint
from supportdesk.mail.parse import parse_message
from supportdesk.store import Store, open_store
from supportdesk.store.models import Customer, Message, MessageGhost, Queue, Ticket
from tests.conftest import PgSchemas, pg_url

SUPPORT = "support@desk.example"
ALICE = "Alice Agent <alice@desk.example>"
JO = "Jo Bloggs <jo@acme.example>"
SAM = "Sam Smith <sam@acme.example>"
EVE = "Eve <eve@evil.example>"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def mail(
    message_id: str,
    *,
    sender: str = JO,
    to: str = SUPPORT,
    cc: str | None = None,
    subject: str = "Printer broken",
    body: str = "The printer on floor 2 is broken.",
    in_reply_to: str | None = None,
    references: str | None = None,
    minute: int = 0,
    extra: tuple[tuple[str, str], ...] = (),
) -> bytes:
    lines = [
        f"Received: from mx.acme.example by mx.desk.example; {format_datetime(START)}",
        f"From: {sender}",
        f"To: {to}",
    ]
    if cc:
        lines.append(f"Cc: {cc}")
    lines += [
        f"Subject: {subject}",
        f"Date: {format_datetime(START + timedelta(minutes=minute))}",
        f"Message-ID: {message_id}",
    ]
    if in_reply_to:
        lines.append(f"In-Reply-To: {in_reply_to}")
    if references:
        lines.append(f"References: {references}")
    lines += [f"{name}: {value}" for name, value in extra]
    lines.append("Content-Type: text/plain; charset=utf-8")
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


def dsn(
    message_id: str,
    original: str,
    *,
    recipient: str = "jo@acme.example",
    status: str = "5.1.1",
    minute: int = 0,
    whole_message: bool = False,
) -> bytes:
    """A standard delivery status notification (RFC 3464) about `original` (its headers)."""
    kind = "message/rfc822" if whole_message else "message/rfc822-headers"
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.desk.example>\r\n"
        f"To: {SUPPORT}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {format_datetime(START + timedelta(minutes=minute))}\r\n"
        f"Message-ID: {message_id}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="BOUND"\r\n'
        "\r\n"
        "--BOUND\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n"
        "This is the mail system. Your message could not be delivered.\r\n"
        "--BOUND\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns; mx.desk.example\r\n"
        "\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822;{recipient}\r\n"
        "Action: failed\r\n"
        f"Status: {status}\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <"
        f"{recipient}>: Recipient address rejected:\r\n"
        "    User unknown in virtual mailbox table\r\n"
        "--BOUND\r\n"
        f"Content-Type: {kind}\r\n"
        "\r\n"
        f"{original}"
        "\r\n--BOUND--\r\n"
    ).encode()


def headers_of(raw: bytes) -> str:
    return raw.split(b"\r\n\r\n", 1)[0].decode() + "\r\n"


@pytest.fixture
def desk(store: Store) -> Store:
    with store.session(write=True) as s:
        directory.ensure_queue(s, "general")
        directory.add_agent(s, "alice", email="alice@desk.example")
    return store


def take(store: Store, raw: bytes) -> ingest.IngestResult:
    with store.session(write=True) as s:
        return ingest.ingest(
            s, parse_message(raw), raw, default_queue="general", our_addresses=frozenset({SUPPORT})
        )


def ticket_of(store: Store, number: int | None) -> Ticket:
    assert number is not None
    with store.session() as s:
        return tickets.get_ticket(s, number)


def numbers(*results: ingest.IngestResult) -> list[int | None]:
    return [r.ticket_number for r in results]


# Reused Message-IDs ------------------------------------------------------------------------


def test_a_reused_message_id_with_other_content_is_kept_and_noted(desk: Store) -> None:
    first = take(desk, mail("<form@shop.example>", subject="Order 1", body="one"))
    other = take(
        desk, mail("<form@shop.example>", sender=SAM, subject="Order 2", body="a different order")
    )
    assert (first.outcome, other.outcome) == ("new_ticket", "new_ticket")
    assert first.ticket_number != other.ticket_number
    with desk.session() as s:
        detail = views.ticket_detail(s, other.ticket_number)  # type: ignore[arg-type]
        (message,) = detail.messages
        assert "a different order" in message.body_text
        assert "<form@shop.example> was already used by a different message" in (
            message.parse_problems
        )
        assert f"#{first.ticket_number}" in message.parse_problems
    # The same import again adds nothing: both contents are known now.
    again = [take(desk, mail("<form@shop.example>", subject="Order 1", body="one"))]
    again.append(
        take(
            desk,
            mail("<form@shop.example>", sender=SAM, subject="Order 2", body="a different order"),
        )
    )
    assert [r.outcome for r in again] == ["duplicate", "duplicate"]
    assert numbers(*again) == numbers(first, other)


def test_a_reused_id_goes_where_its_references_point(desk: Store) -> None:
    take(desk, mail("<root@acme.example>"))
    take(desk, mail("<dup@acme.example>", subject="Something else", body="x", sender=EVE))
    reply = take(
        desk,
        mail(
            "<dup@acme.example>",
            subject="Re: Printer broken",
            body="still broken",
            in_reply_to="<root@acme.example>",
        ),
    )
    assert (reply.outcome, reply.ticket_number) == ("follow_up", 1)


def test_copies_that_travelled_differently_are_duplicates(desk: Store) -> None:
    raw = mail("<one@acme.example>", body="Hello,\nthe printer\nis broken.")
    assert take(desk, raw).outcome == "new_ticket"
    # Delivered to another mailbox: other trace headers, LF line ends, mbox quoting, a
    # different amount of whitespace; the same message all the same.
    copy = (
        b"Received: from elsewhere by mx2.desk.example\nDelivered-To: sales@desk.example\n"
        + raw.replace(b"\r\n", b"\n").replace(b"Hello,\n", b"Hello,  \n\n")
        + b"\n"
    )
    assert content_fingerprint(copy) == content_fingerprint(raw)
    assert take(desk, copy).outcome == "duplicate"
    changed = raw.replace(b"is broken", b"is fixed")
    assert take(desk, changed).outcome == "new_ticket"


def test_rows_stored_before_content_hashes_are_hashed_when_compared(desk: Store) -> None:
    raw = mail("<old@acme.example>")
    take(desk, raw)
    with desk.session(write=True) as s:
        s.execute(update(Message).values(content_hash=""))
    assert take(desk, raw).outcome == "duplicate"
    with desk.session() as s:
        assert s.execute(select(Message.content_hash)).scalar_one() == content_fingerprint(raw)


# Arrival order: ghosts ------------------------------------------------------------------------


def test_an_original_arriving_after_its_reply_joins_the_replys_ticket(desk: Store) -> None:
    reply = take(
        desk,
        mail(
            "<reply@acme.example>",
            subject="Re: Printer broken",
            body="any news?",
            in_reply_to="<original@acme.example>",
            references="<original@acme.example>",
            minute=5,
        ),
    )
    original = take(desk, mail("<original@acme.example>"))
    assert (reply.outcome, original.outcome) == ("new_ticket", "follow_up")
    assert original.ticket_number == reply.ticket_number
    with desk.session() as s:
        # The ghost was only standing in: the message is stored now.
        assert s.get(MessageGhost, "<original@acme.example>") is None


def test_messages_sharing_only_an_unseen_reference_are_one_ticket(desk: Store) -> None:
    first = take(
        desk, mail("<a@acme.example>", body="me too", references="<never-stored@lists.example>")
    )
    second = take(
        desk,
        mail(
            "<b@acme.example>",
            sender=SAM,
            body="same here",
            references="<never-stored@lists.example>",
        ),
    )
    assert first.ticket_number == second.ticket_number
    with desk.session() as s:
        assert ticket_of(desk, first.ticket_number).message_count == 2
        assert s.get(MessageGhost, "<never-stored@lists.example>") is not None


def test_a_message_linking_two_tickets_merges_the_newer_into_the_older(desk: Store) -> None:
    # Only In-Reply-To, no References: the middle message is what links the two ends.
    x = take(desk, mail("<x@acme.example>"))
    z = take(desk, mail("<z@acme.example>", body="third", in_reply_to="<y@desk.example>"))
    assert x.ticket_number != z.ticket_number
    y = take(
        desk,
        mail("<y@desk.example>", sender=ALICE, body="second", in_reply_to="<x@acme.example>"),
    )
    assert y.ticket_number == x.ticket_number
    with desk.session() as s:
        newer = tickets.get_ticket(s, z.ticket_number)  # type: ignore[arg-type]
        older = tickets.get_ticket(s, x.ticket_number)  # type: ignore[arg-type]
        assert newer.merged_into_id == older.id and newer.status == "closed"
        assert older.message_count == 3
        actions = [e.action for e in views.ticket_detail(s, older.number).events]
        assert "merged_from" in actions


def test_ghosts_follow_merged_tickets(desk: Store) -> None:
    a = take(desk, mail("<a@acme.example>", references="<lost@acme.example>"))
    b = take(desk, mail("<b@acme.example>", sender=SAM, subject="Other", body="other"))
    with desk.session(write=True) as s:
        tickets.merge(s, a.ticket_number, b.ticket_number, Change.by("agent:alice"))  # type: ignore[arg-type]
    late = take(desk, mail("<lost@acme.example>", subject="the lost original", body="lost"))
    assert late.ticket_number == b.ticket_number


def test_a_ghost_of_a_closed_ticket_opens_a_linked_ticket(desk: Store) -> None:
    reply = take(desk, mail("<r@acme.example>", in_reply_to="<o@acme.example>"))
    with desk.session(write=True) as s:
        tickets.set_status(s, reply.ticket_number, "closed", Change.by("agent:alice"))  # type: ignore[arg-type]
    original = take(desk, mail("<o@acme.example>", body="the original"))
    assert original.outcome == "new_ticket"
    with desk.session() as s:
        assert views.ticket_detail(s, original.ticket_number).related_to == reply.ticket_number  # type: ignore[arg-type]
        assert tickets.get_ticket(s, reply.ticket_number).status == "closed"  # type: ignore[arg-type]


def test_a_quarantined_robot_is_taken_in_by_the_mail_it_answered(desk: Store) -> None:
    robot = take(
        desk,
        mail(
            "<ooo@acme.example>",
            subject="Automatic reply: Printer broken",
            body="I am away",
            in_reply_to="<x@acme.example>",
            extra=(("Auto-Submitted", "auto-replied"),),
        ),
    )
    assert robot.outcome == "quarantined"
    original = take(desk, mail("<x@acme.example>", sender=SAM))
    assert original.outcome == "new_ticket"
    with desk.session() as s:
        detail = views.ticket_detail(s, original.ticket_number)  # type: ignore[arg-type]
        assert detail.row.queue == "general"
        assert [m.message_id for m in detail.messages] == ["<ooo@acme.example>", "<x@acme.example>"]
        assert tickets.get_ticket(s, robot.ticket_number).merged_into_id is not None  # type: ignore[arg-type]


def test_ghosts_per_message_are_bounded(desk: Store) -> None:
    refs = " ".join(f"<r{i}@lists.example>" for i in range(200))
    take(desk, mail("<long@acme.example>", references=refs))
    with desk.session() as s:
        ghosts = s.execute(select(MessageGhost.message_id)).scalars().all()
    assert 0 < len(ghosts) <= ingest.MAX_GHOSTS
    assert "<r199@lists.example>" in ghosts  # the direct parent is kept first


# Bounces ----------------------------------------------------------------------------------


def test_dsn_parsing_reads_the_original_and_the_failed_recipient() -> None:
    original = headers_of(mail("<sent@desk.example>", in_reply_to="<q@acme.example>"))
    parsed = parse_message(dsn("<bounce1@mx.desk.example>", original))
    report = parsed.delivery_report
    assert parsed.robot.bounce and report is not None and report.standard
    assert (report.message_id, report.in_reply_to) == ("<sent@desk.example>", "<q@acme.example>")
    (failed,) = report.failed
    assert (failed.address, failed.original, failed.status) == (
        "jo@acme.example",
        "jo@acme.example",
        "5.1.1",
    )
    assert "User unknown" in failed.diagnostic
    delayed = parse_message(dsn("<bounce2@mx.desk.example>", original, status="4.4.1"))
    assert delayed.delivery_report is not None and delayed.delivery_report.failed == ()
    assert parse_message(mail("<plain@acme.example>")).delivery_report is None
    exim = mail(
        "<exim@mx.acme.example>",
        sender="Mail Delivery System <Mailer-Daemon@mx.acme.example>",
        subject="Mail delivery failed: returning message to sender",
        body="This message was created automatically by mail delivery software.\r\n\r\n"
        "A message that you sent could not be delivered to one or more of its recipients.\r\n"
        "  sam@acme.example\r\n    mailbox is full: retry timeout exceeded\r\n\r\n"
        "------ This is a copy of the message, including all the headers. ------\r\n" + original,
        extra=(("X-Failed-Recipients", "sam@acme.example"),),
    )
    report = parse_message(exim).delivery_report
    assert report is not None and not report.standard
    assert report.message_id == "<sent@desk.example>"
    assert [r.address for r in report.failed] == ["sam@acme.example"]
    assert read_report([], "nothing to see", []) is None


def test_a_bounce_of_our_own_reply_lands_on_its_ticket_and_marks_the_customer(
    desk: Store,
) -> None:
    first = take(desk, mail("<q@acme.example>"))
    with desk.session(write=True) as s:
        ours = message_ids.make_message_id(
            message_ids.threading_key(s),
            first.ticket_number,
            "desk.example",  # type: ignore[arg-type]
        )
        tickets.set_status(s, first.ticket_number, "solved", Change.by("agent:alice"))  # type: ignore[arg-type]
    reply = mail(ours, sender=f"Support <{SUPPORT}>", to=JO, subject="Re: Printer broken")
    bounce = take(desk, dsn("<b1@mx.desk.example>", headers_of(reply)))
    assert (bounce.outcome, bounce.ticket_number, bounce.robot) == (
        "robot",
        first.ticket_number,
        True,
    )
    with desk.session() as s:
        ticket = tickets.get_ticket(s, first.ticket_number)  # type: ignore[arg-type]
        assert ticket.status == "solved"  # a bounce never reopens
        customer = s.execute(
            select(Customer).where(Customer.email == "jo@acme.example")
        ).scalar_one()
        assert customer.bounced_at is not None and customer.bounce_reason.startswith("5.1.1")
        detail = views.ticket_detail(s, ticket.number)
        assert detail.messages[-1].is_bounce
        assert detail.requester_bounced_at is not None
        assert any(e.action == "bounce" and "5.1.1" in (e.new_value or "") for e in detail.events)
        assert views.overview(s).quarantine == 0


def test_a_bounce_of_a_stored_message_lands_on_its_ticket(desk: Store) -> None:
    first = take(desk, mail("<q@acme.example>"))
    agent_reply = mail(
        "<answer@desk.example>",
        sender=ALICE,
        to=JO,
        body="Try this",
        in_reply_to="<q@acme.example>",
    )
    assert take(desk, agent_reply).ticket_number == first.ticket_number
    # The whole original attached (message/rfc822), as Exchange and Postfix send it.
    bounce = take(
        desk,
        dsn("<b2@mx.desk.example>", agent_reply.decode() + "\r\n", whole_message=True),
    )
    assert (bounce.outcome, bounce.ticket_number) == ("robot", first.ticket_number)


def test_a_plain_text_bounce_quoting_the_original_is_placed_too(desk: Store) -> None:
    first = take(desk, mail("<q@acme.example>"))
    agent_reply = mail("<answer@desk.example>", sender=ALICE, to=JO, in_reply_to="<q@acme.example>")
    take(desk, agent_reply)
    text = (
        "Hi. This is the qmail-send program at mx.acme.example.\r\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\r\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\r\n\r\n"
        "<jo@acme.example>:\r\n"
        "Sorry, no mailbox here by that name. (#5.1.1)\r\n\r\n"
        "--- Below this line is a copy of the message.\r\n\r\n" + headers_of(agent_reply)
    )
    raw = mail(
        "<qmail-bounce@mx.acme.example>",
        sender="MAILER-DAEMON@mx.acme.example",
        subject="failure notice",
        body=text,
    )
    parsed = parse_message(raw)
    assert parsed.delivery_report is not None
    assert parsed.delivery_report.message_id == "<answer@desk.example>"
    assert [r.address for r in parsed.delivery_report.failed] == ["jo@acme.example"]
    bounce = take(desk, raw)
    assert (bounce.outcome, bounce.ticket_number) == ("robot", first.ticket_number)
    with desk.session() as s:
        jo = s.execute(select(Customer).where(Customer.email == "jo@acme.example")).scalar_one()
        assert jo.bounced_at is not None


def test_a_bounce_we_cannot_place_waits_in_quarantine(desk: Store) -> None:
    take(desk, mail("<q@acme.example>"))
    stranger = headers_of(mail("<never-ours@elsewhere.example>", sender=EVE))
    result = take(desk, dsn("<b3@mx.desk.example>", stranger))
    assert result.outcome == "quarantined"
    with desk.session() as s:
        assert views.ticket_detail(s, result.ticket_number).row.queue == "quarantine"  # type: ignore[arg-type]
        jo = s.execute(select(Customer).where(Customer.email == "jo@acme.example")).scalar_one()
        assert jo.bounced_at is None  # an unplaced bounce marks nobody
    # A forged signed id places nothing either.
    with desk.session(write=True) as s:
        ours = message_ids.make_message_id(message_ids.threading_key(s), 1, "desk.example")
    forged = ours[:-20] + "0" * 8 + ours[-12:]
    again = take(desk, dsn("<b4@mx.desk.example>", headers_of(mail(forged, sender=ALICE))))
    assert again.outcome == "quarantined"


def test_tickets_show_tells_of_the_bounce(desk: Store, tmp_path: Path) -> None:
    first = take(desk, mail("<q@acme.example>"))
    reply = mail("<answer@desk.example>", sender=ALICE, to=JO, in_reply_to="<q@acme.example>")
    take(desk, reply)
    take(desk, dsn("<b5@mx.desk.example>", headers_of(reply)))
    config = tmp_path / "config.toml"
    config.write_text(f'database_url = "{desk.url}"\n')
    runner = CliRunner(env={"COLUMNS": "200"})
    result = runner.invoke(
        app, ["--config", str(config), "tickets", "show", str(first.ticket_number)]
    )
    assert result.exit_code == 0, result.stderr
    assert "mail to the requester bounced" in result.stdout and "5.1.1" in result.stdout
    shown = runner.invoke(
        app, ["--config", str(config), "tickets", "show", str(first.ticket_number), "--json"]
    )
    assert json.loads(shown.stdout)["requester_bounce_reason"].startswith("5.1.1")


# Subject tags from an earlier help desk ---------------------------------------------------


def test_subject_tag_pattern() -> None:
    assert subject_tags("Re: [#1975] printer") == ["#1975"]
    assert subject_tags("[Ticket#2024031910000012] hi") == ["ticket#2024031910000012"]
    assert subject_tags("AW: [ACME  #123] x [rt.example.com #7]") == [
        "acme#123",
        "rt.example.com#7",
    ]
    assert subject_tags("[Example Corp #9] [example  corp #9]") == ["example corp#9"]
    assert subject_tags("[SD-123] [acme#9]") == ["sd#123", "acme#9"]
    assert subject_tags("[PATCH 2/5] [v1.2] [2] [External] plain") == []


def history(desk: Store) -> int:
    """Imported history: a customer's mail and an agent's answer carrying ACME's tag."""
    first = take(desk, mail("<c1@acme.example>", cc=SAM))
    answer = take(
        desk,
        mail(
            "<a1@acme-helpdesk.example>",
            sender=ALICE,
            to=JO,
            subject="Re: [ACME #123] Printer broken",
            body="We are on it.",
            in_reply_to="<c1@acme.example>",
        ),
    )
    assert answer.ticket_number == first.ticket_number
    assert first.ticket_number is not None
    return first.ticket_number


def test_agents_mail_is_outgoing(desk: Store) -> None:
    number = history(desk)
    with desk.session() as s:
        detail = views.ticket_detail(s, number)
        assert [m.direction for m in detail.messages] == ["in", "out"]
        ticket = tickets.get_ticket(s, number)
        assert ticket.first_response_at is not None and ticket.status == "new"
    # An outgoing message that opens a ticket opens it for the customer it was sent to.
    sent = take(
        desk,
        mail("<cold@desk.example>", sender=f"Support <{SUPPORT}>", to=SAM, subject="Your order"),
    )
    with desk.session() as s:
        assert views.ticket_detail(s, sent.ticket_number).row.requester_email == "sam@acme.example"  # type: ignore[arg-type]
    # Mail from us to nobody but us (an agent forwarding to the support address, a web form
    # writing from it) is not outgoing.
    forwarded = take(desk, mail("<fwd@desk.example>", sender=ALICE, subject="Fwd: call me"))
    with desk.session() as s:
        (message,) = views.ticket_detail(s, forwarded.ticket_number).messages  # type: ignore[arg-type]
        assert message.direction == "in"


def test_a_foreign_tag_threads_for_the_requester_and_ccs_only(desk: Store) -> None:
    number = history(desk)
    tag_only = "[ACME #123] still broken"
    by_requester = take(desk, mail("<f1@acme.example>", subject=tag_only, body="f1"))
    by_cc = take(desk, mail("<f2@acme.example>", sender=SAM, subject=tag_only, body="f2"))
    stranger = take(desk, mail("<f3@evil.example>", sender=EVE, subject=tag_only, body="f3"))
    assert numbers(by_requester, by_cc) == [number, number]
    assert stranger.outcome == "new_ticket" and stranger.ticket_number != number


def test_a_foreign_tag_of_two_tickets_threads_nowhere(desk: Store) -> None:
    # Two earlier desks both wrote bare [#77]: ambiguous, so it names neither ticket.
    for n, customer in enumerate((JO, SAM)):
        opened = take(desk, mail(f"<o{n}@acme.example>", sender=customer, body=f"o{n}"))
        address = customer.split("<")[1].rstrip(">")
        take(
            desk,
            mail(
                f"<ans{n}@desk.example>",
                sender=ALICE,
                to=address,
                subject="[#77] Re: Printer broken",
                body=f"answer {n}",
                in_reply_to=f"<o{n}@acme.example>",
            ),
        )
        assert opened.ticket_number == n + 1
    follow = take(desk, mail("<f@acme.example>", subject="Re: [#77] hello", body="f"))
    assert follow.outcome == "new_ticket" and follow.ticket_number == 3


def test_our_own_tag_keeps_its_rule(desk: Store) -> None:
    take(desk, mail("<a@acme.example>"))
    assert take(desk, mail("<b@acme.example>", subject="Re: [#1] x", body="b")).ticket_number == 1
    eve = take(desk, mail("<c@evil.example>", sender=EVE, subject="[#1] let me in", body="c"))
    assert eve.ticket_number != 1


def test_a_tag_follow_up_before_the_tagged_answer_is_claimed_later(desk: Store) -> None:
    # The inbox is imported first, the Sent folder (the agents' tagged answers) after it.
    first = take(desk, mail("<c1@acme.example>"))
    early = take(desk, mail("<f1@acme.example>", subject="[ACME #123] still broken", body="f"))
    stranger = take(desk, mail("<f2@evil.example>", sender=EVE, subject="[ACME #123] me", body="e"))
    assert len({first.ticket_number, early.ticket_number, stranger.ticket_number}) == 3
    answer = take(
        desk,
        mail(
            "<a1@acme-helpdesk.example>",
            sender=ALICE,
            to=JO,
            subject="Re: [ACME #123] Printer broken",
            body="We are on it.",
            in_reply_to="<c1@acme.example>",
        ),
    )
    assert answer.ticket_number == first.ticket_number  # the older of the two
    with desk.session() as s:
        kept = tickets.get_ticket(s, first.ticket_number)  # type: ignore[arg-type]
        assert kept.message_count == 3
        merged = tickets.get_ticket(s, early.ticket_number)  # type: ignore[arg-type]
        assert merged.merged_into_id == kept.id
        # The stranger's ticket, tag or not, stays apart.
        assert tickets.get_ticket(s, stranger.ticket_number).merged_into_id is None  # type: ignore[arg-type]


# The same mail in any order -------------------------------------------------------------------


def conversations() -> list[tuple[str, bytes]]:
    """~35 messages in 10 conversations; (conversation, raw) in the order they were written.

    Replies with full References, chains with only In-Reply-To, a thread whose root was never
    received, an earlier desk's tag on follow-ups without references, a bounce, an
    auto-reply, a reused Message-ID, a duplicate copy and an unplaceable bounce.
    """
    out: list[tuple[str, bytes]] = []
    minute = 0

    def add(conversation: str, raw: bytes) -> None:
        nonlocal minute
        out.append((conversation, raw))
        minute += 7

    def at() -> int:
        return minute

    ann = "Ann <ann@a.example>"
    add("A", mail("<a1@a.example>", sender=ann, subject="Invoice wrong", minute=at()))
    add("A", mail("<a2@desk.example>", sender=ALICE, to=ann, subject="Re: Invoice wrong",
                  body="Which one?", in_reply_to="<a1@a.example>",
                  references="<a1@a.example>", minute=at()))  # fmt: skip
    add("A", mail("<a3@a.example>", sender=ann, subject="Re: Invoice wrong", body="No. 7",
                  in_reply_to="<a2@desk.example>", references="<a1@a.example> <a2@desk.example>",
                  minute=at()))  # fmt: skip
    add("A", mail("<a4@desk.example>", sender=ALICE, to=ann, subject="Re: Invoice wrong",
                  body="Fixed", in_reply_to="<a3@a.example>",
                  references="<a1@a.example> <a2@desk.example> <a3@a.example>",
                  minute=at()))  # fmt: skip

    bob = "Bob <bob@b.example>"
    add("B", mail("<b1@b.example>", sender=bob, subject="Login", body="cannot log in",
                  minute=at()))  # fmt: skip
    add("B", mail("<b2@desk.example>", sender=ALICE, to=bob, subject="Re: Login",
                  body="reset it", in_reply_to="<b1@b.example>", minute=at()))  # fmt: skip
    add("B", mail("<b3@b.example>", sender=bob, subject="Re: Login", body="did not help",
                  in_reply_to="<b2@desk.example>", minute=at()))  # fmt: skip
    add("B", mail("<b4@b.example>", sender="Bea <bea@b.example>", cc=bob, subject="Re: Login",
                  body="me neither", in_reply_to="<b3@b.example>", minute=at()))  # fmt: skip

    cy = "Cy <cy@c.example>"
    add("C", mail("<c1@c.example>", sender=cy, subject="Re: outage", body="down here too",
                  references="<outage@status.example>", minute=at()))  # fmt: skip
    add("C", mail("<c2@c.example>", sender="Cat <cat@c.example>", subject="Re: outage",
                  body="and here", references="<outage@status.example>",
                  minute=at()))  # fmt: skip
    add("C", mail("<c3@desk.example>", sender=ALICE, to=cy, subject="Re: outage",
                  body="fixed", references="<outage@status.example> <c2@c.example>",
                  minute=at()))  # fmt: skip

    dee = "Dee <dee@d.example>"
    add("D", mail("<d1@d.example>", sender=dee, subject="Printer jam", minute=at()))
    add("D", mail("<d2@acme-desk.example>", sender=ALICE, to=dee,
                  subject="Re: [ACME #4711] Printer jam", body="on it",
                  in_reply_to="<d1@d.example>", minute=at()))  # fmt: skip
    add("D", mail("<d3@d.example>", sender=dee, subject="[ACME #4711] still jammed",
                  body="still", minute=at()))  # fmt: skip
    add("D", mail("<d4@d.example>", sender=dee, subject="Re: [ACME #4711] still jammed",
                  body="hello?", in_reply_to="<d3@d.example>", minute=at()))  # fmt: skip
    add("D", mail("<d5@acme-desk.example>", sender=ALICE, to=dee,
                  subject="[ACME #4711] fixed", body="fixed now", minute=at()))  # fmt: skip

    eli = "Eli <eli@e.example>"
    add("E", mail("<e1@e.example>", sender=eli, subject="Delivery", minute=at()))
    e2 = mail("<e2@desk.example>", sender=ALICE, to=eli, cc="eli-boss@e.example",
              subject="Re: Delivery", body="shipped", in_reply_to="<e1@e.example>",
              references="<e1@e.example>", minute=at())  # fmt: skip
    add("E", e2)
    add("E", dsn("<e3@mx.e.example>", headers_of(e2), recipient="eli-boss@e.example",
                 minute=at()))  # fmt: skip
    add("E", mail("<e4@e.example>", sender=eli, subject="Re: Delivery", body="thanks",
                  in_reply_to="<e2@desk.example>", references="<e1@e.example> <e2@desk.example>",
                  minute=at()))  # fmt: skip

    fay = "Fay <fay@f.example>"
    add("F", mail("<f1@f.example>", sender=fay, subject="Refund", minute=at()))
    add("F", mail("<f2@desk.example>", sender=ALICE, to=fay, subject="Re: Refund",
                  body="done", in_reply_to="<f1@f.example>", references="<f1@f.example>",
                  minute=at()))  # fmt: skip
    add("F", mail("<f3@f.example>", sender=fay, subject="Automatic reply: Re: Refund",
                  body="I am away", in_reply_to="<f2@desk.example>",
                  references="<f1@f.example> <f2@desk.example>",
                  extra=(("Auto-Submitted", "auto-replied"),), minute=at()))  # fmt: skip
    add("F", mail("<f4@f.example>", sender=fay, subject="Re: Refund", body="back, thanks",
                  in_reply_to="<f2@desk.example>", references="<f1@f.example> <f2@desk.example>",
                  minute=at()))  # fmt: skip

    g1 = mail("<form@shop.example>", sender="Gus <gus@g.example>", subject="Order 1", body="1",
              minute=at())  # fmt: skip
    add("G1", g1)
    add("G2", mail("<form@shop.example>", sender="Gil <gil@g.example>", subject="Order 2",
                   body="2", minute=at()))  # fmt: skip
    add("G1", b"Received: by mx2.desk.example\r\n" + g1)  # a second copy: a duplicate

    hal = "Hal <hal@h.example>"
    long_refs = " ".join(f"<h-old{i}@h.example>" for i in range(14))
    add("H", mail("<h1@h.example>", sender=hal, subject="Re: long story", body="one",
                  references=long_refs, minute=at()))  # fmt: skip
    add("H", mail("<h2@desk.example>", sender=ALICE, to=hal, subject="Re: long story",
                  body="two", references=f"{long_refs} <h1@h.example>",
                  minute=at()))  # fmt: skip
    add("H", mail("<h3@h.example>", sender=hal, subject="Re: long story", body="three",
                  references=f"{long_refs} <h1@h.example> <h2@desk.example>",
                  minute=at()))  # fmt: skip
    add("H", mail("<h-old13@h.example>", sender=hal, subject="long story", body="the start",
                  minute=at()))  # fmt: skip

    add("I", dsn("<i1@mx.example>", headers_of(mail("<unknown@x.example>", sender=EVE)),
                 recipient="nobody@x.example", minute=at()))  # fmt: skip
    add("J", mail("<j1@lists.example>", sender="News <news@lists.example>",
                  subject="Weekly digest", body="news", minute=at(),
                  extra=(("List-Id", "<weekly.lists.example>"),)))  # fmt: skip
    return out


def robot(raw: bytes) -> bool:
    return parse_message(raw).robot.automatic


def grouping(store: Store) -> set[frozenset[str]]:
    """Which messages share a ticket, by Message-ID and content: ticket numbers aside.

    Also checks that no person's message waits in quarantine with the robots.
    """
    with store.session() as s:
        people_in_quarantine = s.execute(
            select(Message.message_id)
            .join(Ticket, Ticket.id == Message.ticket_id)
            .join(Queue, Queue.id == Ticket.queue_id)
            .where(Queue.is_quarantine, ~Message.is_auto_reply, ~Message.is_bounce)
            .where(~Message.is_list)
        ).all()
        assert people_in_quarantine == []
        rows = s.execute(select(Message.ticket_id, Message.message_id, Message.content_hash))
        groups: dict[int, set[str]] = {}
        for ticket_id, message_id, content_hash in rows:
            groups.setdefault(ticket_id, set()).add(f"{message_id}/{content_hash[:8]}")
    return {frozenset(g) for g in groups.values()}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_stores(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[Callable[[], Store]]:
    """Empty stores on demand, all on one backend."""
    import shutil

    made: list[Store] = []

    def new() -> Store:
        if request.param == "sqlite":
            path = tmp_path / f"order{len(made)}.db"
            shutil.copyfile(sqlite_template, path)
            store = open_store(f"sqlite:///{path}")
        else:
            schemas: PgSchemas = request.getfixturevalue("pg_schemas")
            store = open_store(pg_url(schemas.new()), create=True)
        with store.session(write=True) as s:
            directory.ensure_queue(s, "general")
            directory.add_agent(s, "alice", email="alice@desk.example")
        made.append(store)
        return store

    yield new
    for store in made:
        store.dispose()


def import_in(store: Store, raws: list[bytes], *, batch: bool) -> None:
    with Ingestor(
        store, default_queue="general", our_addresses=frozenset({SUPPORT}), workers=1
    ) as ingestor:
        items = [(raw, ingest.Source()) for raw in raws]
        if batch:
            ingestor.ingest_batch(items)
        else:
            for item in items:
                ingestor.ingest_batch([item])


def test_arrival_order_does_not_change_the_tickets(fresh_stores: Callable[[], Store]) -> None:
    written = conversations()
    assert len(written) >= 30
    by_date = sorted(written, key=lambda item: parse_message(item[1]).date or START)
    shuffled = list(written)
    random.Random(20260302).shuffle(shuffled)
    orders = {
        "file": written,
        "date": by_date,
        "reversed": list(reversed(written)),
        "shuffled": shuffled,
        # Every second message first: chains arrive as pieces that a later message links.
        "alternate": written[1::2] + written[0::2],
        # A folder of bounces and auto-replies imported before the inbox.
        "robots first": sorted(written, key=lambda item: not robot(item[1])),
    }
    # What the conversations are, by construction (the duplicate copy is not stored twice).
    expected: dict[str, set[str]] = {}
    for conversation, raw in written:
        parsed = parse_message(raw)
        expected.setdefault(conversation, set()).add(
            f"{parsed.message_id}/{parsed.fingerprint[:8]}"
        )
    want = {frozenset(g) for g in expected.values()}
    results: dict[str, set[frozenset[str]]] = {}
    for name, order in orders.items():
        raws = [raw for _, raw in order]
        for batch in (True, False):
            store = fresh_stores()
            import_in(store, raws, batch=batch)
            results[f"{name}/{'one batch' if batch else 'one per batch'}"] = grouping(store)
            import_in(store, raws, batch=True)  # importing it again adds nothing
            assert grouping(store) == results[f"{name}/{'one batch' if batch else 'one per batch'}"]
    for name, got in results.items():
        assert got == want, name


# The schema revision on a store with mail in it -------------------------------------------


def test_downgrade_and_upgrade_keep_the_mail_and_re_import_adds_nothing(
    fresh_stores: Callable[[], Store],
) -> None:
    from supportdesk.store import migrate
    from supportdesk.store.models import MessageRaw

    store = fresh_stores()
    raws = [raw for _, raw in conversations()]
    import_in(store, raws, batch=True)
    before = grouping(store)
    migrate.downgrade(store.engine, "0001")
    stored = len(keys(before))
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM message_raw").scalar() == stored
    migrate.upgrade(store.engine)
    with store.session() as s:
        assert set(s.execute(select(Message.content_hash)).scalars()) == {""}
        assert len(s.execute(select(MessageRaw.message_id)).all()) == stored
    import_in(store, raws, batch=True)  # hashed from the raw bytes as they are compared
    assert grouping(store) == before


def keys(groups: set[frozenset[str]]) -> set[str]:
    return {key for group in groups for key in group}
