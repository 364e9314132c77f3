"""Bulk commands from a shell, on SQLite and PostgreSQL: dry runs, confirmation, stdin, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from supportdesk.cli import app
from supportdesk.desk import directory, tickets, views
from supportdesk.desk.events import Change
from supportdesk.store import Store

runner = CliRunner(env={"COLUMNS": "200"})


def seed(store: Store) -> None:
    """Eight tickets: #1-#4 alice's in billing, #5-#6 bob's in tech, #7 closed, #8 solved."""
    change = Change.by("agent:seed")
    with store.session(write=True) as s:
        directory.ensure_queue(s, "billing")
        directory.ensure_queue(s, "tech")
        directory.add_agent(s, "alice", email="alice@desk.example", name="Alice")
        directory.add_agent(s, "bob", email="bob@desk.example", name="Bob")
        directory.add_agent(s, "carol", email="carol@desk.example", name="Carol")
        for i in range(1, 9):
            tickets.create_ticket(
                s,
                subject=f"Ticket {i}",
                requester_email=f"c{i}@acme.example",
                queue="billing" if i <= 4 else "tech",
                change=change,
                assignee="alice" if i <= 4 else "bob" if i <= 6 else None,
                status="closed" if i == 7 else "solved" if i == 8 else "open",
                tags=["vip"] if i % 2 else [],
            )


@pytest.fixture
def config(tmp_path: Path, store: Store) -> Path:
    seed(store)
    path = tmp_path / "config.toml"
    path.write_text(f'database_url = "{store.url}"\nagent = "lead"\n\n[bulk]\nconfirm_above = 3\n')
    return path


def run(config: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--config", str(config), *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def row(store: Store, number: int) -> views.TicketRow:
    with store.session() as s:
        return views.ticket_detail(s, number).row


def tags(store: Store, number: int) -> list[str]:
    with store.session() as s:
        return views.ticket_detail(s, number).tags


def snapshot(store: Store) -> list[tuple[object, ...]]:
    with store.session() as s:
        rows = views.list_tickets(s, limit=100)
        return sorted(
            (
                r.number,
                r.status,
                r.priority,
                r.queue,
                r.assignee,
                r.version,
                tuple(tags(store, r.number)),
            )
            for r in rows
        )


def test_assign_json_and_one_batch(config: Path, store: Store) -> None:
    code, out, err = run(config, "tickets", "assign", "carol", "queue:tech", "--json", "-y")
    assert code == 0, err
    data = json.loads(out)
    assert data["matched"] == 4 and data["changed"] == 4 and data["skipped"] == {}
    assert isinstance(data["batch_id"], str)
    assert [row(store, n).assignee for n in (5, 6, 7, 8)] == ["carol"] * 4
    code, out, _ = run(config, "history", "--batch", data["batch_id"], "--json")
    events = json.loads(out)
    assert sorted(e["ticket"] for e in events) == [5, 6, 7, 8]
    assert {(e["actor"], e["action"], e["new_value"]) for e in events} == {
        ("agent:lead", "assign", "carol")
    }
    assert sorted(str(e["old_value"]) for e in events) == ["None", "None", "bob", "bob"]


def test_dry_run_lists_and_changes_nothing(config: Path, store: Store) -> None:
    before = snapshot(store)
    code, out, _ = run(config, "tickets", "status", "pending", "all", "--dry-run")
    assert code == 0
    assert "would change 6" in out and "1 skipped (status closed)" in out
    assert "1 skipped (status solved)" in out and "nothing was changed" in out
    code, out, _ = run(config, "tickets", "move", "tech", "queue:billing", "--dry-run", "--json")
    data = json.loads(out)
    assert data["dry_run"] is True and data["batch_id"] is None
    assert data["changed"] == 4
    assert sorted(c["ticket"] for c in data["changes"]) == [1, 2, 3, 4]
    assert data["changes"][0] | {"ticket": 0} == {
        "ticket": 0,
        "action": "queue",
        "old": "billing",
        "new": "tech",
    }
    assert snapshot(store) == before
    code, out, _ = run(config, "history", "--json", "--limit", "1000")
    assert all(e["actor"] == "agent:seed" for e in json.loads(out))


def test_confirmation_threshold(
    config: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(store)
    code, _, err = run(config, "tickets", "priority", "high", "all")
    assert code == 1
    assert "8 tickets match, more than bulk.confirm_above (3)" in err and "--yes" in err
    assert snapshot(store) == before

    monkeypatch.setattr("supportdesk.cli.tickets._interactive", lambda: True)
    code, out, err = run(config, "tickets", "priority", "high", "all", stdin="n\n")
    assert code == 1 and "nothing was changed" in err
    assert snapshot(store) == before
    code, out, _ = run(config, "tickets", "priority", "high", "all", stdin="y\n")
    assert code == 0 and "changed 8" in out
    assert {row(store, n).priority for n in range(1, 9)} == {"high"}

    code, out, _ = run(config, "tickets", "priority", "low", "queue:tech")  # 4 > 3: asks
    assert code == 1
    code, out, _ = run(config, "tickets", "priority", "low", "#1,2,3")  # 3: does not ask
    assert code == 0 and "changed 3" in out
    monkeypatch.setattr("supportdesk.cli.tickets._interactive", lambda: False)
    code, out, _ = run(config, "tickets", "priority", "low", "all", "--yes")
    assert code == 0 and "changed 5" in out


def test_numbers_from_stdin(config: Path, store: Store) -> None:
    code, out, _ = run(config, "tickets", "list", "queue:billing", "--ids")
    code, out, err = run(config, "tickets", "status", "solved", "-", "--json", "--yes", stdin=out)
    assert code == 0, err
    assert json.loads(out)["changed"] == 4
    assert {row(store, n).status for n in (1, 2, 3, 4)} == {"solved"}
    code, out, _ = run(config, "tickets", "untag", "vip", "-", stdin="#5 6\n7\n")
    assert code == 0 and "changed 2" in out
    assert tags(store, 5) == [] and tags(store, 7) == []
    code, _, err = run(config, "tickets", "assign", "bob", "-", stdin="1 two")
    assert code == 2 and "'two' is not a ticket number" in err
    code, _, err = run(config, "tickets", "assign", "bob", "-", stdin="1 99")
    assert code == 1 and "no ticket #99" in err
    assert row(store, 1).assignee == "alice"
    code, _, err = run(config, "tickets", "assign", "bob", "-", stdin="1 2 3 4 5")
    assert code == 1 and "--yes" in err  # stdin is taken: no prompt possible


def test_reassign_from_to(config: Path, store: Store) -> None:
    code, out, _ = run(
        config, "tickets", "reassign", "--from", "alice", "--to", "bob", "--yes", "--json"
    )
    assert code == 0
    assert json.loads(out)["matched"] == 4
    assert [row(store, n).assignee for n in range(1, 9)] == ["bob"] * 6 + [None, None]
    code, out, _ = run(
        config, "tickets", "reassign", "--from", "bob", "--to", "carol", "tag:vip", "--json"
    )
    assert json.loads(out)["changed"] == 3  # #1, #3, #5
    assert [row(store, n).assignee for n in (1, 2, 3, 5, 6)] == [
        "carol",
        "bob",
        "carol",
        "carol",
        "bob",
    ]
    code, _, err = run(config, "tickets", "reassign", "--from", "nobody", "--to", "bob", "")
    assert code == 1 and "nobody" in err


def test_status_transitions_are_respected(config: Path, store: Store) -> None:
    code, out, _ = run(config, "tickets", "status", "open", "all", "--yes", "--json")
    data = json.loads(out)
    # six open already; the solved one reopens; the closed one cannot
    assert (data["matched"], data["changed"], data["skipped"]) == (8, 1, {"status closed": 1})
    assert row(store, 8).status == "open" and row(store, 7).status == "closed"
    code, out, _ = run(config, "tickets", "status", "closed", "queue:billing", "--yes")
    assert code == 0
    with store.session() as s:
        t = tickets.get_ticket(s, 1)
        assert t.status == "closed" and t.closed_at is not None and t.solved_at is not None
    code, _, err = run(config, "tickets", "status", "done", "#1")
    assert code == 1 and "unknown status" in err


def test_tag_untag_unassign(config: Path, store: Store) -> None:
    _code, out, _ = run(config, "tickets", "tag", "urgent,VIP", "queue:billing", "--yes", "--json")
    data = json.loads(out)
    assert data["changed"] == 4 + 2  # urgent on four, vip on #2 and #4
    assert tags(store, 1) == ["urgent", "vip"] and tags(store, 2) == ["urgent", "vip"]
    _, out, _ = run(config, "history", "--ticket", "2", "--json")
    assert [e["action"] for e in json.loads(out)][-2:] == ["tag", "tag"]
    _, out, _ = run(config, "tickets", "untag", "urgent,nosuchtag", "#1,2", "--json")
    assert json.loads(out)["changed"] == 2
    assert tags(store, 1) == ["vip"] and tags(store, 3) == ["urgent", "vip"]
    _, out, _ = run(config, "tickets", "unassign", "queue:tech", "--yes", "--json")
    assert json.loads(out)["changed"] == 2
    assert row(store, 5).assignee is None


def test_merge(config: Path, store: Store) -> None:
    code, out, _ = run(config, "tickets", "merge", "#2,3,4", "--into", "2", "--json")
    data = json.loads(out)
    assert (data["changed"], data["skipped"]) == (2, {"the target itself": 1})
    with store.session() as s:
        assert tickets.get_ticket(s, 3).merged_into_id == tickets.get_ticket(s, 2).id
    code, _, err = run(config, "undo", data["batch_id"])
    assert code == 1 and "merge" in err and "cannot be undone" in err


def test_nothing_matched_and_bad_query(config: Path) -> None:
    code, out, _ = run(config, "tickets", "assign", "bob", "queue:tech assignee:bob", "--json")
    assert json.loads(out)["changed"] == 0  # already bob's
    assert json.loads(out)["batch_id"] is None
    code, _, err = run(config, "tickets", "assign", "bob", "queue:nowhere")
    assert code == 2 and "unknown queue" in err
    code, _, err = run(config, "tickets", "assign", "nobody", "#1")
    assert code == 1 and "nobody" in err


def test_history_table(config: Path) -> None:
    code, out, _ = run(config, "tickets", "assign", "carol", "#1")
    batch = out.split("batch ")[1].split()[0]
    code, out, _ = run(config, "history", "--batch", batch)
    assert code == 0
    assert "agent:lead" in out and "alice → carol" in out and batch in out
    code, out, _ = run(config, "history", "--limit", "2", "--json")
    assert len(json.loads(out)) == 2
    code, _, err = run(config, "history", "--ticket", "99")
    assert code == 1 and "no ticket #99" in err
