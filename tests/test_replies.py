"""The composer's domain API: drafts, canned replies, preview, queuing and collisions.

Runs on SQLite and PostgreSQL (the `store` fixture).
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from sqlmodel import col, select

from supportdesk.desk import canned, replies, tickets
from supportdesk.desk.events import Change
from supportdesk.desk.replies import CollisionError, ReplySpec
from supportdesk.errors import NotFoundError, ValidationError
from supportdesk.mail.parse import parse_message
from supportdesk.store import Store
from supportdesk.store.models import (
    Draft,
    Event,
    Message,
    MessageRaw,
    OutboxItem,
    Ticket,
    TicketCC,
)
from tests.replies_helpers import ALICE, SETUP, SUPPORT, customer_mail, make_desk, receive


@pytest.fixture
def desk(store: Store) -> Store:
    with store.session(write=True) as s:
        make_desk(s)
    return store


def _ticket(desk: Store, raw: bytes | None = None) -> int:
    with desk.session(write=True) as s:
        return receive(s, raw or customer_mail(cc="Carol <carol@acme.example>"))


def test_reply_draft_starts_with_requester_tagged_subject_and_detected_language(
    desk: Store,
) -> None:
    number = _ticket(
        desk, customer_mail(subject="Re: RE: 返金について", body="返金をお願いします。")
    )
    with desk.session(write=True) as s:
        draft = replies.open_draft(s, number, ALICE, SETUP)
    assert draft.kind == "reply"
    assert draft.to == "Jo Bloggs <jo@acme.example>"
    assert draft.cc == ""
    assert draft.subject == f"Re: [#{number}] 返金について"
    assert draft.language == "ja"
    assert draft.in_reply_to_id is not None


def test_reply_all_keeps_ccs_never_our_addresses_or_agents(desk: Store) -> None:
    raw = customer_mail(
        cc="Carol <carol@acme.example>, help@desk.example, bob@desk.example",
        to=f"{SUPPORT}, Dan <dan@acme.example>",
    )
    number = _ticket(desk, raw)
    with desk.session(write=True) as s:
        draft = replies.open_draft(s, number, ALICE, SETUP, kind="reply_all")
    assert draft.to == "Jo Bloggs <jo@acme.example>"
    assert "carol@acme.example" in draft.cc and "dan@acme.example" in draft.cc
    for ours in (SUPPORT, "help@desk.example", "bob@desk.example", "jo@acme.example"):
        assert ours not in draft.cc


def test_draft_is_resumed_and_autosaved_and_kind_switch_keeps_typed_text(desk: Store) -> None:
    number = _ticket(desk)
    with desk.session(write=True) as s:
        draft = replies.open_draft(s, number, ALICE, SETUP)
        replies.save_draft(s, draft.id, ALICE, body="Half a thought", cc="x@y.example, half")
    with desk.session(write=True) as s:
        again = replies.open_draft(s, number, ALICE, SETUP)
        assert again.id == draft.id
        assert (again.body, again.cc) == ("Half a thought", "x@y.example, half")
        forward = replies.open_draft(s, number, ALICE, SETUP, kind="forward")
        assert forward.kind == "forward" and forward.body == "Half a thought"
        assert forward.to == "" and forward.cc == "x@y.example, half"
        assert forward.subject.startswith(f"Fwd: [#{number}]")
        other = replies.open_draft(s, number, "agent:bob", SETUP)
        assert other.id != draft.id
        assert replies.tickets_with_drafts(s, [number, 999]) == {number}
        assert replies.tickets_with_drafts(s, [number], author="agent:carol") == set()
        assert {d.author for d in replies.drafts_for_ticket(s, number)} == {ALICE, "agent:bob"}
    with desk.session(write=True) as s:
        replies.discard_draft(s, draft.id, ALICE)
        with pytest.raises(NotFoundError):
            replies.save_draft(s, draft.id, ALICE, body="late autosave")
        with pytest.raises(NotFoundError):
            replies.get_draft(s, other.id, ALICE)  # someone else's draft


def test_attachments_are_kept_in_the_store_removable_and_bounded(
    desk: Store, tmp_path: Path
) -> None:
    number = _ticket(desk)
    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF-1.4 report")
    with desk.session(write=True) as s:
        draft = replies.open_draft(s, number, ALICE, SETUP)
        first = replies.add_attachment_file(s, draft.id, ALICE, path)
        second = replies.add_attachment(s, draft.id, ALICE, "../../etc/passwd", b"x")
        assert (first.filename, first.size, first.content_type) == (
            "report.pdf",
            15,
            "application/pdf",
        )
        assert second.filename == "passwd"
        with pytest.raises(ValidationError, match="over the"):
            replies.add_attachment(
                s, draft.id, ALICE, "big.bin", b"0" * replies.MAX_ATTACHMENT_BYTES
            )
        replies.remove_attachment(s, draft.id, ALICE, second.id)
    path.unlink()  # the file goes; the draft still has its bytes
    with desk.session(write=True) as s:
        draft = replies.get_draft(s, draft.id, ALICE)
        assert [a.filename for a in draft.attachments] == ["report.pdf"]
        replies.save_draft(s, draft.id, ALICE, body="See attached.")
        shown = replies.preview(s, draft.id, ALICE, SETUP)
    assert shown.attachments == [("report.pdf", "application/pdf", 15)]


def test_preview_is_the_exact_mail_with_threading_headers_and_signature(desk: Store) -> None:
    raw = customer_mail(message_id="<first@mail.example>", references="<root@mail.example>")
    number = _ticket(desk, raw)
    with desk.session(write=True) as s:
        draft = replies.open_draft(s, number, ALICE, SETUP)
        replies.save_draft(s, draft.id, ALICE, body="Done, refunded.", quote_original=True)
        shown = replies.preview(s, draft.id, ALICE, SETUP)
    parsed = parse_message(shown.raw)
    assert parsed.in_reply_to == "<first@mail.example>"
    assert parsed.references == ["<root@mail.example>", "<first@mail.example>"]
    assert parsed.subject == f"Re: [#{number}] Refund please"
    assert parsed.from_ is not None and parsed.from_.address == SUPPORT
    assert shown.text.startswith("Done, refunded.\n\n-- \nAlice\nDesk Support\n")
    assert "> I would like a refund." in shown.text
    assert shown.envelope == ["jo@acme.example"]
    assert dict(shown.headers)["Message-ID"].startswith(f"<sd.{number}.")


def test_send_queues_mail_event_and_status_in_one_change_and_deletes_the_draft(
    desk: Store,
) -> None:
    number = _ticket(desk)
    with desk.session(write=True) as s:
        draft = replies.open_draft(s, number, ALICE, SETUP)
        replies.save_draft(
            s, draft.id, ALICE, body="Refunded.", status_after="pending", cc="New <new@x.example>"
        )
        done = replies.send_draft(s, draft.id, ALICE, SETUP)
    assert done.status == "pending" and done.outbox_id is not None
    assert done.recipients == ["jo@acme.example", "new@x.example"]
    with desk.session() as s:
        item = s.get(OutboxItem, done.outbox_id)
        assert item is not None and item.state == "queued" and item.kind == "reply"
        assert item.message_id_header == done.message_id
        message = s.get(Message, item.message_id)
        assert message is not None and message.direction == "out"
        stored = s.get(MessageRaw, message.id)
        assert stored is not None and bytes(stored.raw) == bytes(item.raw)
        ticket = tickets.get_ticket(s, number)
        assert ticket.first_response_at is not None
        batch = {
            e.batch_id
            for e in s.scalars(
                select(Event).where(
                    col(Event.ticket_id) == ticket.id,
                    col(Event.action).in_(["message_out", "status"]),
                )
            )
        }
        assert len(batch) == 1  # one change: the reply and the status
        assert s.get(TicketCC, (ticket.id, "new@x.example")) is not None
        assert replies.drafts_for_ticket(s, number) == []


def test_forward_attaches_the_original_and_is_no_first_response(desk: Store) -> None:
    number = _ticket(desk)
    with desk.session(write=True) as s:
        draft = replies.open_draft(s, number, ALICE, SETUP, kind="forward")
        replies.save_draft(s, draft.id, ALICE, to="vendor@supplier.example", body="FYI")
        shown = replies.preview(s, draft.id, ALICE, SETUP)
        assert [a[1] for a in shown.attachments] == ["message/rfc822"]
        replies.send_draft(s, draft.id, ALICE, SETUP)
    with desk.session() as s:
        assert tickets.get_ticket(s, number).first_response_at is None


def test_note_kind_adds_a_note_and_mails_nothing(desk: Store) -> None:
    number = _ticket(desk)
    with desk.session(write=True) as s:
        draft = replies.open_draft(s, number, ALICE, SETUP, kind="note")
        replies.save_draft(s, draft.id, ALICE, body="Customer is a VIP")
        with pytest.raises(ValidationError, match="not mailed"):
            replies.preview(s, draft.id, ALICE, SETUP)
        done = replies.send_draft(s, draft.id, ALICE, SETUP)
    assert done.note_id is not None and done.outbox_id is None
    with desk.session() as s:
        assert s.scalars(select(OutboxItem)).first() is None


def test_collision_stops_the_send_shows_what_arrived_and_force_sends(desk: Store) -> None:
    number = _ticket(desk)
    with desk.session(write=True) as s:
        draft = replies.open_draft(s, number, ALICE, SETUP)
        replies.save_draft(s, draft.id, ALICE, body="Answer")
    with desk.session(write=True) as s:
        receive(
            s,
            customer_mail(subject=f"Re: [#{number}] Refund please", body="Never mind, found it!"),
        )
        tickets.add_note(s, number, "Bob: I'm on it", Change.by("agent:bob"))
    with pytest.raises(CollisionError) as caught, desk.session(write=True) as s:
        replies.send_draft(s, draft.id, ALICE, SETUP)
    arrived = caught.value.arrived
    assert [a.kind for a in arrived] == ["message_in", "note"]
    assert "Never mind" in arrived[0].summary and arrived[1].who == "agent:bob"
    with desk.session() as s:
        assert s.scalars(select(OutboxItem)).first() is None
        assert replies.get_draft(s, draft.id, ALICE).body == "Answer"  # the draft stays
    with desk.session(write=True) as s:
        done = replies.send_draft(s, draft.id, ALICE, SETUP, force=True)
    assert done.outbox_id is not None


def test_a_status_change_since_is_a_collision_only_when_the_send_sets_status(desk: Store) -> None:
    number = _ticket(desk)
    with desk.session(write=True) as s:
        version = tickets.get_ticket(s, number).version
        tickets.set_status(s, number, "on-hold", Change.by("agent:bob"))
    spec = ReplySpec(kind="reply", body="Hi", to="jo@acme.example", base_version=version)
    with desk.session(write=True) as s:
        replies.queue_reply(s, number, spec, SETUP, Change.by(ALICE))
    with desk.session(write=True) as s:
        tickets.set_status(s, number, "open", Change.by("agent:bob"))
    spec.status_after = "solved"
    with pytest.raises(CollisionError, match="status"), desk.session(write=True) as s:
        replies.queue_reply(s, number, spec, SETUP, Change.by(ALICE))


def test_canned_reply_with_default_language_variant_and_macro(desk: Store) -> None:
    number = _ticket(desk, customer_mail(sender="jo@acme.example", body="お世話になっております。"))
    text = '''[[canned]]
name = "refund-ok"
title = "Refund approved"
body = """
Hello {customer.first_name|there}, your refund for #{ticket.number} is on its way."""
status = "solved"
priority = "low"
tags = ["refund"]

[canned.variants.ja]
title = "返金"
body = """
{customer.name|お客}様、#{ticket.number} の返金を手配しました。"""
'''
    with desk.session(write=True) as s:
        canned.add_canned_text(s, text)
        draft = replies.open_draft(s, number, ALICE, SETUP)
        shown = replies.preview_canned(s, draft.id, ALICE, "refund-ok", language="en")
        assert shown.title == "Refund approved" and shown.status == "solved"
        assert replies.get_draft(s, draft.id, ALICE).canned is None  # a preview records nothing
        rendered = replies.use_canned(s, draft.id, ALICE, "refund-ok")
        assert rendered.language == "ja" and rendered.languages == ["en", "ja"]
        assert rendered.text == f"お客様、#{number} の返金を手配しました。"
        english = replies.use_canned(s, draft.id, ALICE, "refund-ok", language="en")
        assert english.text == f"Hello there, your refund for #{number} is on its way."
        replies.save_draft(s, draft.id, ALICE, body=english.text)
        done = replies.send_draft(s, draft.id, ALICE, SETUP)
    assert done.status == "solved"
    with desk.session() as s:
        ticket = s.scalars(select(Ticket).where(col(Ticket.number) == number)).one()
        assert ticket.priority == "low"
        assert tickets.ticket_tags(s, ticket.id) == ["refund"]  # type: ignore[arg-type]
        assert ticket.solved_at is not None


def test_header_injection_through_subject_name_or_address_is_impossible(desk: Store) -> None:
    # A subject whose encoded word decodes to a line break and a header of its own.
    hostile = base64.b64encode(b"Help\r\nBcc: victim@evil.example").decode()
    raw = (
        "From: jo@acme.example\r\nTo: support@desk.example\r\n"
        f"Subject: =?utf-8?b?{hostile}?=\r\nMessage-ID: <hostile@acme.example>\r\n"
        "\r\nHello\r\n"
    ).encode()
    number = _ticket(desk, raw)
    with desk.session(write=True) as s:
        draft = replies.open_draft(s, number, ALICE, SETUP)
        replies.save_draft(
            s,
            draft.id,
            ALICE,
            body="Hi",
            subject="Re: x\r\nBcc: victim@evil.example",
            to='"Jo\r\nBcc: victim@evil.example" <jo@acme.example>',
        )
        with pytest.raises(ValidationError, match="line break"):
            replies.preview(s, draft.id, ALICE, SETUP)
        replies.save_draft(
            s, draft.id, ALICE, to="jo@acme.example", cc="jo@acme.example\nBcc: v@evil.example"
        )
        with pytest.raises(ValidationError):
            replies.preview(s, draft.id, ALICE, SETUP)
        replies.save_draft(s, draft.id, ALICE, cc="")
        shown = replies.preview(s, draft.id, ALICE, SETUP)
    names = [n.lower() for n, _ in parse_message(shown.raw).headers]
    assert "bcc" not in names
    assert shown.envelope == ["jo@acme.example"]
    assert shown.subject == "Re: x Bcc: victim@evil.example"
    with desk.session(write=True) as s:
        fresh = replies.open_draft(s, number, "agent:bob", SETUP)
        assert fresh.subject == f"Re: [#{number}] Help Bcc: victim@evil.example"
        replies.save_draft(s, fresh.id, "agent:bob", body="Hi")
        from_ticket = replies.preview(s, fresh.id, "agent:bob", SETUP)
    assert "bcc" not in [n.lower() for n, _ in parse_message(from_ticket.raw).headers]


def test_queue_reply_refuses_what_cannot_be_sent(desk: Store) -> None:
    number = _ticket(desk)
    with desk.session(write=True) as s:
        with pytest.raises(ValidationError, match="empty"):
            replies.queue_reply(
                s,
                number,
                ReplySpec(kind="reply", body=" ", to="a@b.example"),
                SETUP,
                Change.by(ALICE),
            )
        with pytest.raises(ValidationError, match="recipient"):
            replies.queue_reply(
                s, number, ReplySpec(kind="reply", body="x"), SETUP, Change.by(ALICE)
            )
        with pytest.raises(ValidationError, match="no mailbox can send"):
            replies.queue_reply(
                s,
                number,
                ReplySpec(kind="reply", body="x", to="a@b.example"),
                replies.MailSetup(),
                Change.by(ALICE),
            )
        with pytest.raises(ValidationError, match="unknown kind"):
            replies.open_draft(s, number, ALICE, SETUP, kind="shout")


def test_original_and_signature_as_the_composer_shows_them(desk: Store) -> None:
    """What the composer shows below the text is what build_message adds to the mail."""
    from dataclasses import replace

    number = _ticket(desk, customer_mail(body="Line one\nLine two"))
    with desk.session(write=True) as s:
        draft = replies.open_draft(s, number, ALICE, SETUP)
        original = replies.original_of(s, draft.id, ALICE)
        assert original.endswith("> Line one\n> Line two")
        assert "Jo Bloggs wrote:" in original
        assert replies.signature_for(s, SETUP, ALICE) == SETUP.signature
        assert replies.signature_for(s, replace(SETUP, signature=None), ALICE) == "-- Alice"
        replies.save_draft(s, draft.id, ALICE, body="Thanks", quote_original=True)
        shown = replies.preview(s, draft.id, ALICE, SETUP)
        assert original in shown.text
        assert shown.text.index("Alice\nDesk Support") < shown.text.index("Line one")
        forward = replies.switch_kind(s, draft.id, ALICE, "forward", SETUP)
        assert "---------- Forwarded message ----------" in replies.original_of(
            s, forward.id, ALICE
        )
        replies.switch_kind(s, draft.id, ALICE, "note", SETUP)
        assert replies.original_of(s, draft.id, ALICE) == ""


def test_a_file_to_attach_is_checked_with_one_clear_reason(tmp_path: Path) -> None:
    """What the attachment picker and add_attachment_file refuse, each in the agent's words."""
    fine = tmp_path / "fine.txt"
    fine.write_bytes(b"hello")
    assert replies.check_attachment_file(fine) == 5
    big = tmp_path / "big.iso"
    with big.open("wb") as handle:  # sparse: takes no disk
        handle.truncate(replies.MAX_ATTACHMENT_BYTES + 1024 * 1024)
    cases = {
        tmp_path / "replies_sent.txt": "replies_sent.txt: no such file",
        tmp_path: "is a folder: attach a file inside it",
        big: "big.iso: 26.0 MB is over the 25.0 MB a message can carry",
        Path("/proc/self/mem"): "cannot read /proc/self/mem",  # unreadable even for root
    }
    for path, words in cases.items():
        with pytest.raises(ValidationError, match=re.escape(words)):
            replies.check_attachment_file(path)
    with pytest.raises(ValidationError, match=r"5 bytes is over the 4 bytes left of the 25.0 MB"):
        replies.check_attachment_file(fine, room=4)


def test_a_merged_tickets_replies_keep_their_delivery_state(desk: Store) -> None:
    """A merge moves the messages and their outbox items: the state is found on the target."""
    from supportdesk.desk import outbox, views

    source = _ticket(desk)
    target = _ticket(desk, customer_mail(subject="Another question"))
    with desk.session(write=True) as s:
        done = replies.queue_reply(
            s,
            source,
            ReplySpec(kind="reply", body="On its way", to="jo@acme.example"),
            SETUP,
            Change.by(ALICE),
        )
        tickets.merge(s, source, target, Change.by(ALICE))
    with desk.session() as s:
        states = outbox.delivery_states(s, target)
        shown = views.ticket_detail(s, target).messages
    assert done.message_row_id in states and states[done.message_row_id].state == "queued"
    out = [m for m in shown if m.direction == "out"]
    assert len(out) == 1 and out[0].outbox is not None and out[0].delivery == "queued"


def test_a_merge_moves_outbox_items_and_drafts_to_the_target(desk: Store) -> None:
    """What happens to a reply after a merge (here a cancel) is the target's history; a draft
    follows unless its author has one there already."""
    from supportdesk.desk import outbox

    source = _ticket(desk)
    target = _ticket(desk, customer_mail(subject="Another question"))
    with desk.session(write=True) as s:
        done = replies.queue_reply(
            s,
            source,
            ReplySpec(kind="reply", body="On its way", to="jo@acme.example"),
            SETUP,
            Change.by(ALICE),
        )
        kept = replies.open_draft(s, source, ALICE, SETUP)
        replies.save_draft(s, kept.id, ALICE, body="Also: the invoice")
        theirs = replies.open_draft(s, target, "agent:bob", SETUP)
        left = replies.open_draft(s, source, "agent:bob", SETUP)
        tickets.merge(s, source, target, Change.by(ALICE))
    with desk.session() as s:
        source_id = tickets.get_ticket(s, source).id
        target_id = tickets.get_ticket(s, target).id
        item = s.get(OutboxItem, done.outbox_id)
        assert item is not None and item.ticket_id == target_id
        drafts = {d.id: d.ticket_id for d in s.exec(select(Draft)).all()}
        assert drafts == {kept.id: target_id, theirs.id: target_id, left.id: source_id}
    with desk.session(write=True) as s:
        shown = outbox.cancel(s, done.outbox_id, Change.by(ALICE))
    assert shown.ticket_number == target
    with desk.session() as s:
        cancels = s.exec(select(Event).where(col(Event.action) == "mail_cancel")).all()
        assert [e.ticket_id for e in cancels] == [target_id]


def _send_with_status(desk: Store, number: int, status: str = "pending") -> replies.Queued:
    with desk.session(write=True) as s:
        draft = replies.open_draft(s, number, ALICE, SETUP)
        replies.save_draft(s, draft.id, ALICE, body="Refunded.", status_after=status)
        return replies.send_draft(s, draft.id, ALICE, SETUP)


def test_undoing_a_send_with_a_status_cancels_the_reply_still_queued(desk: Store) -> None:
    """Undo takes back the status and the mail that has not left yet, and says so."""
    from supportdesk.desk import undo

    number = _ticket(desk)
    done = _send_with_status(desk, number)
    with desk.session(write=True) as s:
        result = undo.undo_latest(s, ALICE)
    assert (result.replies_cancelled, result.replies_sent) == (1, 0)
    assert "1 queued reply cancelled" in result.describe()
    with desk.session() as s:
        item = s.get(OutboxItem, done.outbox_id)
        assert item is not None and item.state == "cancelled"
        ticket = tickets.get_ticket(s, number)
        assert ticket.status != "pending"
        assert ticket.first_response_at is None  # the only public reply never went out
    with desk.session(write=True) as s:  # the undo itself can be undone: the status comes back
        again = undo.undo_batch(s, result.batch_id)
    assert "mail_cancel" in again.kept and again.replies_cancelled == 0
    with desk.session() as s:
        assert tickets.get_ticket(s, number).status == "pending"
        item = s.get(OutboxItem, done.outbox_id)
        assert item is not None and item.state == "cancelled"


def test_undoing_a_send_whose_reply_left_says_the_mail_cannot_be_called_back(
    desk: Store,
) -> None:
    from supportdesk.desk import undo

    number = _ticket(desk)
    done = _send_with_status(desk, number, "solved")
    with desk.session(write=True) as s:
        item = s.get(OutboxItem, done.outbox_id)
        assert item is not None
        item.state = "sent"  # as desk.outbox's Sender leaves it after the server's 250
        s.add(item)
    with desk.session(write=True) as s:
        result = undo.undo_latest(s, ALICE)
    assert (result.replies_cancelled, result.replies_sent) == (0, 1)
    assert "1 reply was already handed to the mail server" in result.describe()
    with desk.session() as s:
        assert tickets.get_ticket(s, number).status != "solved"
        item = s.get(OutboxItem, done.outbox_id)
        assert item is not None and item.state == "sent"


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
AROUND_THE_CLOCK = """\
[[sla]]
queue = "general"
first_response = "4h"
next_response = "2h"

[sla.hours]
""" + "".join(
    f'{day} = "00:00-24:00"\n' for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
)


def test_a_forward_or_a_cancelled_reply_leaves_the_customer_waiting(desk: Store) -> None:
    """The next response's due time took any message of ours for an answer: a forward to a
    vendor, or a reply cancelled before it went, made the customer's mail look answered."""
    from supportdesk.desk import outbox
    from supportdesk.desk.sla import storage

    with desk.session(write=True) as s:
        storage.set_policies(s, AROUND_THE_CLOCK)
    number = _ticket(desk)

    def due() -> int | None:
        with desk.session() as s:
            return tickets.get_ticket(s, number).sla_due

    def send(kind: str, **fields: str) -> int | None:
        with desk.session(write=True) as s:
            draft = replies.open_draft(s, number, ALICE, SETUP, kind=kind)
            replies.save_draft(s, draft.id, ALICE, **fields)
            return replies.send_draft(s, draft.id, ALICE, SETUP).outbox_id

    send("reply", body="Looking into it")  # the first response
    with desk.session(write=True) as s:
        receive(s, customer_mail(subject=f"Re: [#{number}] Refund please", body="Any news?"))
    waiting = due()
    assert waiting is not None  # the next response is due two hours after the customer's mail
    send("forward", to="vendor@supplier.example", body="FYI")
    assert due() == waiting
    cancelled = send("reply", body="Done")
    assert due() is None  # answered: nothing is due
    assert cancelled is not None
    with desk.session(write=True) as s:
        outbox.cancel(s, cancelled, Change.by("agent:alice"))
    assert due() == waiting
