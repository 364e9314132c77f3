"""Canned replies as TOML files: exact round trip, all-or-nothing import, the picker's filter."""

from __future__ import annotations

import pytest

from supportdesk.desk import canned
from supportdesk.errors import ValidationError
from supportdesk.store import Store

FILE = '''# Our replies.
[[canned]]
name = "hello"
title = "Hello"
body = """
Hello {customer.first_name|there},
thanks for writing."""

# Refunds close the ticket.
[[canned]]
name = "refund-ok"  # keep this name
title = "Refund approved"
body = "Your refund for #{ticket.number} is on its way."
status = "solved"
tags = ["refund"]

[canned.variants.ja]
title = "返金"
body = "#{ticket.number} の返金を手配しました。"
'''


def test_export_import_round_trips_exactly(store: Store) -> None:
    with store.session(write=True) as s:
        summary = canned.import_canned(s, FILE)
        assert summary.added == ["hello", "refund-ok"]
    with store.session() as s:
        exported = canned.export_canned(s)
        entry = canned.definition(canned.get_canned(s, "refund-ok"))
    assert exported == FILE
    assert entry.status == "solved" and entry.languages == ["en", "ja"]
    with store.session(write=True) as s:
        again = canned.import_canned(s, exported)
    assert again.unchanged == ["hello", "refund-ok"] and not again.changed


def test_import_validates_everything_first_and_changes_nothing(store: Store) -> None:
    with store.session(write=True) as s:
        canned.add_canned(s, "keep", "Keep", "Kept {customer.name}")
    broken = FILE.replace('status = "solved"', 'status = "done"').replace(
        "{customer.first_name|there}", "{customer.frist_name}"
    )
    with pytest.raises(ValidationError) as caught, store.session(write=True) as s:
        canned.import_canned(s, broken, origin="replies.toml")
    message = str(caught.value)
    assert "2 problems" in message
    assert "replies.toml line 5: canned reply 'hello': body: unknown placeholder" in message
    assert "canned reply 'refund-ok': status: unknown status 'done'" in message
    with store.session() as s:
        assert [r.name for r in canned.list_canned(s)] == ["keep"]


def test_programmatic_add_round_trips_through_the_canonical_text(store: Store) -> None:
    body = 'Tricky "quotes" \\ backslashes """ and\ttabs\n'
    with store.session(write=True) as s:
        canned.add_canned(s, "tricky", 'A "title"', body)
    with store.session() as s:
        exported = canned.export_canned(s)
    with store.session(write=True) as s:
        canned.remove_canned(s, "tricky")
        canned.import_canned(s, exported)
        assert canned.get_canned(s, "tricky").body == body


def test_fuzzy_find_ranks_names_then_titles_then_bodies(store: Store) -> None:
    with store.session(write=True) as s:
        canned.import_canned(s, FILE)
        canned.add_canned(s, "shipping", "Where is my parcel", "Your refund is separate.")
    with store.session() as s:
        assert [m.name for m in canned.find_canned(s, "refund")] == ["refund-ok", "shipping"]
        assert [m.name for m in canned.find_canned(s, "rfok")] == ["refund-ok"]
        assert [m.name for m in canned.find_canned(s, "parcel")] == ["shipping"]
        assert [m.name for m in canned.find_canned(s, "返金")] == ["refund-ok"]
        assert canned.find_canned(s, "nothing-like-it") == []
        assert len(canned.find_canned(s, "")) == 3


def test_a_default_fills_only_a_missing_value() -> None:
    body = "Hi {customer.first_name|there}{customer.email|}!"
    assert canned.render(body, {"customer.first_name": "Jo"}) == "Hi Jo!"
    assert canned.render(body, {"customer.first_name": "  "}) == "Hi there!"
    with pytest.raises(ValidationError, match="not a placeholder"):
        canned.placeholders("{customer.name!r|x}")


def test_a_stored_reply_that_no_longer_validates_is_listed_with_its_problem(
    store: Store,
) -> None:
    """A row from before definitions existed may use a placeholder that is not known any
    more: the picker still lists it (and the others), and using it is a clear error."""
    from supportdesk.desk import directory, tickets
    from supportdesk.desk.events import Change
    from supportdesk.store.models import CannedReply

    with store.session(write=True) as s:
        canned.import_canned(s, FILE)
        s.add(CannedReply(name="legacy", title="Old one", body="Call {customer.phone} today"))
        directory.ensure_queue(s, "general")
        ticket = tickets.create_ticket(
            s,
            subject="Where is it",
            requester_email="jo@acme.example",
            queue="general",
            change=Change.by("agent:test"),
        )
    with store.session() as s:
        found = {m.name: m for m in canned.find_canned(s, "")}
        assert set(found) == {"hello", "legacy", "refund-ok"}
        assert "{customer.phone}" in found["legacy"].problem
        assert found["hello"].problem == ""
        assert [m.name for m in canned.find_canned(s, "today")] == ["legacy"]
        row = tickets.get_ticket(s, ticket.number)
        with pytest.raises(ValidationError, match=r"'legacy'.*unknown placeholder"):
            canned.render_canned_for(s, "legacy", row, None)
