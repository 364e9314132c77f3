"""README's "Working as a team" runs as written: an empty PostgreSQL to three agents at work.

The block runs against the machine's PostgreSQL with its database and role names made unique
to this run (roles belong to the whole server), and both are dropped afterwards.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from supportdesk.store import open_store
from supportdesk.store.models import Event
from tests.conftest import PG_BASE_URL, PgSchemas
from tests.team_helpers import drop_roles
from tests.test_cli_usability import ROOT, clean_env

pytestmark = pytest.mark.postgres

AGENTS = ("alice", "bob", "carol")


def team_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- team-start -->\n```sh\n(.*?)```\n<!-- /team-start -->", text, re.S)
    assert match, "README.md lost its <!-- team-start --> block"
    return match.group(1)


def test_readme_team_setup_runs_as_written(tmp_path: Path, pg_schemas: PgSchemas) -> None:
    suffix = uuid.uuid4().hex[:8]
    server = sa.engine.make_url(PG_BASE_URL)
    script = team_block()
    script = script.replace("127.0.0.1", server.host or "127.0.0.1")
    script = script.replace("5432", str(server.port or 5432))
    script = script.replace("-U postgres", f"-U {server.username}")
    script = script.replace("postgres@", f"{server.username}@")
    script = script.replace("helpdesk", f"helpdesk_{suffix}")
    script = re.sub(rf"\b({'|'.join(AGENTS)})\b", rf"\1_{suffix}", script)
    database = f"helpdesk_{suffix}"
    roles = [f"{database}_team", f"{database}_sync", *(f"{a}_{suffix}" for a in AGENTS)]
    home = tmp_path / "home"
    home.mkdir()
    admin = pg_schemas.admin
    try:
        result = subprocess.run(
            ["bash", "-c", "set -eu\n" + script],
            cwd=home,
            env=clean_env(home),
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert "Traceback" not in result.stderr
        store = open_store(str(server.set(database=database)))
        try:
            with store.session() as s:
                events = s.exec(select(Event).order_by(col(Event.id))).all()
                seen = [(e.action, e.actor, e.role) for e in events]
        finally:
            store.dispose()
        alice, bob, carol = (f"{a}_{suffix}" for a in AGENTS)
        assert seen == [
            ("create", "system:ingest", f"{database}_sync"),
            ("message_in", "system:ingest", f"{database}_sync"),
            ("assign", f"agent:{alice}", alice),
            ("note", f"agent:{bob}", bob),
            ("status", f"agent:{carol}", carol),
        ]
        assert all((home / f"{a}_{suffix}.secret").stat().st_size > 20 for a in AGENTS)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        drop_roles(admin, roles)
