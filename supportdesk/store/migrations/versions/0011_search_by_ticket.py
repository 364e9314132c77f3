"""search: SQLite's full-text index keyed by ticket, then message

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 02:00:00

Each FTS5 row was keyed by its message id, so asking whether a ticket mentions a word took one
lookup per message of the ticket, and finding the tickets of a common word visited `messages`
once per match (0.9 s for a word in 240,000 of 1,000,000 messages). Keyed by ticket id * 2**32
+ message id (search.TICKET_SHIFT), one ticket's rows are one key range: the question is one
lookup, and the tickets of every match are read from the keys alone.

A contentless FTS5 table cannot change a row's key without the text it indexed, so the index
is made again from the stored messages, ticket by ticket in key order (FTS5 then appends),
and merged into one segment at the end. At 1,000,000 messages this took 118 s (43 s of CPU,
on a loaded machine; see bench/README.md). PostgreSQL keys its index by message and is left
as it is. Downgrading makes the index again keyed by message id.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from supportdesk.store import search

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TICKETS_PER_BATCH = 1_000


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        _rebuild(conn, by_ticket=True)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        _rebuild(conn, by_ticket=False)


def _rebuild(conn: sa.Connection, *, by_ticket: bool) -> None:
    conn.exec_driver_sql("DROP TABLE message_fts")
    conn.exec_driver_sql(
        "CREATE VIRTUAL TABLE message_fts USING fts5("
        "doc, content='', tokenize='unicode61 remove_diacritics 2')"
    )
    columns = ", ".join(search.MESSAGE_TEXT_COLUMNS)
    order = "ticket_id, id" if by_ticket else "id"
    key = "ticket_id" if by_ticket else "id"
    select = sa.text(
        f"SELECT id, ticket_id, {columns} FROM messages "
        f"WHERE {key} >= :low AND {key} < :high ORDER BY {order}"
    )
    insert = sa.text("INSERT INTO message_fts(rowid, doc) VALUES (:id, :doc)")
    highest = conn.exec_driver_sql(f"SELECT max({key}) FROM messages").scalar() or 0
    step = TICKETS_PER_BATCH if by_ticket else TICKETS_PER_BATCH * 10
    for low in range(0, highest + 1, step):
        rows = conn.execute(select, {"low": low, "high": low + step}).all()
        if not rows:
            continue
        conn.execute(
            insert,
            [
                {
                    "id": search.index_key(row[1], row[0]) if by_ticket else row[0],
                    "doc": search.message_document(*(value or "" for value in row[2:])),
                }
                for row in rows
            ],
        )
    conn.exec_driver_sql("INSERT INTO message_fts(message_fts) VALUES ('optimize')")
