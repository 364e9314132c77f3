"""handle time: seconds each agent spent on each ticket in the console, per UTC day

Revision ID: 0007
Revises: 0006

A table of its own rather than events: the console adds to one row per agent, ticket and
day when it flushes (never per keystroke), and the history and undo, which read events,
stay free of measurements nobody took as an action.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


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


def downgrade() -> None:
    op.drop_index(op.f("ix_handle_time_ticket_id"), table_name="handle_time")
    op.drop_index("ix_handle_time_day", table_name="handle_time")
    op.drop_table("handle_time")
