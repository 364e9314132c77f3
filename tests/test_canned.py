"""Canned replies: the template language (pure functions) and the stored replies (both backends)."""

from __future__ import annotations

import pytest

from supportdesk.desk import canned, directory, tickets
from supportdesk.desk.events import Change
from supportdesk.errors import NotFoundError, ValidationError
from supportdesk.store import Store

ALICE = Change.by("agent:alice")


def test_placeholders_lists_names_and_ignores_escapes() -> None:
    body = "Hi {customer.name}, ticket {ticket.number} ({ ticket.number }), {{not.this}}"
    assert canned.placeholders(body) == {"customer.name", "ticket.number"}
    assert canned.placeholders("no braces at all") == set()


def test_render_substitutes_every_placeholder_and_unescapes_braces() -> None:
    body = "Dear {customer.name},\n{{literal}} and {{{ticket.number}}}\n-- {agent.name}"
    values = {"customer.name": "山田 太郎", "ticket.number": "42", "agent.name": "Alice"}
    assert canned.render(body, values) == "Dear 山田 太郎,\n{literal} and {42}\n-- Alice"


def test_render_inserts_values_verbatim_without_expanding_them() -> None:
    values = {"customer.name": "{agent.name} {{x}} {0.__class__}"}
    assert canned.render("Hi {customer.name}", values) == "Hi {agent.name} {{x}} {0.__class__}"


def test_render_names_every_missing_or_blank_placeholder_at_once() -> None:
    with pytest.raises(ValidationError) as caught:
        canned.render("{b} {a} {c} {a}", {"c": "   "})
    message = str(caught.value)
    assert "{a}" in message and "{b}" in message and "{c}" in message
    assert message.index("{a}") < message.index("{b}") < message.index("{c}")


@pytest.mark.parametrize(
    "body",
    [
        "{",
        "}",
        "{}",
        "{customer name}",
        "{0}",
        "{customer.name!r}",
        "{customer.name:>10}",
        "{items[0]}",
        "{customer.name()}",
        "{__import__('os')}",
        "{a\nb}",
    ],
)
def test_anything_but_a_dotted_name_is_refused_not_evaluated(body: str) -> None:
    with pytest.raises(ValidationError):
        canned.placeholders(body)
    with pytest.raises(ValidationError):
        canned.render(body, {})


def test_dunder_names_are_only_dictionary_keys() -> None:
    assert canned.render("{__class__}", {"__class__": "plain"}) == "plain"
    with pytest.raises(ValidationError, match="__class__"):
        canned.render("{__class__}", {})


@pytest.fixture
def desk(store: Store) -> Store:
    with store.session(write=True) as s:
        directory.ensure_queue(s, "billing")
        directory.add_agent(
            s, "alice", email="alice@desk.example", name="Alice Archer", signature="-- Alice"
        )
        tickets.create_ticket(
            s,
            subject="Refund please",
            requester_email="jo@acme.example",
            requester_name="Jo Bloggs",
            queue="billing",
            change=ALICE,
        )
        tickets.create_ticket(
            s, subject="Who am I", requester_email="anon@gmail.com", queue="billing", change=ALICE
        )
    return store


def test_add_get_list_update_remove(desk: Store) -> None:
    with desk.session(write=True) as s:
        canned.add_canned(s, "refund-ok", "Refund approved", "Hi {customer.name}, done.")
        canned.add_canned(s, "hello", "", "Hello!")
    with desk.session() as s:
        assert [r.name for r in canned.list_canned(s)] == ["hello", "refund-ok"]
        assert canned.get_canned(s, "hello").title == "hello"
        assert canned.get_canned(s, "refund-ok").body == "Hi {customer.name}, done."
    with desk.session(write=True) as s:
        before = canned.get_canned(s, "refund-ok").updated_at
        reply = canned.update_canned(
            s, "refund-ok", title="Refund sent", body="Sent, {customer.name}.", new_name="refund"
        )
        assert reply.updated_at >= before and reply.updated_at.tzinfo is not None
    with desk.session() as s:
        reply = canned.get_canned(s, "refund")
        assert (reply.title, reply.body) == ("Refund sent", "Sent, {customer.name}.")
        with pytest.raises(NotFoundError, match="hello, refund"):
            canned.get_canned(s, "refund-ok")
    with desk.session(write=True) as s:
        canned.remove_canned(s, "hello")
    with desk.session() as s:
        assert [r.name for r in canned.list_canned(s)] == ["refund"]


def test_saving_refuses_bad_names_duplicates_unknown_placeholders_and_bad_syntax(
    desk: Store,
) -> None:
    with desk.session(write=True) as s:
        canned.add_canned(s, "hello", "Hello", "Hello {customer.name}")
        with pytest.raises(ValidationError, match="already exists"):
            canned.add_canned(s, "hello", "Again", "Hi")
        with pytest.raises(ValidationError, match="name"):
            canned.add_canned(s, "Bad Name", "", "Hi")
        with pytest.raises(ValidationError, match="needs a body"):
            canned.add_canned(s, "empty", "", "  \n")
        with pytest.raises(ValidationError, match=r"\{customer\.nmae\}"):
            canned.add_canned(s, "typo", "", "Hi {customer.nmae}")
        with pytest.raises(ValidationError, match="unmatched"):
            canned.add_canned(s, "brace", "", "Hi {customer.name")
        canned.add_canned(s, "other", "", "Other")
        with pytest.raises(ValidationError, match="already exists"):
            canned.update_canned(s, "other", new_name="hello")
        with pytest.raises(ValidationError, match="unknown placeholder"):
            canned.update_canned(s, "other", body="{ticket.owner}")
        with pytest.raises(NotFoundError):
            canned.remove_canned(s, "missing")


def test_render_canned_fills_from_ticket_customer_and_agent(desk: Store) -> None:
    body = (
        "Dear {customer.name} of {customer.organisation},\n"
        "about #{ticket.number} ({ticket.subject}, {ticket.queue}/{ticket.status}):\n"
        "{agent.signature}"
    )
    with desk.session(write=True) as s:
        canned.add_canned(s, "full", "Full", body)
        canned.add_canned(s, "short", "Short", "Thanks, {agent.name}")
    with desk.session() as s:
        alice = directory.get_agent(s, "alice")
        jo_ticket = tickets.get_ticket(s, 1)
        assert canned.render_canned(s, "full", jo_ticket, alice) == (
            "Dear Jo Bloggs of Acme,\nabout #1 (Refund please, billing/new):\n-- Alice"
        )
        anonymous = tickets.get_ticket(s, 2)
        with pytest.raises(ValidationError) as caught:
            canned.render_canned(s, "full", anonymous, alice)
        assert "{customer.name}" in str(caught.value)
        assert "{customer.organisation}" in str(caught.value)
        with pytest.raises(ValidationError, match=r"\{agent\.name\}"):
            canned.render_canned(s, "short", jo_ticket, None)
