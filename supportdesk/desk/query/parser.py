"""Turn query text into a `Query`: validated, typed terms that need no database to build.

Everything that can be checked without the store is checked here (field names, statuses,
priorities, ages, dates, numbers, sort keys), so a typo in a saved rule or a search box is
reported at once, with its position, before any SQL exists.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from supportdesk.desk import tags
from supportdesk.desk.query.lexer import Part, Token, tokenize
from supportdesk.desk.statuses import ACTIVE
from supportdesk.errors import QueryError
from supportdesk.i18n import _
from supportdesk.store.models import PRIORITIES, STATUSES
from supportdesk.store.search import has_tokens

ENUM_FIELDS = ("status", "priority")
TIME_FIELDS = ("created", "updated", "solved")
FIELDS = (
    "status",
    "priority",
    "queue",
    "assignee",
    "requester",
    "from",
    "org",
    "tag",
    "number",
    "subject",
    "created",
    "updated",
    "solved",
    "is",
    "due",
    "breached",
    "first_response",
    "batch",
    "sort",
)
DURATION_FIELDS = ("due", "first_response")
FLAG_VALUES = ("yes", "no")
STATUS_ALIASES: dict[str, tuple[str, ...]] = {"active": ACTIVE}
IS_VALUES = ("unassigned", "assigned", "merged")
SORT_KEYS = ("updated", "created", "priority", "number", "due")
AGE_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_AGE = timedelta(days=100 * 366)

_AGE = re.compile(r"(\d{1,9})([mhdw])", re.IGNORECASE)
_DATE = re.compile(r"\d{4}-\d\d-\d\d")
_NUMBER = re.compile(r"\d{1,18}")
_COMPARE: dict[str, Callable[[int, int], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}


@dataclass(frozen=True)
class Value:
    """One accepted value: `text` normalised (lower-cased, expanded), `raw` as written."""

    text: str
    position: int
    raw: str


@dataclass(frozen=True)
class Filter:
    """A field compared with a set of names: matches when any of `values` matches.

    Priority comparisons and status aliases are already expanded into plain values here.
    """

    field: str
    values: tuple[Value, ...]
    negated: bool = False
    position: int = 0
    token: str = ""


@dataclass(frozen=True)
class NumberFilter:
    op: str
    numbers: tuple[int, ...]
    negated: bool = False
    position: int = 0
    token: str = ""


@dataclass(frozen=True)
class TimeFilter:
    """A timestamp against an age (relative to `now` at compile time) or a calendar day.

    Exactly one of `age` and `day` is set. `op` is "" for "on that day" (days only).
    """

    field: str
    op: str
    age: timedelta | None = None
    day: date | None = None
    negated: bool = False
    position: int = 0
    token: str = ""


@dataclass(frozen=True)
class DurationFilter:
    """A span against a duration: `due:<2h` (due within two hours, or overdue),
    `first_response:>4h` (answered after more than four hours, or still waiting that long)."""

    field: str
    op: str
    duration: timedelta
    negated: bool = False
    position: int = 0
    token: str = ""


@dataclass(frozen=True)
class TextTerm:
    text: str
    negated: bool = False
    position: int = 0
    token: str = ""


@dataclass(frozen=True)
class SortKey:
    key: str
    descending: bool = False


Term = Filter | NumberFilter | TimeFilter | DurationFilter | TextTerm


@dataclass(frozen=True)
class Query:
    """A parsed query: terms ANDed together, and the order asked for (empty: the default)."""

    terms: tuple[Term, ...] = ()
    sort: tuple[SortKey, ...] = ()
    source: str = ""

    @property
    def text_terms(self) -> tuple[TextTerm, ...]:
        return tuple(t for t in self.terms if isinstance(t, TextTerm))


def depends_on_now(term: Term) -> bool:
    """Whether a term's answer changes with the clock alone (ages, due times, breaches):
    such a query must be compiled again for every `now`."""
    if isinstance(term, TimeFilter):
        return term.age is not None or term.day is not None
    if isinstance(term, DurationFilter):
        return True
    return isinstance(term, Filter) and term.field == "breached"


def parse(source: str) -> Query:
    """Parse query text; raises QueryError naming the first bad term and where it starts."""
    terms: list[Term] = []
    sort: tuple[SortKey, ...] = ()
    sort_seen = False
    for token in tokenize(source):
        if token.kind == "text":
            term = _text(token)
            if term is not None:
                terms.append(term)
        elif token.field == "sort":
            if sort_seen:
                raise _error(token, _("only one sort: term is allowed"))
            sort_seen = True
            sort = _sort(token)
        else:
            terms.append(_field(token))
    return Query(terms=tuple(terms), sort=sort, source=source)


EVERY_TICKET = "all"
"""What a bulk change takes to mean every ticket: said, never implied by an empty query."""


def parse_selection(source: str, *, narrowed: bool = False) -> Query:
    """The query of a change to many tickets: every ticket only when it says `all`.

    A query with no terms matches every ticket. For a read that is fine (`tickets list`
    lists them); for a change it is almost always a slip (an empty variable in a script, a
    stray `:`), so it is refused unless the text is exactly `all`. `narrowed` is for
    commands that already pick their tickets another way (`reassign --from alice`): there
    an empty query means "all of those", but a non-empty one with nothing in it is still a
    mistake. To search the word "all", quote it: `"all"`.
    """
    if source.strip() == EVERY_TICKET:
        return Query(source=source)
    query = parse(source)
    if query.terms or (narrowed and not source.strip()):
        return query
    shown = source.strip()
    if not shown:
        raise QueryError(
            _(
                "no query: a change to many tickets needs a query; to change "
                "every ticket, say {every_ticket}"
            ).format(every_ticket=EVERY_TICKET),
            position=0,
            token=source,
        )
    raise QueryError(
        _(
            "the query selects nothing in particular (no field and no "
            "word with letters or digits), so it would match every "
            "ticket; to change every ticket, say {every_ticket}"
        ).format(every_ticket=EVERY_TICKET),
        position=len(source) - len(source.lstrip()),
        token=shown,
    )


def _error(token: Token, message: str) -> QueryError:
    return QueryError(message, position=token.position, token=token.raw)


def _value_error(part: Part, message: str) -> QueryError:
    return QueryError(message, position=part.position, token=part.raw)


def _text(token: Token) -> TextTerm | None:
    part = token.values[0]
    if not part.text.strip():
        raise _error(token, _("empty phrase"))
    if not has_tokens(part.text):
        # Stray punctuation in typed text ("Tom & Jerry") is noise; quoted or negated, it
        # was meant, and silently matching everything would be a lie.
        if part.quoted or token.negated:
            raise _error(token, _("nothing to search for: the text has no letters or digits"))
        return None
    return TextTerm(text=part.text, negated=token.negated, position=token.position, token=token.raw)


def _field(token: Token) -> Term:
    name = token.field
    if name not in FIELDS:
        close = difflib.get_close_matches(name, FIELDS, n=1, cutoff=0.6)
        hint = (
            _(" (did you mean '{name}'?)").format(name=close[0])
            if close
            else _("; fields are {fields} (quote text that contains ':')").format(
                fields=", ".join(FIELDS)
            )
        )
        raise _error(token, _("unknown field '{name}'{hint}").format(name=name, hint=hint))
    if name in ENUM_FIELDS:
        return _enum(token)
    if name == "number":
        return _number(token)
    if name in TIME_FIELDS:
        return _time(token)
    if name in DURATION_FIELDS:
        return _duration(token)
    if name == "breached":
        return _flag(token)
    return _names(token)


def _duration(token: Token) -> DurationFilter:
    part = _single(token)
    text = part.text.strip()
    span = _AGE.fullmatch(text)
    if span is None:
        raise _value_error(
            part,
            _("bad duration '{text}'; use a number and m, h, d or w (like <2h)").format(
                text=part.text
            ),
        )
    if token.op in ("", "="):
        raise _error(
            token,
            _("a duration needs < or >: {field}:<{text} or {field}:>{text}").format(
                field=token.field, text=text
            ),
        )
    seconds = int(span.group(1)) * AGE_UNITS[span.group(2).lower()]
    if seconds > MAX_AGE.total_seconds():
        raise _value_error(
            part, _("duration '{text}' is more than 100 years").format(text=part.text)
        )
    return DurationFilter(
        field=token.field,
        op=token.op,
        duration=timedelta(seconds=seconds),
        negated=token.negated,
        position=token.position,
        token=token.raw,
    )


def _flag(token: Token) -> Filter:
    _no_comparison(token)
    part = _single(token)
    text = part.text.lower()
    if text not in FLAG_VALUES:
        raise _value_error(
            part,
            _("{field}: takes yes or no, not '{text}'").format(field=token.field, text=part.text),
        )
    return Filter(
        field=token.field,
        values=(Value(text=text, position=part.position, raw=part.raw),),
        negated=token.negated,
        position=token.position,
        token=token.raw,
    )


def _no_comparison(token: Token) -> None:
    if token.op not in ("", "="):
        raise _error(
            token,
            _("'{field}' cannot be compared with '{op}'").format(field=token.field, op=token.op),
        )


def _single(token: Token) -> Part:
    if len(token.values) > 1:
        raise _error(
            token, _("'{field}:{op}' takes a single value").format(field=token.field, op=token.op)
        )
    return token.values[0]


def _enum(token: Token) -> Filter:
    field = token.field
    allowed = STATUSES if field == "status" else PRIORITIES
    aliases = STATUS_ALIASES if field == "status" else {}
    if token.op not in ("", "="):
        if field == "status":
            _no_comparison(token)
        _single(token)
    values: list[Value] = []
    for part in token.values:
        text = part.text.lower()
        if text in aliases:
            names: tuple[str, ...] = aliases[text]
        elif text in allowed:
            names = (text,)
        else:
            expected = ", ".join((*allowed, *aliases))
            raise _value_error(
                part,
                _("unknown {field} '{text}'; expected one of {expected}").format(
                    field=field, text=part.text, expected=expected
                ),
            )
        if token.op not in ("", "="):
            rank = allowed.index(text)
            names = tuple(p for i, p in enumerate(allowed) if _COMPARE[token.op](i, rank))
        values.extend(Value(text=n, position=part.position, raw=part.raw) for n in names)
    return Filter(
        field=field,
        values=tuple(values),
        negated=token.negated,
        position=token.position,
        token=token.raw,
    )


def _number(token: Token) -> NumberFilter:
    if token.op not in ("", "="):
        _single(token)
    numbers: list[int] = []
    for part in token.values:
        text = part.text.removeprefix("#")
        if not _NUMBER.fullmatch(text):
            raise _value_error(
                part, _("bad ticket number '{text}'; use digits, like 1234").format(text=part.text)
            )
        numbers.append(int(text))
    return NumberFilter(
        op=token.op or "=",
        numbers=tuple(numbers),
        negated=token.negated,
        position=token.position,
        token=token.raw,
    )


def _time(token: Token) -> TimeFilter:
    part = _single(token)
    text = part.text.strip()
    common: dict[str, Any] = {
        "negated": token.negated,
        "position": token.position,
        "token": token.raw,
    }
    if _DATE.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise _value_error(
                part, _("bad date '{text}'; use YYYY-MM-DD").format(text=part.text)
            ) from None
        return TimeFilter(field=token.field, op=token.op.removeprefix("="), day=day, **common)
    age = _AGE.fullmatch(text)
    if age is None:
        raise _value_error(
            part,
            _(
                "bad age '{text}'; use a number and m, h, d or w (like <7d), "
                "or a date (like >=2026-01-31)"
            ).format(text=part.text),
        )
    if token.op in ("", "="):
        raise _error(
            token,
            _(
                "an age needs < or >: {field}:<{text} is newer than {text}, {field}:>{text} older"
            ).format(field=token.field, text=text),
        )
    seconds = int(age.group(1)) * AGE_UNITS[age.group(2).lower()]
    if seconds > MAX_AGE.total_seconds():
        raise _value_error(part, _("age '{text}' is more than 100 years").format(text=part.text))
    return TimeFilter(field=token.field, op=token.op, age=timedelta(seconds=seconds), **common)


def _names(token: Token) -> Filter:
    _no_comparison(token)
    field = token.field
    values: list[Value] = []
    for part in token.values:
        text = part.text.strip()
        if not text:
            raise _value_error(part, _("empty value for '{field}'").format(field=field))
        if field == "tag":
            text = tags.fold(text)
        elif field != "subject":
            text = text.lower()
        if field in ("requester", "from"):
            text = _address(part, text)
        elif field == "org":
            text = text.removeprefix("@")
        elif field == "is" and text not in IS_VALUES:
            raise _value_error(
                part,
                _("unknown is: value '{text}'; expected one of {is_values}").format(
                    text=part.text, is_values=", ".join(IS_VALUES)
                ),
            )
        values.append(Value(text=text, position=part.position, raw=part.raw))
    return Filter(
        field=field,
        values=tuple(values),
        negated=token.negated,
        position=token.position,
        token=token.raw,
    )


def _address(part: Part, text: str) -> str:
    local, at, domain = text.rpartition("@")
    if not at or not domain or "@" in local or any(c.isspace() for c in text):
        raise _value_error(
            part,
            _(
                "'{text}' is neither an address (alice@example.com) nor a domain (@example.com)"
            ).format(text=part.text),
        )
    return text


def _sort(token: Token) -> tuple[SortKey, ...]:
    if token.negated:
        raise _error(token, _("sort: cannot be negated; use sort:-KEY for descending order"))
    _no_comparison(token)
    keys: list[SortKey] = []
    for part in token.values:
        text = part.text.lower()
        key = text.removeprefix("-")
        if key not in SORT_KEYS:
            expected = ", ".join(SORT_KEYS)
            raise _value_error(
                part,
                _("unknown sort key '{text}'; expected one of {expected} (- to reverse)").format(
                    text=part.text, expected=expected
                ),
            )
        if any(k.key == key for k in keys):
            raise _value_error(part, _("sort key '{key}' given twice").format(key=key))
        keys.append(SortKey(key=key, descending=text.startswith("-")))
    return tuple(keys)
