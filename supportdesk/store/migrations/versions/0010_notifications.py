"""notifications: what each agent should hear of, read or unread, their own only on a team

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 23:00:00

On PostgreSQL the table has row security: a session whose login role is an agent's (in
`team_roles`) sees and marks only that agent's rows; a service role (sync, the feeder,
which sends digests and warns of SLA breaches) sees all. Anyone in the team may insert
one for an event its own login role wrote (assigning a ticket to someone tells them), and
only a service one without an event (an SLA warning). The owner, who runs migrations and
`team init`, is not subject to it (a one-person PostgreSQL store behaves as SQLite).
Which columns the team may update (read_at, mailed_at) and that it may not delete is
store/team.py's grant. New rows are announced like every other change (the 0006 trigger
function, once per statement), so a console hears of an SLA warning, which writes no event.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Evaluated once per statement (an InitPlan), not per row: a policy over 100,000 rows
# costs one lookup. Table names are bound when the policy is created, so no search_path
# trick in a session can point them elsewhere.
OWN = (
    "agent_id = (SELECT a.id FROM team_roles t JOIN agents a ON t.actor = 'agent:' || a.handle"
    " WHERE t.role = session_user::text)"
    " OR EXISTS (SELECT 1 FROM team_roles t WHERE t.role = session_user::text"
    " AND t.kind = 'service')"
)

# A notification is the consequence of an event this login role wrote, on the same ticket
# and in the same name, of the kind's action, and for the agent that event concerns (the
# assignee it named; the ticket's assignee for an answer; an active agent for a note's
# mention); one without an event (an SLA warning) comes from a service only. Without it any
# agent could forge "assigned to you" for anyone. Per row, but by primary keys.
TELL = (
    "CASE WHEN event_id IS NULL THEN EXISTS (SELECT 1 FROM team_roles t"
    " WHERE t.role = session_user::text AND t.kind = 'service')"
    " ELSE EXISTS (SELECT 1 FROM events e WHERE e.id = event_id"
    " AND e.role = session_user::text AND e.ticket_id = notifications.ticket_id"
    " AND e.actor = notifications.actor AND CASE notifications.kind"
    " WHEN 'assigned' THEN e.action = 'assign' AND e.new_value ="
    " (SELECT a.handle FROM agents a WHERE a.id = notifications.agent_id)"
    " WHEN 'reply' THEN e.action = 'message_in' AND notifications.agent_id ="
    " (SELECT tk.assignee_id FROM tickets tk WHERE tk.id = notifications.ticket_id)"
    " WHEN 'mention' THEN e.action IN ('note', 'note_edited') AND EXISTS"
    " (SELECT 1 FROM agents a WHERE a.id = notifications.agent_id AND a.active)"
    " ELSE false END) END"
)


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("once", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("read_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("mailed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "agent_id", "once", name="uq_notifications_once"),
    )
    op.create_index("ix_notifications_agent_id", "notifications", ["agent_id", "id"], unique=False)
    op.create_index(
        "ix_notifications_agent_unread",
        "notifications",
        ["agent_id", "read_at", "id"],
        unique=False,
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE notifications ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY notifications_read ON notifications FOR SELECT USING ({OWN})")
    op.execute(
        f"CREATE POLICY notifications_mark ON notifications FOR UPDATE "
        f"USING ({OWN}) WITH CHECK ({OWN})"
    )
    op.execute(f"CREATE POLICY notifications_tell ON notifications FOR INSERT WITH CHECK ({TELL})")
    op.execute(
        "CREATE TRIGGER notifications_notify_insert AFTER INSERT ON notifications "
        "REFERENCING NEW TABLE AS changed "
        "FOR EACH STATEMENT EXECUTE FUNCTION supportdesk_notify()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS notifications_notify_insert ON notifications")
    op.drop_index("ix_notifications_agent_unread", table_name="notifications")
    op.drop_index("ix_notifications_agent_id", table_name="notifications")
    op.drop_table("notifications")
