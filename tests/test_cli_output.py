"""What the CLI prints: never a raw escape from mail, never markup, whole rows in a pipe.

The sweep runs every command the Typer app has (found by walking it, so a new command is
swept too, or the test says it needs arguments) over a store full of hostile text: subjects,
names, bodies, notes, tags, queue, agent and rule names, attachment names, config values,
all carrying CSI, OSC 52 / OSC 8, C1 controls, bidi overrides, Rich markup and emoji codes.
Each runs as into a pipe and as on an 80-column terminal; nothing a terminal could act on may
reach stdout or stderr, and JSON must escape it.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from supportdesk.cli import app, output
from supportdesk.desk import canned, directory, tickets
from supportdesk.desk.events import Change
from supportdesk.desk.messages import NewAttachment, NewMessage, add_message
from supportdesk.desk.rules import storage
from supportdesk.store import open_store
from supportdesk.store.engine import sqlite_url
from supportdesk.store.models import Agent, OutboxItem, Queue, Rule, Tag, TicketTag

# Everything a terminal may act on: C0 but tab and newline, DEL, C1, bidi controls. Written
# out here rather than imported, so a gap in the product's own list fails this test.
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
PAYLOAD = (
    "\x1b[2J"  # clear the screen
    "\x1b]52;c;cHduZWQ=\x07"  # OSC 52: write the clipboard
    "\x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\"  # OSC 8: a hidden link
    "\x1b[31m"  # colour
    "\x9b2J"  # CSI as one C1 byte
    "\x9d0;title\x9c"  # OSC as C1
    "\x07\x08\r"  # bell, backspace, carriage return
    "\u202e\u2066"  # bidi overrides
    "[bold red]markup[/]"  # Rich markup
    " :smile:"  # an emoji code
)
MARKUP = "[bold red]markup[/]"


def hostile(label: str) -> str:
    return f"{label} {PAYLOAD} end"


HOSTILE_QUEUE = hostile("queue").lower()  # queue names are looked up lower-cased
HOSTILE_AGENT = hostile("eve")
# TOML that loads: escapes (\u001b) become real controls in the values; the description
# holds raw C1 and bidi characters, which TOML allows in strings.
RULES = r"""[[rules]]
name = "escalate"
trigger = "time"
description = "raw RAWCONTROLS here"
when = { query = "status:new,open" }
actions = [{ note = "\u001b[2J\u001b]52;c;cHduZWQ=\u0007 [bold]from a rule[/]" }]
""".replace("RAWCONTROLS", "\u202e\u009b2J")
CANNED = r"""[[canned]]
name = "welcome"
title = "\u001b[2JWelcome [bold]x[/]"
body = "Hello \u001b]52;c;cHduZWQ=\u0007 RAWCONTROLS {customer.first_name|there}"
""".replace("RAWCONTROLS", "\u202e\u009b2J")
LEGACY_RULE = """[[rules]]
name = "legacy"
trigger = "new_ticket"
actions = [{ add_tags = ["old"] }]
"""


def build_hostile_store(path: Path) -> None:
    store = open_store(sqlite_url(path), create=True)
    change = Change.by("agent:alice")
    with store.session(write=True) as s:
        directory.ensure_queue(s, "billing")
        directory.ensure_queue(s, "general")
        directory.add_agent(s, "alice", email="alice@desk.example", name=hostile("Alice"))
        directory.add_agent(s, "bob", email="bob@desk.example", name="Bob")
        # Names the domain would refuse today, as an older version or another tool left them.
        s.add(Queue(name=HOSTILE_QUEUE, description=hostile("about")))
        s.add(Agent(handle=HOSTILE_AGENT, email="eve@desk.example", name=hostile("Eve")))
        s.flush()
        ticket = tickets.create_ticket(
            s,
            subject=hostile("Subject"),
            requester_email="jo@acme.example",
            requester_name=hostile("Jo"),
            queue="billing",
            change=change,
            tags=["vip"],
        )
        add_message(
            s,
            ticket,
            NewMessage(
                raw=b"Subject: x\r\n\r\nx",
                message_id="<hostile@acme.example>",
                from_address="jo@acme.example",
                from_name=hostile("Jo"),
                subject=hostile("Subject"),
                body_text=hostile("Body") + "\nsecond line",
                attachments=[
                    NewAttachment(
                        filename=hostile("file") + ".pdf",
                        content_type="application/pdf",
                        content=b"%PDF-1.4",
                    )
                ],
            ),
            change,
        )
        tickets.add_note(s, ticket.number, hostile("Note"), change)
        tickets.assign(s, ticket.number, "alice", change)
        # alice hears of it: `notifications` shows the hostile subject and actor
        tickets.add_note(s, ticket.number, "@alice " + hostile("ping"), Change.by("agent:bob"))
        tickets.move_queue(s, ticket.number, HOSTILE_QUEUE, change)
        tag = Tag(name=hostile("tag"))
        s.add(tag)
        s.flush()
        s.add(TicketTag(ticket_id=ticket.id, tag_id=tag.id))  # type: ignore[arg-type]
        tickets.create_ticket(
            s,
            subject="A quiet ticket",
            requester_email="sam@beta.example",
            requester_name=hostile("Sam"),
            queue="general",
            change=Change.by(f"agent:{HOSTILE_AGENT}"),
        )
        tickets.set_priority(s, 1, "high", Change.by("agent:alice"))
        storage.add_rules(s, RULES, origin="test")
        s.add(
            Rule(
                name=hostile("rule"),
                position=2,
                enabled=False,
                trigger="new_ticket",
                definition=LEGACY_RULE,
            )
        )
        canned.add_canned(s, "hello", hostile("Title"), hostile("Hi") + " {customer.name}")
        # A reply the server refused, with the server's words as hostile as the mail.
        s.add(
            OutboxItem(
                ticket_id=ticket.id,
                mailbox="support",
                recipients="jo@acme.example",
                raw=b"Subject: x\r\n\r\nx",
                state="failed",
                attempts=1,
                last_error=hostile("550 refused"),
                message_id_header="<out@desk.example>",
            )
        )
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    store.dispose()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "store.db"
    build_hostile_store(path)
    return path


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Desk:
    """A fresh copy of the hostile store, config and files for each command run."""

    def __init__(self, template: Path, root: Path) -> None:
        self.template = template
        self.root = root
        self.data = root / "data"
        self.store_path = self.data / "supportdesk" / "demo.db"  # also `supportdesk demo`'s
        self.config = root / "config.toml"
        self.eml = root / "mail" / "hostile.eml"
        self.rules = root / "rules.toml"
        self.config.write_text(
            f'database_url = "sqlite:///{self.store_path}"\n'
            'agent = "alice"\n\n'
            "[[saved_searches]]\n"
            'name = "\\u001b[2Jmine\\u009b31m"\n'
            'query = "assignee:me"\n\n'
            "[[mailboxes]]\n"
            'name = "support"\n'
            'address = "support@desk.example"\n'
            'imap_host = "127.0.0.1"\n'
            f"imap_port = {_closed_port()}\n"
            'security = "none"\n'
            'username = "support\\u001b]52;c;eA==\\u0007"\n'
            'password_command = "echo secret"\n'
            'folders = ["INBOX", "Hostile\\u001b[2J[bold]x[/]"]\n',
            encoding="utf-8",
        )
        self.eml.parent.mkdir(parents=True)
        self.eml.write_bytes(
            b"From: =?utf-8?b?"
            + __import__("base64").b64encode(hostile("Mallory").encode())
            + b"?= <mallory@evil.example>\r\n"
            b"Subject: =?utf-8?b?"
            + __import__("base64").b64encode(hostile("Imported").encode())
            + b"?=\r\nMessage-ID: <imported@evil.example>\r\n\r\n"
            + hostile("Imported body").encode()
            + b"\r\n"
        )
        self.rules.write_text(RULES, encoding="utf-8")
        self.canned = root / "canned.toml"
        self.canned.write_text(CANNED, encoding="utf-8")
        self.body = root / "body.txt"
        self.body.write_text(hostile("Reply body"), encoding="utf-8")

    def reset(self) -> None:
        self.store_path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("-wal", "-shm"):
            self.store_path.with_name(self.store_path.name + suffix).unlink(missing_ok=True)
        shutil.copyfile(self.template, self.store_path)

    def env(self, columns: int) -> dict[str, str | None]:
        return {
            "COLUMNS": str(columns),
            "XDG_DATA_HOME": str(self.data),
            "XDG_CONFIG_HOME": str(self.root / "xdg-config"),
            "HOME": str(self.root),
            "EDITOR": "true",
            "VISUAL": None,
            "SUPPORTDESK_CONFIG": None,
            "SUPPORTDESK_STORE": None,
        }


@pytest.fixture
def desk(template: Path, tmp_path: Path) -> Desk:
    return Desk(template, tmp_path)


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make the CLI's consoles behave as on a terminal, without colour codes to tell apart.

    Rich decides "terminal" once; it has no public switch afterwards, hence the attributes.
    """
    for console in (output.console, output.err_console):
        monkeypatch.setattr(console, "_force_terminal", True)
        monkeypatch.setattr(console, "_color_system", None)
    yield


def invocations(desk: Desk) -> dict[tuple[str, ...], list[list[str]]]:
    """Arguments for every command that needs some; the rest run bare."""
    eml, rules = str(desk.eml), str(desk.rules)
    dry = ["all", "--dry-run"]
    return {
        ("sync",): [[], ["--json"]],
        ("demo",): [[], ["--no-console"], ["--json"]],
        ("undo",): [[], ["--json"]],
        ("history",): [[], ["--ticket", "1"], ["--json"]],
        ("import",): [[eml], [eml, "--json"], [str(desk.root / "gone\x1b[2J.mbox")]],
        ("init",): [[]],
        ("tickets", "list"): [[], ["--json"], ["--ids"], [":"]],
        ("tickets", "show"): [["1"], ["1", "--json"]],
        ("tickets", "assign"): [["alice", *dry], ["bob", "#1", "--yes"], ["bob", ":"]],
        ("tickets", "unassign"): [dry, ["all", "--yes", "--json"]],
        ("tickets", "reassign"): [["--from", "alice", "--to", "bob", "--dry-run"]],
        ("tickets", "status"): [["solved", *dry], ["closed", "#1", "--yes"]],
        ("tickets", "priority"): [["urgent", *dry], ["low", "all", "--yes", "--json"]],
        ("tickets", "move"): [["general", *dry], ["general", "#1", "--yes"]],
        ("tickets", "tag"): [["vip,要確認,bad!", *dry], ["x", "#1", "--yes", "--json"]],
        ("tickets", "untag"): [["vip", *dry], ["vip", "all", "--yes"]],
        ("tickets", "merge"): [["#2", "--into", "1", "--dry-run"]],
        ("queues", "add"): [["shipping"]],
        ("agents", "add"): [["carol", "--email", "carol@desk.example", "--name", hostile("C")]],
        ("agents", "digest"): [["bob", "--off"], ["bob", "--on", "--json"]],
        ("config", "path"): [[], ["--json"]],
        ("config", "check"): [[], ["--json"]],
        ("config", "show"): [[], ["--json"]],
        ("mailbox", "test"): [["support"], ["support", "--json"]],
        ("mailbox", "login"): [["support"]],
        ("mailbox", "list"): [[], ["--json"]],
        ("rules", "show"): [["escalate"], ["escalate", "--json"]],
        ("rules", "add"): [[rules]],
        ("rules", "edit"): [["escalate"]],
        ("rules", "enable"): [["escalate"]],
        ("rules", "disable"): [["escalate"]],
        ("rules", "move"): [["escalate", "--to", "2"]],
        ("rules", "remove"): [["escalate"]],
        ("rules", "export"): [[]],
        ("rules", "import"): [[rules], [rules, "--json"]],
        ("rules", "test"): [["escalate"], [rules, "--json"]],
        ("rules", "run"): [[], ["--json"]],
        ("rules", "list"): [[], ["--json"]],
        ("tickets", "reply"): [
            ["1", "--body-file", str(desk.body), "--yes"],
            ["1", "--canned", "hello", "--yes", "--json"],
        ],
        ("queues", "acknowledge"): [["billing", "hello"]],
        ("canned", "show"): [["hello"], ["hello", "--json"]],
        ("canned", "edit"): [["hello"]],
        ("canned", "remove"): [["hello"]],
        ("canned", "import"): [[str(desk.canned)], [str(desk.canned), "--json"]],
        ("outbox", "retry"): [["1"], ["1", "--json"]],
        ("outbox", "cancel"): [["1"], ["1", "--json"]],
        ("notes", "list"): [["1"], ["1", "--json"]],
        ("notes", "add"): [["1", hostile("note")], ["1", "x", "--json"]],
        ("notes", "edit"): [["1", hostile("edited")], ["1", "x", "--json"], ["99", "x"]],
        ("notes", "delete"): [["1"], ["1", "--json"]],
        ("sla", "set"): [
            ["billing", "--first-response", "4h"],
            ["billing", "--json", "--hours", "sat=10:00-12:00"],
        ],
        ("sla", "show"): [["billing"], ["billing", "--json"]],
        ("sla", "import"): [[rules], [rules, "--json"]],
        ("sla", "remove"): [["billing"], ["billing", "--json"]],
        ("team", "add-agent"): [
            ["zed", "--email", "zed@example.com"],
            ["zed", "--email", "zed@example.com", "--json"],
        ],
        ("team", "add-service"): [["sync"], ["sync", "--json"]],
        ("report",): [[], ["--json"], ["--csv"], ["--by", "agent", "queue:billing"]],
        ("notifications",): [[], ["--json"], ["--unread", "--agent", "bob"]],
        ("notifications", "list"): [[], ["--json"]],
        ("notifications", "read"): [["--all"], ["1", "--json"], ["99"], []],
    }


def command_paths() -> list[tuple[tuple[str, ...], Any]]:
    """Every command and group of the app, as the words that run it."""
    found: list[tuple[tuple[str, ...], Any]] = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        found.append((path, command))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(get_command(app), ())
    return found


def _needs_arguments(command: Any) -> bool:
    return any(p.required for p in command.params)


# What Rich itself sends a terminal to draw and erase a progress bar. Only these may appear,
# and only in terminal mode: the hostile payload uses none of them.
RICH_CONTROLS = re.compile(r"\x1b\[\?25[lh]|\x1b\[2K|\x1b\[\d*[AG]|\r(?=\x1b\[2K)")


def run(desk: Desk, args: list[str], columns: int) -> tuple[int, str, str]:
    desk.reset()
    runner = CliRunner(env=desk.env(columns))
    result = runner.invoke(app, ["--config", str(desk.config), *args], input="")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{args}: {result.exception!r}\n{result.stdout}\n{result.stderr}")
    return result.exit_code, result.stdout, result.stderr


def _runs(desk: Desk) -> list[list[str]]:
    table = invocations(desk)
    runs: list[list[str]] = []
    missing: list[str] = []
    for path, command in command_paths():
        if path in table:
            runs += [[*path, *args] for args in table[path]]
        elif _needs_arguments(command):
            missing.append(" ".join(path))
        else:
            runs.append(list(path))
    assert not missing, f"add arguments for these commands to invocations(): {missing}"
    return runs


def _assert_inert(args: list[str], out: str, err: str, *, terminal: bool) -> None:
    for name, text in (("stdout", out), ("stderr", err)):
        if terminal:
            text = RICH_CONTROLS.sub("", text)
        bad = FORBIDDEN.search(text)
        assert bad is None, (
            f"supportdesk {' '.join(args)}: {name} has {bad.group()!r} at {bad.start()}: "
            f"{text[max(0, bad.start() - 60) : bad.start() + 20]!r}"
        )
        assert "😄" not in text, f"supportdesk {' '.join(args)}: an emoji code was expanded"


def test_every_command_in_a_pipe_prints_nothing_a_terminal_acts_on(desk: Desk) -> None:
    runs = _runs(desk)
    assert len(runs) > 60
    for args in runs:
        _, out, err = run(desk, args, columns=80)
        # Rule TOML into a pipe is data for a program: exact, and TOML forbids C0 anyway.
        if args[:2] in (["rules", "show"], ["rules", "export"]) and "--json" not in args:
            assert "\x1b" not in out and RULES.split("\n")[3] in out
            continue
        _assert_inert(args, out, err, terminal=False)
        if "--json" in args and out.strip():
            json.loads(out)


def test_every_command_on_a_terminal_prints_nothing_a_terminal_acts_on(
    desk: Desk, terminal: None
) -> None:
    for args in _runs(desk):
        if "--json" in args:
            continue
        _, out, err = run(desk, args, columns=80)
        _assert_inert(args, out, err, terminal=True)


def test_json_escapes_what_json_itself_lets_through(desk: Desk) -> None:
    code, out, _ = run(desk, ["tickets", "show", "1", "--json"], columns=80)
    assert code == 0
    assert FORBIDDEN.search(out) is None
    assert "\\u009b" in out and "\\u202e" in out and "\\u001b" in out  # escaped, not dropped
    detail = json.loads(out)
    assert detail["row"]["subject"] == hostile("Subject")  # the value itself is exact


def test_mail_text_is_never_markup_or_emoji(desk: Desk) -> None:
    for args in (["tickets", "show", "1"], ["tickets", "list"], ["history", "--ticket", "1"]):
        code, out, _ = run(desk, args, columns=200)
        assert code == 0 and MARKUP in out and ":smile:" in out, args
    code, out, _ = run(desk, ["tickets", "show", "1"], columns=200)
    # Whole sequences are dropped, lone controls shown as pictures (␇ bell, ␈ backspace).
    assert out.startswith("#1 Subject link␇␈ [bold red]markup[/] :smile: end")


def test_rules_export_round_trips_exactly_into_a_pipe(desk: Desk) -> None:
    code, out, _ = run(desk, ["rules", "export"], columns=80)
    assert code == 0 and "\u202e\u009b2J" in out  # data for a file: exact


def test_rules_export_on_a_terminal_is_inert(desk: Desk, terminal: None) -> None:
    code, out, _ = run(desk, ["rules", "export"], columns=80)
    assert code == 0 and "escalate" in out and FORBIDDEN.search(out) is None
