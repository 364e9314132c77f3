"""Tag names: one normal form and one reader of typed tags, for every face and the rules.

A tag is what agents type, in their own language: 要確認, überfällig and vip are all tags.
The normal form is NFKC, case-folded, so ＶＩＰ, VIP and vip are one tag and a query for one
finds the others. Letters, marks and digits of any script are allowed, and - _ . : / between
them; whitespace, other punctuation and control characters are not (they would make tags
that cannot be typed in a query, or that hide text).

When a person types several tags and one is bad, that one is refused by name and the others
still apply: a typo should not cost the rest of the input.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from supportdesk.errors import ValidationError
from supportdesk.i18n import _

MAX_TAG = 100
_JOINERS = frozenset("-_.:/")
_SEPARATORS = re.compile(r"[,\s]+")


def fold(text: str) -> str:
    """The normal form of a tag name, without judging it (a query for a bad tag finds none)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold()).strip()


def normalise_tag(tag: str) -> str:
    """`tag` in its normal form, or ValidationError saying what is wrong with it."""
    name = fold(tag)
    if not name:
        raise ValidationError(_("a tag cannot be empty"))
    if len(name) > MAX_TAG:
        raise ValidationError(
            _("tag {tag!r}: longer than {max_tag} characters").format(tag=tag, max_tag=MAX_TAG)
        )
    for char in name:
        if not (unicodedata.category(char)[0] in "LMN" or char in _JOINERS):
            raise ValidationError(
                _(
                    "tag {tag!r}: {char} is not allowed; use letters, digits and "
                    "- _ . : / (no spaces)"
                ).format(tag=tag, char=_describe(char))
            )
    return name


def _describe(char: str) -> str:
    if char.isspace():
        return _("a space")
    if unicodedata.category(char)[0] in "CZ":
        return _("the invisible character U+{code:04X}").format(code=ord(char))
    return repr(char)


@dataclass(frozen=True)
class TagInput:
    """Typed tags sorted out: what to add, what to remove, and what was refused and why."""

    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    rejected: tuple[tuple[str, str], ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.add or self.remove)

    def problem(self) -> str | None:
        """One line naming every refused tag, or None when all were good."""
        if not self.rejected:
            return None
        reasons = "; ".join(why for _, why in self.rejected)
        rest = _(" (the other tags were applied)") if not self.empty else ""
        return f"{reasons}{rest}"


def parse_tags(text: str, *, signs: bool = True) -> TagInput:
    """Tags as a person types them, separated by commas or spaces.

    With `signs`, `-name` removes a tag and `+name` (or just `name`) adds one, as in the
    console's tag box; without, every word is a tag to add or remove as the command says.
    """
    add: dict[str, None] = {}
    remove: dict[str, None] = {}
    rejected: list[tuple[str, str]] = []
    for word in _SEPARATORS.split(text):
        if not word:
            continue
        target = add
        name = word
        if signs and word[0] in "+-" and len(word) > 1:
            target = remove if word[0] == "-" else add
            name = word[1:]
        try:
            target[normalise_tag(name)] = None
        except ValidationError as exc:
            rejected.append((word, str(exc)))
    return TagInput(tuple(add), tuple(remove), tuple(rejected))
