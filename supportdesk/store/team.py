"""A PostgreSQL store shared by a team: the group role, login roles and their actors.

The privileges are the server's to enforce, not the client's: the group role every agent and
service belongs to may read and write the working tables but has no DDL, and on `events`
only SELECT and INSERT (of every column but `role`), so history cannot be rewritten or
deleted from a client. Who wrote an event is the column's default, `session_user`, which a
session cannot change (SET ROLE changes `current_user` only); the `events_actor` trigger
(migration 0006) checks the actor against it.

Passwords are turned into a SCRAM verifier on this side (libpq's PQencryptPasswordConn, as
psql's `\\password` does), so the clear text never reaches the server or its statement log.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from supportdesk.errors import ValidationError
from supportdesk.i18n import _

TEAM_GROUP_KEY = "team_group"
READ_ONLY_TABLES = ("alembic_version", "team_roles")
"""Tables the team reads but only `team init` / `team add-agent` (as the owner) write."""
APPEND_ONLY_TABLES = ("events", "store_meta")
NO_DELETE_TABLES = ("handle_time",)
"""Tables the team adds to and updates (row security says whose rows) but never deletes from."""
MARK_ONLY = {"notifications": ("read_at", "mailed_at")}
"""Tables the team inserts into but may only update these columns of, never delete from
(row security, migration 0010, decides whose rows a role sees and marks)."""


@dataclass(frozen=True)
class TeamRole:
    role: str
    actor: str
    kind: str
    exists: bool
    """Whether the login role still exists on the server (a dropped role keeps its row)."""


def require_postgresql(conn: Connection) -> None:
    if conn.dialect.name != "postgresql":
        raise ValidationError(
            _(
                "team mode needs a PostgreSQL store (database_url = "
                "postgresql://...); a SQLite store belongs to one person"
            )
        )


def prepare(conn: Connection, group: str) -> None:
    """Create the group role if missing and (re)grant exactly what the team needs.

    Safe to run again, e.g. after `supportdesk db upgrade` adds tables.
    """
    require_postgresql(conn)
    if not _role_exists(conn, group):
        _run(conn, "CREATE ROLE %I NOLOGIN", group)
    elif _too_strong(conn, group):
        raise ValidationError(
            _(
                "role {group!r} cannot be the team's group: every agent "
                "would get its powers (it can log in, is a superuser, can "
                "create roles or databases, or owns this store's tables); "
                "name a new role with --group"
            ).format(group=group)
        )
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    database = conn.execute(text("SELECT current_database()")).scalar_one()
    statements = [
        "GRANT CONNECT ON DATABASE %I TO %I",
        "GRANT USAGE ON SCHEMA %I TO %I",
        "REVOKE CREATE ON SCHEMA %I FROM %I",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I",
        "REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA %I FROM %I",
        "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE "
        "ON TABLES TO %I",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO %I",
    ]
    for i, statement in enumerate(statements):
        _run(conn, statement, database if i == 0 else schema, group)
    for table in READ_ONLY_TABLES:
        _run(conn, "REVOKE INSERT, UPDATE, DELETE ON %I FROM %I", table, group)
    for table in APPEND_ONLY_TABLES:
        _run(conn, "REVOKE UPDATE, DELETE ON %I FROM %I", table, group)
    for table in NO_DELETE_TABLES:
        _run(conn, "REVOKE DELETE ON %I FROM %I", table, group)
    for table, columns_ in MARK_ONLY.items():
        _run(conn, "REVOKE UPDATE, DELETE ON %I FROM %I", table, group)
        for column in columns_:
            _run(conn, "GRANT UPDATE (%I) ON %I TO %I", column, table, group)
    # Every column of events but `role`, which the server fills in (session_user).
    columns = conn.execute(
        text(
            "SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) "
            "FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'events' "
            "AND column_name <> 'role'"
        )
    ).scalar_one()
    _run(conn, "REVOKE INSERT ON events FROM %I", group)
    _run(conn, f"GRANT INSERT ({columns.replace('%', '%%')}) ON events TO %I", group)
    conn.execute(
        text(
            "INSERT INTO store_meta (key, value) VALUES (:key, :group) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        ),
        {"key": TEAM_GROUP_KEY, "group": group},
    )


def _too_strong(conn: Connection, group: str) -> bool:
    """Whether an existing role would give agents more than the team's grants."""
    return bool(
        conn.execute(
            text(
                "SELECT r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolbypassrls "
                "OR r.rolcanlogin OR r.rolname = current_user OR EXISTS ("
                " SELECT 1 FROM pg_class c WHERE c.relowner = r.oid"
                " AND c.relnamespace = current_schema()::regnamespace) "
                "FROM pg_roles r WHERE r.rolname = :group"
            ),
            {"group": group},
        ).scalar_one()
    )


def team_group(conn: Connection) -> str | None:
    """The group role `team init` made this store's, or None for a store not in team mode."""
    if conn.dialect.name != "postgresql":
        return None
    return conn.execute(
        text("SELECT value FROM store_meta WHERE key = :key"), {"key": TEAM_GROUP_KEY}
    ).scalar_one_or_none()


def add_login(conn: Connection, role: str, *, actor: str, kind: str, password: str | None) -> bool:
    """Make `role` a login role of the team recording as `actor`; False if it existed already.

    An existing role (one made for peer or certificate authentication, say) is joined to the
    group as it is; its password is changed only when one is given.
    """
    group = team_group(conn)
    if group is None:
        raise ValidationError(_("this store is not set up for a team: run `supportdesk team init`"))
    if conn.execute(text("SELECT 1 FROM team_roles WHERE role = :r"), {"r": role}).first():
        raise ValidationError(_("database role {role!r} is already in the team").format(role=role))
    taken = conn.execute(
        text("SELECT role FROM team_roles WHERE actor = :a"), {"a": actor}
    ).scalar_one_or_none()
    if taken is not None:
        raise ValidationError(
            _("{actor} already has the database role {taken!r}").format(actor=actor, taken=taken)
        )
    existed = _role_exists(conn, role)
    if not existed:
        _run(conn, "CREATE ROLE %I LOGIN", role)
    _run(conn, "GRANT %I TO %I", group, role)
    if password is not None:
        verifier = _verifier(conn, role, password)
        _run(conn, "ALTER ROLE %I PASSWORD %L", role, verifier)
    conn.execute(
        text(
            "INSERT INTO team_roles (role, actor, kind, created_at) "
            "VALUES (:role, :actor, :kind, now())"
        ),
        {"role": role, "actor": actor, "kind": kind},
    )
    return not existed


def roles(conn: Connection) -> list[TeamRole]:
    if conn.dialect.name != "postgresql":
        return []
    rows = conn.execute(
        text(
            "SELECT t.role, t.actor, t.kind, r.rolname IS NOT NULL FROM team_roles t "
            "LEFT JOIN pg_roles r ON r.rolname = t.role ORDER BY t.kind, t.role"
        )
    ).all()
    return [TeamRole(role=r[0], actor=r[1], kind=r[2], exists=bool(r[3])) for r in rows]


def session_actor(conn: Connection) -> str | None:
    """The actor the server records for this session's role, or None if it has none."""
    if conn.dialect.name != "postgresql":
        return None
    return conn.execute(
        text("SELECT actor FROM team_roles WHERE role = session_user::text")
    ).scalar_one_or_none()


def _role_exists(conn: Connection, role: str) -> bool:
    found = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
    return found.first() is not None


def _run(conn: Connection, template: str, *args: str) -> None:
    """Run `template` with identifiers (%I) and literals (%L) quoted by the server's format():
    role and schema names are utility-statement parts, which take no bind parameters."""
    params = {f"a{i}": arg for i, arg in enumerate(args)}
    placeholders = "".join(f", CAST(:{key} AS text)" for key in params)
    statement = conn.execute(
        text(f"SELECT format(CAST(:template AS text){placeholders})"),
        {"template": template, **params},
    ).scalar_one()
    conn.exec_driver_sql(statement.replace("%", "%%"))  # the driver's placeholder mark


def _verifier(conn: Connection, role: str, password: str) -> str:
    raw = conn.connection.dbapi_connection
    pgconn = raw.pgconn  # type: ignore[union-attr]
    verifier: bytes = pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
    return verifier.decode()
