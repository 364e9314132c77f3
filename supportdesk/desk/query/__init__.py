"""The one ticket query language, shared by the CLI, the console's search bar and the rules.

    status:open,pending queue:billing assignee:me|none tag:vip -tag:spam
    from:@example.com priority:>=high created:<7d "refund request" sort:-priority

`parse` checks the text without a database; `compile_query` turns the result into a
SQLAlchemy condition and order over `tickets`; `Matching` is what every caller uses: the
matching tickets' ids, numbers, rows, pages and count. See docs/QUERY.md for the language.
"""

from supportdesk.desk.query.compile import CompiledQuery, compile_query, order_by
from supportdesk.desk.query.counts import Count
from supportdesk.desk.query.matching import Matching
from supportdesk.desk.query.parser import (
    EVERY_TICKET,
    FIELDS,
    SORT_KEYS,
    Filter,
    NumberFilter,
    Query,
    SortKey,
    Term,
    TextTerm,
    TimeFilter,
    Value,
    depends_on_now,
    parse,
    parse_selection,
)

__all__ = [
    "EVERY_TICKET",
    "FIELDS",
    "SORT_KEYS",
    "CompiledQuery",
    "Count",
    "Filter",
    "Matching",
    "NumberFilter",
    "Query",
    "SortKey",
    "Term",
    "TextTerm",
    "TimeFilter",
    "Value",
    "compile_query",
    "depends_on_now",
    "order_by",
    "parse",
    "parse_selection",
]
