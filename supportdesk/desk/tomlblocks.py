"""Files of `[[table]]` entries whose every entry is stored as its own exact TOML text.

Rules and canned replies are both kept this way, so export, edit and import round-trip byte
for byte (comments included): export joins the entries' texts with a blank line between
them, and import splits a file at each `[[table]]` header, the comment lines directly above
a header belonging to the entry below it. Sub-tables (`[canned.variants.ja]`) stay with the
entry they follow.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as ModelError

from supportdesk.errors import ValidationError
from supportdesk.i18n import _
from supportdesk.text import UNSAFE

_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


@dataclass(frozen=True)
class ImportSummary:
    """What an import of a whole file did, entry names by outcome (rules and canned replies)."""

    added: list[str]
    changed: list[str]
    removed: list[str]
    unchanged: list[str]

    def as_dict(self) -> dict[str, list[str]]:
        return dict(self.__dict__)


def header_pattern(table: str) -> re.Pattern[str]:
    """The line that starts one entry: `[[table]]`, optionally followed by a comment."""
    return re.compile(rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]\s*(?:#.*)?$")


def split_blocks(source: str, header: re.Pattern[str]) -> list[tuple[int, str]]:
    """(line number of the header, text) of each entry; a preamble joins the first."""
    lines = source.splitlines(keepends=True)
    headers = [i for i, line in enumerate(lines) if header.match(line)]
    starts: list[int] = []
    for number, head in enumerate(headers):
        start = head
        floor = headers[number - 1] + 1 if number else 0
        while start > floor and lines[start - 1].lstrip().startswith("#"):
            start -= 1
        starts.append(0 if number == 0 else start)
    blocks = []
    for number, start in enumerate(starts):
        end = starts[number + 1] if number + 1 < len(starts) else len(lines)
        text = "".join(lines[start:end]).rstrip() + "\n"
        blocks.append((headers[number] + 1, text))
    return blocks


def line_of(text: str, first_line: int, loc: tuple[Any, ...]) -> int:
    """The line of the deepest key an error points at, else the entry's first line."""
    for part in reversed(loc):
        if isinstance(part, str):
            pattern = re.compile(rf"(^|[\s{{,]){re.escape(part)}\s*=")
            for offset, line in enumerate(text.splitlines()):
                if pattern.search(line):
                    return first_line + offset
    return first_line


def load_toml(source: str, origin: str) -> dict[str, Any]:
    """Parsed TOML, or one ValidationError naming the file, line and column."""
    try:
        return tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        position = _TOML_POSITION.search(str(exc))
        if position is None:
            raise ValidationError(
                _("{origin}: TOML syntax error: {exc}").format(origin=origin, exc=exc)
            ) from None
        problem = _TOML_POSITION.sub("", str(exc)).strip()
        raise ValidationError(
            _("{origin} line {value}, column {value2}: TOML syntax error: {problem}").format(
                origin=origin, value=position.group(1), value2=position.group(2), problem=problem
            )
        ) from None


def join_problems(problems: list[str]) -> str:
    return (
        problems[0]
        if len(problems) == 1
        else _("{count} problems: {problems}").format(
            count=len(problems), problems="; ".join(problems)
        )
    )


def basic_string(value: str) -> str:
    """`value` as a one-line TOML basic string."""
    out = ['"']
    for char in value:
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif UNSAFE.match(char):
            # Escaped, not dropped: the value reads back the same, and the file is safe to
            # print (C1 and bidi controls included, which TOML would allow raw).
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def multiline_string(value: str) -> str:
    """`value` as a TOML multi-line basic string that reads back exactly."""
    escaped = []
    for char in value:
        if char == "\\":
            escaped.append("\\\\")
        elif char == '"':
            escaped.append('\\"')
        elif char == "\r":
            escaped.append("\\r")
        elif char not in "\n\t" and UNSAFE.match(char):
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return '"""\n' + "".join(escaped) + '"""'


Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class Entries:
    """How one kind of file names itself in its errors."""

    table: str
    """The `[[table]]` name."""
    key: str
    """The field that names an entry (unique in a file)."""
    file: str
    """"a canned replies file": what holds only such tables."""
    plural: str
    """"canned replies"."""
    one: str
    """"reply": write each <one> as its own table."""
    label: Callable[[Any], str]
    """The entry's label in errors, from its key's value (a str) or its position (an int)."""
    duplicate: Callable[[str, int], str]
    """The problem when a key's value `v` was already used on line `n`."""


@dataclass(frozen=True)
class Block(Generic[Model]):
    """One entry read from a file: its exact text, where it starts, what it says."""

    text: str
    line: int
    entry: Model


def parse_entries(
    source: str, model: type[Model], kind: Entries, *, origin: str
) -> list[Block[Model]]:
    """Every `[[table]]` entry of a TOML file validated by `model`; one ValidationError lists
    every problem, each with the file, line, entry and key."""
    data = load_toml(source, origin)
    table = kind.table
    problems: list[str] = []
    for key in data:
        if key != table:
            line = line_of(source, 1, (key,))
            problems.append(
                _(
                    "{origin} line {line}: unknown top-level key {key!r}: "
                    "{file} holds only [[{table}]] tables"
                ).format(origin=origin, line=line, key=key, file=_(kind.file), table=table)
            )
    raw_entries = data.get(table, [])
    if not isinstance(raw_entries, list):
        raise ValidationError(
            _("{origin}: `{table}` must be [[{table}]] tables").format(origin=origin, table=table)
        )
    header = header_pattern(table)
    blocks = split_blocks(source, header)
    if len(blocks) != len(raw_entries):
        raise ValidationError(
            _(
                "{origin}: found {count} {plural} but {count2} [[{table}]] "
                "header lines; write each {one} as its own [[{table}]] table"
            ).format(
                origin=origin,
                count=len(raw_entries),
                plural=_(kind.plural),
                count2=len(blocks),
                table=table,
                one=_(kind.one),
            )
        )
    found: list[Block[Model]] = []
    seen: dict[str, int] = {}
    for index, (line, text) in enumerate(blocks):
        raw = raw_entries[index]
        name = raw.get(kind.key)
        label = kind.label(name if isinstance(name, str) else index + 1)
        try:
            entry = model.model_validate(raw)
        except ModelError as exc:
            lines = text.splitlines()
            first = line - next(i for i, t in enumerate(lines) if header.match(t))
            for error in exc.errors():
                loc = tuple(error["loc"])
                where = ".".join(str(p) for p in loc) or "entry"
                message = str(error["msg"]).removeprefix("Value error, ")
                at = line_of(text, first, loc)
                problems.append(
                    _("{origin} line {line}: {label}: {where}: {message}").format(
                        origin=origin, line=at, label=label, where=where, message=message
                    )
                )
            continue
        value = getattr(entry, kind.key)
        if value in seen:
            problems.append(
                _("{origin} line {line}: {label}: {problem}").format(
                    origin=origin,
                    line=line,
                    label=label,
                    problem=kind.duplicate(value, seen[value]),
                )
            )
            continue
        seen[value] = line
        found.append(Block(text=text, line=line, entry=entry))
    if problems:
        raise ValidationError(join_problems(problems))
    return found
