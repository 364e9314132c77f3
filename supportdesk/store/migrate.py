"""Schema revisions: upgrade a store, and refuse to run on one at the wrong revision.

A personal SQLite store is upgraded in place when opened; a shared PostgreSQL store is only
upgraded by an explicit `supportdesk db upgrade`, so one agent's new version never changes
the schema under the rest of the team unannounced.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from supportdesk.errors import StoreError
from supportdesk.i18n import _
from supportdesk.store.quick import code_head

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def _migrating(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction for schema changes.

    On SQLite, foreign keys are off while it runs: changing a column there means copying the
    table and dropping the old one, which a table other rows point at (queues, tickets)
    refuses with foreign keys on, as SQLite's own procedure for schema changes says. They are
    checked once before the commit instead, so a migration cannot leave a dangling reference.
    """
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:  # outside any transaction, where the pragma takes effect
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys = OFF")  # type: ignore[union-attr]
        try:
            with conn.begin():
                yield conn
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").first()
                    if broken is not None:
                        raise StoreError(
                            _(
                                "a schema change left a broken reference in {broken}; "
                                "nothing was changed"
                            ).format(broken=broken[0])
                        )
        finally:
            if sqlite:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys = ON")  # type: ignore[union-attr]


@contextmanager
def _collecting() -> Iterator[None]:
    """The garbage collector on for a migration: the console's start turns it off until its
    first page, and a revision over a million messages would otherwise grow without it."""
    was = gc.isenabled()
    gc.enable()
    try:
        yield
    finally:
        if not was:
            gc.disable()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Upgrade to `revision`; returns (revision before, revision after)."""
    from alembic import command

    before = current_revision(engine)
    with _collecting(), _migrating(engine) as conn:
        command.upgrade(_config(conn), revision)
    return before, head_revision() if revision == "head" else revision


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to `revision` (tests, and a person undoing an upgrade by hand)."""
    from alembic import command

    with _collecting(), _migrating(engine) as conn:
        command.downgrade(_config(conn), revision)


def check(engine: Engine, *, auto_upgrade: bool) -> None:
    """Make sure the store is at the code's revision, upgrading it if allowed.

    The common case, a store already at head, is answered by one query, without loading
    Alembic and every migration script (a third of a second on each command otherwise).
    """
    if _at_head(engine):
        return
    from alembic.script import ScriptDirectory

    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    known = {rev.revision for rev in ScriptDirectory.from_config(_config()).walk_revisions()}
    if current is not None and current not in known:
        raise StoreError(
            _(
                "this store is at schema revision {current}, made by a newer "
                "supportdesk; upgrade supportdesk to open it"
            ).format(current=current)
        )
    if auto_upgrade:
        upgrade(engine)
        return
    if current is None:
        message = _(
            "the store has no supportdesk tables, this supportdesk needs {head}: "
            "run `supportdesk db upgrade`"
        )
    else:
        message = _(
            "the store is at revision {current}, this supportdesk needs {head}: "
            "run `supportdesk db upgrade`"
        )
    raise StoreError(message.format(current=current, head=head))


def _at_head(engine: Engine) -> bool:
    """Whether the store records exactly this code's head revision (no Alembic involved)."""
    head = code_head()
    if head is None:
        return False
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except DBAPIError:  # no alembic_version table yet: a new store
        return False
    return [row[0] for row in versions] == [head]
