"""batchnote: a bulk assignment tells each agent once, naming the batch, not each ticket

Revision ID: 0014
Revises: 0013

- `notifications.ticket_id` may be NULL: an `assigned_batch` notification is about the
  tickets one batch assigned the agent (`batch_id`, how many in `ticket_count`). A CHECK
  ties the shape to the kind on both backends: an `assigned_batch` row has no ticket, a
  batch and a count above zero; every other row has a ticket and neither batch nor count.
- `uq_notifications_batch` (agent, batch) makes "once per agent and batch" a fact of the
  table; NULL batch ids (every other kind) never collide.
- PostgreSQL: the insert policy of 0010 learns the new kind. An `assigned_batch` row must
  name an `assign` event this login role wrote, in the row's name, of the row's batch and
  assigning the row's agent (its `event_id`, by primary key); the other kinds still
  require the event to be on the row's ticket. Reading and marking (`OWN`) are unchanged:
  each agent sees only their own.

On SQLite the NOT NULL is dropped by copying the table (batch mode): it has no trigger
there and Alembic recreates its indexes. Downgrading deletes the batch notifications,
which the old schema cannot hold.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_SHAPE = (
    "(kind = 'assigned_batch') = (ticket_id IS NULL)"
    " AND (ticket_id IS NULL) = (batch_id IS NOT NULL)"
    " AND (ticket_count IS NULL) = (batch_id IS NULL)"
    " AND (ticket_count IS NULL OR ticket_count > 0)"
)
"""models.NOTIFICATION_TICKET_OR_BATCH as of this revision: the shape follows the kind."""

_HANDLE = "(SELECT a.handle FROM agents a WHERE a.id = notifications.agent_id)"


def _tell(with_batch: bool) -> str:
    """The insert policy's condition: 0010's, with (`with_batch`) the batch kind."""
    ticket = "e.ticket_id = notifications.ticket_id"
    batch = (
        " WHEN 'assigned_batch' THEN notifications.ticket_id IS NULL"
        " AND e.batch_id = notifications.batch_id AND e.action = 'assign'"
        f" AND e.new_value = {_HANDLE} AND notifications.ticket_count > 0"
        " AND notifications.ticket_count <= (SELECT count(*) FROM events b"
        " WHERE b.batch_id = notifications.batch_id AND b.action = 'assign'"
        " AND b.role = session_user::text AND b.new_value = e.new_value)"
        if with_batch
        else ""
    )
    # 0010's text, the ticket check moved into each kind's branch when batches exist.
    on_ticket = f" AND {ticket}" if not with_batch else ""
    per_kind = (
        f"{ticket} AND notifications.batch_id IS NULL AND notifications.ticket_count IS NULL AND "
        if with_batch
        else ""
    )
    return (
        "CASE WHEN event_id IS NULL THEN EXISTS (SELECT 1 FROM team_roles t"
        " WHERE t.role = session_user::text AND t.kind = 'service')"
        " ELSE EXISTS (SELECT 1 FROM events e WHERE e.id = event_id"
        f" AND e.role = session_user::text{on_ticket}"
        " AND e.actor = notifications.actor AND CASE notifications.kind"
        f" WHEN 'assigned' THEN {per_kind}e.action = 'assign' AND e.new_value = {_HANDLE}"
        f"{batch}"
        f" WHEN 'reply' THEN {per_kind}e.action = 'message_in' AND notifications.agent_id ="
        " (SELECT tk.assignee_id FROM tickets tk WHERE tk.id = notifications.ticket_id)"
        f" WHEN 'mention' THEN {per_kind}e.action IN ('note', 'note_edited') AND EXISTS"
        " (SELECT 1 FROM agents a WHERE a.id = notifications.agent_id AND a.active)"
        " ELSE false END) END"
    )


def _policy(with_batch: bool) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP POLICY IF EXISTS notifications_tell ON notifications")
    op.execute(
        "CREATE POLICY notifications_tell ON notifications FOR INSERT "
        f"WITH CHECK ({_tell(with_batch)})"
    )


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.alter_column("ticket_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(
            sa.Column("batch_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True)
        )
        batch_op.add_column(sa.Column("ticket_count", sa.Integer(), nullable=True))
        batch_op.create_index("uq_notifications_batch", ["agent_id", "batch_id"], unique=True)
        batch_op.create_check_constraint("ck_notifications_ticket_or_batch", _SHAPE)
    _policy(with_batch=True)


def downgrade() -> None:
    _policy(with_batch=False)
    op.execute("DELETE FROM notifications WHERE ticket_id IS NULL")
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.drop_constraint("ck_notifications_ticket_or_batch", type_="check")
        batch_op.drop_index("uq_notifications_batch")
        batch_op.drop_column("ticket_count")
        batch_op.drop_column("batch_id")
        batch_op.alter_column("ticket_id", existing_type=sa.Integer(), nullable=False)
