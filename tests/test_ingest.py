"""Threading received mail into tickets, on SQLite and PostgreSQL (see the `store` fixture)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from sqlmodel import col, select

from supportdesk.desk import directory, ingest, message_ids, tickets, views
from supportdesk.desk.events import Change
from supportdesk.mail.parse import parse_message
from supportdesk.store import Store
from supportdesk.store.models import Attachment, AttachmentBlob, MessageRaw, Ticket, utcnow

SUPPORT = "support@desk.example"


def mail(
    subject: str = "Refund please",
    sender: str = "Jo Bloggs <jo@acme.example>",
    body: str = "I would like a refund.",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    cc: str | None = None,
    headers: dict[str, str] | None = None,
    attachment: bytes | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = SUPPORT
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = message_id or f"<{abs(hash((subject, sender, body)))}@mail.example>"
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if attachment is not None:
        msg.add_attachment(
            attachment, maintype="application", subtype="pdf", filename="../../invoice.pdf"
        )
    return msg.as_bytes()


@pytest.fixture
def desk(store: Store) -> Store:
    with store.session(write=True) as s:
        directory.ensure_queue(s, "general")
        directory.add_agent(s, "alice", email="alice@desk.example")
    return store


def take(store: Store, raw: bytes) -> ingest.IngestResult:
    with store.session(write=True) as s:
        return ingest.ingest(
            s,
            parse_message(raw),
            raw,
            default_queue="general",
            our_addresses=frozenset({SUPPORT}),
        )


def test_new_mail_opens_a_ticket_and_keeps_every_byte(desk: Store) -> None:
    raw = mail(attachment=b"%PDF-1.4 fake")
    result = take(desk, raw)
    assert (result.outcome, result.ticket_number) == ("new_ticket", 1)
    with desk.session() as s:
        detail = views.ticket_detail(s, 1)
        assert detail.row.requester_email == "jo@acme.example"
        assert detail.row.requester_name == "Jo Bloggs"
        assert detail.row.subject == "Refund please"
        assert "refund" in detail.messages[0].body_text
        assert bytes(s.get(MessageRaw, result.message_id).raw) == raw  # type: ignore[union-attr]
        (attachment,) = s.exec(select(Attachment)).all()
        assert attachment.filename == "invoice.pdf"  # no path from the sender survives
        assert bytes(s.get(AttachmentBlob, attachment.sha256).content) == b"%PDF-1.4 fake"  # type: ignore[union-attr]


def test_same_attachment_twice_is_stored_once(desk: Store) -> None:
    take(desk, mail("one", attachment=b"same bytes"))
    take(desk, mail("two", attachment=b"same bytes"))
    with desk.session() as s:
        assert len(s.exec(select(Attachment)).all()) == 2
        assert len(s.exec(select(AttachmentBlob)).all()) == 1


def test_a_message_id_already_stored_is_a_duplicate(desk: Store) -> None:
    raw = mail()
    assert take(desk, raw).outcome == "new_ticket"
    again = take(desk, raw)
    assert (again.outcome, again.ticket_number) == ("duplicate", 1)
    with desk.session() as s:
        assert views.count_tickets(s) == 1
        assert views.ticket_detail(s, 1).row.message_count == 1


def test_replies_thread_by_in_reply_to_and_references(desk: Store) -> None:
    take(desk, mail(message_id="<first@acme.example>"))
    reply = take(
        desk,
        mail(
            "Re: Refund please",
            body="Any news?",
            message_id="<second@acme.example>",
            in_reply_to="<first@acme.example>",
        ),
    )
    assert (reply.outcome, reply.ticket_number) == ("follow_up", 1)
    # No In-Reply-To, but References name a stored message: still the same ticket.
    late = take(
        desk,
        mail(
            "Fwd: something",
            body="see below",
            message_id="<third@x.example>",
            references="<unknown@x> <first@acme.example>",
        ),
    )
    assert late.ticket_number == 1


def test_our_signed_message_ids_thread_and_forged_ones_do_not(desk: Store) -> None:
    take(desk, mail())
    with desk.session(write=True) as s:
        key = message_ids.threading_key(s)
    ours = message_ids.make_message_id(key, 1, "desk.example")
    assert take(desk, mail("Re: hi", body="b1", in_reply_to=ours)).ticket_number == 1
    forged = ours[:-20] + "0" * 8 + ours[-12:]
    result = take(desk, mail("Re: hi", body="b2", in_reply_to=forged))
    assert (result.outcome, result.ticket_number) == ("new_ticket", 2)


def test_subject_tag_only_for_people_who_belong_to_the_ticket(desk: Store) -> None:
    take(desk, mail(cc="Sam <sam@acme.example>"))
    from_requester = take(desk, mail("Re: [#1] Refund", body="from jo"))
    from_cc = take(desk, mail("[#1] me too", sender="sam@acme.example", body="from sam"))
    from_agent = take(desk, mail("[#1] note", sender="alice@desk.example", body="from alice"))
    stranger = take(desk, mail("[#1] let me in", sender="eve@evil.example", body="from eve"))
    assert [r.ticket_number for r in (from_requester, from_cc, from_agent)] == [1, 1, 1]
    assert (stranger.outcome, stranger.ticket_number) == ("new_ticket", 2)
    with desk.session() as s:
        assert views.ticket_detail(s, 1).ccs == ["sam@acme.example"]


def test_a_reply_reopens_solved_and_wakes_pending(desk: Store) -> None:
    take(desk, mail(message_id="<a@x>"))
    with desk.session(write=True) as s:
        tickets.set_status(s, 1, "solved", Change.by("agent:alice"))
    result = take(desk, mail("Re: x", body="still broken", in_reply_to="<a@x>", message_id="<b@x>"))
    assert result.outcome == "reopened"
    with desk.session(write=True) as s:
        assert tickets.get_ticket(s, 1).status == "open"
        tickets.set_status(s, 1, "pending", Change.by("agent:alice"))
    take(desk, mail("Re: x", body="here is the info", in_reply_to="<b@x>", message_id="<c@x>"))
    with desk.session() as s:
        assert tickets.get_ticket(s, 1).status == "open"


def test_a_reply_to_a_closed_ticket_opens_a_linked_one(desk: Store) -> None:
    take(desk, mail(message_id="<a@x>"))
    with desk.session(write=True) as s:
        tickets.set_status(s, 1, "closed", Change.by("agent:alice"))
    result = take(desk, mail("Re: x", body="again", in_reply_to="<a@x>"))
    assert (result.outcome, result.ticket_number) == ("new_ticket", 2)
    with desk.session() as s:
        assert views.ticket_detail(s, 2).related_to == 1
        assert tickets.get_ticket(s, 1).status == "closed"


def test_replies_to_a_merged_ticket_land_on_its_target(desk: Store) -> None:
    take(desk, mail("first", message_id="<a@x>"))
    take(desk, mail("second", body="other", message_id="<b@x>"))
    with desk.session(write=True) as s:
        tickets.merge(s, 2, 1, Change.by("agent:alice"))
    result = take(desk, mail("Re: second", body="more", in_reply_to="<b@x>"))
    assert result.ticket_number == 1


AUTO_REPLY = {"Auto-Submitted": "auto-replied", "X-Autoreply": "yes"}


def test_robots_never_open_tickets(desk: Store) -> None:
    take(desk, mail(message_id="<a@x>"))
    answering = take(
        desk, mail("Out of office", body="away", in_reply_to="<a@x>", headers=AUTO_REPLY)
    )
    assert (answering.outcome, answering.ticket_number, answering.robot) == ("robot", 1, True)
    with desk.session(write=True) as s:
        tickets.set_status(s, 1, "solved", Change.by("agent:alice"))
    take(desk, mail("Out of office", body="away 2", in_reply_to="<a@x>", headers=AUTO_REPLY))
    with desk.session() as s:
        assert tickets.get_ticket(s, 1).status == "solved"  # a robot never reopens
    stray = take(
        desk,
        mail(
            "Delivery Status Notification", sender="mailer-daemon@mx.example", body="undeliverable"
        ),
    )
    assert stray.outcome == "quarantined"
    with desk.session() as s:
        ticket = s.exec(select(Ticket).where(Ticket.number == stray.ticket_number)).one()
        detail = views.ticket_detail(s, ticket.number)
        assert detail.row.queue == "quarantine"
        assert detail.messages[0].is_bounce
        assert views.overview(s).quarantine == 1


def test_mail_from_an_agent_is_recorded_as_theirs(desk: Store) -> None:
    take(desk, mail(message_id="<a@x>"))
    take(
        desk, mail("Re: x", sender="Alice <alice@desk.example>", body="on it", in_reply_to="<a@x>")
    )
    with desk.session() as s:
        assert tickets.get_ticket(s, 1).status == "new"  # an agent's mail wakes nothing
        from supportdesk.store.models import Message

        authors = s.exec(select(Message.author_agent_id).order_by(col(Message.id))).all()
        assert authors[0] is None and authors[1] is not None


def test_unparseable_mail_is_kept_whole(desk: Store) -> None:
    raw = b"\xd0\xcf\x11\xe0 not a mail at all \x00\x01"
    result = take(desk, raw)
    assert result.outcome == "new_ticket"
    with desk.session() as s:
        assert bytes(s.get(MessageRaw, result.message_id).raw) == raw  # type: ignore[union-attr]
        detail = views.ticket_detail(s, result.ticket_number)  # type: ignore[arg-type]
        assert detail.row.requester_email == ingest.UNKNOWN_SENDER
        assert detail.messages[0].parse_problems
    assert take(desk, raw).outcome == "duplicate"
