"""Start-up: what the commands a shell or cron runs most load, and the sync fast path.

`supportdesk sync` from cron, `supportdesk --help` and `supportdesk tickets list` are whole
processes whose cost is mostly imports. These tests run them as processes and read
`sys.modules` at exit: the modules named lazy for each path must not be there. The sync fast
path (cli/fastpath.py) must answer exactly as the Typer command does, so every case is run
both ways, with the fast path switched off in the second run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from supportdesk.cli.fastpath import ConsoleArgs, SyncArgs, parse_console, parse_sync
from supportdesk.store import Store, migrate
from supportdesk.store.models import SyncState
from tests.imap_server import ImapAccount, free_port
from tests.test_sync import mail, write_config

ROOT = Path(__file__).resolve().parent.parent

# Runs the real entry point, then names every loaded module on stderr's last line. With
# "typer" as argv[1] the fast path is switched off, so Typer parses and runs the command.
_RUN = """
import sys
import supportdesk.cli.fastpath as fastpath
if sys.argv.pop(1) == "typer":
    fastpath.parse_sync = lambda argv: None
    fastpath.parse_console = lambda argv: None
from supportdesk.cli import main
try:
    main()
finally:
    sys.stderr.write("\\nMODULES " + ",".join(sorted(sys.modules)) + "\\n")
"""

LAZY_EVERYWHERE = ("textual", "supportdesk.tui", "alembic")
"""Never loaded by these commands: the console, and migrations for a store at head."""
LAZY_FOR_HELP = (
    *LAZY_EVERYWHERE,
    "rich",
    "pydantic",
    "sqlalchemy",
    "sqlmodel",
    "imapclient",
    "supportdesk.config",
    "supportdesk.store",
    "supportdesk.desk.intake",
)
LAZY_FOR_NOOP_SYNC = (
    *LAZY_EVERYWHERE,
    "typer",
    "click",
    "rich",
    "sqlalchemy",
    "sqlmodel",
    "supportdesk.cli.commands",
    "supportdesk.desk.ingest",
)
LAZY_FOR_TICKETS_LIST = (*LAZY_EVERYWHERE, "imapclient", "supportdesk.desk.intake")


class Run:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.code = proc.returncode
        self.stdout = proc.stdout
        err, _, modules = proc.stderr.rpartition("\nMODULES ")
        assert modules, proc.stderr[-2000:]
        self.stderr = err
        self.modules = set(modules.strip().split(","))

    def loaded(self, names: tuple[str, ...]) -> list[str]:
        """Which of `names` (packages count with their submodules) were imported."""
        return sorted(
            n for n in names if any(m == n or m.startswith(n + ".") for m in self.modules)
        )


def run(*args: str, typer: bool = False, env: dict[str, str] | None = None) -> Run:
    """The `supportdesk` command line as its own process."""
    proc = subprocess.run(
        [sys.executable, "-c", _RUN, "typer" if typer else "fast", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )
    return Run(proc)


_SECONDS = re.compile(r'("seconds": )[0-9.]+|( in )[0-9.]+( s)')


def same_both_ways(*args: str, env: dict[str, str] | None = None) -> Run:
    """Run `args` through the fast path and through Typer; both must answer alike."""
    fast = run(*args, env=env)
    slow = run(*args, typer=True, env=env)
    assert "typer" not in fast.modules and "typer" in slow.modules
    assert fast.code == slow.code, (fast.stderr, slow.stderr)

    def steady(text: str) -> str:
        return _SECONDS.sub(lambda m: (m.group(1) or m.group(2)) + "N" + (m.group(3) or ""), text)

    assert steady(fast.stdout) == steady(slow.stdout)
    assert fast.stderr == slow.stderr
    return fast


# ---- which argument lists take the fast path ---------------------------------------------------


def test_plain_sync_command_lines_are_recognised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUPPORTDESK_CONFIG", raising=False)
    monkeypatch.delenv("SUPPORTDESK_STORE", raising=False)
    assert parse_sync(["sync"]) == SyncArgs(None, None, None, False)
    assert parse_sync(["--config", "c.toml", "sync", "--json"]) == SyncArgs(
        Path("c.toml"), None, None, True
    )
    assert parse_sync(["--store=s.db", "--config=c.toml", "sync", "-m", "a"]) == SyncArgs(
        Path("c.toml"), "s.db", "a", False
    )
    assert parse_sync(["sync", "--mailbox=a", "--json"]) == SyncArgs(None, None, "a", True)
    assert parse_sync(["--config", "sync", "sync"]) == SyncArgs(Path("sync"), None, None, False)
    monkeypatch.setenv("SUPPORTDESK_CONFIG", "env.toml")
    monkeypatch.setenv("SUPPORTDESK_STORE", "demo")
    assert parse_sync(["sync"]) == SyncArgs(Path("env.toml"), "demo", None, False)
    assert parse_sync(["--config", "c.toml", "sync"]) == SyncArgs(
        Path("c.toml"), "demo", None, False
    )


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--help"],
        ["sync", "--help"],
        ["sync", "--watch"],
        ["sync", "--json", "--json"],
        ["sync", "-m", "a", "--mailbox", "b"],
        ["sync", "-ma"],
        ["sync", "-m=a"],
        ["sync", "-m"],
        ["sync", "--mailbox", ""],
        ["sync", "--mailbox", "-x"],
        ["sync", "extra"],
        ["sync", "--", "x"],
        ["--config", "a", "--config", "b", "sync"],
        ["--config", "", "sync"],
        ["--config"],
        ["--json", "sync"],
        ["tickets", "list"],
        ["sync2"],
    ],
)
def test_anything_else_is_left_to_typer(argv: list[str]) -> None:
    assert parse_sync(argv) is None


def test_the_fast_path_knows_every_option_of_the_root_and_of_sync() -> None:
    """A root option or a sync option added to the Typer app must be added to the fast path
    too (or make it step aside): an environment variable it did not read would change what
    a cron job's sync does."""
    import typer.main

    from supportdesk.cli import app, fastpath

    root = typer.main.get_command(app)
    options = {opt: param.envvar for param in root.params for opt in param.opts}
    options.pop("--help", None)
    assert options == fastpath._ROOT_OPTIONS
    sync = root.commands["sync"]  # type: ignore[attr-defined]
    names = {opt for param in sync.params for opt in param.opts} - {"--help"}
    assert names == set(fastpath._SYNC_OPTIONS) | fastpath._SYNC_FLAGS | {"--watch"}
    assert all(param.envvar is None for param in sync.params)


def test_plain_console_command_lines_are_recognised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUPPORTDESK_CONFIG", raising=False)
    monkeypatch.delenv("SUPPORTDESK_STORE", raising=False)
    assert parse_console([]) == ConsoleArgs(None, None)
    assert parse_console(["console"]) == ConsoleArgs(None, None)
    assert parse_console(["--store", "s.db"]) == ConsoleArgs(None, "s.db")
    assert parse_console(["--config=c.toml", "--store", "demo", "console"]) == ConsoleArgs(
        Path("c.toml"), "demo"
    )
    assert parse_console(["--config", "console", "console"]) == ConsoleArgs(Path("console"), None)
    monkeypatch.setenv("SUPPORTDESK_STORE", "demo")
    assert parse_console([]) == ConsoleArgs(None, "demo")
    for argv in (
        ["--help"],
        ["console", "--help"],
        ["console", "x"],
        ["console", "console"],
        ["--store"],
        ["--store", "a", "--store", "b"],
        ["--json"],
        ["sync"],
        ["demo"],
        ["tickets", "list"],
    ):
        assert parse_console(argv) is None, argv


def test_a_shell_completion_request_is_left_to_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_SUPPORTDESK_COMPLETE", "bash_complete")
    assert parse_sync(["sync"]) is None
    assert parse_console([]) is None


def test_an_empty_environment_variable_counts_as_unset_as_in_click(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SUPPORTDESK_CONFIG", "")
    monkeypatch.setenv("SUPPORTDESK_STORE", "")
    assert parse_sync(["sync"]) == SyncArgs(None, None, None, False)


# ---- the fast path answers as Typer does -------------------------------------------------------


@pytest.fixture
def synced(tmp_path: Path, imap_account: ImapAccount, sqlite_store: Store) -> Path:
    """A config whose mailbox is synced already: the next sync finds nothing new."""
    imap_account.append_many([mail(1), mail(2, reply_to=1), mail(3)])
    config = write_config(tmp_path / "config.toml", imap_account, sqlite_store.url)
    first = run("--config", str(config), "sync", "--json")
    assert first.code == 0 and json.loads(first.stdout)["total"]["messages"] == 3
    return config


def test_noop_sync_loads_neither_typer_nor_rich_nor_the_store(synced: Path) -> None:
    result = same_both_ways("--config", str(synced), "sync", "--json")
    data = json.loads(result.stdout)
    assert (result.code, data["total"]["messages"], data["exit_code"]) == (0, 0, 0)
    assert result.loaded(LAZY_FOR_NOOP_SYNC) == []


def test_noop_sync_table_and_the_config_from_the_environment(synced: Path) -> None:
    result = same_both_ways("sync", env={"SUPPORTDESK_CONFIG": str(synced)})
    assert result.code == 0
    assert "support/INBOX" in result.stdout and "sync: 1 folder in" in result.stdout
    assert result.loaded(LAZY_FOR_NOOP_SYNC) == ["rich"]  # the table is printed with rich


def test_new_mail_through_the_fast_path_lands_as_through_typer(
    synced: Path, imap_account: ImapAccount, sqlite_store: Store
) -> None:
    imap_account.append(mail(4, reply_to=3))
    result = run("--config", str(synced), "sync", "--json", "--mailbox", "support")
    assert "typer" not in result.modules
    data = json.loads(result.stdout)
    assert (result.code, data["total"]["messages"], data["total"]["follow_ups"]) == (0, 1, 1)
    assert "supportdesk.desk.ingest" in result.modules
    with sqlite_store.session() as s:
        (state,) = s.exec(select(SyncState)).all()
    assert state.last_uid == 4


def test_mistakes_give_the_same_message_and_exit_code_both_ways(
    tmp_path: Path, synced: Path
) -> None:
    unknown = same_both_ways("--config", str(synced), "sync", "-m", "nosuch")
    assert unknown.code == 2 and "no mailbox named 'nosuch'" in unknown.stderr

    missing = same_both_ways("--config", str(tmp_path / "nowhere.toml"), "sync", "--json")
    assert missing.code == 1 and "nowhere.toml" in missing.stderr and missing.stdout == ""

    bad = tmp_path / "bad.toml"
    bad.write_text(synced.read_text().replace("[sync]", "[sync]\nbatch_sise = 5"))
    invalid = same_both_ways("--config", str(bad), "sync")
    assert invalid.code == 1 and "batch_sise" in invalid.stderr

    empty = tmp_path / "empty.toml"
    empty.write_text(f'database_url = "sqlite:///{tmp_path / "store.db"}"\n')
    none = same_both_ways("--config", str(empty), "sync", "--json")
    assert none.code == 2 and "no mailboxes configured" in none.stderr

    no_store = same_both_ways(
        "--config", str(synced), "--store", str(tmp_path / "missing.db"), "sync", "--json"
    )
    assert no_store.code == 1 and "supportdesk init" in no_store.stderr


def test_a_reader_that_went_away_is_exit_1_without_a_traceback_both_ways(synced: Path) -> None:
    for typer in (False, True):
        way = "typer" if typer else "fast"
        proc = subprocess.Popen(
            [sys.executable, "-c", _RUN, way, "--config", str(synced), "sync", "--json"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        proc.stdout.close()  # before the command writes its report
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 1, err
        assert "Traceback" not in err and ("typer" in err) == typer


def test_an_unreachable_server_is_a_temporary_failure_both_ways(
    tmp_path: Path, imap_account: ImapAccount, sqlite_store: Store
) -> None:
    config = write_config(
        tmp_path / "config.toml", imap_account, sqlite_store.url, imap_port=free_port()
    )
    result = same_both_ways("--config", str(config), "sync", "--json")
    assert result.code == 75 and json.loads(result.stdout)["exit_code"] == 75


def test_the_console_without_a_terminal_answers_alike_without_typer(
    tmp_path: Path, sqlite_store: Store
) -> None:
    """A plain `supportdesk [console]` through the fast path: the same overview (no terminal
    here), refusal and exit code as through Typer, without building the Typer app."""
    config = tmp_path / "config.toml"
    config.write_text('agent = "alice"\n')
    for args in (("--store", sqlite_store.url, "console"), ("--store", str(tmp_path / "no.db"))):
        fast = run("--config", str(config), *args)
        slow = run("--config", str(config), *args, typer=True)
        assert "supportdesk.cli.commands" not in fast.modules
        assert "supportdesk.cli.commands" in slow.modules
        assert (fast.code, fast.stdout, fast.stderr) == (slow.code, slow.stdout, slow.stderr)
    assert fast.code == 1 and "supportdesk init" in fast.stderr
    assert slow.code == 1 and "supportdesk init" in slow.stderr


def test_a_console_that_crashed_is_not_a_success_either_way(
    tmp_path: Path, sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Textual answers an unhandled error with return code 1: the process must exit with it."""
    import gc

    from typer.testing import CliRunner

    from supportdesk.cli import console, fastpath
    from supportdesk.cli.commands import app
    from supportdesk.tui.app import SupportdeskApp

    def crashed(self: SupportdeskApp) -> None:
        self._return_code = 1

    monkeypatch.setattr(SupportdeskApp, "run", crashed)
    monkeypatch.setattr(console, "has_terminal", lambda: True)
    monkeypatch.setattr(console.gc, "freeze", lambda: None)
    config = tmp_path / "config.toml"
    config.write_text('agent = "alice"\n')
    try:
        assert fastpath.run_console(ConsoleArgs(config, sqlite_store.url)) == 1
    finally:
        gc.enable()
    result = CliRunner().invoke(app, ["--config", str(config), "--store", sqlite_store.url])
    assert result.exit_code == 1, result.output
    monkeypatch.setattr(SupportdeskApp, "run", lambda self: None)
    assert fastpath.run_console(ConsoleArgs(config, sqlite_store.url)) == 0
    gc.enable()


# ---- --help and tickets list -------------------------------------------------------------------


def test_help_loads_no_rich_pydantic_store_or_mail() -> None:
    result = run("--help")
    assert result.code == 0 and "Usage:" in result.stdout and "sync" in result.stdout
    assert result.loaded(LAZY_FOR_HELP) == []


def test_help_lists_every_command() -> None:
    from supportdesk.cli import app

    result = run("--help")
    names = [info.name for info in app.registered_commands + app.registered_groups]
    assert len(names) > 10 and all(name for name in names)
    assert [name for name in names if f"\n  {name} " not in result.stdout] == []


def test_tickets_list_at_head_loads_neither_alembic_nor_the_console_nor_imap(
    tmp_path: Path, store: Store
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("")
    result = run("--config", str(config), "--store", store.url, "tickets", "list", "--json")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout) == {"total": 0, "tickets": []}
    assert result.loaded(LAZY_FOR_TICKETS_LIST) == []


def test_a_store_behind_loads_the_migrations_and_is_upgraded(
    tmp_path: Path, sqlite_store: Store
) -> None:
    head = migrate.head_revision()
    migrate.downgrade(sqlite_store.engine, "0002")
    config = tmp_path / "config.toml"
    config.write_text("")
    result = run("--config", str(config), "--store", sqlite_store.url, "tickets", "list")
    assert result.code == 0, result.stderr
    assert "alembic" in result.modules
    assert migrate.current_revision(sqlite_store.engine) == head
