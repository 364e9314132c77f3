"""Full-text search over messages: FTS5 on SQLite, tsvector + GIN on PostgreSQL, one interface.

Each message is indexed once, as one document (subject, body, sender and recipients), keyed
by the message id; mail is append-only, so the index never needs rewriting.

Neither FTS5's unicode61 tokenizer nor PostgreSQL's `simple` configuration splits Japanese or
Chinese into words, so both the documents and the queries put a space between CJK characters:
a Japanese search term becomes a phrase of single characters, which finds it anywhere (返金 in
返金します) and nowhere else (返品 is not in 返金の品). Both sides are normalised here, in
Python, the same way for both backends: NFKC (half-width ｶﾀｶﾅ is カタカナ, full-width ＡＢＣ is
ABC), lower case, spacing voicing marks joined to their kana (カ゛ is ガ), dashes after katakana
read as the long-vowel mark (サ−バ is サーバ), and accents on Latin, Greek and Cyrillic letters
folded (never Japanese voicing marks), so `cafe` finds `café`. A query ending in a
katakana word of three or more kana drops that word's final long-vowel mark, so サーバー
finds サーバ (JIS style) as サーバ finds サーバー. A known limit, tested in
tests/test_ja_search.py with the rest: a word is found inside a longer one (京都 in 東京都).
Long messages, where a tsvector loses positions, are handled apart on PostgreSQL (see LONG).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from itertools import pairwise
from typing import Literal

from sqlalchemy import BindParameter, Connection, TextClause, bindparam, text

from supportdesk.errors import StoreError
from supportdesk.i18n import _
from supportdesk.store.prepared import Prepared

MAX_DOCUMENT_CHARS = 100_000
# How SQLite finds one page of matching tickets depends on how common the search is (each plan
# measured by bench/store_bench.py at 100,000 tickets / 1,000,000 messages). The tickets of the
# matching messages are read from the index keys (see TICKET_SHIFT; ~0.12 us a match). Up to
# SORTED_LIMIT matches, those tickets are read and sorted; up to SELECTIVE_LIMIT, the page
# walks tickets in its own order, tests each against that list and stops when it is full.
# Past that, the walk asks FTS5 once per ticket about the key range of its messages instead
# (~4-16 us a ticket on a merged index, several times that on one grown mail by mail:
# `supportdesk db optimize` merges it), which costs nothing per match.
SORTED_LIMIT = 2_000
SELECTIVE_LIMIT = 30_000
# On PostgreSQL collecting costs more per match (each one is a heap visit), walking less:
# the two cross at about 5,000 matching messages.
POSTGRES_SELECTIVE_LIMIT = 5_000
# A search the planner expects in more than this many times the limit is taken as common
# without counting (see `_postgres_at_most`): the estimates were within 5% for words in
# 2,700 to 570,000 messages (revision 0011). A word outside the statistics is estimated at
# half the share of the rarest word kept there (173 of the bench's 1,000,000 messages), which
# stays below ESTIMATE_MARGIN times POSTGRES_SELECTIVE_LIMIT (20,000) only below ~100,000,000
# messages: past that a rare word alone would be taken as common without being counted.
ESTIMATE_MARGIN = 4
# Several words are common only if the newest this many messages hold them together as
# often as the estimate needs (see `_postgres_at_most`).
DENSITY_WINDOW = 2_000

# A count of a search for common words is estimated from the tickets of its newest matching
# messages (see `newest_matches`): this many cost ~15 ms on SQLite at 1,000,000 messages, and
# put the estimate within about 5% there (~20% for a word in most messages, capped at the
# number of tickets). PostgreSQL reads each match's document to test it, so it reads fewer.
NEWEST_SAMPLE = 6_000
POSTGRES_NEWEST_SAMPLE = 2_000
# A sample whose matches fall in fewer tickets than this says little about the rest: one
# huge thread or a mail loop in the newest tickets would be scaled into every ticket. SQLite
# then counts the tickets of every match from the index keys (~35 ms of CPU for `refund`,
# ~90 for `order`, at 1M).
NEWEST_MIN_TICKETS = 30

_CJK = re.compile(
    "[\u3005-\u3007\u3021-\u3029\u3031-\u3035\u303b\u3040-\u30ff\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\uac00-\ud7af"
    "\U00020000-\U0003134f]+"
)
# Spacing voicing marks (゛゜) become combining ones, which NFKC then joins to the kana before.
_VOICING = str.maketrans({"\u309b": "\u3099", "\u309c": "\u309a"})
# A dash or minus right after a katakana is a long-vowel mark mistyped or mis-converted.
_KANA_DASH = re.compile("(?<=[\u30a1-\u30fa\u30fc\uff66-\uff9f])[\u2010-\u2015\u2212\uff0d\uff70]")
# Final ー of a search term ending in a katakana word of three or more kana: サーバー and
# サーバ are one word. Only at the term's end: a phrase matches adjacent characters, so a ー
# dropped before more text (ユーザー名) would miss the text written exactly as typed.
_FINAL_LONG_VOWEL = re.compile("(?<=[\u30a1-\u30fa\u30fc]{3})\u30fc(?=[\\W_]*$)")


_WORD = re.compile(r"[^\W_]+")
_FOLDABLE = ((0x00C0, 0x024F), (0x0370, 0x03FF), (0x0400, 0x04FF))


@cache
def _folds() -> dict[int, str]:
    """Latin, Greek and Cyrillic letters with their accents removed, for str.translate."""
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


def normalise(value: str) -> str:
    """The text as both sides of a search see it (see the module docstring), before spacing."""
    if value.isascii():
        return value
    value = _KANA_DASH.sub("\u30fc", value.translate(_VOICING))
    # Folded before lower case: "İ".lower() is i and a combining dot, which splits the word.
    # Text lower-cased before it came here (a stored sender address) has that dot: dropped.
    folded = unicodedata.normalize("NFKC", value).translate(_folds()).lower()
    return folded.replace("i\u0307", "i")


def segment(value: str) -> str:
    """Normalise and put spaces around CJK characters so each one is a token.

    Most mail is ASCII, which none of this changes: it is returned as it is. Otherwise the
    folding is a few calls over the whole text and the spacing one call per run of CJK
    characters, not per character: this runs on every message a sync stores.
    """
    if value.isascii():
        return value
    return _CJK.sub(_spaced, normalise(value))


def segment_query(term: str) -> str:
    """A search term as `segment` leaves it, less the ー ending a long katakana word at its end.

    Only the query drops it: a term is matched as a phrase of characters, so サーバ then finds
    both サーバ and サーバー in the index."""
    if term.isascii():
        return term
    return _CJK.sub(_spaced, _FINAL_LONG_VOWEL.sub("", normalise(term)))


def message_document(
    subject: str, body: str, from_name: str, from_address: str, to: str = "", cc: str = ""
) -> str:
    """The text one message contributes to the index."""
    parts = [subject, from_name, from_address, to, cc, body[:MAX_DOCUMENT_CHARS]]
    return segment("\n".join(p for p in parts if p))


_INDEX_SQLITE = Prepared(text("INSERT INTO message_fts(rowid, doc) VALUES (:id, :doc)"))
# On SQLite a message's row in the index is keyed by its ticket first (revision 0012): the
# key is ticket id * 2**32 + message id, so one ticket's messages sit side by side and
# "does this ticket have a message with the word" is one FTS5 lookup over a key range, and
# the tickets of every match come from the index alone, with no visit to `messages`. Message
# ids stay below 2**32 (four billion messages) for the ranges to stay apart, and ticket ids
# below 2**31 for the key to fit a signed 64-bit rowid: `index_key` refuses the rest.
TICKET_SHIFT = 32
MESSAGE_ID_LIMIT = 1 << TICKET_SHIFT
TICKET_ID_LIMIT = 1 << (63 - TICKET_SHIFT)
_SQLITE_TICKET = f"(rowid >> {TICKET_SHIFT})"
# The top of the range is inclusive, so the last ticket's range ends at 2**63 - 1 instead of
# wrapping; a ticket id past the limit has no rows and must not shift into another's range.
_SQLITE_RANGE = (
    f"tickets.id BETWEEN 0 AND {TICKET_ID_LIMIT - 1} "
    f"AND rowid >= (tickets.id << {TICKET_SHIFT}) "
    f"AND rowid <= (tickets.id << {TICKET_SHIFT}) + {MESSAGE_ID_LIMIT - 1}"
)


def index_key(ticket_id: int, message_id: int) -> int:
    """The SQLite index row of message `message_id` on ticket `ticket_id` (see TICKET_SHIFT).

    Raises StoreError past the limits: a larger message id would file the message under the
    next ticket, and a larger ticket id does not fit the rowid.
    """
    if not (0 <= ticket_id < TICKET_ID_LIMIT and 0 <= message_id < MESSAGE_ID_LIMIT):
        raise StoreError(
            _(
                "message {message} of ticket {ticket} cannot be searched: the SQLite search "
                "index holds ticket ids below {tickets} and message ids below {messages}"
            ).format(
                message=message_id,
                ticket=ticket_id,
                tickets=TICKET_ID_LIMIT,
                messages=MESSAGE_ID_LIMIT,
            )
        )
    return (ticket_id << TICKET_SHIFT) + message_id


_INDEX_POSTGRES = Prepared(
    text(
        "INSERT INTO message_search(message_id, doc, tokens) VALUES (:id, "
        "to_tsvector('simple', :doc) || CAST(:mark AS tsvector) "
        "|| array_to_tsvector(CAST(:pairs AS text[])), :tokens)"
    )
)

# A tsvector keeps at most 256 positions of one token and none past 16,383, so PostgreSQL can
# miss a phrase late in a long message (の repeats in Japanese, "the" in English) that FTS5
# finds. Such a message also keeps its tokens as text, and its tsvector a lexeme no text
# makes (LONG): a phrase is then looked for in the tokens. The limits are taken with a margin,
# as PostgreSQL's parser makes a few more positions than `_WORD` (hyphenated words, addresses).
POSITIONS_KEPT = 200
POSITION_LIMIT = 12_000
LONG = "' long'"
_LONG_SQL = "''' long'''::tsquery"


def long_tokens(document: str) -> str | None:
    """The document's tokens as " a b c ", when its tsvector would lose positions; else None."""
    if len(document) < POSITIONS_KEPT:
        return None
    tokens = _WORD.findall(document.lower())
    if len(tokens) < POSITIONS_KEPT:
        return None
    if len(tokens) <= POSITION_LIMIT and max(Counter(tokens).values()) < POSITIONS_KEPT:
        return None
    return " " + " ".join(tokens) + " "


def cjk_pairs(tokens: Sequence[str]) -> list[str]:
    """Each two CJK characters side by side in `tokens` (one CJK character a token), once.

    On PostgreSQL a document's tsvector also holds these pairs as lexemes without positions.
    A two-character word (返金) is then one lexeme the GIN index answers exactly, as English
    words are, instead of a phrase whose positions are read from every message holding both
    characters; a longer word asks for its pairs first, which leaves few messages to read.
    Pairs are taken from the same tokens FTS5 sees, so both backends find the same.
    """
    pairs = {
        first + second
        for first, second in pairwise(tokens)
        if len(first) == len(second) == 1 and _CJK.match(first) and _CJK.match(second)
    }
    return sorted(pairs)


# A tsvector's lexemes may hold 1 MB of text: past this many pairs (8 bytes at most each) a
# message keeps none, and is found through its tokens (it has more than POSITION_LIMIT, so it
# is long: see LONG and `_postgres_conditions`).
MAX_PAIRS = 40_000


def postgres_row(message_id: int, document: str) -> dict[str, object]:
    """The parameters of one message_search row (see LONG and `cjk_pairs`)."""
    tokens = long_tokens(document)
    pairs = [] if document.isascii() else cjk_pairs(_WORD.findall(document.lower()))
    if len(pairs) > MAX_PAIRS:
        pairs = []
    return {
        "id": message_id,
        "doc": document,
        "tokens": tokens,
        "mark": "" if tokens is None else LONG,
        "pairs": pairs,
    }


def index_documents(conn: Connection, rows: Iterable[tuple[int, int, str]]) -> None:
    """Add (message id, ticket id, document) rows to the index in one batch.

    On SQLite the rows go in in key order: FTS5 writes what it holds in memory out as a new
    segment whenever a key is lower than the last one, and one batch spans many tickets.
    """
    if conn.dialect.name == "sqlite":
        keyed = sorted((index_key(ticket, message), doc) for message, ticket, doc in rows)
        batch: list[dict[str, object]] = [{"id": key, "doc": doc} for key, doc in keyed]
        insert = _INDEX_SQLITE
    else:
        batch = [postgres_row(message, doc) for message, _ticket, doc in rows]
        insert = _INDEX_POSTGRES
    if batch:
        insert.many(conn, batch)


def _fts5_phrase(term: str) -> str:
    tokens = _WORD.findall(segment_query(term))
    return '"' + " ".join(tokens) + '"' if tokens else ""


MESSAGE_TEXT_COLUMNS = (
    "subject",
    "body_text",
    "from_name",
    "from_address",
    "to_addresses",
    "cc_addresses",
)
_DELETE_SQLITE = text(
    "INSERT INTO message_fts(message_fts, rowid, doc) VALUES ('delete', :id, :doc)"
)


def row_document(values: Mapping[str, object]) -> str:
    """The document of a `messages` row, made from its stored columns only.

    Every message is indexed through this, so a merge's contentless delete, which makes the
    document again from the row, gives FTS5 the very text it indexed (the stored sender
    address is lower-cased, for one)."""
    return message_document(*(str(values[column] or "") for column in MESSAGE_TEXT_COLUMNS))


def stored_documents(conn: Connection, ticket_id: int) -> list[tuple[int, str]]:
    """(message id, document) of every message stored on `ticket_id`, as it was indexed."""
    rows = conn.execute(
        text(
            f"SELECT id, {', '.join(MESSAGE_TEXT_COLUMNS)} FROM messages "
            "WHERE ticket_id = :ticket ORDER BY id"
        ),
        {"ticket": ticket_id},
    ).all()
    return [
        (row[0], row_document(dict(zip(MESSAGE_TEXT_COLUMNS, row[1:], strict=True))))
        for row in rows
    ]


def move_messages(conn: Connection, source_id: int, target_id: int) -> None:
    """Re-key the index rows of `source_id`'s messages under `target_id`: a merge moves them.

    Only SQLite keys its rows by ticket (see TICKET_SHIFT). Call it before the messages move.
    A contentless FTS5 table forgets a row only when given the text it indexed, which the
    message's stored columns make again.
    """
    if conn.dialect.name != "sqlite":
        return
    documents = stored_documents(conn, source_id)
    if not documents:
        return
    conn.execute(
        _DELETE_SQLITE,
        [{"id": index_key(source_id, message), "doc": doc} for message, doc in documents],
    )
    index_documents(conn, [(message, target_id, doc) for message, doc in documents])


def has_tokens(term: str) -> bool:
    """Whether a search term holds anything the index can match (not only punctuation)."""
    return bool(_WORD.search(term))


Plan = Literal["page", "whole", "per_ticket"]


def ticket_matches(
    conn: Connection,
    terms: Sequence[str],
    *,
    name: str,
    whole_set: bool = False,
    plan: Plan | None = None,
    selective: bool | None = None,
) -> TextClause:
    """A condition on `tickets` true when one of its messages contains every term (each a phrase).

    `name` makes the bound parameter names unique within one query. The plan depends on the
    use. For a page (the default), one quick probe picks the plan: on SQLite, see
    SELECTIVE_LIMIT (collect and sort, walk against the collected list, or walk asking the
    index once per ticket); on PostgreSQL, see POSTGRES_SELECTIVE_LIMIT. For a count or a
    bulk change (`whole_set`, or `plan="whole"`), matches are always collected first, which
    is far faster over every ticket. `plan="per_ticket"` tests each ticket the rest of the
    query leaves: the plan for a small filtered set, for a sample, and for an exclusion
    (`-refund`), where collecting every ticket that has the word costs what the whole word
    costs. Terms with nothing to match (only punctuation) match no ticket. `selective` is
    `is_selective`'s answer for the same terms when the caller has it: a PostgreSQL page
    then does not ask again (an EXPLAIN and a look at the newest messages, or a count).
    """
    terms = [t for t in terms if has_tokens(t)]
    if not terms:
        return text("1 = 0")
    chosen: Plan = plan if plan is not None else "whole" if whole_set else "page"
    if conn.dialect.name == "sqlite":
        expression = " AND ".join(_fts5_phrase(t) for t in terms)
        param: BindParameter[str] = bindparam(f"{name}_fts", expression)
        if chosen == "page":
            found = _fts5_up_to(conn, expression, SELECTIVE_LIMIT)
            if found > SELECTIVE_LIMIT:
                chosen = "per_ticket"
            elif found > SORTED_LIMIT:
                # Tickets in the page's own order, each tested against the collected list:
                # driven from the list, every match's ticket would be read and sorted.
                return text(
                    f"+tickets.id IN (SELECT {_SQLITE_TICKET} FROM message_fts "
                    f"WHERE message_fts MATCH :{name}_fts)"
                ).bindparams(param)
            else:
                chosen = "whole"
        if chosen == "whole":
            # The tickets of every match, read from the index keys alone.
            sql = (
                f"tickets.id IN (SELECT {_SQLITE_TICKET} FROM message_fts "
                f"WHERE message_fts MATCH :{name}_fts)"
            )
        else:
            # One FTS5 lookup per ticket, over the key range of its messages.
            sql = (
                f"EXISTS (SELECT 1 FROM message_fts WHERE message_fts MATCH :{name}_fts "
                f"AND {_SQLITE_RANGE})"
            )
        return text(sql).bindparams(param)
    return _postgres_matches(conn, terms, name, chosen, selective)


def is_selective(conn: Connection, terms: Sequence[str]) -> bool:
    """Whether so few messages contain every term that collecting their tickets is cheapest."""
    limit = SELECTIVE_LIMIT if conn.dialect.name == "sqlite" else POSTGRES_SELECTIVE_LIMIT
    return matches_at_most(conn, terms, limit)


def newest_matches(conn: Connection, terms: Sequence[str]) -> tuple[int, float]:
    """Tickets among the newest NEWEST_SAMPLE matching messages, and what share of the store
    those newest matches span: of its messages by id (arrival order) on PostgreSQL, of its
    tickets by id on SQLite, whose index is keyed ticket by ticket (see TICKET_SHIFT).

    The share is 1.0 when fewer messages match: the tickets are then all of them. It is
    also 1.0, with the exact tickets, when on SQLite the sample falls in fewer than
    NEWEST_MIN_TICKETS tickets (a mail loop or one long thread at the newest end). Reading
    the newest matches walks the index from its end and stops, so this costs what the
    sample costs however common the words are; `Matching.quick_count` scales the tickets
    by the share into an estimate. On PostgreSQL each match's ticket is looked up by its key
    (a scalar subquery), which keeps it from hashing all of `messages` to join a few thousand.
    """
    terms = [t for t in terms if has_tokens(t)]
    if not terms:
        return 0, 1.0
    if conn.dialect.name == "sqlite":
        # Keys run ticket by ticket (see TICKET_SHIFT): the newest tickets' matches come last.
        expression = " AND ".join(_fts5_phrase(t) for t in terms)
        newest = (
            "SELECT rowid AS id FROM message_fts WHERE message_fts MATCH :q "
            "ORDER BY rowid DESC LIMIT :n"
        )
        tickets, oldest_key, hits = conn.execute(
            text(
                f"SELECT count(DISTINCT hit.id >> {TICKET_SHIFT}), min(hit.id), count(*) "
                f"FROM ({newest}) AS hit"
            ),
            {"q": expression, "n": NEWEST_SAMPLE},
        ).one()
        if hits < NEWEST_SAMPLE:
            return int(tickets), 1.0
        if tickets < NEWEST_MIN_TICKETS:
            exact = conn.execute(
                text(
                    f"SELECT count(DISTINCT rowid >> {TICKET_SHIFT}) FROM message_fts "
                    "WHERE message_fts MATCH :q"
                ),
                {"q": expression},
            ).scalar_one()
            return int(exact), 1.0
        first, last = conn.execute(
            text("SELECT (SELECT min(id) FROM tickets), (SELECT max(id) FROM tickets)")
        ).one()
        # The oldest ticket reached may have more matches below the sample: count it half.
        oldest = (oldest_key >> TICKET_SHIFT) + 0.5
        return int(tickets), min(1.0, (last - oldest + 1) / (last - first + 1))
    ticket = "(SELECT m.ticket_id FROM messages AS m WHERE m.id = hit.id)"
    limit = POSTGRES_NEWEST_SAMPLE
    conditions, binds = _postgres_conditions(terms, "newest")
    newest = (
        f"SELECT s.message_id AS id FROM message_search AS s WHERE {conditions} "
        "ORDER BY s.message_id DESC LIMIT :n"
    )
    params: dict[str, object] = {"n": limit}
    statement = text(
        f"SELECT count(DISTINCT {ticket}), min(hit.id), count(*) FROM ({newest}) AS hit"
    ).bindparams(*binds)
    tickets, oldest_hit, hits = conn.execute(statement, params).one()
    if hits < limit:
        return int(tickets), 1.0
    # Two subqueries: SQLite reads min() or max() from the end of the key only one at a time.
    first, last = conn.execute(
        text("SELECT (SELECT min(id) FROM messages), (SELECT max(id) FROM messages)")
    ).one()
    return int(tickets), (last - oldest_hit + 1) / (last - first + 1)


def matches_at_most(conn: Connection, terms: Sequence[str], limit: int) -> bool:
    """Whether at most `limit` messages contain every term: a probe of ~1 ms, never a count.

    Compiling a query asks it to choose between collecting the matches (cheap when they are
    few) and testing tickets one by one against them.
    """
    terms = [t for t in terms if has_tokens(t)]
    if not terms:
        return True
    if conn.dialect.name == "sqlite":
        return _fts5_at_most(conn, " AND ".join(_fts5_phrase(t) for t in terms), limit)
    conditions, params = _postgres_conditions(terms, "probe")
    return _postgres_at_most(conn, conditions, params, limit, terms)


def matches_estimate(conn: Connection, terms: Sequence[str]) -> float:
    """How many messages contain every term (SQLite): exact up to SELECTIVE_LIMIT, else about.

    Past the limit the walk stops, and how far into the key space it got (keys run ticket by
    ticket, see TICKET_SHIFT) scales what it found: the walk costs the same however common
    the words are (~4 ms of CPU for `refund` on a loaded machine, where counting on to 78,000
    matches took 6.4 ms, and to 600,000 would take ~50 ms).
    """
    terms = [t for t in terms if has_tokens(t)]
    if not terms:
        return 0
    expression = " AND ".join(_fts5_phrase(t) for t in terms)
    found, last = conn.execute(
        text(
            "SELECT count(*), max(rowid) FROM (SELECT rowid FROM message_fts "
            "WHERE message_fts MATCH :q LIMIT :n)"
        ),
        {"q": expression, "n": SELECTIVE_LIMIT + 1},
    ).one()
    if found <= SELECTIVE_LIMIT:
        return int(found)
    first, highest = conn.execute(
        text("SELECT (SELECT min(id) FROM tickets), (SELECT max(id) FROM tickets)")
    ).one()
    if first is None:  # index rows without tickets: only a store being migrated
        return float(found)
    reached = (last >> TICKET_SHIFT) - first + 1
    return found * max(1.0, (highest - first + 1) / max(1, reached))


def _fts5_at_most(conn: Connection, expression: str, limit: int) -> bool:
    return _fts5_up_to(conn, expression, limit) <= limit


def _fts5_up_to(conn: Connection, expression: str, limit: int) -> int:
    """How many messages match `expression`, counting no further than limit + 1."""
    found = conn.execute(
        text(
            "SELECT count(*) FROM (SELECT rowid FROM message_fts "
            "WHERE message_fts MATCH :q LIMIT :n)"
        ),
        {"q": expression, "n": limit + 1},
    ).scalar_one()
    return int(found)


def _postgres_conditions(terms: Sequence[str], name: str) -> tuple[str, list[BindParameter[str]]]:
    """Each term as a phrase; in a long message (see LONG), as a run of its tokens."""
    conditions: list[str] = []
    params: list[BindParameter[str]] = []
    for i, term in enumerate(terms):
        phrase, run, paired = f"{name}_{i}", f"{name}_{i}_run", f"{name}_{i}_pairs"
        text = segment_query(term)
        tokens = _WORD.findall(text.lower())
        pairs = cjk_pairs(tokens)
        if pairs:
            # CJK characters only, never a quote: each pair is a plain tsquery lexeme.
            params.append(bindparam(paired, " & ".join(f"'{pair}'" for pair in pairs)))
            if len(tokens) == 2:
                # Exact from the index alone; a long message without pairs (MAX_PAIRS) is
                # found by its tokens, the filter's only work.
                params.append(bindparam(phrase, text))
                params.append(bindparam(run, " " + " ".join(tokens) + " "))
                conditions.append(
                    f"s.doc @@ (CAST(:{paired} AS tsquery) || "
                    f"(plainto_tsquery('simple', :{phrase}) && {_LONG_SQL})) "
                    f"AND (s.tokens IS NULL OR s.doc @@ CAST(:{paired} AS tsquery) "
                    f"OR strpos(s.tokens, :{run}) > 0)"
                )
                continue
        params.append(bindparam(phrase, text))
        if len(tokens) < 2:
            conditions.append(f"s.doc @@ phraseto_tsquery('simple', :{phrase})")
            continue
        # One tsquery, so the GIN index still finds the candidates; the filter after it only
        # does work for the few long messages.
        query = (
            f"(phraseto_tsquery('simple', :{phrase}) || "
            f"(plainto_tsquery('simple', :{phrase}) && {_LONG_SQL}))"
        )
        if pairs:
            # The pairs narrow the phrase; a long message without pairs (MAX_PAIRS) is
            # found by its tokens, as a two-character word is.
            query = (
                f"((CAST(:{paired} AS tsquery) && phraseto_tsquery('simple', :{phrase})) || "
                f"(plainto_tsquery('simple', :{phrase}) && {_LONG_SQL}))"
            )
        conditions.append(
            f"s.doc @@ {query} "
            f"AND (s.tokens IS NULL OR s.doc @@ phraseto_tsquery('simple', :{phrase}) "
            f"OR strpos(s.tokens, :{run}) > 0)"
        )
        params.append(bindparam(run, " " + " ".join(tokens) + " "))
    return " AND ".join(conditions), params


def _postgres_matches(
    conn: Connection, terms: Sequence[str], name: str, plan: Plan, selective: bool | None
) -> TextClause:
    conditions, params = _postgres_conditions(terms, name)
    if selective is None and plan == "page":
        selective = _postgres_at_most(conn, conditions, params, POSTGRES_SELECTIVE_LIMIT, terms)
    if plan == "page" and selective:
        # PostgreSQL cannot estimate how rare a word is (any word outside its statistics
        # counts as 173 of 1,000,000 messages), so left to itself it walks every ticket looking for
        # a word in five messages (1.3 s at 100,000 tickets). ARRAY(...) is computed once,
        # first, and cannot be flattened into that walk.
        return text(
            "tickets.id = ANY(ARRAY(SELECT m.ticket_id FROM messages AS m "
            f"JOIN message_search AS s ON s.message_id = m.id WHERE {conditions}))"
        ).bindparams(*params)
    return text(
        "EXISTS (SELECT 1 FROM messages AS m JOIN message_search AS s ON s.message_id = m.id "
        f"WHERE m.ticket_id = tickets.id AND {conditions})"
    ).bindparams(*params)


def _index_exact(terms: Sequence[str]) -> bool:
    """Whether the GIN index alone answers every term (see `_postgres_at_most`): one token,
    or a two-character CJK word (one pair). A phrase needs its positions read."""
    for term in terms:
        tokens = _WORD.findall(segment_query(term).lower())
        if len(tokens) > 2 or (len(tokens) == 2 and not cjk_pairs(tokens)):
            return False
    return True


def _postgres_at_most(
    conn: Connection,
    conditions: str,
    params: list[BindParameter[str]],
    limit: int,
    terms: Sequence[str] = (),
) -> bool:
    """Whether at most `limit` messages match (counted through the GIN index).

    A GIN index is read whole into a bitmap before LIMIT stops anything, so counting to
    5,001 cost what every match costs: 157 ms for `refund invoice` (104,163 messages hold
    both) at 1,000,000 messages, where its page took 6 ms. When the index alone answers
    `terms` (words and two-character CJK words, no phrase), the planner's estimate is read
    first (~1 ms; the statistics hold 10,000 lexemes, see revision 0011) and a clearly
    common search is not counted. Several words are estimated as if independent, which two
    words that never meet (one English, one Japanese) would fool: they are common only if
    the newest DENSITY_WINDOW messages hold them together as often as the estimate needs,
    in at least NEWEST_MIN_TICKETS tickets.
    A phrase is estimated as its words together, which says little about how often they
    stand side by side: it is always counted, as walking every ticket for a rare one would
    take seconds.
    """
    if terms and _index_exact(terms) and _seems_common(conn, conditions, params, limit, terms):
        return False
    matches = conn.execute(
        text(
            f"SELECT count(*) FROM (SELECT 1 FROM message_search AS s WHERE {conditions} "
            "LIMIT :n) AS probe"
        ).bindparams(*params),
        {"n": limit + 1},
    ).scalar_one()
    return bool(matches <= limit)


def _seems_common(
    conn: Connection,
    conditions: str,
    params: list[BindParameter[str]],
    limit: int,
    terms: Sequence[str],
) -> bool:
    """Whether the planner expects more than ESTIMATE_MARGIN times `limit` matches, and,
    for several terms, the newest messages bear that out (see `_postgres_at_most`)."""
    plan = conn.execute(
        text(
            f"EXPLAIN (FORMAT JSON) SELECT 1 FROM message_search AS s WHERE {conditions}"
        ).bindparams(*params)
    ).scalar_one()
    if _estimated_rows(plan) <= ESTIMATE_MARGIN * limit:
        return False
    if len(terms) < 2:
        return True
    first, last = conn.execute(
        text("SELECT min(message_id), max(message_id) FROM message_search")
    ).one()
    if first is None:
        return False
    # The share of the store the estimate needs, in the window: 40 of 2,000 at 1,000,000.
    needed = math.ceil(DENSITY_WINDOW * ESTIMATE_MARGIN * limit / (last - first + 1))
    # A subquery with a LIMIT of its own: the conditions test the window's rows, walked
    # down the key, and never become a bitmap of every match. Each hit's ticket is looked
    # up by its key (~2.5 ms for the 183 hits of `refund invoice` at 1,000,000).
    window = (
        "SELECT message_id, doc, tokens FROM message_search ORDER BY message_id DESC LIMIT :window"
    )
    ticket = "(SELECT m.ticket_id FROM messages AS m WHERE m.id = hit.message_id)"
    hits, tickets = conn.execute(
        text(
            f"SELECT count(*), count(DISTINCT {ticket}) FROM (SELECT s.message_id "
            f"FROM ({window}) AS s WHERE {conditions}) AS hit"
        ).bindparams(*params),
        {"window": DENSITY_WINDOW},
    ).one()
    # A mail loop or one long thread holding both words says nothing of the other tickets
    # (see NEWEST_MIN_TICKETS): taken as common, a rare pair would walk every ticket.
    return bool(hits >= needed and tickets >= NEWEST_MIN_TICKETS)


def _estimated_rows(plan: object) -> float:
    """The rows the top node of an EXPLAIN (FORMAT JSON) result expects (0 if unreadable)."""
    if isinstance(plan, str):
        plan = json.loads(plan)
    try:
        return float(plan[0]["Plan"]["Plan Rows"])  # type: ignore[index]
    except (LookupError, TypeError, ValueError):
        return 0.0


def optimize(conn: Connection) -> None:
    """Merge the index into one segment (SQLite) or refresh planner statistics (PostgreSQL).

    An FTS5 index grown message by message holds many segments; merging them halved the time
    of a common-word search at a million messages. Takes seconds: run it from cron at night.
    """
    if conn.dialect.name == "sqlite":
        conn.execute(text("INSERT INTO message_fts(message_fts) VALUES ('optimize')"))
    else:
        conn.execute(text("ANALYZE message_search"))
        conn.execute(text("ANALYZE messages"))
        conn.execute(text("ANALYZE tickets"))
