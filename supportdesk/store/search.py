"""Full-text search over messages: FTS5 on SQLite, tsvector + GIN on PostgreSQL, one interface.

Each message is indexed once, as one document (subject, body, sender and recipients), keyed
by the message id; mail is append-only, so the index never needs rewriting.

Neither FTS5's unicode61 tokenizer nor PostgreSQL's `simple` configuration splits Japanese or
Chinese into words, so both the documents and the queries put a space between CJK characters:
a Japanese search term becomes a phrase of single characters, which finds it anywhere. Accents
on Latin, Greek and Cyrillic letters are folded here too (never Japanese voicing marks), so
`cafe` finds `café` on both backends.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, TextClause, bindparam, text

MAX_DOCUMENT_CHARS = 100_000
# Above this many matching messages a term counts as common: the query walks tickets in the
# list's own order and checks each, instead of collecting every match first.
SELECTIVE_LIMIT = 2_000

_CJK = re.compile(
    "([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\uac00-\ud7af])"
)


_WORD = re.compile(r"[^\W_]+")
_FOLDABLE = re.compile("[\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]")


def _fold(char: re.Match[str]) -> str:
    decomposed = unicodedata.normalize("NFD", char.group())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def segment(value: str) -> str:
    """Fold accents and put spaces around CJK characters so each one is a token."""
    value = _FOLDABLE.sub(_fold, unicodedata.normalize("NFKC", value))
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
    tokens = _WORD.findall(segment(term))
    return '"' + " ".join(tokens) + '"' if tokens else ""


def has_tokens(term: str) -> bool:
    """Whether a search term holds anything the index can match (not only punctuation)."""
    return bool(_WORD.search(term))


def ticket_matches(
    conn: Connection, terms: Sequence[str], *, name: str, whole_set: bool = False
) -> TextClause:
    """A condition on `tickets` true when one of its messages contains every term (each a phrase).

    `name` makes the bound parameter names unique within one query. On SQLite the plan
    depends on the use: for a page (the default), a quick probe decides: a selective search
    collects the few matching tickets first, a common one is checked ticket by ticket in the
    list's own order so "newest first" stops early. For a count or a bulk change
    (`whole_set`), matches are always collected first, which is far faster over every ticket.
    Terms with nothing to match (only punctuation) match no ticket.
    """
    terms = [t for t in terms if has_tokens(t)]
    if not terms:
        return text("1 = 0")
    if conn.dialect.name == "sqlite":
        expression = " AND ".join(_fts5_phrase(t) for t in terms)
        param = bindparam(f"{name}_fts", expression)
        if whole_set or _is_selective(conn, expression):
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
    return _postgres_matches(terms, name)


def _is_selective(conn: Connection, expression: str) -> bool:
    probe = conn.execute(
        text(
            "SELECT count(*) FROM (SELECT rowid FROM message_fts "
            "WHERE message_fts MATCH :q LIMIT :n)"
        ),
        {"q": expression, "n": SELECTIVE_LIMIT + 1},
    ).scalar_one()
    return bool(probe <= SELECTIVE_LIMIT)


def _postgres_matches(terms: Sequence[str], name: str) -> TextClause:
    conditions = " AND ".join(
        f"s.doc @@ phraseto_tsquery('simple', :{name}_{i})" for i in range(len(terms))
    )
    params = [bindparam(f"{name}_{i}", segment(t)) for i, t in enumerate(terms)]
    return text(
        "EXISTS (SELECT 1 FROM messages AS m JOIN message_search AS s ON s.message_id = m.id "
        f"WHERE m.ticket_id = tickets.id AND {conditions})"
    ).bindparams(*params)
