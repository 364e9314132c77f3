"""What a new user hit: the quick start, --store, config check, help text, table widths,
punctuation-only queries in bulk changes, and tags in their own language."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from supportdesk.cli import app, output
from supportdesk.demo.builder import build_demo
from supportdesk.desk import directory, tickets, views
from supportdesk.desk.events import Change
from supportdesk.desk.query import parse_selection
from supportdesk.desk.tags import normalise_tag, parse_tags
from supportdesk.errors import QueryError, ValidationError
from supportdesk.store import Store, open_store
from supportdesk.store.engine import sqlite_url
from supportdesk.store.models import Event

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path, store: Store) -> Path:
    """Eight tickets on SQLite and PostgreSQL; #1 has a long subject, #2 is about refunds."""
    change = Change.by("agent:lead")
    with store.session(write=True) as s:
        directory.ensure_queue(s, "billing")
        directory.add_agent(s, "alice", email="alice@desk.example", name="Alice")
        directory.add_agent(s, "carol", email="carol@desk.example", name="Carol")
        for i in range(1, 9):
            tickets.create_ticket(
                s,
                subject=(
                    "The invoice for order 1234 was charged twice and the refund never came"
                    if i == 1
                    else f"Ticket {i} about a refund"
                ),
                requester_email=f"customer{i}@a-rather-long-domain.example",
                requester_name=f"Customer Number {i} Of Many",
                queue="billing",
                change=change,
                assignee="alice" if i % 2 else None,
            )
    path = tmp_path / "config.toml"
    path.write_text(f'database_url = "{store.url}"\nagent = "alice"\n', encoding="utf-8")
    return path


def run(
    config: Path, *args: str, columns: int = 200, stdin: str | None = None
) -> tuple[int, str, str]:
    result = runner.invoke(
        app, ["--config", str(config), *args], input=stdin, env={"COLUMNS": str(columns)}
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def ticket_tags(store: Store, number: int) -> list[str]:
    with store.session() as s:
        return views.ticket_detail(s, number).tags


def event_count(store: Store) -> int:
    with store.session() as s:
        return len(list(s.exec(Event.__table__.select())))  # type: ignore[attr-defined,call-overload]


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI's consoles as on a terminal (Rich decides once and has no public switch)."""
    for console in (output.console, output.err_console):
        monkeypatch.setattr(console, "_force_terminal", True)
        monkeypatch.setattr(console, "_color_system", None)
    yield


# Item 7: a query of punctuation only, or nothing, does not change every ticket ------------


def test_parse_selection_needs_a_term_or_all() -> None:
    assert parse_selection("all").terms == ()
    assert parse_selection("status:open").terms
    assert parse_selection("", narrowed=True).terms == ()
    assert parse_selection('"all"').terms  # quoted: the word all, searched as text
    for text in ("", "   ", ":", "&", "- & -".replace("-", ""), "sort:-priority"):
        with pytest.raises(QueryError, match="say all"):
            parse_selection(text)
    with pytest.raises(QueryError, match="say all"):
        parse_selection(":", narrowed=True)  # typed, yet selects nothing: still a slip


def test_bulk_refuses_punctuation_and_empty_queries(config: Path, store: Store) -> None:
    before = event_count(store)
    code, out, err = run(config, "tickets", "assign", "carol", ":", "--dry-run")
    assert code == 2 and out == ""
    assert "would match every ticket" in err and "say all" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = run(config, "tickets", "status", "solved", "", "--yes")
    assert code == 2 and "no query" in err
    assert event_count(store) == before

    code, out, _ = run(config, "tickets", "assign", "carol", "all", "--dry-run", "--json")
    assert code == 0 and json.loads(out)["matched"] == 8
    code, out, _ = run(config, "tickets", "assign", "carol", '"all"', "--dry-run", "--json")
    assert code == 0 and json.loads(out)["matched"] == 0  # nobody wrote the word "all"
    code, out, _ = run(config, "tickets", "reassign", "--from", "alice", "--to", "carol", "--yes")
    assert code == 0 and "4 matched" in out  # --from already picks the tickets
    code, out, _ = run(config, "tickets", "list", ":", "--ids")
    assert code == 0 and len(out.split()) == 8  # a read may still list everything


# Item 8: the quick start as written, --store, the demo's rules ---------------------------


def quick_start() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- quick-start -->\n```sh\n(.*?)```\n<!-- /quick-start -->", text, re.S)
    assert match, "README.md lost its <!-- quick-start --> block"
    return match.group(1)


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPPORTDESK_", "XDG_"))}
    env |= {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "COLUMNS": "100",
    }
    return env


def test_readme_quick_start_runs_as_written(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    script = "set -eu\n" + quick_start()
    result = subprocess.run(
        ["bash", "-c", script], cwd=home, env=clean_env(home), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "agent: added alice <alice@example.com>" in out
    assert "Refund for order 1234" in out and "Jo Bloggs" in out
    assert "要確認" in out  # tagged in Japanese
    assert "undone batch" in out and "ok: " in out
    assert "Traceback" not in result.stderr


def test_init_with_an_agent_but_no_email_says_what_to_add(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    result = runner.invoke(app, ["--config", str(config), "init", "--agent", "alice"])
    assert result.exit_code == 2
    assert "--email" in result.stderr and "alice@example.com" in result.stderr
    assert not config.exists()


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding a small demo store where `supportdesk demo` keeps it."""
    home = tmp_path_factory.mktemp("demo-home")
    path = home / "data" / "supportdesk" / "demo.db"
    path.parent.mkdir(parents=True)
    store = open_store(sqlite_url(path), create=True)
    build_demo(store, tickets=40)
    store.dispose()
    return home


def test_store_option_points_any_command_at_the_demo(demo_home: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'database_url = "sqlite:///{tmp_path / "mine.db"}"\n', encoding="utf-8")
    env = {"XDG_DATA_HOME": str(demo_home / "data"), "SUPPORTDESK_STORE": None}

    def cli(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, ["--config", str(config), *args], env=env)
        return result.exit_code, result.stdout, result.stderr

    code, out, _ = cli("--store", "demo", "rules", "list", "--json")
    assert code == 0
    names = [rule["name"] for rule in json.loads(out)]
    assert {"auto-tag", "vip", "round-robin", "quarantine-robots"} <= set(names)
    code, out, _ = cli("--store", "demo", "history", "--limit", "2000", "--json")
    actors = {
        e["actor"].removeprefix("rule:") for e in json.loads(out) if e["actor"][:5] == "rule:"
    }
    assert actors and actors <= set(names)  # every rule the history names is there to see

    demo_file = demo_home / "data" / "supportdesk" / "demo.db"
    code, out, _ = cli("--store", str(demo_file), "tickets", "list", "--ids")
    assert code == 0 and len(out.split()) == 40
    code, out, _ = cli("--store", "demo", "config", "show", "--json")
    assert json.loads(out)["settings"]["database_url"].endswith("demo.db")
    code, _, err = cli("--store", "mysql://db/x", "tickets", "list")
    assert code == 1 and "not a supported database URL" in err
    code, _, err = cli("tickets", "list")  # without --store: the config's (missing) store
    assert code == 1 and "mine.db" in err
    env["SUPPORTDESK_STORE"] = "demo"
    code, out, _ = cli("tickets", "list", "--ids")
    assert code == 0 and len(out.split()) == 40


# Item 9: config check says what the console would -----------------------------------------


def test_config_check_rejects_an_unknown_theme_and_keymap_id(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('theme = "drak"\n\n[keymap]\n"nav.nxt" = "ctrl+n"\n', encoding="utf-8")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    result = runner.invoke(app, ["--config", str(config), "config", "check"], env=env)
    assert result.exit_code == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2
    assert "theme: no theme called 'drak' (did you mean 'dark'?)" in lines[0]
    assert "keymap: no binding has the id 'nav.nxt' (did you mean 'nav.next'?)" in lines[1]
    assert all(line.startswith(f"error: {config}: ") for line in lines)
    result = runner.invoke(app, ["--config", str(config), "config", "check", "--json"], env=env)
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and data["ok"] is False and len(data["problems"]) == 2

    config.write_text('theme = "light"\n\n[keymap]\n"nav.next" = "ctrl+n"\n', encoding="utf-8")
    result = runner.invoke(app, ["--config", str(config), "config", "check"], env=env)
    assert result.exit_code == 0 and result.stdout.startswith("ok: ")


def test_config_check_loads_no_textual(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[keymap]\n"nav.nxt" = "x"\n', encoding="utf-8")
    code = (
        "import sys\nfrom supportdesk.cli import app\n"
        f"try:\n    app(['--config', {str(config)!r}, 'config', 'check'])\n"
        "except SystemExit:\n    pass\n"
        "print('textual' in sys.modules or any(m.startswith('textual.') for m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip().splitlines()[-1] == "False", result.stdout + result.stderr
    assert "did you mean 'nav.next'" in result.stderr


# Item 10: help text, and tables at 80 columns and in a pipe -------------------------------


def _help_paths() -> list[list[str]]:
    from typer.main import get_command

    found: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        found.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(get_command(app), [])
    return found


def test_help_keeps_brackets_and_shows_no_type_for_flags() -> None:
    for path in _help_paths():
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
        assert result.exit_code == 0, path
        assert "<bool>" not in result.stdout, path
    for path in (["rules", "add"], ["rules", "import"]):
        result = runner.invoke(app, [*path, "--help"])
        assert "[[rules]]" in result.stdout, path


def test_mailbox_list_keeps_brackets(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    result = runner.invoke(app, ["--config", str(config), "mailbox", "list"])
    assert result.exit_code == 0 and "[[mailboxes]]" in result.stdout


def test_tables_fit_80_columns_keeping_what_matters(
    config: Path, store: Store, terminal: None
) -> None:
    code, out, _ = run(config, "tickets", "assign", "carol", "#1", "--yes", columns=80)
    batch = re.search(r"batch ([0-9a-f-]{36})", out)
    assert code == 0 and batch
    assert batch.group(1) in out.splitlines()[0]  # the id is never broken across lines

    code, out, _ = run(config, "history", "--ticket", "1", columns=80)
    lines = out.rstrip("\n").splitlines()
    assert code == 0 and all(cell_len(line) <= 80 for line in lines)
    assert re.match(r"time\s+#\s+actor\s+action\s+old → new\s+batch", lines[0])
    assign = [line for line in lines if " assign " in line][-1]
    assert " 1 " in assign and "alice → carol" in assign  # ticket number and old → new whole
    short = re.search(r"([0-9a-f]{8})[0-9a-f-]*…", assign)
    assert short and batch.group(1).startswith(short.group(1))
    code, out, _ = run(config, "history", "--batch", short.group(1), "--json", columns=80)
    assert code == 0 and json.loads(out)[0]["batch_id"] == batch.group(1)  # the short form works

    code, out, _ = run(config, "tickets", "list", columns=80)
    lines = out.rstrip("\n").splitlines()
    assert all(cell_len(line) <= 80 for line in lines)
    row = next(line for line in lines if line.lstrip().startswith("1 "))
    subject = re.search(r"The invoice[^…]*…", row)
    assert subject and cell_len(subject.group()) >= 20  # the subject keeps its room
    assert row.split()[:3] == ["1", "new", "normal"] and "carol" in row


def test_tables_in_a_pipe_print_whole_rows(config: Path) -> None:
    code, out, _ = run(config, "tickets", "assign", "carol", "#1", "--yes", columns=80)
    batch = re.search(r"batch ([0-9a-f-]{36})", out)
    assert code == 0 and batch
    for args in (["tickets", "list"], ["history", "--ticket", "1"], ["agents", "list"]):
        code, out, _ = run(config, *args, columns=80)
        assert code == 0 and "…" not in out, args
    code, out, _ = run(config, "tickets", "list", columns=80)
    row = next(line for line in out.splitlines() if line.lstrip().startswith("1 "))
    assert "charged twice and the refund never came" in row
    assert "Customer Number 1 Of Many" in row and cell_len(row) > 80
    code, out, _ = run(config, "history", "--ticket", "1", columns=80)
    assert batch.group(1) in out


# Item 11: tags in any script; a bad one is refused by name, the rest apply ----------------


def test_tag_normal_form_and_parsing() -> None:
    assert normalise_tag("要確認") == "要確認"
    assert normalise_tag("ＶＩＰ") == "vip" and normalise_tag(" Überfällig ") == "überfällig"
    assert normalise_tag("Straße") == "strasse"
    for bad in ("two words", "bad!", "x\u202ey", "a\x1b[2J", "", "x" * 101):
        with pytest.raises(ValidationError):
            normalise_tag(bad)
    typed = parse_tags("vip, 要確認 -spam +Billing bad! vip")
    assert typed.add == ("vip", "要確認", "billing") and typed.remove == ("spam",)
    assert [word for word, _ in typed.rejected] == ["bad!"]
    assert "'bad!'" in (typed.problem() or "") and "the other tags were applied" in (
        typed.problem() or ""
    )
    assert parse_tags("-x", signs=False).add == ("-x",)


def test_cli_tags_in_any_script_and_only_the_bad_one_refused(config: Path, store: Store) -> None:
    code, out, err = run(config, "tickets", "tag", "vip,要確認,bad!", "#1", "--yes")
    assert code == 1
    assert "'bad!'" in err and "the other tags were applied" in err
    assert ticket_tags(store, 1) == ["vip", "要確認"]
    code, out, _ = run(config, "tickets", "list", "tag:要確認", "--ids")
    assert (code, out.split()) == (0, ["1"])
    code, out, _ = run(config, "tickets", "tag", "ＶＩＰ,Überfällig", "#2", "--yes", "--json")
    assert code == 0 and "refused" not in json.loads(out)
    assert ticket_tags(store, 2) == ["vip", "überfällig"]
    code, out, _ = run(config, "tickets", "list", "tag:ÜBERFÄLLIG", "--ids")
    assert out.split() == ["2"]

    before = event_count(store)
    code, out, err = run(config, "tickets", "tag", "bad!,?!", "#3", "--yes")
    assert code == 1 and "nothing changed" in err and out == ""
    assert event_count(store) == before
    code, out, err = run(config, "tickets", "untag", "要確認,?", "#1", "--yes", "--json")
    assert code == 1 and "'?'" in json.loads(out)["refused"] and ticket_tags(store, 1) == ["vip"]
