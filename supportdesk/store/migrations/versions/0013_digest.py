"""digest: mail that belongs to no ticket in the outbox, a console with no ticket open is
present, and each agent may turn the notification digest off

Revision ID: 0013
Revises: 0012

- `outbox.ticket_id` may be NULL: the notification digest (desk.digest) is mail to an agent
  about many tickets, or none (a CHECK allows it for a digest with its agent only).
  `outbox.agent_id` (indexed) names the agent a digest is for; the sender checks at send
  time that the recipient is that agent's own address and no other, and the next digest
  looks up when the last one went by it.
- `presence.ticket_id` may be NULL: a console showing no ticket (an empty queue) still beats,
  so its agent is not "away" to the digest.
- `agents.digest`: the agent wants the digest when the team has it on (the default).
- `ignored_mail`: received mail that is no ticket's by design (an agent's reply to a
  digest), kept raw and counted by reason.

On SQLite the two NOT NULLs are dropped by copying the table (batch mode): neither table
has a trigger or an index the copy would lose (Alembic recreates the indexes).
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.alter_column("ticket_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("agent_id", sa.Integer(), nullable=True))
        batch_op.create_index(op.f("ix_outbox_agent_id"), ["agent_id"], unique=False)
        batch_op.create_check_constraint(
            "ck_outbox_ticket_or_digest",
            "ticket_id IS NOT NULL OR (kind = 'digest' AND agent_id IS NOT NULL)",
        )
    with op.batch_alter_table("presence") as batch_op:
        batch_op.alter_column("ticket_id", existing_type=sa.Integer(), nullable=True)
    op.add_column(
        "agents",
        sa.Column("digest", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.create_table(
        "ignored_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("sender", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=998), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ignored_mail_message_id", "ignored_mail", ["message_id"], unique=False)
    op.create_index("ix_ignored_mail_reason", "ignored_mail", ["reason"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ignored_mail_reason", table_name="ignored_mail")
    op.drop_index("ix_ignored_mail_message_id", table_name="ignored_mail")
    op.drop_table("ignored_mail")
    op.execute("DELETE FROM outbox WHERE ticket_id IS NULL")
    op.execute("DELETE FROM presence WHERE ticket_id IS NULL")
    with op.batch_alter_table("agents") as batch_op:
        batch_op.drop_column("digest")
    with op.batch_alter_table("presence") as batch_op:
        batch_op.alter_column("ticket_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_constraint("ck_outbox_ticket_or_digest", type_="check")
        batch_op.drop_index(op.f("ix_outbox_agent_id"))
        batch_op.drop_column("agent_id")
        batch_op.alter_column("ticket_id", existing_type=sa.Integer(), nullable=False)
