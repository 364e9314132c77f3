"""search: re-index messages with the new normalisation (case, voicing marks, katakana dashes)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 23:00:00

supportdesk.store.search now lower-cases non-ASCII text itself (PostgreSQL's `simple`
configuration lower-cases by the database's locale, FTS5 by Unicode), joins spacing voicing
marks to their kana (カ゛ is ガ), reads a dash after a katakana as the long-vowel mark and
spaces more CJK characters (々, 〆, kanji outside the basic block) into tokens. Documents
indexed before would disagree with queries normalised now, so they are indexed again with
the code of this release: on SQLite every document (a contentless FTS5 table cannot drop
one document without its old text), on PostgreSQL only the messages with non-ASCII text, the
only ones whose document changed. Downgrading keeps the new index: the older code reads it
as before for all but the forms above.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from supportdesk.store import search

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BATCH = 2_000
COLUMNS = "id, subject, body_text, from_name, from_address, to_addresses, cc_addresses"
TEXT_COLUMNS = ("subject", "body_text", "from_name", "from_address", "to_addresses", "cc_addresses")


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("INSERT INTO message_fts(message_fts) VALUES ('delete-all')")
        _reindex(conn, "1 = 1", insert=True)
        conn.exec_driver_sql("INSERT INTO message_fts(message_fts) VALUES ('optimize')")
    else:
        non_ascii = " OR ".join(f"octet_length({c}) <> char_length({c})" for c in TEXT_COLUMNS)
        _reindex(conn, f"({non_ascii})", insert=False)


def _reindex(conn: sa.Connection, condition: str, *, insert: bool) -> None:
    """Index the messages matching `condition` again, in batches by id."""
    select = sa.text(
        f"SELECT {COLUMNS} FROM messages WHERE id > :after AND {condition} ORDER BY id LIMIT :n"
    )
    update = sa.text(
        "UPDATE message_search SET doc = to_tsvector('simple', :doc) WHERE message_id = :id"
    )
    after = 0
    while True:
        rows = conn.execute(select, {"after": after, "n": BATCH}).all()
        if not rows:
            return
        documents = [
            (
                row.id,
                search.message_document(
                    row.subject or "",
                    row.body_text or "",
                    row.from_name or "",
                    row.from_address or "",
                    row.to_addresses or "",
                    row.cc_addresses or "",
                ),
            )
            for row in rows
        ]
        if insert:
            search.index_documents(conn, documents)
        else:
            conn.execute(update, [{"id": i, "doc": doc} for i, doc in documents])
        after = rows[-1].id


def downgrade() -> None:
    """Nothing to undo: the index stays as this revision built it (see above)."""
