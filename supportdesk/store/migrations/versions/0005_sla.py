"""service levels: per-queue policies, their targets and working hours, each ticket's due time

Revision ID: 0005
Revises: 0004

Tickets stored before this revision have no due time until a policy is set for their queue
(`supportdesk sla set` / `import` computes the due times of that queue's tickets).
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TICKET_COLUMNS = (
    ("sla_due", sa.BigInteger(), True, None),
    ("sla_breached", sa.Boolean(), False, sa.false()),
    ("sla_paused_since", sa.BigInteger(), True, None),
    ("sla_paused_seconds", sa.BigInteger(), False, "0"),
    ("sla_late_responses", sa.Integer(), False, "0"),
)


def upgrade() -> None:
    # Plain ADD COLUMN on both backends: a batch rebuild of `tickets` on SQLite would drop
    # and recreate the table everything points at.
    for name, type_, nullable, default in _TICKET_COLUMNS:
        op.add_column("tickets", sa.Column(name, type_, nullable=nullable, server_default=default))
    op.create_index("ix_tickets_sla_due", "tickets", ["sla_due", "id"], unique=False)
    # Reports read the status changes of a period (desk.reports).
    op.create_index("ix_events_action_created", "events", ["action", "created_at"], unique=False)
    op.create_table(
        "sla_policies",
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["queue_id"], ["queues.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("queue_id"),
    )
    op.create_table(
        "sla_targets",
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("priority", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("first_response", sa.Integer(), nullable=True),
        sa.Column("next_response", sa.Integer(), nullable=True),
        sa.Column("resolution", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["queue_id"], ["queues.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("queue_id", "priority"),
    )
    op.create_table(
        "sla_hours",
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("start", sa.BigInteger(), nullable=False),
        sa.Column("end", sa.BigInteger(), nullable=False),
        sa.Column("start_business", sa.BigInteger(), nullable=False),
        sa.Column("end_business", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["queue_id"], ["queues.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("queue_id", "start"),
    )
    op.create_index(
        "ix_sla_hours_business", "sla_hours", ["queue_id", "end_business"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_sla_hours_business", table_name="sla_hours")
    op.drop_table("sla_hours")
    op.drop_table("sla_targets")
    op.drop_table("sla_policies")
    op.drop_index("ix_tickets_sla_due", table_name="tickets")
    op.drop_index("ix_events_action_created", table_name="events")
    bind = op.get_bind()
    version = bind.dialect.server_version_info or ()
    native = bind.dialect.name != "sqlite" or version >= (3, 35)
    for name, *_ in reversed(_TICKET_COLUMNS):
        if native:
            op.execute(f"ALTER TABLE tickets DROP COLUMN {name}")
        else:
            with op.batch_alter_table("tickets") as batch_op:
                batch_op.drop_column(name)
