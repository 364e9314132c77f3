"""replies out: drafts, the outbox's attempt record, canned reply definitions, queue acks

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_OUTBOX_COLUMNS = (
    ("kind", sqlmodel.sql.sqltypes.AutoString(length=16), False, "reply"),
    ("envelope_from", sqlmodel.sql.sqltypes.AutoString(length=320), False, ""),
    ("message_id_header", sqlmodel.sql.sqltypes.AutoString(length=998), False, ""),
    ("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=200), True, None),
    ("claimed_at", sqlmodel.sql.sqltypes.UTCDateTime(), True, None),
    ("handed_over_at", sqlmodel.sql.sqltypes.UTCDateTime(), True, None),
    ("copied_at", sqlmodel.sql.sqltypes.UTCDateTime(), True, None),
)


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        for name, type_, nullable, default in _OUTBOX_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=nullable, server_default=default))
        batch_op.create_index(
            batch_op.f("ix_outbox_message_id_header"), ["message_id_header"], unique=False
        )
    with op.batch_alter_table("canned_replies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("definition", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("queues", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "acknowledge_with", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True
            )
        )
    op.create_table(
        "drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("to_addresses", sa.Text(), nullable=False),
        sa.Column("cc_addresses", sa.Text(), nullable=False),
        sa.Column("bcc_addresses", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("quote_original", sa.Boolean(), nullable=False),
        sa.Column("attach_original", sa.Boolean(), nullable=False),
        sa.Column("in_reply_to_id", sa.Integer(), nullable=True),
        sa.Column("canned", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("status_after", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("base_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["in_reply_to_id"], ["messages.id"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "author", name="uq_drafts_ticket_author"),
    )
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_drafts_ticket_id"), ["ticket_id"], unique=False)
    op.create_table(
        "draft_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["draft_id"], ["drafts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("draft_attachments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_draft_attachments_draft_id"), ["draft_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("draft_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_draft_attachments_draft_id"))
    op.drop_table("draft_attachments")
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_drafts_ticket_id"))
    op.drop_table("drafts")
    with op.batch_alter_table("queues", schema=None) as batch_op:
        batch_op.drop_column("acknowledge_with")
    with op.batch_alter_table("canned_replies", schema=None) as batch_op:
        batch_op.drop_column("definition")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_message_id_header"))
        for name, *_rest in reversed(_OUTBOX_COLUMNS):
            batch_op.drop_column(name)
