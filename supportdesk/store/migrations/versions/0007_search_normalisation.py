"""search: re-index with the new normalisation; long messages keep their tokens on PostgreSQL

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 23:00:00

supportdesk.store.search now lower-cases non-ASCII text itself (PostgreSQL's `simple`
configuration lower-cases by the database's locale, FTS5 by Unicode), joins spacing voicing
marks to their kana (カ゛ is ガ), reads a dash after a katakana as the long-vowel mark and
spaces more CJK characters (々, 〆, kanji outside the basic block) into tokens. A document
indexed before that holds any of these would disagree with queries normalised now.

Only messages with non-ASCII text can be affected: each one's document is made the old way
(the 0006 code, frozen below) and the new way, and only a message whose document differs
beyond what the backend folds itself is indexed again: on SQLite, a message whose tokens
differ beyond case (FTS5 folds every script's; spacing never matters there); on PostgreSQL,
whose text differs beyond ASCII case (its parser may read `々。` as one word, and lower only
ASCII in the C locale). On SQLite the old document is dropped from the contentless FTS5
table with the exact text it was given (`'delete'`), so the rest of the index stays as it is.
Most stores (English, or Japanese without those forms) only pay the scan. Downgrading keeps
the index as it is: the older code reads it as before for all but the forms above.

On PostgreSQL, message_search gains `tokens`: a long message's tokens as text, where a phrase
is looked for when the tsvector has lost positions (see search.LONG). Long messages (200
characters or more) are read to fill it. Every message with CJK text is indexed again there
too: its tsvector now also holds each pair of CJK characters side by side (search.cjk_pairs),
which makes a Japanese word as quick to find as an English one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

import sqlalchemy as sa
from alembic import op

from supportdesk.store import search

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BATCH = 2_000
TEXT_COLUMNS = ("subject", "body_text", "from_name", "from_address", "to_addresses", "cc_addresses")
_OLD_CJK = re.compile(
    "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\uac00-\ud7af]+"
)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

Row = tuple[int, str, str]  # message id, document as 0006 made it, document as made now


def upgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    length = (
        "length(CAST({c} AS BLOB)) <> length({c})"
        if sqlite
        else "octet_length({c}) <> char_length({c})"
    )
    non_ascii = "(" + " OR ".join(length.format(c=c) for c in TEXT_COLUMNS) + ")"
    if sqlite:
        delete = sa.text(
            "INSERT INTO message_fts(message_fts, rowid, doc) VALUES ('delete', :id, :doc)"
        )
        # Keyed by message id, as the index was until 0011 (search.index_documents keys by
        # ticket now).
        insert = sa.text("INSERT INTO message_fts(rowid, doc) VALUES (:id, :doc)")
        for batch in _documents(conn, non_ascii):
            changed = _changed(batch)
            if changed:
                conn.execute(delete, [{"id": i, "doc": old} for i, old, _ in changed])
                conn.execute(insert, [{"id": i, "doc": new} for i, _, new in changed])
        return
    conn.exec_driver_sql("ALTER TABLE message_search ADD COLUMN tokens text")
    update = sa.text(
        "UPDATE message_search SET doc = to_tsvector('simple', :doc) || CAST(:mark AS tsvector) "
        "|| array_to_tsvector(CAST(:pairs AS text[])), tokens = :tokens WHERE message_id = :id"
    )
    sizes = " + ".join(f"char_length({c})" for c in TEXT_COLUMNS)
    for batch in _documents(conn, f"({non_ascii} OR {sizes} >= {search.POSITIONS_KEPT})"):
        rows = [search.postgres_row(i, new) for i, _, new in batch]
        differs = {i for i, old, new in batch if old.translate(_ASCII_LOWER) != new}
        rows = [row for row in rows if row["tokens"] or row["pairs"] or row["id"] in differs]
        if rows:
            conn.execute(update, rows)


def _changed(batch: list[Row]) -> list[Row]:
    """The rows whose old and new documents give FTS5 different tokens."""
    return [row for row in batch if _tokens(row[1]) != _tokens(row[2])]


def _tokens(document: str) -> list[str]:
    return search._WORD.findall(document.lower())


def _documents(conn: sa.Connection, condition: str) -> Iterator[list[Row]]:
    """The messages matching `condition` with their old and new documents, in batches by id."""
    select = sa.text(
        f"SELECT id, {', '.join(TEXT_COLUMNS)} FROM messages "
        f"WHERE id > :after AND {condition} ORDER BY id LIMIT :n"
    )
    after = 0
    while True:
        rows = conn.execute(select, {"after": after, "n": BATCH}).all()
        if not rows:
            return
        batch: list[Row] = []
        for row in rows:
            fields = [value or "" for value in row[1:]]
            old = _old_segment("\n".join(f for f in _old_parts(fields) if f))
            batch.append((row[0], old, search.message_document(*fields)))
        yield batch
        after = rows[-1][0]


def _old_parts(fields: list[str]) -> list[str]:
    subject, body, from_name, from_address, to, cc = fields
    return [subject, from_name, from_address, to, cc, body[: search.MAX_DOCUMENT_CHARS]]


def _old_segment(value: str) -> str:
    """supportdesk.store.search.segment as revision 0006 shipped it."""
    if value.isascii():
        return value
    value = unicodedata.normalize("NFKC", value).translate(search._folds())
    return _OLD_CJK.sub(search._spaced, value)


def downgrade() -> None:
    """The index stays as this revision built it (see above); PostgreSQL loses `tokens`."""
    if op.get_bind().dialect.name != "sqlite":
        op.execute("ALTER TABLE message_search DROP COLUMN tokens")
