"""The CLI and the console ask the domain the same way: one query, the same tickets.

Both go through `desk.query.Matching`; these check the faces end to end on the demo store,
so a face that grew its own parse-compile-run again would be caught disagreeing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from supportdesk.cli import app
from supportdesk.store import Store
from supportdesk.tui.data import DeskData, Source

runner = CliRunner(env={"COLUMNS": "200"})
ME = "alice"

QUERIES = [
    "status:active",
    "assignee:me -status:closed",
    "queue:billing,shipping -tag:vip sort:-priority",
    "priority:>=high sort:created",
    "refund",
    "invoice -status:closed sort:number",
]


def cli(config: Path, *args: str) -> str:
    result = runner.invoke(app, ["--config", str(config), *args])
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.fixture
def config(demo_store: Store, tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'database_url = "{demo_store.url}"\nagent = "{ME}"\n')
    return path


@pytest.mark.parametrize("query", QUERIES)
def test_cli_and_console_list_the_same_tickets_in_the_same_order(
    demo_store: Store, config: Path, query: str
) -> None:
    numbers = [int(line) for line in cli(config, "tickets", "list", "--ids", query).split()]
    data = DeskData(demo_store, ME)
    source = Source("t", "t", query)
    total = data.count(source)
    # Pages as the console scrolls: the far half is read backwards from the end.
    seen = [r for at in range(0, total, 7) for r in data.page(source, at, 7, total)]
    assert numbers, f"the demo store should have tickets for {query!r}"
    assert [r.number for r in seen] == numbers
    assert total == len(numbers)
    listed = json.loads(cli(config, "tickets", "list", "--json", "--limit", "5", query))
    assert listed["total"] == total
    assert [t["number"] for t in listed["tickets"]] == numbers[:5]
    dry = json.loads(cli(config, "tickets", "priority", "low", query, "--dry-run", "--json"))
    assert dry["matched"] == total
