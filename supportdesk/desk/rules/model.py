"""The rule model: what a `[[rules]]` table may say, checked strictly before it is stored.

Each condition and each action is a table with exactly one key. One model per kind (rather
than a union of models) keeps pydantic's error messages short and pointed: an unknown key is
"extra inputs are not permitted" at that key, not a dozen failed union branches.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from supportdesk.desk.query import parse as parse_query
from supportdesk.desk.rules import patterns
from supportdesk.errors import QueryError, SupportdeskError
from supportdesk.i18n import _
from supportdesk.store.models import PRIORITIES, STATUSES

TRIGGERS = ("new_ticket", "customer_message", "time")
Trigger = Literal["new_ticket", "customer_message", "time"]
SinceEvent = Literal["created", "updated", "status", "first_response"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._:-]{0,99}$")
_DURATION = re.compile(r"^(\d{1,6})([mhdw])$")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}

# Conditions that read the incoming message: a time rule has none to read.
MESSAGE_KEYS = frozenset({"header", "from_", "to", "cc", "subject", "body", "mailbox", "robot"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, frozen=True)


def parse_duration(text: str) -> timedelta:
    """`30m`, `4h`, `3d`, `2w`: the same units as the query language's ages."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(
            _("{text!r} is not a duration: use a number and m, h, d or w, like 3d").format(
                text=text
            )
        )
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def check_pattern(pattern: str) -> str:
    """Compile once here so a pattern RE2 cannot run is refused on import, not at ingest."""
    try:
        patterns.compile(pattern)
    except patterns.PatternError as exc:
        raise ValueError(str(exc)) from None
    return pattern


class TextTest(_Strict):
    """`contains` (case-insensitive substring) or `matches` (a regular expression, searched)."""

    contains: str | None = None
    matches: str | None = None

    @field_validator("matches")
    @classmethod
    def _pattern(cls, value: str | None, info: ValidationInfo) -> str | None:
        # A stored rule was checked when it was stored; if the engine refuses it now (a
        # pattern written for an older engine), that rule fails visibly when it runs
        # instead of stopping every other rule from loading.
        if value is None or (info.context or {}).get("stored"):
            return value
        return check_pattern(value)

    @model_validator(mode="after")
    def _one(self) -> TextTest:
        if (self.contains is None) == (self.matches is None):
            raise ValueError(_("give exactly one of `contains` or `matches`"))
        return self


class HeaderTest(TextTest):
    name: str = Field(min_length=1, max_length=200)


class Since(_Strict):
    """Time since an event on the ticket, for schedules (`more_than`) and fresh tickets."""

    event: SinceEvent
    more_than: str | None = None
    less_than: str | None = None

    @field_validator("more_than", "less_than")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _bound(self) -> Since:
        if self.more_than is None and self.less_than is None:
            raise ValueError(_("give `more_than` or `less_than` (or both)"))
        return self


class Condition(_Strict):
    """One condition: a group (`all`, `any`, `not`) or a single test. Exactly one key."""

    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(default=None, alias="not")
    query: str | None = None
    header: HeaderTest | None = None
    from_: TextTest | None = Field(default=None, alias="from")
    to: TextTest | None = None
    cc: TextTest | None = None
    subject: TextTest | None = None
    body: TextTest | None = None
    mailbox: str | None = None
    robot: bool | None = None
    since: Since | None = None
    business_hours: bool | None = None
    first_response_overdue: bool | None = None
    # Worked out once at validation: rules are evaluated for every message that arrives.
    _kind: str = PrivateAttr(default="")
    _walk: tuple[Condition, ...] = PrivateAttr(default=())

    @field_validator("query")
    @classmethod
    def _query(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_query(value)
            except QueryError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _one(self) -> Condition:
        given = self.keys()
        if len(given) != 1:
            names = ", ".join(given) if given else "nothing"
            raise ValueError(_("a condition has exactly one key, not {names}").format(names=names))
        self._kind = given[0]
        found: list[Condition] = [self]
        for child in (self.all or []) + (self.any or []) + ([self.not_] if self.not_ else []):
            found.extend(child.walk())
        self._walk = tuple(found)
        return self

    def keys(self) -> list[str]:
        return [name for name in type(self).model_fields if getattr(self, name) is not None]

    @property
    def kind(self) -> str:
        return self._kind

    def walk(self) -> tuple[Condition, ...]:
        """This condition and every condition nested in it, depth first."""
        return self._walk


class Action(_Strict):
    """One action, applied in the order written. Exactly one key."""

    set_queue: str | None = None
    assign: str | None = None
    status: str | None = None
    priority: str | None = None
    add_tags: list[str] | None = None
    remove_tags: list[str] | None = None
    note: str | None = None
    canned_reply: str | None = None
    quarantine: Literal[True] | None = None
    stop: Literal[True] | None = None

    @field_validator("status")
    @classmethod
    def _status(cls, value: str | None) -> str | None:
        if value is not None and value not in STATUSES:
            raise ValueError(
                _("unknown status {value!r}; expected one of {statuses}").format(
                    value=value, statuses=", ".join(STATUSES)
                )
            )
        return value

    @field_validator("priority")
    @classmethod
    def _priority(cls, value: str | None) -> str | None:
        allowed = (*PRIORITIES, "up", "down")
        if value is not None and value not in allowed:
            raise ValueError(
                _("unknown priority {value!r}; expected one of {allowed}").format(
                    value=value, allowed=", ".join(allowed)
                )
            )
        return value

    @field_validator("add_tags", "remove_tags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        from supportdesk.desk.tickets import normalise_tag

        try:
            return [normalise_tag(tag) for tag in value]
        except SupportdeskError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("note")
    @classmethod
    def _note(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError(_("a note needs some text"))
        return value

    @model_validator(mode="after")
    def _one(self) -> Action:
        given = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(given) != 1:
            names = ", ".join(given) if given else "nothing"
            raise ValueError(_("an action has exactly one key, not {names}").format(names=names))
        return self

    @property
    def kind(self) -> str:
        return next(name for name in type(self).model_fields if getattr(self, name) is not None)


class RuleDef(_Strict):
    """One rule as written in TOML. No `when` (or an empty one) matches everything."""

    name: str
    enabled: bool = True
    trigger: Trigger
    description: str = ""
    timezone: str | None = None
    when: Condition | None = None
    actions: list[Action] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                _(
                    "rule name {value!r}: 1-100 letters, digits, spaces or . _ : "
                    "-, starting with a letter or digit"
                ).format(value=value)
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    _("unknown time zone {value!r} (like Europe/Berlin)").format(value=value)
                ) from None
        return value

    @model_validator(mode="after")
    def _message_conditions(self) -> RuleDef:
        if self.trigger == "time" and self.when is not None:
            used = sorted({c.kind for c in self.when.walk()} & MESSAGE_KEYS)
            if used:
                shown = ", ".join("from" if k == "from_" else k for k in used)
                raise ValueError(
                    _("a time rule has no message to test: remove {shown}").format(shown=shown)
                )
        return self

    def conditions(self) -> tuple[Condition, ...]:
        return self.when.walk() if self.when is not None else ()
