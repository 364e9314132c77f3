"""`supportdesk team` from the shell, and a team member's password on the way to the server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from supportdesk.cli import app
from supportdesk.config import database_account
from supportdesk.store import Store
from supportdesk.store.engine import make_engine
from tests.conftest import PG_BASE_URL, PgSchemas
from tests.team_helpers import TeamStore, team_store, url_as

runner = CliRunner(env={"COLUMNS": "200"})


def sd(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def crew(pg_schemas: PgSchemas) -> Iterator[TeamStore]:
    with team_store(pg_schemas) as made:
        yield made


@pytest.mark.postgres
def test_add_agent_list_and_whoami(crew: TeamStore) -> None:
    role = crew.role("dana")
    code, out, err = sd(
        "--store",
        crew.owner_url,
        "team",
        "add-agent",
        "dana",
        "--email",
        "dana@example.com",
        "--role",
        role,
        "--password-stdin",
        "--json",
        stdin="correct horse\n",
    )
    assert code == 0, err
    assert json.loads(out) == {
        "role": role,
        "actor": "agent:dana",
        "created_role": True,
        "handle": "dana",
    }
    code, out, _ = sd("--store", crew.owner_url, "team", "list", "--json")
    assert json.loads(out) == [
        {"role": role, "actor": "agent:dana", "kind": "agent", "role_exists": True}
    ]
    code, out, _ = sd("--store", url_as(role, crew.schema), "team", "whoami", "--json")
    assert (code, json.loads(out)) == (0, {"actor": "agent:dana", "agent": "dana"})


@pytest.mark.postgres
def test_an_agent_cannot_add_agents_and_is_told_so(crew: TeamStore) -> None:
    alice = crew.add_agent("alice")
    code, out, err = sd(
        "--store", url_as(alice, crew.schema), "team", "add-service", "x", "--role", "x"
    )
    assert code == 1 and out == ""
    assert err.startswith("error: the team store refused this:") and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--password-stdin", "--password-command", "true"], None, "not both"),
        (["--password-stdin"], "\n", "the first line of stdin is empty"),
        (["--password-command", "false"], None, "--password-command exited with status 1"),
    ],
)
@pytest.mark.postgres
def test_password_mistakes_are_one_line_and_change_nothing(
    crew: TeamStore, args: list[str], stdin: str | None, message: str
) -> None:
    code, _, err = sd(
        "--store",
        crew.owner_url,
        "team",
        "add-agent",
        "erin",
        "--email",
        "e@x.com",
        *args,
        stdin=stdin,
    )
    assert code == 1 and message in err and err.count("\n") == 1, err
    code, out, _ = sd("--store", crew.owner_url, "team", "list", "--json")
    assert json.loads(out) == []


def test_team_init_refuses_sqlite(tmp_path: Path) -> None:
    code, _, err = sd("--store", str(tmp_path / "x.db"), "team", "init")
    assert code == 1 and "team mode needs a PostgreSQL store" in err


@pytest.mark.postgres
def test_the_password_command_runs_once_when_the_store_is_opened(
    crew: TeamStore, tmp_path: Path
) -> None:
    marker = tmp_path / "asked"
    config = tmp_path / "config.toml"
    alice = crew.add_agent("alice")
    command = f"sh -c 'echo >> {marker}; printf s3cret'"
    config.write_text(
        f"database_url = {json.dumps(url_as(alice, crew.schema))}\n"
        f"database_password_command = {json.dumps(command)}\n",
        encoding="utf-8",
    )
    code, out, err = sd("--config", str(config), "team", "whoami")
    assert (code, out.strip()) == (0, "agent:alice"), err
    assert marker.read_text().count("\n") == 1
    config.write_text(
        f"database_url = {json.dumps(url_as(alice, crew.schema))}\n"
        'database_password_command = "false"\n',
        encoding="utf-8",
    )
    code, out, err = sd("--config", str(config), "team", "whoami")
    assert code == 1 and "database_password_command exited with status 1" in err, err
    assert "Traceback" not in err


def test_a_password_is_asked_for_only_when_the_url_has_none(sqlite_store: Store) -> None:
    asked: list[int] = []

    def source() -> str:
        asked.append(1)
        return "pw"

    engine = make_engine("postgresql://u:given@127.0.0.1:1/db", password=source)
    engine.dispose()
    assert asked == []

    assert database_account("postgresql://u:given@h/db") is None
    assert database_account("postgresql+psycopg://alice@db.example.com/desk") == (
        "database:alice@db.example.com:5432/desk"
    )
    assert database_account(sqlite_store.url) is None


@pytest.mark.postgres
def test_the_keyring_is_asked_only_when_the_server_wants_a_password(
    pg_schemas: PgSchemas,
) -> None:
    """The test server trusts its clients: a locked or prompting keyring is never touched."""

    def keyring() -> str:
        raise AssertionError("the keyring was asked")

    engine = make_engine(PG_BASE_URL, password_when_asked=keyring)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
    finally:
        engine.dispose()
