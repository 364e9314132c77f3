"""A team store for tests: a throwaway schema on the machine's PostgreSQL, a throwaway group
role and login roles with a per-run prefix, all dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlalchemy as sa

from supportdesk.desk import team
from supportdesk.store import Store, open_store
from tests.conftest import DATABASE_ACL_LOCK, PG_BASE_URL, PgSchemas, pg_url


def url_as(role: str, schema: str) -> str:
    """The test server's URL for `schema`, logging in as `role` (trust authentication)."""
    base = sa.engine.make_url(PG_BASE_URL).set(username=role)
    return f"{base.render_as_string(hide_password=False)}?options=-csearch_path%3D{schema}"


@dataclass
class TeamStore:
    schema: str
    prefix: str
    owner: Store
    roles: list[str] = field(default_factory=list)

    @property
    def group(self) -> str:
        return f"{self.prefix}team"

    @property
    def owner_url(self) -> str:
        return pg_url(self.schema)

    def role(self, name: str) -> str:
        """A role name unique to this run, registered to be dropped."""
        role = f"{self.prefix}{name}"
        self.roles.append(role)
        return role

    def add_agent(self, handle: str) -> str:
        added = team.add_agent(
            self.owner, handle, email=f"{handle}@example.com", role=self.role(handle)
        )
        return added.role

    def open_as(self, role: str) -> Store:
        return open_store(url_as(role, self.schema))


@contextmanager
def team_store(pg_schemas: PgSchemas) -> Iterator[TeamStore]:
    schema = pg_schemas.new()
    owner = open_store(pg_url(schema), create=True)
    made = TeamStore(schema=schema, prefix=f"sdt{uuid.uuid4().hex[:8]}_", owner=owner)
    made.roles.append(made.group)
    try:
        team.init(owner, made.group)
        yield made
    finally:
        owner.dispose()
        drop_roles(pg_schemas.admin, made.roles)


def drop_roles(admin: sa.Engine, roles: list[str]) -> None:
    """Drop `roles` (those that exist) and every privilege granted to them in this database."""
    with admin.connect() as conn:
        # DROP OWNED revokes CONNECT on the database: one at a time (see conftest).
        conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": DATABASE_ACL_LOCK})
        try:
            for role in reversed(roles):
                exists = conn.execute(
                    sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
                ).first()
                if exists:
                    conn.exec_driver_sql(f'DROP OWNED BY "{role}" CASCADE')
                    conn.exec_driver_sql(f'DROP ROLE "{role}"')
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": DATABASE_ACL_LOCK})
