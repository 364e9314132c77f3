"""search: SQLite's full-text index keyed by ticket, then message

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 02:00:00

Each FTS5 row was keyed by its message id, so asking whether a ticket mentions a word took one
lookup per message of the ticket, and finding the tickets of a common word visited `messages`
once per match (0.9 s for a word in 240,000 of 1,000,000 messages). Keyed by ticket id * 2**32
+ message id (TICKET_SHIFT), one ticket's rows are one key range: the question is one
lookup, and the tickets of every match are read from the keys alone.

A contentless FTS5 table cannot change a row's key without the text it indexed, so the index
is made again from the stored messages, ticket by ticket in key order (FTS5 then appends),
and merged into one segment at the end. At 1,000,000 messages this took 118 s (43 s of CPU,
on a loaded machine; see bench/README.md). PostgreSQL keys its index by message and is left
as it is. Downgrading makes the index again keyed by message id.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TICKETS_PER_BATCH = 1_000

# What this revision indexes is copied here from supportdesk.store.search as it stood at 0012,
# so that later changes there cannot change what 0012 writes (0007 had to be patched for this).
TICKET_SHIFT = 32
MAX_DOCUMENT_CHARS = 100_000
MESSAGE_TEXT_COLUMNS = (
    "subject",
    "body_text",
    "from_name",
    "from_address",
    "to_addresses",
    "cc_addresses",
)
_CJK = re.compile(
    "[\u3005-\u3007\u3021-\u3029\u3031-\u3035\u303b\u3040-\u30ff\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\uac00-\ud7af"
    "\U00020000-\U0003134f]+"
)
_VOICING = str.maketrans({"\u309b": "\u3099", "\u309c": "\u309a"})
_KANA_DASH = re.compile("(?<=[\u30a1-\u30fa\u30fc\uff66-\uff9f])[\u2010-\u2015\u2212\uff0d\uff70]")
_FOLDABLE = ((0x00C0, 0x024F), (0x0370, 0x03FF), (0x0400, 0x04FF))


@cache
def _folds() -> dict[int, str]:
    table: dict[int, str] = {}
    for low, high in _FOLDABLE:
        for code in range(low, high + 1):
            decomposed = unicodedata.normalize("NFD", chr(code))
            folded = "".join(c for c in decomposed if not unicodedata.combining(c))
            if folded != chr(code):
                table[code] = folded
    return table


def _spaced(run: re.Match[str]) -> str:
    return " " + " ".join(run.group()) + " "


def _segment(value: str) -> str:
    if value.isascii():
        return value
    value = _KANA_DASH.sub("\u30fc", value.translate(_VOICING))
    value = unicodedata.normalize("NFKC", value).translate(_folds()).lower()
    value = value.replace("i\u0307", "i")
    return _CJK.sub(_spaced, value)


def _document(subject: str, body: str, from_name: str, from_address: str, to: str, cc: str) -> str:
    parts = [subject, from_name, from_address, to, cc, body[:MAX_DOCUMENT_CHARS]]
    return _segment("\n".join(p for p in parts if p))


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
    columns = ", ".join(MESSAGE_TEXT_COLUMNS)
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
                    "id": (row[1] << TICKET_SHIFT) + row[0] if by_ticket else row[0],
                    "doc": _document(*(value or "" for value in row[2:])),
                }
                for row in rows
            ],
        )
    conn.exec_driver_sql("INSERT INTO message_fts(message_fts) VALUES ('optimize')")
