"""`supportdesk rules` as a person and a script use it, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from supportdesk.cli import app as root
from supportdesk.cli import rules as rules_cli
from supportdesk.desk import directory, tickets
from supportdesk.desk.events import Change
from supportdesk.store import Store

runner = CliRunner(env={"COLUMNS": "200"})

RULES = """\
# Billing mail goes to billing.
[[rules]]
name = "billing"
trigger = "new_ticket"
when = { query = "subject:refund" }
actions = [{ set_queue = "billing" }, { add_tags = ["money"] }]

[[rules]]
name = "stale pending"
trigger = "time"
when = { all = [{ query = "status:pending" }, { since = { event = "updated", more_than = "3d" } }] }
actions = [{ status = "solved" }]
"""


def _app() -> typer.Typer:
    """The root app with `rules` mounted, whether or not the lead has added it yet."""
    names = {group.name for group in root.registered_groups}
    if "rules" not in names:
        root.add_typer(rules_cli.app, name="rules")
    return root


@pytest.fixture
def config(tmp_path: Path, store: Store) -> Path:
    with store.session(write=True) as s:
        directory.ensure_queue(s, "general")
        directory.ensure_queue(s, "billing")
        tickets.create_ticket(
            s,
            subject="Refund for order 1234",
            requester_email="jo@acme.example",
            queue="general",
            change=Change.by("agent:alice"),
        )
    path = tmp_path / "config.toml"
    path.write_text(f'database_url = "{store.url}"\n')
    return path


def run(config: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(_app(), ["--config", str(config), "rules", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_add_list_show_enable_move_remove(config: Path, tmp_path: Path) -> None:
    file = tmp_path / "rules.toml"
    file.write_text(RULES)
    assert run(config, "add", str(file))[0] == 0
    code, out, _ = run(config, "list", "--json")
    listed = json.loads(out)
    assert [(r["position"], r["name"], r["trigger"]) for r in listed] == [
        (1, "billing", "new_ticket"),
        (2, "stale pending", "time"),
    ]
    code, out, _ = run(config, "show", "billing")
    assert out.startswith("# Billing mail goes to billing.\n[[rules]]")
    shown = json.loads(run(config, "show", "billing", "--json")[1])
    assert shown["rule"]["actions"][0] == {"set_queue": "billing"}
    assert run(config, "disable", "billing")[0] == 0
    assert json.loads(run(config, "list", "--json")[1])[0]["enabled"] is False
    assert "enabled = false" in run(config, "show", "billing")[1]
    assert run(config, "move", "billing", "--to", "2")[0] == 0
    assert [r["name"] for r in json.loads(run(config, "list", "--json")[1])] == [
        "stale pending",
        "billing",
    ]
    assert run(config, "remove", "billing")[0] == 0
    code, _, err = run(config, "show", "billing")
    assert code == 1 and "no rule 'billing'" in err
    code, _, err = run(config, "add", str(file))
    assert code == 1 and "already stored" in err and "stale pending" in err


def test_export_edit_import_round_trip(config: Path, tmp_path: Path) -> None:
    file = tmp_path / "rules.toml"
    file.write_text(RULES)
    assert run(config, "import", str(file))[0] == 0
    exported = tmp_path / "out.toml"
    assert run(config, "export", str(exported))[0] == 0
    assert exported.read_text() == RULES.rstrip() + "\n"
    assert run(config, "export")[1] == exported.read_text()
    edited = exported.read_text().replace('more_than = "3d"', 'more_than = "5d"')
    exported.write_text(edited)
    _, out, _ = run(config, "import", str(exported), "--json")
    assert json.loads(out)["changed"] == ["stale pending"]
    assert run(config, "export")[1] == edited
    nowhere = tmp_path / "no such dir" / "rules.toml"
    code, out, err = run(config, "export", str(nowhere))
    assert code == 1 and out == ""
    assert err.strip() == f"error: cannot write {nowhere}: No such file or directory"


def test_import_refuses_a_bad_file_naming_rule_and_line(config: Path, tmp_path: Path) -> None:
    file = tmp_path / "rules.toml"
    file.write_text(RULES)
    run(config, "import", str(file))
    before = run(config, "export")[1]
    bad = tmp_path / "bad.toml"
    bad.write_text(RULES.replace('status = "solved"', 'status = "done"'))
    code, _, err = run(config, "import", str(bad))
    assert code == 1
    assert "line 12: rule 'stale pending': actions.0.status: unknown status 'done'" in err
    syntax = tmp_path / "syntax.toml"
    syntax.write_text(RULES.replace('[[rules]]\nname = "stale', '[[rules]\nname = "stale'))
    code, _, err = run(config, "import", str(syntax))
    assert code == 1 and "line 8, column 8: rule 'stale pending': TOML syntax error" in err
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(RULES.replace("Billing", "Facturaci\u00f3n").encode("latin-1"))
    code, _, err = run(config, "import", str(latin1))
    assert code == 1 and f"{latin1} is not UTF-8 text" in err
    code, _, err = run(config, "import", str(tmp_path / "missing.toml"))
    assert code != 0 and "cannot read" in err and "missing.toml" in err
    assert run(config, "export")[1] == before


def test_edit_validates_before_saving(config: Path, tmp_path: Path) -> None:
    file = tmp_path / "rules.toml"
    file.write_text(RULES)
    run(config, "import", str(file))
    script = tmp_path / "fake_editor.py"
    script.write_text(
        "import pathlib, sys\n"
        "p = pathlib.Path(sys.argv[3])\n"
        "p.write_text(p.read_text().replace(sys.argv[1], sys.argv[2]))\n"
    )
    sed = f"{sys.executable} {script} {{old}} {{new}}"
    good = sed.format(old="money", new="cash")
    code, out, _ = run(config, "edit", "billing", env={"VISUAL": "", "EDITOR": good})
    assert code == 0, out
    assert '"cash"' in run(config, "show", "billing")[1]
    bad = sed.format(old="set_queue", new="set_cue")
    code, _, err = run(config, "edit", "billing", env={"VISUAL": "", "EDITOR": bad})
    assert code == 1 and "set_cue" in err and "nothing saved" in err
    assert "set_queue" in run(config, "show", "billing")[1]


def test_dry_run_shows_and_writes_nothing(config: Path, tmp_path: Path) -> None:
    from supportdesk.desk.messages import NewMessage, add_message
    from supportdesk.store import open_store

    url = config.read_text().split('"')[1]
    store = open_store(url)
    with store.session(write=True) as s:
        ticket = tickets.get_ticket(s, 1)
        add_message(
            s,
            ticket,
            NewMessage(
                raw=b"Subject: Refund\r\n\r\nPlease.",
                message_id="<r@x>",
                from_address="jo@acme.example",
                subject="Refund for order 1234",
                body_text="Please.",
            ),
            Change.by("system:ingest"),
        )
    store.dispose()
    file = tmp_path / "rules.toml"
    file.write_text(RULES)
    code, out, _ = run(config, "test", str(file), "--since", "1d", "--json")
    assert code == 0
    fired = json.loads(out)
    assert [(f["rule"], f["ticket"], f["actions"]) for f in fired] == [
        ("billing", 1, ["queue billing", "tag money"])
    ]
    code, out, _ = run(config, "test", str(file))
    assert "billing" in out and "nothing written" in out
    code, out, _ = run(config, "run", "--json")
    assert code == 0 and json.loads(out) == []
    store = open_store(url)
    with store.session() as s:
        assert tickets.ticket_tags(s, tickets.get_ticket(s, 1).id) == []  # type: ignore[arg-type]
    store.dispose()
