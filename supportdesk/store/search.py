"""Full-text search over messages: FTS5 on SQLite, tsvector + GIN on PostgreSQL, one interface.

Each message is indexed once, as one document (subject, body, sender and recipients), keyed
by the message id; mail is append-only, so the index never needs rewriting.

Neither FTS5's unicode61 tokenizer nor PostgreSQL's `simple` configuration splits Japanese or
Chinese into words, so both the documents and the queries put a space between CJK characters:
a Japanese search term becomes a phrase of single characters, which finds it anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, TextClause, bindparam, text

MAX_DOCUMENT_CHARS = 100_000
# Above this many matching messages a term counts as common: the query walks tickets in the
# list's own order and checks each, instead of collecting every match first.
SELECTIVE_LIMIT = 2_000

_CJK = re.compile(
    "([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\uac00-\ud7af])"
)


def segment(value: str) -> str:
    """Put spaces around CJK characters so each one is a token."""
    return _CJK.sub(r" \1 ", value)


def message_document(
    subject: str, body: str, from_name: str, from_address: str, to: str = "", cc: str = ""
) -> str:
    """The text one message contributes to the index."""
    parts = [subject, from_name, from_address, to, cc, body[:MAX_DOCUMENT_CHARS]]
    return segment("\n".join(p for p in parts if p))


def index_documents(conn: Connection, rows: Iterable[tuple[int, str]]) -> None:
    """Add (message id, document) pairs to the index in one batch."""
    batch = [{"id": message_id, "doc": doc} for message_id, doc in rows]
    if not batch:
        return
    if conn.dialect.name == "sqlite":
        conn.execute(text("INSERT INTO message_fts(rowid, doc) VALUES (:id, :doc)"), batch)
    else:
        conn.execute(
            text(
                "INSERT INTO message_search(message_id, doc) "
                "VALUES (:id, to_tsvector('simple', :doc))"
            ),
            batch,
        )


def _fts5_phrase(term: str) -> str:
    tokens = re.findall(r"\w+", segment(term))
    return '"' + " ".join(tokens).replace('"', '""') + '"' if tokens else ""


def has_tokens(term: str) -> bool:
    """Whether a search term holds anything the index can match (not only punctuation)."""
    return bool(re.search(r"\w", term))


def ticket_matches(conn: Connection, terms: Sequence[str], *, name: str) -> TextClause:
    """A condition on `tickets` true when one of its messages contains every term (each a phrase).

    `name` makes the bound parameter names unique within one query. On SQLite a quick probe
    decides the plan: a selective search collects the few matching tickets first; a common
    one is checked ticket by ticket in the list's own order, so "newest first" stops early.
    """
    if conn.dialect.name == "sqlite":
        expression = " AND ".join(p for p in (_fts5_phrase(t) for t in terms) if p)
        param = bindparam(f"{name}_fts", expression)
        probe = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT rowid FROM message_fts "
                "WHERE message_fts MATCH :q LIMIT :n)"
            ),
            {"q": expression, "n": SELECTIVE_LIMIT + 1},
        ).scalar_one()
        if probe <= SELECTIVE_LIMIT:
            sql = (
                "tickets.id IN (SELECT m.ticket_id FROM messages AS m WHERE m.id IN "
                f"(SELECT rowid FROM message_fts WHERE message_fts MATCH :{name}_fts))"
            )
        else:
            sql = (
                "EXISTS (SELECT 1 FROM messages AS m CROSS JOIN message_fts "
                "WHERE m.ticket_id = tickets.id AND message_fts.rowid = m.id "
                f"AND message_fts MATCH :{name}_fts)"
            )
        return text(sql).bindparams(param)
    conditions = " AND ".join(
        f"s.doc @@ phraseto_tsquery('simple', :{name}_{i})" for i in range(len(terms))
    )
    params = [bindparam(f"{name}_{i}", segment(t)) for i, t in enumerate(terms)]
    return text(
        "EXISTS (SELECT 1 FROM messages AS m JOIN message_search AS s ON s.message_id = m.id "
        f"WHERE m.ticket_id = tickets.id AND {conditions})"
    ).bindparams(*params)
