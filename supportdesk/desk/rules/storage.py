"""Rules in the store: one row per rule holding its own `[[rules]]` TOML text, in order.

The text is kept exactly as written (comments included), so export, edit and import
round-trip byte for byte: export joins the rules' texts with a blank line between them, and
import splits a file at each `[[rules]]` header (comment lines directly above a header
belong to the rule below them). Everything in a file is validated before anything is stored;
an error names the rule, the line and the problem, and nothing changes.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic import ValidationError as ModelError
from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from supportdesk.desk.rules.model import RuleDef
from supportdesk.desk.tomlblocks import split_blocks
from supportdesk.errors import NotFoundError, ValidationError
from supportdesk.store.models import Rule, utcnow

_HEADER = re.compile(r"^\s*\[\[\s*rules\s*\]\]\s*(?:#.*)?$")
_TABLE = re.compile(r"^\s*\[")
_ENABLED = re.compile(r"^(\s*enabled\s*=\s*)(true|false)(\s*(?:#.*)?)$")
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


@dataclass(frozen=True)
class RuleText:
    """One rule read from a file: its exact text, where it starts and what it says."""

    text: str
    line: int
    rule: RuleDef


@dataclass(frozen=True)
class ImportSummary:
    added: list[str]
    changed: list[str]
    removed: list[str]
    unchanged: list[str]

    def as_dict(self) -> dict[str, list[str]]:
        return dict(self.__dict__)


def _split(source: str) -> list[tuple[int, str]]:
    """(first line number, text) of each `[[rules]]` block; a preamble joins the first."""
    return split_blocks(source, _HEADER)


_LOOSE_HEADER = re.compile(r"^\s*\[\[?\s*rules\s*\]")
_NAME_LINE = re.compile(r"""^\s*name\s*=\s*["']([^"']*)["']""")


def _rule_near(source: str, line: int) -> str:
    """'rule NAME: ' for the rule a broken line sits in, found without a TOML parser."""
    lines = source.splitlines()
    start = next(
        (i for i in range(min(line, len(lines)) - 1, -1, -1) if _LOOSE_HEADER.match(lines[i])),
        None,
    )
    if start is None:
        return ""
    for text in lines[start + 1 :]:
        if _LOOSE_HEADER.match(text):
            break
        match = _NAME_LINE.match(text)
        if match:
            return f"rule {match.group(1)!r}: "
    return ""


def _line_of(text: str, first_line: int, loc: tuple[Any, ...]) -> int:
    """The line of the deepest key an error points at, else the rule's first line."""
    for part in reversed(loc):
        if isinstance(part, str):
            pattern = re.compile(rf"(^|[\s{{,]){re.escape(part)}\s*=")
            for offset, line in enumerate(text.splitlines()):
                if pattern.search(line):
                    return first_line + offset
    return first_line


def _model_problems(exc: ModelError) -> list[tuple[tuple[Any, ...], str]]:
    problems = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append((tuple(error["loc"]), message))
    return problems


def parse_rules(source: str, *, origin: str = "rules file") -> list[RuleText]:
    """Every rule in a TOML file, validated; raises one ValidationError listing all problems."""
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        position = _TOML_POSITION.search(str(exc))
        if position is None:
            raise ValidationError(f"{origin}: TOML syntax error: {exc}") from None
        line = int(position.group(1))
        problem = _TOML_POSITION.sub("", str(exc)).strip()
        raise ValidationError(
            f"{origin} line {line}, column {position.group(2)}: {_rule_near(source, line)}"
            f"TOML syntax error: {problem}"
        ) from None
    problems: list[str] = []
    for key in data:
        if key != "rules":
            line = _line_of(source, 1, (key,))
            problems.append(
                f"{origin} line {line}: unknown top-level key {key!r}: "
                "a rules file holds only [[rules]] tables"
            )
    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list):
        raise ValidationError(f"{origin}: `rules` must be [[rules]] tables")
    blocks = _split(source)
    if len(blocks) != len(raw_rules):
        raise ValidationError(
            f"{origin}: found {len(raw_rules)} rules but {len(blocks)} [[rules]] header lines; "
            "write each rule as its own [[rules]] table"
        )
    found: list[RuleText] = []
    seen: dict[str, int] = {}
    for index, (line, text) in enumerate(blocks):
        raw = raw_rules[index]
        label = (
            f"rule {raw.get('name')!r}"
            if isinstance(raw.get("name"), str)
            else (f"rule #{index + 1}")
        )
        try:
            rule = RuleDef.model_validate(raw)
        except ModelError as exc:
            for loc, message in _model_problems(exc):
                where = ".".join(str(p) for p in loc) or "rule"
                at = _line_of(text, line, loc)
                problems.append(f"{origin} line {at}: {label}: {where}: {message}")
            continue
        if rule.name in seen:
            problems.append(
                f"{origin} line {line}: {label}: the name is already used by the rule "
                f"on line {seen[rule.name]}"
            )
            continue
        seen[rule.name] = line
        found.append(RuleText(text=text, line=line, rule=rule))
    if problems:
        raise ValidationError(
            "; ".join(problems)
            if len(problems) == 1
            else f"{len(problems)} problems: " + "; ".join(problems)
        )
    return found


_ENABLED_RULES = (
    sa_select(col(Rule.definition))
    .where(col(Rule.enabled).is_(True))
    .order_by(col(Rule.position), col(Rule.id))
)
_TRIGGER_RULES = _ENABLED_RULES.where(col(Rule.trigger) == bindparam("trigger"))


@lru_cache(maxsize=4096)
def parse_definition(text: str) -> RuleDef:
    """A stored rule's model; cached by text since rules are read on every message."""
    rules = parse_rules(text, origin="stored rule")
    if len(rules) != 1:
        raise ValidationError(
            f"a stored rule must hold exactly one [[rules]] table, not {len(rules)}"
        )
    return rules[0].rule


def parse_single(text: str, *, origin: str) -> RuleText:
    rules = parse_rules(text, origin=origin)
    if len(rules) != 1:
        raise ValidationError(f"{origin}: expected exactly one [[rules]] table, found {len(rules)}")
    return rules[0]


def list_rules(session: Session) -> list[Rule]:
    return list(session.exec(select(Rule).order_by(col(Rule.position), col(Rule.id))))


def load_rules(session: Session, trigger: str | None = None) -> list[RuleDef]:
    """The enabled rules (of one trigger), in order, as models."""
    # Core, not ORM: this runs for every message that arrives.
    if trigger is None:
        rows = session.connection().execute(_ENABLED_RULES)
    else:
        rows = session.connection().execute(_TRIGGER_RULES, {"trigger": trigger})
    return [parse_definition(text) for (text,) in rows]


def get_rule(session: Session, name: str) -> Rule:
    rule = session.exec(select(Rule).where(Rule.name == name)).first()
    if rule is None:
        known = ", ".join(r.name for r in list_rules(session)) or "none yet"
        raise NotFoundError(f"no rule {name!r} (rules: {known})")
    return rule


def _row(parsed: RuleText, position: int) -> Rule:
    return Rule(
        name=parsed.rule.name,
        position=position,
        enabled=parsed.rule.enabled,
        trigger=parsed.rule.trigger,
        definition=parsed.text,
    )


def add_rules(session: Session, source: str, *, origin: str = "rules file") -> list[Rule]:
    """Append the file's rules after the existing ones; refuses names already in use."""
    parsed = parse_rules(source, origin=origin)
    existing = {r.name for r in list_rules(session)}
    clashes = [f"line {p.line}: rule {p.rule.name!r}" for p in parsed if p.rule.name in existing]
    if clashes:
        raise ValidationError(
            f"{origin}: already stored (edit or import instead): " + "; ".join(clashes)
        )
    top = len(existing)
    rows = [_row(p, top + i + 1) for i, p in enumerate(parsed)]
    session.add_all(rows)
    session.flush()
    return rows


def replace_rule(session: Session, name: str, text: str) -> Rule:
    """Replace one rule's text (an edit); it keeps its place and may take a free new name."""
    row = get_rule(session, name)
    parsed = parse_single(text, origin=f"rule {name!r}")
    if parsed.rule.name != name:
        clash = session.exec(select(Rule).where(Rule.name == parsed.rule.name)).first()
        if clash is not None:
            raise ValidationError(f"rule {parsed.rule.name!r} already exists")
    row.name = parsed.rule.name
    row.enabled = parsed.rule.enabled
    row.trigger = parsed.rule.trigger
    row.definition = parsed.text
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return row


def set_enabled(session: Session, name: str, enabled: bool) -> Rule:
    """Flip `enabled` in the rule's text too, so an export says what the store does."""
    row = get_rule(session, name)
    lines = row.definition.splitlines(keepends=True)
    header = next(i for i, line in enumerate(lines) if _HEADER.match(line))
    for index in range(header + 1, len(lines)):
        line = lines[index]
        if _TABLE.match(line):
            break
        match = _ENABLED.match(line.rstrip("\n"))
        if match:
            ending = line[len(line.rstrip("\n")) :]
            lines[index] = f"{match.group(1)}{str(enabled).lower()}{match.group(3)}{ending}"
            break
    else:
        match = None
    if match is None:
        lines.insert(header + 1, f"enabled = {str(enabled).lower()}\n")
    return replace_rule(session, name, "".join(lines))


def move_rule(session: Session, name: str, position: int) -> list[Rule]:
    """Put a rule at `position` (1 = first); the others keep their order around it."""
    rows = list_rules(session)
    row = get_rule(session, name)
    if not 1 <= position <= len(rows):
        raise ValidationError(f"position {position}: choose 1 to {len(rows)}")
    rows = [r for r in rows if r.id != row.id]
    rows.insert(position - 1, row)
    _renumber(session, rows)
    return rows


def _renumber(session: Session, rows: list[Rule]) -> None:
    for index, r in enumerate(rows, start=1):
        if r.position != index:
            r.position = index
            session.add(r)
    session.flush()


def remove_rule(session: Session, name: str) -> None:
    session.delete(get_rule(session, name))
    session.flush()
    _renumber(session, list_rules(session))


def export_rules(session: Session) -> str:
    """All rules in order, as one TOML file that `import_rules` reads back unchanged."""
    return "\n".join(r.definition for r in list_rules(session))


def import_rules(session: Session, source: str, *, origin: str = "rules file") -> ImportSummary:
    """Make the stored rules exactly the file's: same texts, same order, others removed."""
    parsed = parse_rules(source, origin=origin)
    existing = {r.name: r for r in list_rules(session)}
    wanted = {p.rule.name for p in parsed}
    removed = [name for name in existing if name not in wanted]
    for name in removed:
        session.delete(existing[name])
    session.flush()
    added, changed, unchanged = [], [], []
    for position, p in enumerate(parsed, start=1):
        row = existing.get(p.rule.name)
        if row is None:
            session.add(_row(p, position))
            added.append(p.rule.name)
            continue
        (unchanged if row.definition == p.text else changed).append(p.rule.name)
        if row.definition != p.text:
            row.updated_at = utcnow()
        row.position, row.enabled, row.trigger = position, p.rule.enabled, p.rule.trigger
        row.definition = p.text
        session.add(row)
    session.flush()
    return ImportSummary(added=added, changed=changed, removed=removed, unchanged=unchanged)
