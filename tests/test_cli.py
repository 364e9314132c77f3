"""The command line as a person and a script use it: output, JSON, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.core import TyperGroup
from typer.main import get_command
from typer.testing import CliRunner

from supportdesk.cli import app
from supportdesk.desk import directory, tickets
from supportdesk.desk.events import Change
from supportdesk.desk.messages import NewMessage, add_message
from supportdesk.store import Store

runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture
def config(tmp_path: Path, store: Store) -> Path:
    """A config pointing at a seeded store (SQLite and PostgreSQL alike)."""
    change = Change.by("agent:alice")
    with store.session(write=True) as s:
        directory.ensure_queue(s, "billing")
        directory.ensure_queue(s, "tech")
        directory.add_agent(s, "alice", email="alice@desk.example", name="Alice")
        directory.add_agent(s, "bob", email="bob@desk.example", name="Bob")
        refund = tickets.create_ticket(
            s,
            subject="Refund for order 1234",
            requester_email="jo@acme.example",
            requester_name="Jo",
            queue="billing",
            change=change,
            tags=["vip"],
        )
        add_message(
            s,
            refund,
            NewMessage(
                raw=b"Subject: Refund\r\n\r\nPlease refund me.",
                message_id="<r@x>",
                from_address="jo@acme.example",
                subject="Refund for order 1234",
                body_text="Please refund me.\x1b]0;pwned\x07 thanks",
            ),
            change,
        )
        tickets.assign(s, refund.number, "alice", change)
        tickets.create_ticket(
            s,
            subject="Login broken \x1b[31mRED",
            requester_email="sam@beta.example",
            queue="tech",
            change=change,
        )
    path = tmp_path / "config.toml"
    url = store.url
    path.write_text(f'database_url = "{url}"\nagent = "alice"\n')
    return path


def run(config: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--config", str(config), *args])
    return result.exit_code, result.stdout, result.stderr


def test_tickets_list_for_people_and_for_scripts(config: Path) -> None:
    code, out, _ = run(config, "tickets", "list")
    assert code == 0
    assert "Refund for order 1234" in out and "showing 2 of 2" in out
    assert "\x1b" not in out  # hostile subjects are inert

    code, out, _ = run(config, "tickets", "list", "assignee:me", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["total"] == 1
    assert [t["number"] for t in data["tickets"]] == [1]
    assert data["tickets"][0]["assignee"] == "alice"

    code, out, _ = run(config, "tickets", "list", "queue:tech", "--ids")
    assert (code, out.split()) == (0, ["2"])

    code, out, _ = run(config, "tickets", "list", "--limit", "1", "--json")
    assert json.loads(out)["total"] == 2 and len(json.loads(out)["tickets"]) == 1


def test_tickets_show(config: Path) -> None:
    code, out, _ = run(config, "tickets", "show", "1")
    assert code == 0
    assert "Please refund me." in out and "thanks" in out and "pwned" not in out
    assert "\x1b" not in out and "\x07" not in out
    code, out, _ = run(config, "tickets", "show", "1", "--json")
    detail = json.loads(out)
    assert detail["row"]["subject"] == "Refund for order 1234"
    assert detail["tags"] == ["vip"]
    assert [m["message_id"] for m in detail["messages"]] == ["<r@x>"]
    assert [e["action"] for e in detail["events"]] == ["create", "tag", "message_in", "assign"]


def test_errors_are_one_line_with_meaningful_exit_codes(config: Path) -> None:
    code, out, err = run(config, "tickets", "show", "99")
    assert (code, out, err.strip()) == (1, "", "error: no ticket #99")
    code, _, err = run(config, "tickets", "list", "status:open queue:nowhere")
    assert code == 2
    assert "unknown queue 'nowhere'" in err and "position 19" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = run(config, "tickets", "list", "--limit", "0")
    assert code == 2


def test_queues_and_agents(config: Path) -> None:
    code, out, _ = run(config, "queues", "list", "--json")
    assert code == 0
    assert json.loads(out) == [
        {"name": "billing", "active": 1, "unassigned": 0},
        {"name": "tech", "active": 1, "unassigned": 1},
    ]
    code, out, _ = run(
        config, "agents", "add", "chen", "--email", "chen@desk.example", "--queue", "tech", "--json"
    )
    assert code == 0 and json.loads(out)["handle"] == "chen"
    code, _, err = run(config, "agents", "add", "chen", "--email", "c2@desk.example")
    assert code == 1 and "already exists" in err
    code, out, _ = run(config, "agents", "list", "--json")
    assert {a["handle"]: a["open_tickets"] for a in json.loads(out)} == {
        "alice": 1,
        "bob": 0,
        "chen": 0,
    }
    code, _, _ = run(config, "queues", "add", "Shipping")
    code, out, _ = run(config, "queues", "list", "--json")
    assert "shipping" in [q["name"] for q in json.loads(out)]


def test_db_upgrade_and_status(config: Path) -> None:
    code, out, _ = run(config, "db", "upgrade", "--json")
    assert code == 0 and json.loads(out)["to"] == json.loads(out)["from"]
    code, out, _ = run(config, "db", "status", "--json")
    assert json.loads(out)["up_to_date"] is True


def test_db_optimize_keeps_search_working(config: Path) -> None:
    code, out, _ = run(config, "db", "optimize")
    assert (code, out.strip()) == (0, "search index optimized")
    code, out, _ = run(config, "tickets", "list", "refund", "--ids")
    assert (code, out.split()) == (0, ["1"])


def test_every_command_has_help_text() -> None:
    root = get_command(app)

    def walk(command: object, path: str) -> list[str]:
        missing = [] if (getattr(command, "help", "") or "").strip() else [path]
        if isinstance(command, TyperGroup):
            for name, sub in command.commands.items():
                missing += walk(sub, f"{path} {name}")
        return missing

    assert walk(root, "supportdesk") == []


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_the_installed_script_prints_one_line_and_exits_1(config: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "supportdesk", "--config", str(config), "tickets", "show", "7"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "error: no ticket #7"
    assert "Traceback" not in result.stderr
