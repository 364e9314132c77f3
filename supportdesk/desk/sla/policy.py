"""SLA policies as `[[sla]]` TOML entries, validated strictly.

One entry per queue:

    [[sla]]
    queue = "support"
    timezone = "Europe/Berlin"          # IANA name; default UTC
    holidays = [2026-12-25, 2026-12-26] # local dates the queue does not work
    first_response = "4h"               # business time; each target is optional
    next_response = "8h"
    resolution = "40h"

    [sla.hours]                         # default: mon-fri 09:00-17:00; a day left out is off
    mon = "09:00-17:00"
    fri = ["09:00-12:00", "13:00-16:00"]
    sat = "00:00-24:00"

    [sla.priority.urgent]               # targets for one priority (the others inherit)
    first_response = "1h"

Entries are stored as their exact text (see desk.tomlblocks), so export and import round-trip
byte for byte, comments included.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from supportdesk.desk import tomlblocks
from supportdesk.desk.sla.calendar import (
    DAYS,
    Calendar,
    format_duration,
    parse_duration,
    parse_range,
    zone,
)
from supportdesk.errors import ValidationError
from supportdesk.i18n import N_, _
from supportdesk.store.models import PRIORITIES

WORKDAY = "09:00-17:00"
KINDS = ("first_response", "next_response", "resolution")


def _duration(value: str | None) -> str | None:
    if value is not None:
        parse_duration(value)
    return value


class Targets(BaseModel):
    """Business-time targets; each is optional (None: no such target)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    first_response: str | None = None
    next_response: str | None = None
    resolution: str | None = None

    @field_validator(*KINDS)
    @classmethod
    def _check(cls, value: str | None) -> str | None:
        return _duration(value)

    def seconds(self) -> dict[str, int | None]:
        return {k: None if v is None else parse_duration(v) for k, v in self.given().items()}

    def given(self) -> dict[str, str | None]:
        return {k: getattr(self, k) for k in KINDS}


class Hours(BaseModel):
    """Working hours per weekday, local time: "09:00-17:00" or a list of such ranges."""

    model_config = ConfigDict(extra="forbid", strict=True)

    mon: str | list[str] | None = None
    tue: str | list[str] | None = None
    wed: str | list[str] | None = None
    thu: str | list[str] | None = None
    fri: str | list[str] | None = None
    sat: str | list[str] | None = None
    sun: str | list[str] | None = None

    @field_validator(*DAYS)
    @classmethod
    def _ranges(cls, value: str | list[str] | None) -> str | list[str] | None:
        spans = sorted(parse_range(r) for r in _listed(value))
        for (__, end), (start, __) in itertools.pairwise(spans):
            if start < end:
                raise ValueError(_("working hours overlap"))
        return value

    def week(self) -> tuple[tuple[tuple[int, int], ...], ...]:
        return tuple(
            tuple(sorted(parse_range(r) for r in _listed(getattr(self, day)))) for day in DAYS
        )


def _listed(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else value


class PolicyDef(BaseModel):
    """One `[[sla]]` table: a queue's calendar and targets."""

    model_config = ConfigDict(extra="forbid", strict=True)

    queue: str
    timezone: str = "UTC"
    hours: Hours = Hours(mon=WORKDAY, tue=WORKDAY, wed=WORKDAY, thu=WORKDAY, fri=WORKDAY)
    holidays: list[date] = []
    first_response: str | None = None
    next_response: str | None = None
    resolution: str | None = None
    priority: dict[str, Targets] = {}

    @field_validator("queue")
    @classmethod
    def _queue(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(_("name the queue"))
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator(*KINDS)
    @classmethod
    def _check(cls, value: str | None) -> str | None:
        return _duration(value)

    @field_validator("hours")
    @classmethod
    def _some_hours(cls, value: Hours) -> Hours:
        if not any(value.week()):
            raise ValueError(_("no working hours on any day: nothing could ever be due"))
        return value

    @field_validator("priority")
    @classmethod
    def _priority(cls, value: dict[str, Targets]) -> dict[str, Targets]:
        for name in value:
            if name not in PRIORITIES:
                raise ValueError(
                    _("unknown priority {name!r}; expected one of {priorities}").format(
                        name=name, priorities=", ".join(PRIORITIES)
                    )
                )
        return value

    def calendar(self) -> Calendar:
        return Calendar(self.timezone, self.hours.week(), frozenset(self.holidays))

    def targets(self) -> dict[str, dict[str, int | None]]:
        """Per priority, the seconds of each target (a priority's own, else the queue's)."""
        base = Targets(
            first_response=self.first_response,
            next_response=self.next_response,
            resolution=self.resolution,
        ).given()
        out = {}
        for name in PRIORITIES:
            own = self.priority[name].given() if name in self.priority else {}
            merged = {k: own.get(k) or base[k] for k in KINDS}
            out[name] = {k: None if v is None else parse_duration(v) for k, v in merged.items()}
        return out


_SLA = tomlblocks.Entries(
    table="sla",
    key="queue",
    file=N_("an SLA file"),
    plural=N_("SLA policies"),
    one=N_("policy"),
    label=lambda q: (
        _("SLA for queue {queue!r}").format(queue=q)
        if isinstance(q, str)
        else _("SLA #{position}").format(position=q)
    ),
    duplicate=lambda queue, line: _("queue {queue!r} already has the policy on line {line}").format(
        queue=queue, line=line
    ),
)


@dataclass(frozen=True)
class PolicyText:
    """One entry read from a file: its exact text, where it starts, what it says."""

    text: str
    line: int
    policy: PolicyDef


def parse_policy_file(source: str, *, origin: str = "SLA file") -> list[PolicyText]:
    """Every `[[sla]]` entry in a TOML file, validated; one ValidationError lists every
    problem with its file, line, queue and key."""
    return [
        PolicyText(text=b.text, line=b.line, policy=b.entry)
        for b in tomlblocks.parse_entries(source, PolicyDef, _SLA, origin=origin)
    ]


def parse_definition(text: str) -> PolicyDef:
    entries = parse_policy_file(text, origin="stored SLA policy")
    if len(entries) != 1:
        raise ValidationError(_("stored SLA policy: expected exactly one [[sla]] table"))
    return entries[0].policy


def to_toml(policy: PolicyDef) -> str:
    """`policy` as one `[[sla]]` entry that reads back to the same policy."""
    q = tomlblocks.basic_string
    lines = ["[[sla]]", f"queue = {q(policy.queue)}", f"timezone = {q(policy.timezone)}"]
    if policy.holidays:
        lines.append(f"holidays = [{', '.join(d.isoformat() for d in policy.holidays)}]")
    for kind, value in (
        Targets.model_validate({k: getattr(policy, k) for k in KINDS}).given().items()
    ):
        if value is not None:
            lines.append(f"{kind} = {q(format_duration(parse_duration(value)))}")
    lines.append("")
    lines.append("[sla.hours]")
    for day in DAYS:
        ranges = getattr(policy.hours, day)
        if ranges is not None:
            shown = q(ranges) if isinstance(ranges, str) else f"[{', '.join(map(q, ranges))}]"
            lines.append(f"{day} = {shown}")
    for name in PRIORITIES:
        if name in policy.priority:
            lines += ["", f"[sla.priority.{name}]"]
            for kind, value in policy.priority[name].given().items():
                if value is not None:
                    lines.append(f"{kind} = {q(format_duration(parse_duration(value)))}")
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)  # what we write must read back
    return text


def as_dict(policy: PolicyDef) -> dict[str, Any]:
    """The policy for --json, with every priority's effective targets in seconds."""
    return {
        **policy.model_dump(mode="json"),
        "effective": policy.targets(),
    }
