"""Regular expressions in rules, run by RE2: time linear in the text, whatever the pattern.

Python's `re` backtracks, so `(a+)+$` against a long line of a's runs for ages and holds the
GIL while it does; rules used to run patterns in a child process with a time limit and treat
a timeout as "no match", which made a slow pattern both slow and silently wrong. RE2 (the
`google-re2` bindings) never backtracks: a search is linear in the text, so patterns run in
process, need no limit and always give an answer. The price is a smaller syntax: no
backreferences, no lookaround, no possessive or atomic groups. `compile` refuses those with
the reason when a rule is imported, so nothing that reaches ingest can fail to compile (a
stored rule written for the older engine fails visibly at run time, see `engine`).

Matching semantics (also in the README's Rules section): a pattern is searched anywhere in
the text, case-sensitively unless it starts with `(?i)`; `^` and `$` are the start and end of
the whole text (`(?m)` makes them per line; unlike Python, `$` does not match before a final
newline); `.` does not match a newline unless `(?s)`; `\\d`, `\\w`, `\\s` and `\\b` are ASCII
only, `\\pL`, `\\p{Nd}`, `\\p{Han}` and `[[:alpha:]]` are there for the rest of Unicode;
case-insensitive matching uses Unicode simple case folding.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2

from supportdesk.errors import ValidationError
from supportdesk.i18n import _

MAX_PATTERN = 1000
# RE2's default program budget; a pattern over it ("pattern too large") is refused on import.
MAX_MEMORY = 8 << 20

# What RE2 says, and what a person should do about it: Python syntax it does not have.
_HINTS = (
    ("(?=", "lookahead is not supported"),
    ("(?!", "negative lookahead is not supported"),
    ("(?<=", "lookbehind is not supported"),
    ("(?<!", "negative lookbehind is not supported"),
    ("(?P=", "backreferences are not supported"),
    ("(?>", "atomic groups are not supported"),
    ("(?x", "verbose mode (?x) is not supported; write the pattern without spaces"),
    ("\\Z", "use \\z for the end of the text"),
)


class PatternError(ValidationError):
    """A rule's regular expression that RE2 cannot run, with the reason."""


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print its own copy of every error to stderr
    options.max_mem = MAX_MEMORY
    return options


_OPTIONS = _options()


# Python reads `a{,3}` as `a{0,3}`; RE2 reads it as the literal text "a{,3}".
_OPEN_REPEAT = re2.compile(r"[^\\]\{,[0-9]+\}", _options())


def _reason(pattern: str, message: str) -> str:
    for needle, hint in _HINTS:
        if needle in message or needle in pattern:
            return hint
    if message.startswith("invalid escape sequence: \\") and message[-1:].isdigit():
        return "backreferences (\\1) are not supported"
    if message.startswith("bad repetition operator: ") and message.endswith(("++", "*+", "?+")):
        return "possessive quantifiers are not supported"
    return message


@lru_cache(maxsize=1024)
def compile(pattern: str) -> Any:
    """The compiled pattern, or PatternError naming what RE2 cannot do.

    Cached: a rule's patterns are compiled once per process, not once per message.
    """
    if len(pattern) > MAX_PATTERN:
        raise PatternError(
            _("pattern longer than {max_pattern} characters").format(max_pattern=MAX_PATTERN)
        )
    try:
        compiled = re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        raw = exc.args[0] if exc.args else ""
        message = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        raise PatternError(
            _(
                "invalid regular expression {pattern!r}: {pattern2} (rule "
                "patterns use RE2 syntax, which never backtracks)"
            ).format(pattern=pattern, pattern2=_reason(pattern, message))
        ) from None
    if _OPEN_REPEAT.search(pattern) is not None:
        raise PatternError(
            _(
                "regular expression {pattern!r}: write {{0,n}}, not {{,n}} "
                "(RE2 would read {{,n}} as literal text)"
            ).format(pattern=pattern)
        )
    return compiled


def search(pattern: str, text: bytes) -> bool:
    """Whether `pattern` occurs in `text` (UTF-8, see `encode`)."""
    return compile(pattern).search(text) is not None


def encode(text: str) -> bytes:
    """A field's text as RE2 reads it; bytes skip the bindings' per-search offset mapping.

    Lone surrogates (from undecodable mail bytes) become U+FFFD rather than an error.
    """
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")
