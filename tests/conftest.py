"""Shared fixtures: stores on SQLite and on the machine's PostgreSQL.

PostgreSQL is a real server (127.0.0.1:5432, trust auth, database `test`, or
$SUPPORTDESK_TEST_PG_URL). Each test run works in its own throwaway schema, dropped at the
end. If the server cannot be reached the PostgreSQL tests fail: they never skip.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from supportdesk.i18n import set_language
from supportdesk.store import Store, open_store
from supportdesk.store import team as store_team
from supportdesk.store.engine import make_engine

# Tests read English output whatever the machine's locale; Japanese tests switch explicitly.
os.environ["LANGUAGE"] = "en"
set_language("auto")

PG_BASE_URL = os.environ.get(
    "SUPPORTDESK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"


def pg_url(schema: str) -> str:
    return f"{PG_BASE_URL}?options=-csearch_path%3D{schema}"


class PgSchemas:
    """Creates throwaway schemas on the test server and drops them all at the end."""

    def __init__(self) -> None:
        self.admin = sa.create_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []
        try:
            with self.admin.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except sa.exc.OperationalError as exc:
            pytest.fail(
                f"PostgreSQL at {PG_BASE_URL} is not reachable ({exc.orig}); the team-store "
                "tests need it (set SUPPORTDESK_TEST_PG_URL to point elsewhere)",
                pytrace=False,
            )

    def new(self) -> str:
        schema = f"sdtest_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        self.created.append(schema)
        return schema

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for schema in self.created:
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        self.admin.dispose()


@pytest.fixture(scope="session")
def pg_schemas() -> Iterator[PgSchemas]:
    schemas = PgSchemas()
    yield schemas
    schemas.drop_all()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite store, copied for each test (migrating per test is slow)."""
    path = tmp_path_factory.mktemp("template") / "store.db"
    store = open_store(f"sqlite:///{path}", create=True)
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    store.dispose()
    return path


class PgTemplate:
    """One migrated PostgreSQL schema, emptied back to its migrated state before each test.

    Emptying is one transaction of DELETEs in foreign-key order and sequence resets without
    waiting for the WAL flush: a TRUNCATE of every table cost about 0.6 s a test (each table
    gets new files, flushed at commit), DELETE of mostly empty tables a few milliseconds.
    """

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self.url = pg_url(schema)
        open_store(self.url, create=True).dispose()
        self.engine = make_engine(self.url)
        with self.engine.connect() as conn:
            metadata = sa.MetaData()
            metadata.reflect(conn)
            sequences = conn.exec_driver_sql(
                "SELECT quote_ident(sequencename) FROM pg_sequences "
                "WHERE schemaname = current_schema()"
            ).scalars()
            resets = [f"setval('{name}', 1, false)" for name in sequences]
        tables = [
            table.name
            for table in reversed(metadata.sorted_tables)
            if table.name not in ("alembic_version", "counters", "store_meta")
        ]
        self.reset_sql = ["SET LOCAL synchronous_commit TO off"]
        self.reset_sql += [f'DELETE FROM "{name}"' for name in tables]
        if resets:
            self.reset_sql.append(f"SELECT {', '.join(resets)}")
        self.reset_sql.append("UPDATE counters SET value = 0")

    def reset(self) -> None:
        with self.engine.begin() as conn:
            conn.exec_driver_sql(";\n".join(self.reset_sql))


@pytest.fixture(scope="session")
def pg_template(pg_schemas: PgSchemas) -> Iterator[PgTemplate]:
    template = PgTemplate(pg_schemas.new())
    yield template
    template.engine.dispose()


@pytest.fixture
def sqlite_store(sqlite_template: Path, tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "store.db"
    shutil.copyfile(sqlite_template, path)
    store = open_store(f"sqlite:///{path}")
    yield store
    store.dispose()


@pytest.fixture
def pg_store(pg_template: PgTemplate) -> Iterator[Store]:
    pg_template.reset()
    store = open_store(pg_template.url)
    yield store
    store.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Store:
    """The same test on both backends."""
    return request.getfixturevalue(f"{request.param.replace('postgresql', 'pg')}_store")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def module_store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """An empty store on each backend of its own, for a module whose tests only read what a
    module-scoped fixture wrote once (the per-test stores are emptied before every test)."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = request.getfixturevalue("tmp_path_factory").mktemp("module") / "store.db"
        shutil.copyfile(template, path)
        store = open_store(f"sqlite:///{path}")
    else:
        schemas: PgSchemas = request.getfixturevalue("pg_schemas")
        store = open_store(pg_url(schemas.new()), create=True)
    yield store
    store.dispose()


DATABASE_ACL_LOCK = 0x5D_AC1
"""Advisory lock key for changes to the test database's own privileges (see below)."""


@pytest.fixture(scope="session", autouse=True)
def one_database_grant_at_a_time() -> Iterator[None]:
    """Serialise `team init` between test processes (xdist workers, other runs).

    Its GRANT CONNECT ON DATABASE rewrites the database's catalogue row, and PostgreSQL
    fails the second of two such writes at once with "tuple concurrently updated"; every
    team test works in the one database `test`. `team_helpers.drop_roles` takes the lock too.
    """
    prepare = store_team.prepare

    def serialised(conn: sa.Connection, group: str) -> None:
        if conn.dialect.name == "postgresql":  # SQLite is refused by prepare itself
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": DATABASE_ACL_LOCK})
        prepare(conn, group)

    store_team.prepare = serialised
    yield
    store_team.prepare = prepare


from tests.imap_server import dovecot, fresh_dovecot, imap_account  # noqa: E402, F401
