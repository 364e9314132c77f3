"""Undo of a batch, on SQLite and PostgreSQL: exact old values back, or a clear refusal."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import select

from supportdesk.desk import bulk, history, tickets, views
from supportdesk.desk.events import Change
from supportdesk.desk.undo import latest_undoable, undo_batch, undo_latest
from supportdesk.errors import ConflictError, NotFoundError, ValidationError
from supportdesk.store import Store
from supportdesk.store.models import Ticket, utcnow
from tests.replies_helpers import SETUP
from tests.test_bulk_cli import row, run, seed, snapshot


@pytest.fixture
def config(tmp_path: Path, store: Store) -> Path:
    seed(store)
    path = tmp_path / "config.toml"
    path.write_text(f'database_url = "{store.url}"\nagent = "lead"\n')
    return path


def state(store: Store) -> list[tuple[object, ...]]:
    """Everything undo must restore, without the versions (undo is a change: they go up)."""
    return [r[:5] + r[6:] for r in snapshot(store)]


def stamps(store: Store) -> dict[int, tuple[datetime | None, datetime | None]]:
    with store.session() as s:
        return {t.number: (t.solved_at, t.closed_at) for t in s.exec(select(Ticket)).all()}


def batch_of(out: str) -> str:
    return str(json.loads(out)["batch_id"])


def test_undo_restores_exact_old_values(config: Path, store: Store) -> None:
    before, times = state(store), stamps(store)
    commands = [
        ("tickets", "assign", "carol", "all"),
        ("tickets", "status", "pending", "all"),
        ("tickets", "priority", "urgent", "queue:tech"),
        ("tickets", "move", "tech", "queue:billing"),
        ("tickets", "tag", "a,b", "#1,2"),
        ("tickets", "untag", "vip", "all"),
        ("tickets", "unassign", "#5,6"),
    ]
    batches = []
    for command in commands:
        code, out, err = run(config, *command, "--yes", "--json")
        assert code == 0, err
        batches.append(batch_of(out))
    assert state(store) != before
    for batch in reversed(batches):
        code, out, err = run(config, "undo", batch, "--json")
        assert code == 0, err
    assert state(store) == before
    assert stamps(store) == times  # solved_at / closed_at too, #8 solved again as it was


def test_undo_json_default_batch_and_actor(config: Path, store: Store) -> None:
    code, out, _ = run(config, "tickets", "reassign", "--from", "alice", "--to", "bob", "--json")
    batch = batch_of(out)
    code, out, err = run(config, "undo", "--json")  # the latest batch of agent:lead
    assert code == 0, err
    result = json.loads(out)
    assert set(result) == {
        "batch_id",
        "undone",
        "tickets",
        "events",
        "actor",
        "started_at",
        "held",
        "kept",
        "replies_cancelled",
        "replies_sent",
    }
    assert (result["undone"], result["tickets"], result["events"]) == (batch, 4, 4)
    assert (result["actor"], result["held"], result["kept"]) == ("agent:lead", {"assign": 4}, {})
    code, out, _ = run(config, "history", "--batch", result["batch_id"], "--json")
    events = json.loads(out)
    assert {(e["actor"], e["action"], e["old_value"], e["new_value"]) for e in events} == {
        (f"undo:{batch}", "assign", "bob", "alice")
    }
    assert [e["version"] for e in events] == [3] * 4  # create 1, reassign 2, undo 3
    code, _, err = run(config, "undo", batch)
    assert code == 1 and f"already undone by batch {result['batch_id']}" in err


def test_undo_of_an_undo_redoes(config: Path, store: Store) -> None:
    before = state(store)
    code, out, _ = run(config, "tickets", "status", "solved", "all", "--yes", "--json")
    after = state(store)
    code, out, _ = run(config, "undo", batch_of(out), "--json")
    assert state(store) == before
    code, out, err = run(config, "undo", json.loads(out)["batch_id"])
    assert code == 0, err
    assert state(store) == after
    code, out, err = run(config, "undo")  # plain undo: agent:lead's batches, not undone ones
    assert code == 1 and "nothing to undo" in err


def test_undo_refuses_when_a_ticket_changed_since(config: Path, store: Store) -> None:
    code, out, _ = run(config, "tickets", "assign", "carol", "all", "--yes", "--json")
    batch = batch_of(out)
    with store.session(write=True) as s:
        tickets.set_priority(s, 3, "high", Change.by("agent:bob"))
        tickets.add_tags(s, 6, ["later"], Change.by("agent:bob"))
    before = snapshot(store)
    code, out, err = run(config, "undo", batch)
    assert code == 1
    assert "2 ticket(s) changed since: #3, #6" in err and "nothing was undone" in err
    assert snapshot(store) == before  # versions included: nothing at all was written
    code, out, _ = run(config, "history", "--json", "--limit", "500")
    assert not any(e["actor"].startswith("undo:") for e in json.loads(out))


def test_undo_keeps_notes_and_reverses_the_rest(config: Path, store: Store) -> None:
    """A note in the batch stays; the batch's other changes are taken back (they used to be
    refused whole, "notes stay")."""
    before = state(store)
    change = Change.by("agent:lead")
    with store.session(write=True) as s:
        tickets.add_note(s, 1, "called the customer", change)
        tickets.assign(s, 2, "carol", change)
        tickets.add_note(s, 2, "handed to carol", change)
    code, out, err = run(config, "undo", change.batch_id)
    assert code == 0, err
    assert out.startswith(f"undone batch {change.batch_id} (1 assign, 2 note by agent:lead at ")
    assert "1 change(s) on 1 ticket(s)" in out and out.rstrip().endswith("kept: 2 note")
    assert state(store) == before
    with store.session() as s:
        assert [n.body for n in views.ticket_detail(s, 2).notes] == ["handed to carol"]
        assert [n.body for n in views.ticket_detail(s, 1).notes] == ["called the customer"]


def test_undo_refuses_merges_notes_alone_and_unknown_batches(config: Path, store: Store) -> None:
    change = Change.by("agent:lead")
    with store.session(write=True) as s:
        tickets.add_note(s, 1, "called the customer", change)
    before = snapshot(store)
    code, _, err = run(config, "undo", change.batch_id)
    assert code == 1
    assert f"nothing to undo in batch {change.batch_id}: it holds only 1 note" in err
    assert snapshot(store) == before
    code, _, err = run(config, "undo", "no-such-batch")
    assert code == 1 and "no batch no-such-batch" in err


def test_a_later_note_does_not_block_undo(config: Path, store: Store) -> None:
    """Assign, then a note on the same ticket: undo of the assignment still works."""
    before = state(store)
    code, out, _ = run(config, "tickets", "assign", "carol", "#3", "--json")
    batch = batch_of(out)
    with store.session(write=True) as s:
        tickets.add_note(s, 3, "carol has it now", Change.by("agent:lead"))
        tickets.add_note(s, 3, "a colleague's remark", Change.by("agent:bob"))
    code, out, err = run(config, "undo", batch)
    assert code == 0, err
    assert state(store) == before
    with store.session(write=True) as s:  # a real change since still blocks
        tickets.assign(s, 4, "carol", Change.by("agent:lead"))
        tickets.add_note(s, 4, "n", Change.by("agent:lead"))
        tickets.set_priority(s, 4, "high", Change.by("agent:bob"))
        with pytest.raises(ConflictError, match="#4"):
            undo_latest(s, "agent:lead")


def test_plain_undo_steps_over_note_only_batches_and_says_which(config: Path, store: Store) -> None:
    code, out, _ = run(config, "tickets", "priority", "urgent", "#5", "--json")
    batch = batch_of(out)
    with store.session(write=True) as s:
        tickets.add_note(s, 6, "unrelated note", Change.by("agent:lead"))
        tickets.add_note(s, 5, "why urgent", Change.by("agent:lead"))
    with store.session() as s:
        found = latest_undoable(s, "agent:lead")
        assert found is not None and found.batch_id == batch
        assert latest_undoable(s, "agent:nobody") is None
    code, out, err = run(config, "undo")
    assert code == 0, err
    assert f"undone batch {batch} (1 priority by agent:lead at " in out
    assert row(store, 5).priority == "normal"
    code, _, err = run(config, "undo")
    assert code == 1 and "nothing to undo: no changes by agent:lead left to undo" in err


def test_undo_of_rule_changes_made_during_ingest(store: Store) -> None:
    """The README's promise: what rules did to incoming mail can be undone; the mail stays."""
    from supportdesk.desk import canned, directory
    from supportdesk.desk.ingest import Source
    from supportdesk.desk.intake.pipeline import Ingestor
    from supportdesk.desk.rules import storage

    with store.session(write=True) as s:
        directory.ensure_queue(s, "general")
        directory.ensure_queue(s, "billing")
        directory.add_agent(s, "alice", email="alice@desk.example")
        canned.add_canned(s, "ack", "Ack", "We got ticket #{ticket.number}.")
        storage.add_rules(
            s,
            '[[rules]]\nname = "refunds"\ntrigger = "new_ticket"\n'
            'actions = [{ set_queue = "billing" }, { assign = "alice" }, '
            '{ priority = "high" }, { add_tags = ["refund"] }, { note = "routed" }, '
            '{ canned_reply = "ack" }]\n',
        )
    raw = (
        b"From: Jo <jo@acme.example>\r\nTo: support@desk.example\r\nSubject: Refund\r\n"
        b"Message-ID: <undo-rule@x>\r\n\r\nplease\r\n"
    )
    store.info["mail_setup"] = SETUP  # so the canned reply is real mail, queued
    with Ingestor(store, default_queue="general", workers=1) as ingestor:
        [result] = ingestor.ingest_batch([(raw, Source())])
    number = result.ticket_number
    assert number is not None
    with store.session() as s:
        detail = views.ticket_detail(s, number)
        assert (detail.row.queue, detail.row.assignee) == ("billing", "alice")
        rows = history.events(s, ticket=number, limit=None)
    [rule_batch] = {r.batch_id for r in rows if r.actor == "rule:refunds"}
    with store.session(write=True) as s:
        result_undo = undo_batch(s, rule_batch)
    assert result_undo.kept == {"canned_reply": 1, "message_out": 1, "note": 1, "rule_fired": 1}
    assert result_undo.actor == "rule:refunds"
    assert result_undo.describe().startswith(
        f"undone batch {rule_batch} (1 assign, 1 canned_reply, 1 message_out, 1 note, "
        "1 priority, 1 queue, 1 rule_fired, 1 tag by rule:refunds at "
    )
    with store.session() as s:
        detail = views.ticket_detail(s, number)
        assert (detail.row.queue, detail.row.assignee, detail.row.priority) == (
            "general",
            None,
            "normal",
        )
        assert tickets.ticket_tags(s, tickets.get_ticket(s, number).id) == []  # type: ignore[arg-type]
        # The customer's mail, the queued auto-reply and the rule's note stay.
        assert [m.direction for m in detail.messages] == ["in", "out"]
        assert len(detail.notes) == 1
    with store.session(write=True) as s:  # and the undo can be undone: a redo
        undo_batch(s, result_undo.batch_id)
        assert views.ticket_detail(s, number).row.queue == "billing"


def test_an_undone_time_rule_does_not_fire_again_by_itself(store: Store) -> None:
    from supportdesk.desk import directory
    from supportdesk.desk.rules import engine, storage

    with store.session(write=True) as s:
        directory.ensure_queue(s, "general")
        storage.add_rules(
            s,
            '[[rules]]\nname = "solve"\ntrigger = "time"\nwhen = { query = "status:pending" }\n'
            'actions = [{ status = "solved" }]\n',
        )
        number = tickets.create_ticket(
            s,
            subject="p",
            requester_email="p@acme.example",
            queue="general",
            change=Change.by("agent:lead"),
        ).number
        tickets.set_status(s, number, "pending", Change.by("agent:lead"))
    with store.session(write=True) as s:
        [fired] = engine.run_time_rules(s, utcnow())
    with store.session(write=True) as s:
        undo_batch(s, history.events(s, ticket=number, limit=1)[0].batch_id)
    with store.session(write=True) as s:
        assert engine.run_time_rules(s, utcnow()) == []
        assert tickets.get_ticket(s, number).status == "pending"
    with store.session(write=True) as s:  # a person touches it: the rule may fire again
        tickets.set_priority(s, number, "high", Change.by("agent:lead"))
    with store.session(write=True) as s:
        assert [f.rule for f in engine.run_time_rules(s, utcnow())] == ["solve"]
    assert fired.rule == "solve"


def test_domain_undo_of_console_batches(store: Store) -> None:
    """Single-ticket changes sharing a batch (the console's bulk path) undo the same way."""
    seed(store)
    before = state(store)
    change = Change.by("agent:alice")
    with store.session(write=True) as s:
        tickets.add_tags(s, 2, ["x", "y"], change)  # two events, one version
        tickets.remove_tags(s, 1, ["vip"], change)
        tickets.assign(s, 1, "bob", change)
        tickets.assign(s, 1, None, change)  # two changes of one field: back to alice
        tickets.set_status(s, 8, "open", change)
        bulk.move(s, [1, 2], "tech", change)
    with store.session(write=True) as s:
        result = undo_batch(s, change.batch_id)
    assert (result.tickets, result.events) == (3, 7)
    assert state(store) == before
    with store.session() as s:
        rows = history.events(s, batch=result.batch_id, limit=None)
        assert {r.ticket for r in rows} == {1, 2, 8}
        with pytest.raises(NotFoundError):
            undo_batch(s, "missing")


def test_domain_undo_is_all_or_nothing(store: Store) -> None:
    seed(store)
    change = Change.by("agent:alice")
    with store.session(write=True) as s:
        ids = bulk.ids_for(s, Ticket.number <= 4)
        bulk.set_priority(s, ids, "low", change)
    with store.session(write=True) as s:
        tickets.set_status(s, 4, "pending", Change.by("agent:bob"))
    with pytest.raises(ConflictError, match="#4"), store.session(write=True) as s:
        undo_batch(s, change.batch_id)
    with store.session() as s:
        assert {t.priority for t in s.exec(select(Ticket).where(Ticket.number <= 4))} == {"low"}
    with store.session(write=True) as s:
        merge = Change.by("agent:alice")
        tickets.merge(s, 5, 6, merge)
        with pytest.raises(ValidationError, match="merge"):
            undo_batch(s, merge.batch_id)


def test_changes_since_cancel_out_only_in_pairs() -> None:
    from supportdesk.desk.undo import _cancels_out

    assert _cancels_out({})
    assert _cancels_out({"b2": "agent:lead", "u2": "undo:b2"})
    assert not _cancels_out({"b2": "agent:lead"})
    assert not _cancels_out({"b2": "agent:x", "u2": "undo:b2", "r2": "undo:u2"})  # a redo
    assert _cancels_out({"b2": "a", "u2": "undo:b2", "r2": "undo:u2", "u3": "undo:r2"})
    assert not _cancels_out({"u2": "undo:b1"})  # undo of something before: a real change


def test_undo_stacked_batches_one_after_another(config: Path, store: Store) -> None:
    before = state(store)
    batches = []
    for command in (("assign", "carol", "#5"), ("priority", "low", "#5"), ("tag", "z", "#5")):
        code, out, _ = run(config, "tickets", *command, "--json")
        batches.append(batch_of(out))
    for _ in batches:
        code, _, err = run(config, "undo")
        assert code == 0, err
    assert state(store) == before
    code, _, err = run(config, "undo")
    assert code == 1 and "nothing to undo: no changes by agent:lead" in err


@pytest.mark.parametrize(
    ("change_them", "field"),
    [
        (lambda s, ids, c: bulk.assign(s, ids, "carol", c), "assignee"),
        (lambda s, ids, c: bulk.move(s, ids, "tech", c), "queue"),
        (lambda s, ids, c: bulk.set_priority(s, ids, "urgent", c), "priority"),
    ],
)
def test_undo_of_a_bulk_change_records_each_value_it_puts_back(
    store: Store, change_them: Any, field: str
) -> None:
    """The reversing events of a one-field bulk change: exactly the value taken away and the
    one put back, the ticket's new version, nothing for tickets the batch left alone (#5, #6
    are bob's in tech; #7, #8 unassigned)."""
    seed(store)
    before = state(store)
    change = Change.by("agent:lead")
    with store.session(write=True) as s:
        ids = bulk.ids_for(s, Ticket.number >= 3)
        changed = change_them(s, ids, change).changed
    with store.session(write=True) as s:
        result = undo_batch(s, change.batch_id)
    assert result.events == result.tickets == changed
    assert state(store) == before
    with store.session() as s:
        undone = s.execute(
            text(
                "SELECT e.ticket_id, e.action, e.old_value, e.new_value, e.version, t.version "
                "FROM events AS e JOIN tickets AS t ON t.id = e.ticket_id "
                "WHERE e.batch_id = :b ORDER BY e.ticket_id"
            ),
            {"b": result.batch_id},
        ).all()
        done = s.execute(
            text(
                "SELECT ticket_id, action, old_value, new_value FROM events "
                "WHERE batch_id = :b ORDER BY ticket_id"
            ),
            {"b": change.batch_id},
        ).all()
    assert [(r[0], r[2], r[3]) for r in undone] == [(r[0], r[3], r[2]) for r in done]
    assert all(r[4] == r[5] for r in undone)
    if field == "assignee":
        assert [r[1] for r in undone] == ["unassign" if r[3] is None else "assign" for r in undone]
        assert {r[3] for r in undone} == {"alice", "bob", None}
    else:
        assert {r[1] for r in undone} == {field}
