"""Split query text into terms, remembering where each one and each of its values starts.

The lexer knows the shape of a term (negation, `field:`, comparison operator, comma list,
quotes, `#N`) but not which fields exist or what their values mean: that is the parser's job.
Positions are 0-based offsets into the original text so any face can point at the mistake.
Full-width ASCII (what a Japanese input method types: －返金, ｓｔａｔｕｓ：ｏｐｅｎ, ＂…＂) is
read as its ASCII form, one character for one, so positions hold. Curly double quotes (“…”,
which editors and input methods type) quote a phrase only as a pair outside a "…" phrase:
`"he said “hi” there"` is one phrase and an unpaired ” (`5” screen`) is a character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from supportdesk.errors import QueryError
from supportdesk.i18n import _

OPERATORS = (">=", "<=", ">", "<", "=")

_FIELD = re.compile(r"[A-Za-z][A-Za-z_]*:")
_NARROW = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_CURLY_PAIR = re.compile('\u201c[^"\u201c\u201d]*\u201d')


@dataclass(frozen=True)
class Part:
    """One value as written: `text` has quotes and escapes removed, `raw` is the source slice."""

    text: str
    position: int
    raw: str
    quoted: bool = False


@dataclass(frozen=True)
class Token:
    """One whitespace-separated term.

    `kind` is "field" for `field:values` and `#N` (field "number"), "text" for a bare word or
    quoted phrase (its one part in `values`).
    """

    kind: Literal["field", "text"]
    position: int
    raw: str
    negated: bool = False
    field: str = ""
    op: str = ""
    values: tuple[Part, ...] = ()


def tokenize(source: str) -> list[Token]:
    return _Lexer(source).run()


class _Lexer:
    def __init__(self, source: str) -> None:
        self.original = source
        self.source = _pair_curly_quotes(source.translate(_NARROW))
        self.i = 0

    def run(self) -> list[Token]:
        tokens: list[Token] = []
        while True:
            self._skip_space()
            if self.i >= len(self.source):
                return tokens
            tokens.append(self._term())

    def _skip_space(self) -> None:
        while self.i < len(self.source) and self.source[self.i].isspace():
            self.i += 1

    def _at_end_of_term(self) -> bool:
        return self.i >= len(self.source) or self.source[self.i].isspace()

    def _error(self, message: str, start: int, end: int | None = None) -> QueryError:
        stop = self._term_end(start) if end is None else end
        return QueryError(message, position=start, token=self.original[start:stop])

    def _term_end(self, start: int) -> int:
        """Where the term starting at `start` ends, for quoting it in an error."""
        end = start
        in_quote = False
        while end < len(self.source):
            char = self.source[end]
            if char == "\\" and in_quote:
                end += 2
                continue
            if char == '"':
                in_quote = not in_quote
            elif char.isspace() and not in_quote:
                break
            end += 1
        return min(end, len(self.source))

    def _term(self) -> Token:
        start = self.i
        negated = False
        if self.source[self.i] == "-":
            negated = True
            self.i += 1
            if self._at_end_of_term():
                raise self._error(_("'-' must be followed by a term to exclude"), start)
            if self.source[self.i] == "-":
                raise self._error(_("a term can be negated only once"), start)
        char = self.source[self.i]
        if char == '"':
            part = self._quoted()
            if not self._at_end_of_term():
                raise self._error(_("expected a space after the closing quote"), start)
            return self._token("text", start, negated, values=(part,))
        if char == "#":
            self.i += 1
            if self._at_end_of_term():
                raise self._error(_("'#' must be followed by a ticket number"), start)
            values = self._values(start)
            return self._token("field", start, negated, field="number", values=values)
        field = _FIELD.match(self.source, self.i)
        if field:
            name = field.group()[:-1].lower()
            self.i = field.end()
            op = self._operator()
            if self._at_end_of_term():
                raise self._error(_("empty value for '{name}'").format(name=name), start)
            values = self._values(start)
            return self._token("field", start, negated, field=name, op=op, values=values)
        return self._token("text", start, negated, values=(self._bare(start, stop_at=""),))

    def _token(
        self,
        kind: Literal["field", "text"],
        start: int,
        negated: bool,
        *,
        field: str = "",
        op: str = "",
        values: tuple[Part, ...] = (),
    ) -> Token:
        return Token(
            kind=kind,
            position=start,
            raw=self.original[start : self.i],
            negated=negated,
            field=field,
            op=op,
            values=values,
        )

    def _operator(self) -> str:
        for op in OPERATORS:
            if self.source.startswith(op, self.i):
                self.i += len(op)
                return op
        return ""

    def _values(self, start: int) -> tuple[Part, ...]:
        parts: list[Part] = []
        while True:
            if self.i < len(self.source) and self.source[self.i] == '"':
                part = self._quoted()
                if not part.text:
                    raise self._error(_("empty value in quotes"), part.position, self.i)
            else:
                part = self._bare(start, stop_at=",")
            parts.append(part)
            if self._at_end_of_term():
                return tuple(parts)
            if self.source[self.i] != ",":
                raise self._error(_("expected ',' or a space after a quoted value"), start)
            self.i += 1
            if self._at_end_of_term() or self.source[self.i] == ",":
                raise self._error(_("empty value after ','"), start)

    def _bare(self, start: int, *, stop_at: str) -> Part:
        begin = self.i
        while not self._at_end_of_term() and self.source[self.i] not in stop_at:
            if self.source[self.i] == '"':
                raise self._error(
                    _("a quote may only start a phrase or a value; put the whole text in quotes"),
                    start,
                )
            self.i += 1
        if self.i == begin:
            raise self._error(_("empty value"), start)
        return Part(
            text=self.source[begin : self.i], position=begin, raw=self.original[begin : self.i]
        )

    def _quoted(self) -> Part:
        begin = self.i
        self.i += 1
        chars: list[str] = []
        while self.i < len(self.source):
            char = self.source[self.i]
            if char == "\\" and self.i + 1 < len(self.source) and self.source[self.i + 1] in '"\\':
                chars.append(self.source[self.i + 1])
                self.i += 2
                continue
            self.i += 1
            if char == '"':
                return Part(
                    text="".join(chars),
                    position=begin,
                    raw=self.original[begin : self.i],
                    quoted=True,
                )
            chars.append(char)
        raise QueryError(_("unterminated quote"), position=begin, token=self.original[begin:])


def _pair_curly_quotes(source: str) -> str:
    """`source` with each “…” pair outside a "…" phrase made ASCII quotes, length kept."""
    out: list[str] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char == '"':  # an ASCII phrase, kept whole (up to its unescaped closing quote)
            end = i + 1
            while end < len(source) and source[end] != '"':
                end += 2 if source[end] == "\\" else 1
            out.append(source[i : end + 1])
            i = end + 1
            continue
        pair = _CURLY_PAIR.match(source, i) if char == "\u201c" else None
        if pair:
            out.append('"' + pair.group()[1:-1] + '"')
            i = pair.end()
            continue
        out.append(char)
        i += 1
    return "".join(out)
