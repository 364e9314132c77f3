"""handle time: seconds each agent spent on each ticket in the console, per UTC day

Revision ID: 0009
Revises: 0008

A table of its own rather than events: the console adds to one row per agent, ticket and
day when it flushes (never per keystroke), and the history and undo, which read events,
stay free of measurements nobody took as an action.

On PostgreSQL the table has row security: every session reads every row, but inserts and
updates only rows whose agent is the one `team_roles` maps the session's login role to (the
table's owner, who runs migrations and `team init`, is exempt as owners are), so no agent can
add time as a colleague or change theirs. A role with no mapping and outside the team's group
(a one-person store on PostgreSQL) writes as before. The team's group may not DELETE here
(store/team.py), and a store already in team mode loses the DELETE the default privileges
gave it on the new table.

Also `ix_outbox_message_id`: the SLA's rule for what answers the customer
(`desk.sla.due.answers_customer`) looks each of our messages up in outbox by it.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


# Uncorrelated subqueries: PostgreSQL runs each once per statement, not once per row.
# Tables in a policy are bound when it is created, so an agent's TEMP TABLE changes nothing.
OWN_AGENT = """(
    agent_id = (
        SELECT a.id FROM agents a JOIN team_roles t ON t.actor = 'agent:' || a.handle
        WHERE t.role = session_user::text
    )
    OR (
        NOT EXISTS (SELECT 1 FROM team_roles t WHERE t.role = session_user::text)
        AND NOT EXISTS (
            SELECT 1 FROM store_meta m
            WHERE m.key = 'team_group' AND pg_has_role(session_user, m.value, 'MEMBER')
        )
    )
)"""


def upgrade() -> None:
    op.create_table(
        "handle_time",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("day", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("agent_id", "ticket_id", "day"),
    )
    op.create_index("ix_handle_time_day", "handle_time", ["day"], unique=False)
    op.create_index(op.f("ix_handle_time_ticket_id"), "handle_time", ["ticket_id"], unique=False)
    op.create_index(op.f("ix_outbox_message_id"), "outbox", ["message_id"], unique=False)
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE handle_time ENABLE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY handle_time_read ON handle_time FOR SELECT USING (true)")
    op.execute(f"CREATE POLICY handle_time_insert ON handle_time FOR INSERT WITH CHECK {OWN_AGENT}")
    op.execute(
        f"CREATE POLICY handle_time_update ON handle_time FOR UPDATE "
        f"USING {OWN_AGENT} WITH CHECK {OWN_AGENT}"
    )
    group = bind.execute(
        sa.text("SELECT quote_ident(value) FROM store_meta WHERE key = 'team_group'")
    ).scalar_one_or_none()
    if group is not None:
        op.execute(f"REVOKE DELETE, TRUNCATE ON handle_time FROM {group}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for policy in ("handle_time_read", "handle_time_insert", "handle_time_update"):
            op.execute(f"DROP POLICY IF EXISTS {policy} ON handle_time")
    op.drop_index(op.f("ix_outbox_message_id"), table_name="outbox")
    op.drop_index(op.f("ix_handle_time_ticket_id"), table_name="handle_time")
    op.drop_index("ix_handle_time_day", table_name="handle_time")
    op.drop_table("handle_time")
