"""team mode: events carry the server-set role, team_roles, presence, actor check, notices

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 20:05:00

On PostgreSQL two kinds of trigger come with this revision (SQLite gets the column and the
table only, and behaves as before):

- `supportdesk_check_actor`, AFTER each INSERT statement on events: when the session's login
  role is in `team_roles`, refuses an actor other than the role's own or an automatic one
  (`system:`, `rule:`, `undo:`), so a client cannot write another person's name into the
  audit trail. A member of the team's group role without a mapping cannot write events at
  all. Once per statement, not per row: a bulk change of 100,000 tickets pays one query.
  `role` itself defaults to `session_user`, and the team's group may not set it.
- `supportdesk_notify`, AFTER each statement on events, notes, drafts and outbox: a NOTIFY on
  channel `supportdesk.<schema>` whose payload is the changed tickets' ids (comma-separated,
  at most 50) or `*`, never row contents. PostgreSQL delivers it at commit, so a listener
  only hears of committed changes.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

NOTIFY_TABLES = ("events", "notes", "drafts", "outbox")

CHECK_ACTOR = """
CREATE FUNCTION supportdesk_check_actor() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, {schema}, pg_temp AS $$
DECLARE
    mine text;
    team text;
    wrong text;
BEGIN
    SELECT actor INTO mine FROM team_roles WHERE role = session_user::text;
    IF mine IS NULL THEN
        SELECT value INTO team FROM store_meta WHERE key = 'team_group';
        IF team IS NOT NULL AND EXISTS (
            SELECT 1 FROM pg_auth_members m
            JOIN pg_roles g ON g.oid = m.roleid
            JOIN pg_roles u ON u.oid = m.member
            WHERE g.rolname = team AND u.rolname = session_user::text
        ) THEN
            RAISE EXCEPTION 'role % is in the team but is no agent or service: '
                'add it with `supportdesk team add-agent`', session_user
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NULL;
    END IF;
    SELECT actor INTO wrong FROM changed
    WHERE actor <> mine AND actor !~ '^(system|rule|undo):' LIMIT 1;
    IF wrong IS NOT NULL THEN
        RAISE EXCEPTION 'role % records changes as %, not as %', session_user, mine, wrong
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$
"""

NOTIFY = """
CREATE FUNCTION supportdesk_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
    unknown boolean;
    n bigint;
BEGIN
    -- Past a thousand rows (a bulk change) the ids are not worth collecting: say "all".
    SELECT array_agg(DISTINCT t), bool_or(t IS NULL), count(*) INTO ids, unknown, n
    FROM (SELECT ticket_id AS t FROM changed LIMIT 1001) s;
    IF n = 0 THEN
        RETURN NULL;
    END IF;
    PERFORM pg_notify(
        'supportdesk.' || TG_TABLE_SCHEMA,
        CASE WHEN unknown OR n > 1000 OR cardinality(ids) > 50 THEN '*'
            ELSE array_to_string(ids, ',') END
    );
    RETURN NULL;
END $$
"""


def _notify_triggers(table: str) -> list[tuple[str, str, str]]:
    """(trigger name, event, transition table) for `table`: events are only ever inserted."""
    kinds = [("insert", "INSERT", "NEW")]
    if table != "events":
        kinds += [("update", "UPDATE", "NEW"), ("delete", "DELETE", "OLD")]
    return [(f"{table}_notify_{name}", event, old_new) for name, event, old_new in kinds]


def upgrade() -> None:
    op.add_column(
        "events",
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=True),
    )
    op.create_table(
        "team_roles",
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("role"),
        sa.UniqueConstraint("actor"),
    )
    op.create_table(
        "presence",
        sa.Column("console_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("doing", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("seen_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("console_id"),
    )
    op.create_index(op.f("ix_presence_ticket_id"), "presence", ["ticket_id"], unique=False)
    if op.get_bind().dialect.name != "postgresql":
        return
    # The team's group may not name the column (store/team.py grants INSERT on the others).
    op.execute("ALTER TABLE events ALTER COLUMN role SET DEFAULT session_user")
    # The store's schema named, the session's temporary schema last: unnamed, pg_temp comes
    # first, and an agent's own TEMP TABLE team_roles would decide whose name they may write.
    schema = op.get_bind().execute(sa.text("SELECT quote_ident(current_schema())")).scalar_one()
    op.execute(CHECK_ACTOR.replace("{schema}", schema))
    op.execute(
        "CREATE TRIGGER events_actor AFTER INSERT ON events REFERENCING NEW TABLE AS changed "
        "FOR EACH STATEMENT EXECUTE FUNCTION supportdesk_check_actor()"
    )
    op.execute(NOTIFY)
    for table in NOTIFY_TABLES:
        for name, event, old_new in _notify_triggers(table):
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} "
                f"REFERENCING {old_new} TABLE AS changed "
                "FOR EACH STATEMENT EXECUTE FUNCTION supportdesk_notify()"
            )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table in NOTIFY_TABLES:
            for name, _event, _old_new in _notify_triggers(table):
                op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS supportdesk_notify()")
        op.execute("DROP TRIGGER IF EXISTS events_actor ON events")
        op.execute("DROP FUNCTION IF EXISTS supportdesk_check_actor()")
    op.drop_index(op.f("ix_presence_ticket_id"), table_name="presence")
    op.drop_table("presence")
    op.drop_table("team_roles")
    version = bind.dialect.server_version_info or ()
    if bind.dialect.name != "sqlite" or version >= (3, 35):
        op.execute("ALTER TABLE events DROP COLUMN role")
    else:
        with op.batch_alter_table("events") as batch_op:
            batch_op.drop_column("role")
