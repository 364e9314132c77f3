"""bulk and undo: events remember the ticket's update time they replaced

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 20:00:00

`events.old_updated_at` lets undo put "last updated" back where it was. Events written
before this revision have none: undo then leaves those tickets' update time alone.
`ix_tickets_status_solved` counts "Recently solved" (`status:solved solved:<7d`) from the
index, as `ix_tickets_status_updated` did when that view read the update time.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column without a default: instant on both backends, however many events.
    op.add_column(
        "events",
        sa.Column("old_updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    )
    op.create_index("ix_tickets_status_solved", "tickets", ["status", "solved_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_tickets_status_solved", table_name="tickets")
    bind = op.get_bind()
    version = bind.dialect.server_version_info or ()
    if bind.dialect.name != "sqlite" or version >= (3, 35):
        op.execute("ALTER TABLE events DROP COLUMN old_updated_at")
    else:
        with op.batch_alter_table("events") as batch_op:
            batch_op.drop_column("old_updated_at")
