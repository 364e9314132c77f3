"""Rules that cannot work are refused or shown, never silent: the CLI, on both backends.

`rules add`/`import`/`test` refuse unknown names and patterns RE2 cannot run in one line;
a rule that fails during `supportdesk sync` or `supportdesk import` (its canned reply was
removed since) is counted in the summary, table and JSON, and kept as a `rule_failed` event
that `history`, `tickets show` and the console's thread show.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from supportdesk.cli import app
from supportdesk.desk import canned, directory
from supportdesk.desk.rules import storage
from supportdesk.store import Store
from tests.imap_server import ImapAccount
from tests.test_sync import mail, write_config

runner = CliRunner(env={"COLUMNS": "200"})

RULES = """\
[[rules]]
name = "ack"
trigger = "new_ticket"
actions = [{ canned_reply = "thanks" }]

[[rules]]
name = "tag all"
trigger = "new_ticket"
actions = [{ add_tags = ["in"] }]
"""


def sd(config: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--config", str(config), *args])
    return result.exit_code, result.stdout, result.stderr


def prepare(store: Store) -> None:
    """Rules stored while their canned reply existed; then the reply is removed."""
    with store.session(write=True) as s:
        directory.ensure_queue(s, "general")
        canned.add_canned(s, "thanks", "Thanks", "Thanks, we are on it.")
        storage.add_rules(s, RULES)
        canned.remove_canned(s, "thanks")


def test_rules_add_refuses_unknown_names_and_re2_patterns(tmp_path: Path, store: Store) -> None:
    with store.session(write=True) as s:
        directory.ensure_queue(s, "billing")
    config = tmp_path / "config.toml"
    config.write_text(f'database_url = "{store.url}"\n')
    file = tmp_path / "rules.toml"
    file.write_text(
        '[[rules]]\nname = "r"\ntrigger = "new_ticket"\nactions = [{ set_queue = "biling" }]\n'
    )
    code, out, err = sd(config, "rules", "add", str(file))
    assert code == 1 and out == ""
    assert f"{file} line 4: rule 'r': set_queue: unknown queue 'biling'" in err
    assert "did you mean 'billing'?" in err and "Traceback" not in err
    code, _, err = sd(config, "rules", "test", str(file))
    assert code == 1 and "unknown queue 'biling'" in err
    file.write_text(
        '[[rules]]\nname = "r"\ntrigger = "new_ticket"\n'
        'when = { body = { matches = "(\\\\d+)-\\\\1" } }\n'
        'actions = [{ set_queue = "billing" }]\n'
    )
    code, _, err = sd(config, "rules", "import", str(file))
    assert code == 1 and "line 4: rule 'r': when.body.matches" in err
    assert "backreferences (\\1) are not supported" in err
    code, out, _ = sd(config, "rules", "list", "--json")
    assert json.loads(out) == []


def test_import_counts_rule_failures_in_table_json_and_history(
    tmp_path: Path, store: Store
) -> None:
    prepare(store)
    config = tmp_path / "config.toml"
    config.write_text(f'database_url = "{store.url}"\n')
    for n in (1, 2):
        (tmp_path / f"m{n}.eml").write_bytes(mail(n))
    code, out, err = sd(config, "import", "--json", str(tmp_path / "m1.eml"))
    assert code == 0, err  # the mail is in: a rule failure is reported, not an error
    data = json.loads(out)
    assert (data["messages"], data["errors"], data["rule_failures"]) == (1, [], 1)
    [message] = data["rule_failure_messages"]
    assert message.startswith("rule 'ack' on #1: ") and "no canned reply 'thanks'" in message
    code, out, err = sd(config, "import", str(tmp_path / "m2.eml"))
    assert code == 0
    assert "rule failures" in out and "rule failed: rule 'ack' on #2" in err
    code, out, _ = sd(config, "history", "--ticket", "2", "--json")
    failed = [e for e in json.loads(out) if e["action"] == "rule_failed"]
    assert [(e["actor"], "thanks" in e["new_value"]) for e in failed] == [("rule:ack", True)]
    code, out, _ = sd(config, "tickets", "show", "2")
    assert "rule:ack rule_failed" in out
    with store.session() as s:
        assert storage.export_rules(s).count("[[rules]]") == 2  # nothing was dropped


def test_sync_counts_rule_failures(tmp_path: Path, imap_account: ImapAccount, store: Store) -> None:
    prepare(store)
    config = write_config(tmp_path / "config.toml", imap_account, store.url)
    imap_account.append(mail(1))
    imap_account.append(mail(2))
    code, out, err = sd(config, "sync", "--json")
    assert code == 0, err
    total = json.loads(out)["total"]
    assert (total["messages"], total["rule_failures"]) == (2, 2)
    assert all("rule 'ack' on #" in m for m in total["rule_failure_messages"])
    imap_account.append(mail(3))
    code, out, err = sd(config, "sync")
    assert code == 0, err
    assert "rule fails" in out and "rule failed: rule 'ack' on #3" in err


def test_the_console_thread_shows_a_rule_failure(tmp_path: Path, store: Store) -> None:
    from supportdesk.desk import views
    from supportdesk.tui.widgets.thread import event_text

    prepare(store)
    config = tmp_path / "config.toml"
    config.write_text(f'database_url = "{store.url}"\n')
    (tmp_path / "m.eml").write_bytes(mail(1))
    assert sd(config, "import", str(tmp_path / "m.eml"))[0] == 0
    with store.session() as s:
        detail = views.ticket_detail(s, 1)
    shown = [event_text(e).plain for e in detail.events if e.action == "rule_failed"]
    assert len(shown) == 1
    assert "rule:ack: failed, its changes undone: no canned reply 'thanks'" in shown[0]
