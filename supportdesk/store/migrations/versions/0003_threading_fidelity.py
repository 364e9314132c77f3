"""threading fidelity: content hashes, ghost Message-IDs, subject tags, customer bounces

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 14:00:00

Messages stored before this revision get their content hash when ingest first compares one
(desk.ingest reads their raw bytes then): hashing a whole store here would make the upgrade
of a large store slow, and most rows are never compared.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on both backends: on SQLite a batch rebuild of `messages` would drop
    # and recreate the table that message_raw and attachments point at.
    op.add_column(
        "messages",
        sa.Column(
            "content_hash",
            sqlmodel.sql.sqltypes.AutoString(length=64),
            nullable=False,
            server_default="",
        ),
    )
    op.add_column(
        "customers",
        sa.Column("bounced_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    )
    op.add_column(
        "customers",
        sa.Column(
            "bounce_reason",
            sqlmodel.sql.sqltypes.AutoString(length=500),
            nullable=False,
            server_default="",
        ),
    )
    op.create_table(
        "message_ghosts",
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=998), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["messages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_id"),
    )
    op.create_index(
        op.f("ix_message_ghosts_source_id"), "message_ghosts", ["source_id"], unique=False
    )
    op.create_table(
        "subject_tags",
        sa.Column("tag", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("outgoing", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tag", "message_id"),
    )
    op.create_index(
        op.f("ix_subject_tags_message_id"), "subject_tags", ["message_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_subject_tags_message_id"), table_name="subject_tags")
    op.drop_table("subject_tags")
    op.drop_index(op.f("ix_message_ghosts_source_id"), table_name="message_ghosts")
    op.drop_table("message_ghosts")
    bind = op.get_bind()
    version = bind.dialect.server_version_info or ()
    native = bind.dialect.name != "sqlite" or version >= (3, 35)
    for table, column in (
        ("customers", "bounce_reason"),
        ("customers", "bounced_at"),
        ("messages", "content_hash"),
    ):
        if native:  # in place: no table rebuild, no cascade through the foreign keys
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        else:
            with op.batch_alter_table(table) as batch_op:
                batch_op.drop_column(column)
