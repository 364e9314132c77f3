"""How many tickets a view holds, as far as it is known: exactly, at least, or about.

Counting every ticket that contains a common word takes hundreds of milliseconds at a
million messages, longer than a person should wait for a list to answer. The faces show
the quick figure first, marked for what it is, and replace it when the exact one arrives;
whatever changes tickets counts its own exact set and never reads one of these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CountKind = Literal["exact", "at_least", "about"]


@dataclass(frozen=True)
class Count:
    """A number of tickets and how much it can be trusted.

    `exact`: that many. `at_least`: that many were found and there may be more. `about`: an
    estimate from a sample, already rounded so it does not pretend to more digits than it has.
    """

    value: int
    kind: CountKind = "exact"

    @classmethod
    def exactly(cls, value: int) -> Count:
        return cls(value, "exact")

    @classmethod
    def at_least(cls, value: int) -> Count:
        return cls(value, "at_least")

    @classmethod
    def about(cls, value: float) -> Count:
        return cls(round_estimate(value), "about")

    @property
    def is_exact(self) -> bool:
        return self.kind == "exact"

    def label(self) -> str:
        """`12,345`, `10,000+` or `≈570,000`: the kind is always visible."""
        if self.kind == "at_least":
            return f"{self.value:,}+"
        if self.kind == "about":
            return f"≈{self.value:,}"
        return f"{self.value:,}"

    def short(self) -> str:
        """The label in at most six cells for a narrow column: `≈77k`, `10k+`.

        An estimate or a bound has two digits worth telling; cutting `≈77,000` to `≈77,0…`
        would hide the kind's meaning. Exact counts keep every digit.
        """
        if self.kind == "exact" or self.value < 10_000:
            return self.label()
        thousands = f"{self.value // 1000:,}k"
        return f"{thousands}+" if self.kind == "at_least" else f"≈{thousands}"


def round_estimate(value: float) -> int:
    """`value` to two significant digits (76,086 -> 76,000): a sample says no more than that."""
    whole = max(0, round(value))
    if whole < 100:
        return whole
    scale = 10 ** (len(str(whole)) - 2)
    return round(whole / scale) * scale
