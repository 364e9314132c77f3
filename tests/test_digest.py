"""The notification digest on SQLite and PostgreSQL, sent through the outbox to a real SMTP
server (aiosmtpd): one per window to an away agent, none to one at a console, never to a
customer; a failed send stays in the outbox."""

from __future__ import annotations

import json
import re
import shlex
import threading
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from supportdesk.config import Settings, parse_settings
from supportdesk.desk import digest, directory, notifications, outbox, presence, tickets
from supportdesk.desk.events import Change
from supportdesk.desk.ingest import ingest
from supportdesk.desk.intake.summary import Summary
from supportdesk.desk.outbox import Sender
from supportdesk.mail.parse import parse_message
from supportdesk.store import Store
from supportdesk.store.models import Agent, IgnoredMail, Notification, OutboxItem, Ticket
from tests.smtp_server import SmtpServer, start_server
from tests.test_bulk_cli import run
from tests.test_send import Clock

CUSTOMER = "jo@acme.example"
AGENTS = {"alice": "alice@desk.example", "bob": "bob@desk.example"}


def settings(smtp_port: int, extra: str = "") -> Settings:
    return parse_settings(
        f"""[notifications]
digest_minutes = 15
away_minutes = 10
{extra}
[[mailboxes]]
name = "support"
address = "support@desk.example"
imap_host = "127.0.0.1"
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
smtp_security = "none"
smtp_auth = "none"
sent_copy = false
from_name = "Desk Support"
""",
        Path("/tmp/test-config.toml"),
    )


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = start_server()
    yield server
    server.stop()


@pytest.fixture
def desk(store: Store) -> Store:
    with store.session(write=True) as s:
        directory.ensure_queue(s, "general")
        for handle, address in AGENTS.items():
            directory.add_agent(s, handle, email=address, name=handle.title())
    return store


def assigned(store: Store, handle: str, subject: str, by: str = "agent:carol") -> int:
    """A customer's ticket assigned to `handle` by someone else (so they are told)."""
    with store.session(write=True) as s:
        number = tickets.create_ticket(
            s, subject=subject, requester_email=CUSTOMER, queue="general", change=Change.by(by)
        ).number
        tickets.assign(s, number, handle, Change.by(by))
    return number


def received(smtp: SmtpServer) -> list[tuple[list[str], Message]]:
    return [(m.rcpt_tos, message_from_bytes(m.data)) for m in smtp.recorder.messages]


def text_of(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(message.get_content_charset() or "utf-8")


def test_one_digest_per_window_to_the_away_agent_only(desk: Store, smtp: SmtpServer) -> None:
    clock = Clock()
    first = assigned(desk, "alice", "Refund\r\nBcc: evil@acme.example please")
    bobs = assigned(desk, "bob", "Invoice")
    with desk.session(write=True) as s:  # bob's console beats: he is at the desk
        presence.beat(s, "c-bob", "agent:bob", None, now=clock.at)
    config = settings(smtp.port)
    for _ in range(2):
        Sender(desk, config, now=clock).drain()
    [(rcpt, mail)] = received(smtp)
    assert rcpt == [AGENTS["alice"]]
    assert mail["To"] == f"Alice <{AGENTS['alice']}>"
    assert mail["Subject"] == "1 notification while you were away"
    assert mail["Auto-Submitted"] == "auto-replied"
    body = text_of(mail)
    assert f"#{first}  assigned to you: Refund Bcc: evil@acme.example please" in body
    assert f"supportdesk tickets show {first}" in body
    assert f"#{bobs}" not in body

    # Within the window a new notification waits; after it, it alone goes out.
    second = assigned(desk, "alice", "Broken login")
    clock.at += timedelta(minutes=5)
    Sender(desk, config, now=clock).drain()
    assert len(smtp.recorder.messages) == 1
    clock.at += timedelta(minutes=11)
    with desk.session(write=True) as s:
        presence.beat(s, "c-bob", "agent:bob", bobs, now=clock.at)
    Sender(desk, config, now=clock).drain()
    assert len(smtp.recorder.messages) == 2
    later = text_of(received(smtp)[1][1])
    assert f"#{second}  assigned to you" in later and f"#{first} " not in later
    every_rcpt = {r for rcpt, _ in received(smtp) for r in rcpt}
    assert every_rcpt == {AGENTS["alice"]}  # never the customer, never bob at his console
    with desk.session() as s:
        bob_mailed = s.exec(
            select(Notification.mailed_at).where(
                col(Notification.agent_id) == directory.get_agent(s, "bob").id
            )
        ).all()
        assert bob_mailed == [None]


def test_read_opted_out_and_present_agents_get_none(desk: Store, smtp: SmtpServer) -> None:
    clock = Clock()
    assigned(desk, "alice", "Read already")
    assigned(desk, "bob", "Opted out")
    with desk.session(write=True) as s:
        notifications.mark_read(s, "alice", None)
        digest.set_wanted(s, "bob", False)
    Sender(desk, settings(smtp.port), now=clock).drain()
    assert smtp.recorder.messages == []
    clock.at += timedelta(minutes=1)  # the sender looks for due digests once a minute
    with desk.session(write=True) as s:
        digest.set_wanted(s, "bob", True)
        presence.beat(s, "c-bob", "agent:bob", None, now=clock.at - timedelta(minutes=9))
    Sender(desk, settings(smtp.port), now=clock).drain()
    assert smtp.recorder.messages == []  # bob's console beat 9 minutes ago: not away yet
    clock.at += timedelta(minutes=2)
    Sender(desk, settings(smtp.port), now=clock).drain()
    assert [rcpt for rcpt, _ in received(smtp)] == [[AGENTS["bob"]]]


@pytest.mark.parametrize(
    ("agent_address", "recipient", "why"),
    [
        (None, CUSTOMER, "own address only"),
        # The agent's address became the desk's own after queueing: it would come back in.
        ("support@desk.example", "support@desk.example", "desk's own mailboxes"),
    ],
)
def test_a_digest_readdressed_is_refused_unsent(
    desk: Store, smtp: SmtpServer, agent_address: str | None, recipient: str, why: str
) -> None:
    clock = Clock()
    assigned(desk, "alice", "Refund")
    config = settings(smtp.port)
    with desk.session(write=True) as s:
        [queued] = digest.queue_due(s, config, clock.at).queued
        s.connection().execute(
            update(OutboxItem)
            .where(col(OutboxItem.id) == queued.outbox_id)
            .values(recipients=recipient)
        )
        if agent_address is not None:
            s.connection().execute(
                update(Agent).where(col(Agent.handle) == "alice").values(email=agent_address)
            )
    report = Sender(desk, config, now=clock).drain()
    assert report.failed == [queued.outbox_id]
    assert smtp.recorder.messages == []
    with desk.session() as s:
        item = outbox.get_item(s, queued.outbox_id)
    assert (item.state, item.ticket_number, item.kind) == ("failed", None, "digest")
    assert why in item.last_error


def test_a_failed_digest_stays_in_the_outbox_and_can_be_retried(
    desk: Store, smtp: SmtpServer
) -> None:
    clock = Clock()
    assigned(desk, "alice", "Refund")
    config = settings(smtp.port)
    smtp.recorder.data_replies.extend(["451 4.3.0 Try again later", "550 5.1.1 No such user"])
    first = Sender(desk, config, now=clock).drain()
    assert first.deferred and not first.sent
    clock.at += timedelta(hours=2)
    second = Sender(desk, config, now=clock).drain()
    assert second.failed == first.deferred
    item_id = first.deferred[0]
    with desk.session() as s:
        [failed] = outbox.list_items(s)
    assert (failed.id, failed.state, failed.ticket_number) == (item_id, "failed", None)
    assert "550 5.1.1" in failed.last_error
    assert smtp.recorder.messages == []  # and no second digest: its notifications are mailed
    with desk.session(write=True) as s:
        outbox.retry(s, item_id, Change.by("agent:alice", at=clock.at))
    Sender(desk, config, now=clock).drain()
    assert [rcpt for rcpt, _ in received(smtp)] == [[AGENTS["alice"]]]


def test_no_digest_when_off_to_our_own_mailbox_or_without_a_sending_mailbox(
    desk: Store, smtp: SmtpServer
) -> None:
    clock = Clock()
    assigned(desk, "alice", "Refund")
    off = settings(smtp.port).model_copy(
        update={
            "notifications": settings(smtp.port).notifications.model_copy(
                update={"digest_minutes": 0}
            )
        }
    )
    with desk.session(write=True) as s:
        assert digest.queue_due(s, off, clock.at) == digest.Due([], [])
        directory.add_agent(s, "desk", email="support@desk.example")
    assigned(desk, "desk", "Loop")
    with desk.session(write=True) as s:
        queued = digest.queue_due(s, settings(smtp.port), clock.at).queued
    assert [q.handle for q in queued] == ["alice"]  # the mailbox's own address: it would loop


def test_the_cli_shows_and_cancels_a_digest_and_turns_it_off(
    desk: Store, smtp: SmtpServer, tmp_path: Path
) -> None:
    clock = Clock()
    assigned(desk, "alice", "Refund")
    with desk.session(write=True) as s:
        [queued] = digest.queue_due(s, settings(smtp.port), clock.at).queued
    config = tmp_path / "config.toml"
    config.write_text(f'database_url = "{desk.url}"\n', encoding="utf-8")
    code, out, _ = run(config, "outbox", "list", "--json")
    assert code == 0
    [shown] = json.loads(out)
    assert (shown["id"], shown["ticket_number"], shown["kind"], shown["subject"]) == (
        queued.outbox_id,
        None,
        "digest",
        "1 notification while you were away",
    )
    assert run(config, "outbox", "list")[0] == 0
    assert run(config, "outbox", "cancel", str(queued.outbox_id))[0] == 0
    Sender(desk, settings(smtp.port), now=clock).drain()
    assert smtp.recorder.messages == []
    assert run(config, "agents", "digest", "alice", "--off")[0] == 0
    code, out, _ = run(config, "agents", "list", "--json")
    assert {a["handle"]: a["digest"] for a in json.loads(out)} == {"alice": False, "bob": True}
    code, out, _ = run(config, "agents", "list")
    assert code == 0 and "digest" in out
    assert [line.split()[3] for line in out.splitlines() if "@desk.example" in line] == [
        "no",
        "yes",
    ]
    code, _, err = run(config, "agents", "digest", "nobody", "--on")
    assert code != 0 and "nobody" in err


def test_two_senders_at_once_queue_one_digest(desk: Store, smtp: SmtpServer) -> None:
    """A `supportdesk send` beside the feeder: the second waits on the first's marked rows
    (or its write lock) and then finds nothing owed, so one digest is queued, not two."""
    clock = Clock()
    assigned(desk, "alice", "Refund")
    config = settings(smtp.port)
    second: list[list[digest.Queued]] = []

    def queue() -> None:
        with desk.session(write=True) as s:
            second.append(digest.queue_due(s, config, clock.at).queued)

    with desk.session(write=True) as s:
        first = digest.queue_due(s, config, clock.at).queued
        other = threading.Thread(target=queue)
        other.start()
        other.join(0.5)  # give it time to reach the rows this transaction holds
    other.join()
    assert [q.count for q in first] == [1]
    assert second == [[]]


def test_one_bad_agent_address_skips_that_agent_only(desk: Store, smtp: SmtpServer) -> None:
    """An address SMTP cannot take (no dot in the domain) is reported and passed over; the
    others still get theirs, and the address queued is the checked (IDNA) form."""
    clock = Clock()
    with desk.session(write=True) as s:
        directory.add_agent(s, "carl", email="carl@books.example", name="Carl")
        for handle, address in (("alice", "alice@localhost"), ("carl", "carl@bücher.example")):
            s.connection().execute(
                update(Agent).where(col(Agent.handle) == handle).values(email=address)
            )
    assigned(desk, "alice", "Refund")
    assigned(desk, "bob", "Invoice")
    assigned(desk, "carl", "Books")
    with desk.session(write=True) as s:
        due = digest.queue_due(s, settings(smtp.port), clock.at)
    assert [q.handle for q in due.queued] == ["bob", "carl"]
    assert [(k.handle, "alice@localhost" in k.reason) for k in due.skipped] == [("alice", True)]
    with desk.session() as s:
        recipients = {i.agent_id: i.recipients for i in s.exec(select(OutboxItem)).all()}
        alice = directory.get_agent(s, "alice")
        assert alice.id not in recipients
        assert "carl@xn--bcher-kva.example" in recipients.values()
        [mailed] = s.exec(
            select(Notification.mailed_at).where(col(Notification.agent_id) == alice.id)
        ).all()
        assert mailed is None  # still owed once the address is fixed
    clock.at += timedelta(minutes=1)
    report = Sender(desk, settings(smtp.port), now=clock).drain()
    assert any("alice" in e for e in report.errors)
    assert sorted(r for rcpt, _ in received(smtp) for r in rcpt) == [
        AGENTS["bob"],
        "carl@xn--bcher-kva.example",
    ]


def test_a_notification_between_two_queuers_waits_for_the_next_window(
    desk: Store, smtp: SmtpServer
) -> None:
    """The second queuer waits while the first queues alice's digest; a notification that
    commits in between is not mailed by the second at once (two digests in one window) but
    left for the next window."""
    clock = Clock()
    assigned(desk, "alice", "Refund")
    config = settings(smtp.port)
    second: list[list[digest.Queued]] = []

    def queue() -> None:
        with desk.session(write=True) as s:
            second.append(digest.queue_due(s, config, clock.at).queued)

    between = threading.Thread(target=assigned, args=(desk, "alice", "Broken login"))
    other = threading.Thread(target=queue)
    with desk.session(write=True) as s:
        first = digest.queue_due(s, config, clock.at).queued
        between.start()
        # On PostgreSQL it commits now; SQLite's one writer waits for this transaction.
        between.join(10 if desk.dialect == "postgresql" else 0.2)
        other.start()
        other.join(0.5 if desk.dialect == "postgresql" else 0.2)  # to reach what this holds
    between.join()
    other.join()
    assert [q.count for q in first] == [1]
    assert second == [[]]
    with desk.session() as s:
        unmailed = s.exec(
            select(Notification.id).where(col(Notification.mailed_at).is_(None))
        ).all()
    assert len(unmailed) == 1


def test_an_agents_reply_to_a_digest_opens_no_ticket_and_is_kept(
    desk: Store, smtp: SmtpServer
) -> None:
    """The digest asks replies to the agent's own address; one that reaches the desk anyway
    (In-Reply-To or References naming the digest) is kept raw and counted, not a ticket."""
    clock = Clock()
    assigned(desk, "alice", "Refund")
    Sender(desk, settings(smtp.port), now=clock).drain()
    [(_, mail)] = received(smtp)
    assert mail["Reply-To"] == f"Alice <{AGENTS['alice']}>"
    for header in ("In-Reply-To", "References"):
        raw = (
            f"From: Alice <{AGENTS['alice']}>\r\nTo: support@desk.example\r\n"
            f"Subject: Re: {mail['Subject']}\r\nMessage-ID: <r-{header}@desk.example>\r\n"
            f"{header}: {mail['Message-ID']}\r\nDate: Sat, 05 Dec 2026 02:00:00 +0000\r\n\r\n"
            "Thanks, on it.\r\n"
        ).encode()
        with desk.session(write=True) as s:
            first = ingest(s, parse_message(raw), raw, default_queue="general")
            again = ingest(s, parse_message(raw), raw, default_queue="general")
        assert (first.outcome, first.ticket_number) == ("digest_reply", None)
        assert again.outcome == "duplicate"
    with desk.session() as s:
        assert len(s.exec(select(Ticket)).all()) == 1  # alice's assigned one only
        kept = s.exec(select(IgnoredMail)).all()
    assert [(k.reason, k.sender, b"on it" in k.raw) for k in kept] == [
        ("digest_reply", AGENTS["alice"], True)
    ] * 2
    summary = Summary()
    summary.count(first)
    assert (summary.digest_replies, summary.messages, summary.new_tickets) == (1, 0, 0)


def test_only_a_digest_with_its_agent_goes_without_a_ticket(desk: Store, smtp: SmtpServer) -> None:
    """The store itself refuses outbox mail that names no ticket unless it is a digest for
    an agent (a reply without its ticket would have no history and no send-time checks)."""
    clock = Clock()
    assigned(desk, "alice", "Refund")
    with desk.session(write=True) as s:
        [queued] = digest.queue_due(s, settings(smtp.port), clock.at).queued
    for values in ({"kind": "reply"}, {"agent_id": None}):
        with pytest.raises(IntegrityError), desk.session(write=True) as s:
            s.connection().execute(
                update(OutboxItem).where(col(OutboxItem.id) == queued.outbox_id).values(values)
            )


def test_every_command_the_digest_names_works(
    desk: Store, smtp: SmtpServer, tmp_path: Path
) -> None:
    clock = Clock()
    number = assigned(desk, "alice", "Refund")
    Sender(desk, settings(smtp.port), now=clock).drain()
    [(_, mail)] = received(smtp)
    body = text_of(mail)
    commands = re.findall(r"`(supportdesk [^`]+)`", body)
    assert f"supportdesk tickets show {number}" in body
    assert any(" read" in c for c in commands) and any(" --off" in c for c in commands)
    config = tmp_path / "config.toml"
    config.write_text(f'database_url = "{desk.url}"\nagent = "alice"\n', encoding="utf-8")
    for command in [f"supportdesk tickets show {number}", *commands]:
        code, _, err = run(config, *shlex.split(command)[1:])
        assert code == 0, (command, err)
    with desk.session() as s:
        unread = notifications.unread_count(s, "alice")
    assert unread == 0


def test_a_bulk_assignment_is_one_line_whose_command_lists_its_tickets(
    desk: Store, smtp: SmtpServer, tmp_path: Path
) -> None:
    from supportdesk.desk import bulk

    clock = Clock()
    single = assigned(desk, "alice", "Refund")
    numbers = [assigned(desk, "bob", f"Order {i}") for i in range(3)]
    with desk.session(write=True) as s:
        result = bulk.assign(s, bulk.ids_for_numbers(s, numbers), "alice", Change.by("agent:bob"))
    Sender(desk, settings(smtp.port), now=clock).drain()
    [mail] = [m for rcpt, m in received(smtp) if rcpt == [AGENTS["alice"]]]
    assert mail["Subject"] == "2 notifications while you were away"
    body = text_of(mail).replace("\r\n", "\n")
    assert f"batch {result.batch_id[:8]}  assigned you 3 tickets\n" in body
    command = f"supportdesk tickets list batch:{result.batch_id}"
    assert f"by agent:bob; list them: {command}\n" in body
    assert f"#{single}  assigned to you: Refund" in body
    assert not any(f"#{n} " in body for n in numbers)  # one line, not one per ticket
    config = tmp_path / "config.toml"
    config.write_text(f'database_url = "{desk.url}"\nagent = "alice"\n', encoding="utf-8")
    code, out, err = run(config, *shlex.split(command)[1:], "--ids")
    assert (code, sorted(int(n) for n in out.split())) == (0, numbers), err
