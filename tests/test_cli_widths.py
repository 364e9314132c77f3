"""The CLI's tables over the tricky strings (tests/widths.py), on SQLite and PostgreSQL: each
line fits the terminal in cells, columns line up, cut text ends on a whole character, and the
JSON a script reads keeps ISO 8601 UTC whatever the language; tables show times in the
agent's configured zone."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from supportdesk import dates, i18n
from supportdesk.cli import app, output
from supportdesk.desk import directory, tickets
from supportdesk.desk.events import Change
from supportdesk.store import Store
from supportdesk.text import one_line
from tests.widths import TRICKY, cell_slice, is_whole_start

runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path, store: Store) -> Path:
    change = Change.by("agent:lead")
    with store.session(write=True) as s:
        directory.ensure_queue(s, "billing")
        directory.add_agent(s, "alice", email="alice@desk.example", name="Alice")
        for key, value in TRICKY.items():
            ticket = tickets.create_ticket(
                s,
                subject=f"{value} {value}",
                requester_email=f"{key}@example.com",
                requester_name=value,
                queue="billing",
                change=change,
                assignee="alice",
            )
            tickets.add_note(s, ticket.number, f"{value} {value}", change)
    path = tmp_path / "config.toml"
    path.write_text(f'database_url = "{store.url}"\nagent = "alice"\n', encoding="utf-8")
    return path


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI's consoles as on a terminal (Rich decides once and has no public switch)."""
    for console in (output.console, output.err_console):
        monkeypatch.setattr(console, "_force_terminal", True)
        monkeypatch.setattr(console, "_color_system", None)
    yield


def run(config: Path, *args: str, columns: int) -> str:
    result = runner.invoke(app, ["--config", str(config), *args], env={"COLUMNS": str(columns)})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.stderr
    return result.stdout


def starts(header: str, titles: list[str]) -> list[int]:
    """The cell where each title begins in the header line."""
    found = []
    position = 0
    for title in titles:
        index = header.index(title, position)
        found.append(cell_len(header[:index]))
        position = index + len(title)
    return found


@pytest.mark.parametrize("columns", [80, 120])
def test_ticket_list_lines_up_in_cells(config: Path, terminal: None, columns: int) -> None:
    out = run(config, "tickets", "list", columns=columns)
    lines = out.rstrip("\n").splitlines()
    assert all(cell_len(line) <= columns for line in lines), out
    header = next(line for line in lines if "subject" in line and "status" in line)
    titles = ["status", "pri", "queu", "subj", "requ", "assi", "updated"]  # may be cut
    cuts = starts(header, titles)
    end = cell_len(header.rstrip())
    rows = [line for line in lines if re.match(r"\s*\d+ ", line)]
    assert len(rows) == len(TRICKY)
    for row in rows:
        assert cell_len(row.rstrip()) == end, (row, header)  # the age column ends in line
        fields = [
            cell_slice(row, a, b).strip() for a, b in zip(cuts, [*cuts[1:], end], strict=True)
        ]
        status, _, queue, subject, requester, assignee, updated = fields
        assert status == "new" and is_whole_start(queue, "billing")
        assert is_whole_start(assignee, "alice")
        assert re.fullmatch(r"now|\d+[mhdw]", updated)
        assert any(is_whole_start(subject, one_line(f"{v} {v}")) for v in TRICKY.values()), row
        assert any(is_whole_start(requester, one_line(v)) for v in TRICKY.values()), row


def test_history_and_notes_fit_in_cells(config: Path, terminal: None) -> None:
    for args in (["history"], ["notes", "list", "1"]):
        out = run(config, *args, columns=80)
        lines = out.rstrip("\n").splitlines()
        assert all(cell_len(line) <= 80 for line in lines), (args, out)


def test_json_keeps_iso_utc_in_japanese(config: Path) -> None:
    before = i18n.current_language()
    try:
        i18n.set_language("ja")
        rows = json.loads(run(config, "tickets", "list", "--json", columns=80))["tickets"]
    finally:
        i18n.set_language(before)
    assert len(rows) == len(TRICKY)
    for row in rows:
        stamp = datetime.fromisoformat(row["updated_at"])
        assert stamp.utcoffset() is not None and stamp.utcoffset().total_seconds() == 0
        assert row["subject"] in {f"{v} {v}" for v in TRICKY.values()}


@pytest.fixture
def tokyo(config: Path) -> Iterator[Path]:
    text = config.read_text(encoding="utf-8")
    config.write_text(text + 'timezone = "Asia/Tokyo"\n', encoding="utf-8")
    yield config
    dates.set_timezone(None)


def test_tables_show_times_in_the_configured_zone(tokyo: Path, terminal: None) -> None:
    events = json.loads(run(tokyo, "history", "--ticket", "1", "--json", columns=200))
    moment = datetime.fromisoformat(events[0]["created_at"])
    assert moment.utcoffset() is not None and not moment.utcoffset().total_seconds()  # UTC
    in_tokyo = moment.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M")
    assert in_tokyo in run(tokyo, "history", "--ticket", "1", columns=200)
    assert in_tokyo in run(tokyo, "notes", "list", "1", columns=200)


def test_an_unknown_zone_is_one_line_naming_the_key(config: Path) -> None:
    config.write_text(
        config.read_text(encoding="utf-8") + 'timezone = "Mars/Olympus"\n', encoding="utf-8"
    )
    result = runner.invoke(app, ["--config", str(config), "tickets", "list"])
    assert result.exit_code != 0
    assert "timezone" in result.stderr and "Mars/Olympus" in result.stderr
    assert "Traceback" not in result.stderr


def test_tickets_show_wraps_japanese_between_phrases(config: Path, terminal: None) -> None:
    from rich.console import Console
    from rich.text import Text

    from supportdesk.linebreak import wrap

    out = run(config, "tickets", "show", "1", columns=40)
    assert all(cell_len(line) <= 40 for line in out.splitlines()), out
    note = f"{TRICKY['kanji']} {TRICKY['kanji']}"
    inner = [line.strip("│ ").rstrip() for line in out.splitlines() if line.startswith("│")]
    expected = [piece.plain.rstrip() for piece in wrap(Text(note), Console(), 36)]
    assert len(expected) > 2
    position = inner.index(expected[0])
    assert inner[position : position + len(expected)] == expected, (inner, expected)
