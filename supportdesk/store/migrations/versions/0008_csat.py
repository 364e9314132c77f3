"""satisfaction ratings: csat_requests, csat_ratings, csat_rejections

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 23:00:00

Three new tables and nothing else, so the upgrade is the same plain CREATE TABLE on SQLite
and PostgreSQL (see desk.csat for what the rows mean).
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "csat_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("solved_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("nonce", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("issued_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("skipped", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "solved_at", name="uq_csat_requests_solve"),
        sa.UniqueConstraint("nonce"),
    )
    op.create_index("ix_csat_requests_ticket_id", "csat_requests", ["ticket_id"], unique=False)
    op.create_table(
        "csat_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("received_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("sender", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=998), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["csat_requests.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id"),
    )
    op.create_index("ix_csat_ratings_ticket_id", "csat_ratings", ["ticket_id"], unique=False)
    op.create_index("ix_csat_ratings_message_id", "csat_ratings", ["message_id"], unique=False)
    # Reports read the ratings of a period (desk.reports).
    op.create_index(
        "ix_csat_ratings_received", "csat_ratings", ["received_at", "ticket_id"], unique=False
    )
    op.create_table(
        "csat_rejections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("ticket_number", sa.Integer(), nullable=True),
        sa.Column("sender", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=998), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_csat_rejections_message_id", "csat_rejections", ["message_id"], unique=False
    )
    # The mails waiting for the key are looked up by reason.
    op.create_index("ix_csat_rejections_reason", "csat_rejections", ["reason"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_csat_rejections_reason", table_name="csat_rejections")
    op.drop_index("ix_csat_rejections_message_id", table_name="csat_rejections")
    op.drop_table("csat_rejections")
    op.drop_index("ix_csat_ratings_received", table_name="csat_ratings")
    op.drop_index("ix_csat_ratings_message_id", table_name="csat_ratings")
    op.drop_index("ix_csat_ratings_ticket_id", table_name="csat_ratings")
    op.drop_table("csat_ratings")
    op.drop_index("ix_csat_requests_ticket_id", table_name="csat_requests")
    op.drop_table("csat_requests")
