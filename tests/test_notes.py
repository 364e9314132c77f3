"""Editing and deleting internal notes: the author only, every change an event, words kept.

The domain (desk.notes) on SQLite and PostgreSQL, and the `supportdesk notes` commands.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from supportdesk.cli import app
from supportdesk.desk import directory, history, notes, tickets, views
from supportdesk.desk.events import Change
from supportdesk.errors import ConflictError, NotFoundError, ValidationError
from supportdesk.store import Store
from supportdesk.store.models import Event, Note

ALICE = "agent:alice"
BOB = "agent:bob"
runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture
def desk(store: Store) -> Store:
    with store.session(write=True) as s:
        directory.ensure_queue(s, "billing")
        directory.add_agent(s, "alice", email="alice@desk.example", name="Alice")
        directory.add_agent(s, "bob", email="bob@desk.example", name="Bob")
        tickets.create_ticket(
            s,
            subject="Refund please",
            requester_email="jo@acme.example",
            queue="billing",
            change=Change.by("mail:jo@acme.example"),
        )
    return store


def _note(store: Store, body: str, actor: str = ALICE, number: int = 1) -> int:
    with store.session(write=True) as s:
        return tickets.add_note(s, number, body, Change.by(actor)).id  # type: ignore[return-value]


def _events(s: Session) -> list[tuple[str, str, str | None, str | None]]:
    return [
        (e.actor, e.action, e.old_value, e.new_value)
        for e in s.exec(select(Event).order_by(col(Event.id)))
        if e.action.startswith("note")
    ]


def test_the_author_edits_a_note_and_history_keeps_the_old_text(desk: Store) -> None:
    note_id = _note(desk, "Call back on Monday")
    with desk.session() as s:
        before = tickets.get_ticket(s, 1).version
    change = Change.by(ALICE)
    with desk.session(write=True) as s:
        edited = notes.edit_note(s, note_id, "Call back on Tuesday", change)
    assert (edited.id, edited.ticket, edited.body) == (note_id, 1, "Call back on Tuesday")
    with desk.session() as s:
        assert [n.body for n in views.ticket_detail(s, 1).notes] == ["Call back on Tuesday"]
        assert tickets.get_ticket(s, 1).version == before + 1  # a change like any other
        assert _events(s)[-1] == (
            ALICE,
            notes.NOTE_EDITED,
            "Call back on Monday",
            "Call back on Tuesday",
        )
        rows = history.events(s, batch=change.batch_id)
        assert [(r.ticket, r.action) for r in rows] == [(1, "note_edited")]


def test_the_same_text_again_is_no_change(desk: Store) -> None:
    note_id = _note(desk, "Same")
    with desk.session(write=True) as s:
        notes.edit_note(s, note_id, "Same", Change.by(ALICE))
    with desk.session() as s:
        assert [a for _, a, _, _ in _events(s)] == ["note"]


def test_the_author_deletes_a_note_it_leaves_the_thread_not_the_history(desk: Store) -> None:
    kept = _note(desk, "Keep me")
    gone = _note(desk, "Customer's card number was pasted here by mistake")
    with desk.session(write=True) as s:
        assert notes.delete_note(s, gone, Change.by(ALICE)) == 1
    with desk.session() as s:
        detail = views.ticket_detail(s, 1)
        assert [n.id for n in detail.notes] == [kept]
        assert [n.id for n in notes.ticket_notes(s, 1)] == [kept]
        assert s.get(Note, gone) is None
        last = history.events(s, ticket=1)[-1]
        assert (last.action, last.old_value, last.new_value) == (
            notes.NOTE_DELETED,
            "Customer's card number was pasted here by mistake",
            None,
        )
        with pytest.raises(NotFoundError, match=f"no note {gone}"):
            notes.get_note(s, gone)


def test_another_agent_is_refused_and_nothing_changes(desk: Store) -> None:
    note_id = _note(desk, "Mine")
    with desk.session() as s:
        version = tickets.get_ticket(s, 1).version
    for attempt in (
        lambda s: notes.edit_note(s, note_id, "Bob's words", Change.by(BOB)),
        lambda s: notes.delete_note(s, note_id, Change.by(BOB)),
    ):
        refused = pytest.raises(ValidationError, match=f"note {note_id} was written by {ALICE}")
        with refused, desk.session(write=True) as s:
            attempt(s)
    with desk.session() as s:
        assert [n.body for n in notes.ticket_notes(s, 1)] == ["Mine"]
        assert tickets.get_ticket(s, 1).version == version
        assert [a for _, a, _, _ in _events(s)] == ["note"]


def test_empty_text_and_a_stale_version_are_refused(desk: Store) -> None:
    note_id = _note(desk, "First")
    with desk.session() as s:
        seen = tickets.get_ticket(s, 1).version
    with pytest.raises(ValidationError, match="needs some text"), desk.session(write=True) as s:
        notes.edit_note(s, note_id, "  \n", Change.by(ALICE))
    _note(desk, "Someone else was here", actor=BOB)
    with pytest.raises(ConflictError), desk.session(write=True) as s:
        notes.edit_note(s, note_id, "Second", Change.by(ALICE), expected_version=seen)
    with pytest.raises(ConflictError), desk.session(write=True) as s:
        notes.delete_note(s, note_id, Change.by(ALICE), expected_version=seen)
    with desk.session() as s:
        assert [n.body for n in notes.ticket_notes(s, 1)] == ["First", "Someone else was here"]


# --- the CLI --------------------------------------------------------------------------------


def _config(tmp_path: Path, store: Store, agent: str) -> Path:
    path = tmp_path / f"{agent}.toml"
    path.write_text(f'database_url = "{store.url}"\nagent = "{agent}"\n', encoding="utf-8")
    return path


def run(config: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--config", str(config), "notes", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_cli_add_list_edit_delete(desk: Store, tmp_path: Path) -> None:
    alice = _config(tmp_path, desk, "alice")
    code, out, _ = run(alice, "add", "1", "Checked the \x1b[31mpayment")
    assert code == 0 and out.strip() == "note 1 added to #1"
    code, out, _ = run(alice, "add", "1", "-", stdin="From a pipe\nsecond line\n")
    assert code == 0
    code, out, _ = run(alice, "list", "1")
    assert code == 0 and "agent:alice" in out and "Checked the" in out and "\x1b" not in out
    code, out, _ = run(alice, "edit", "1", "Checked the payment: fine", "--json")
    assert code == 0 and json.loads(out)["ticket"] == 1
    code, out, _ = run(alice, "delete", "2")
    assert code == 0 and "supportdesk history --ticket 1" in out
    code, out, _ = run(alice, "list", "1", "--json")
    listed = json.loads(out)
    assert [(n["id"], n["body"]) for n in listed] == [(1, "Checked the payment: fine")]
    with desk.session() as s:
        actions = [a for _, a, _, _ in _events(s)]
    assert actions == ["note", "note", "note_edited", "note_deleted"]


def test_cli_refuses_another_agents_note_in_one_line(desk: Store, tmp_path: Path) -> None:
    note_id = _note(desk, "Alice's note")
    bob = _config(tmp_path, desk, "bob")
    for args in (("edit", str(note_id), "Bob was here"), ("delete", str(note_id))):
        code, out, err = run(bob, *args)
        assert code == 1 and out == ""
        assert err.startswith(f"error: note {note_id} was written by agent:alice; only its author")
        assert err.count("\n") == 1 and "Traceback" not in err
    code, _, err = run(bob, "edit", "99", "text")
    assert code == 1 and err.strip() == "error: no note 99"
    with desk.session() as s:
        assert [n.body for n in notes.ticket_notes(s, 1)] == ["Alice's note"]
