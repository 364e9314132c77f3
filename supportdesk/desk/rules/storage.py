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
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic import ValidationError as ModelError
from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from supportdesk.desk.rules.model import RuleDef
from supportdesk.desk.tomlblocks import ImportSummary, join_problems, split_blocks
from supportdesk.errors import NotFoundError, ValidationError
from supportdesk.i18n import N_, _
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
            return _("rule {name!r}: ").format(name=match.group(1))
    return ""


def _lines(text: str, header_line: int) -> list[tuple[int, str]]:
    """(file line number, line) for a rule's text, whose `[[rules]]` is on `header_line`.

    A rule's text may start before its header (comments above it, a file's preamble).
    """
    lines = text.splitlines()
    header = next((i for i, line in enumerate(lines) if _HEADER.match(line)), 0)
    return [(header_line + i - header, line) for i, line in enumerate(lines)]


def _line_of(text: str, first_line: int, loc: tuple[Any, ...]) -> int:
    """The line of the deepest key an error points at, else the rule's first line."""
    for part in reversed(loc):
        if isinstance(part, str):
            pattern = re.compile(rf"(^|[\s{{,]){re.escape(part)}\s*=")
            for number, line in _lines(text, first_line):
                if pattern.search(line):
                    return number
    return first_line


def _model_problems(exc: ModelError) -> list[tuple[tuple[Any, ...], str]]:
    problems = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append((tuple(error["loc"]), message))
    return problems


def parse_rules(source: str, *, origin: str = "rules file", stored: bool = False) -> list[RuleText]:
    """Every rule in a TOML file, validated; raises one ValidationError listing all problems.

    `stored` reads rules the store already holds: what they name and which patterns the
    engine takes is checked when they run (see engine), not here.
    """
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        position = _TOML_POSITION.search(str(exc))
        if position is None:
            raise ValidationError(
                _("{origin}: TOML syntax error: {exc}").format(origin=origin, exc=exc)
            ) from None
        line = int(position.group(1))
        problem = _TOML_POSITION.sub("", str(exc)).strip()
        raise ValidationError(
            _("{origin} line {line}, column {value}: {source}TOML syntax error: {problem}").format(
                origin=origin,
                line=line,
                value=position.group(2),
                source=_rule_near(source, line),
                problem=problem,
            )
        ) from None
    problems: list[str] = []
    for key in data:
        if key != "rules":
            given = re.compile(rf"^\s*(\[+\s*)?{re.escape(key)}\b")
            line = next(
                (i for i, text in enumerate(source.splitlines(), 1) if given.match(text)), 1
            )
            problems.append(
                _(
                    "{origin} line {line}: unknown top-level key {key!r}: "
                    "{file} holds only [[{table}]] tables"
                ).format(origin=origin, line=line, key=key, file=_("a rules file"), table="rules")
            )
    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list):
        raise ValidationError(_("{origin}: `rules` must be [[rules]] tables").format(origin=origin))
    blocks = _split(source)
    if len(blocks) != len(raw_rules):
        raise ValidationError(
            _(
                "{origin}: found {count} rules but {count2} [[rules]] header "
                "lines; write each rule as its own [[rules]] table"
            ).format(origin=origin, count=len(raw_rules), count2=len(blocks))
        )
    found: list[RuleText] = []
    seen: dict[str, int] = {}
    for index, (line, text) in enumerate(blocks):
        raw = raw_rules[index]
        label = (
            _("rule {name!r}").format(name=raw.get("name"))
            if isinstance(raw.get("name"), str)
            else _("rule #{position}").format(position=index + 1)
        )
        try:
            rule = RuleDef.model_validate(raw, context={"stored": stored})
        except ModelError as exc:
            for loc, message in _model_problems(exc):
                where = ".".join(str(p) for p in loc) or "rule"
                at = _line_of(text, line, loc)
                problems.append(
                    _("{origin} line {line}: {label}: {where}: {message}").format(
                        origin=origin, line=at, label=label, where=where, message=message
                    )
                )
            continue
        if rule.name in seen:
            problems.append(
                _("{origin} line {line}: {label}: {problem}").format(
                    origin=origin,
                    line=line,
                    label=label,
                    problem=_("the name is already used by the rule on line {line}").format(
                        line=seen[rule.name]
                    ),
                )
            )
            continue
        seen[rule.name] = line
        found.append(RuleText(text=text, line=line, rule=rule))
    if problems:
        raise ValidationError(join_problems(problems))
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
    rules = parse_rules(text, origin="stored rule", stored=True)
    if len(rules) != 1:
        raise ValidationError(
            _("a stored rule must hold exactly one [[rules]] table, not {count}").format(
                count=len(rules)
            )
        )
    return rules[0].rule


def parse_single(text: str, *, origin: str, stored: bool = False) -> RuleText:
    rules = parse_rules(text, origin=origin, stored=stored)
    if len(rules) != 1:
        raise ValidationError(
            _("{origin}: expected exactly one [[rules]] table, found {count}").format(
                origin=origin, count=len(rules)
            )
        )
    return rules[0]


def check_names(session: Session, parsed: list[RuleText], *, origin: str) -> None:
    """Refuse rules that name a queue, agent or canned reply the store does not have.

    Queries in conditions are compiled against the store for the same reason (they may name
    queues and agents too). One ValidationError lists every problem, each with the rule,
    its line in the file and a "did you mean". Names can still disappear later (a queue
    removed after the rule was stored): the engine then fails that rule visibly.
    """
    from supportdesk.desk.query import Matching
    from supportdesk.desk.query.compile import suggestion
    from supportdesk.errors import SupportdeskError
    from supportdesk.store.models import Agent, CannedReply, Queue

    conn = session.connection()
    kinds: dict[str, tuple[str, Any, Callable[[str], str]]] = {
        "set_queue": (N_("queue"), Queue.name, str.lower),
        "assign": (N_("agent"), Agent.handle, str.lower),
        "canned_reply": (N_("canned reply"), CannedReply.name, str),
    }
    known: dict[str, set[str]] = {}
    problems: list[str] = []
    for p in parsed:
        label = _("rule {name!r}").format(name=p.rule.name)
        for action in p.rule.actions:
            key = action.kind
            value = getattr(action, key)
            if key not in kinds or (key == "assign" and value in ("round-robin", "least-loaded")):
                continue
            what, column, norm = kinds[key]
            if key not in known:
                known[key] = set(conn.execute(sa_select(column)).scalars())
            name = norm(value.strip())
            if name in known[key]:
                continue
            at = _line_of_value(p.text, p.line, key, value)
            problems.append(
                _("{origin} line {line}: {label}: {key}: unknown {what} {value!r}{hint}").format(
                    origin=origin,
                    line=at,
                    label=label,
                    key=key,
                    what=_(what),
                    value=value,
                    hint=suggestion(conn, column, name),
                )
            )
        for c in p.rule.conditions():
            if c.query is None:
                continue
            try:
                Matching(session, c.query, me=None, now=utcnow()).check()
            except SupportdeskError as exc:
                at = _line_of_value(p.text, p.line, "query", c.query)
                problems.append(
                    _("{origin} line {line}: {label}: query: {exc}").format(
                        origin=origin, line=at, label=label, exc=exc
                    )
                )
    if problems:
        raise ValidationError(join_problems(problems))


def _line_of_value(text: str, first_line: int, key: str, value: str) -> int:
    """The line where `key` is given `value` (the first such), else where `key` first is."""
    shown = (repr(value)[1:-1], value)
    pattern = re.compile(rf"(^|[\s{{,]){re.escape(key)}\s*=")
    for number, line in _lines(text, first_line):
        if pattern.search(line) and any(v in line for v in shown):
            return number
    return _line_of(text, first_line, (key,))


def parse_and_check(session: Session, source: str, *, origin: str) -> list[RuleText]:
    """`parse_rules` and then `check_names`: what add, edit, import and test accept."""
    parsed = parse_rules(source, origin=origin)
    check_names(session, parsed, origin=origin)
    return parsed


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
        known = ", ".join(r.name for r in list_rules(session)) or _("none yet")
        raise NotFoundError(_("no rule {name!r} (rules: {known})").format(name=name, known=known))
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
    parsed = parse_and_check(session, source, origin=origin)
    existing = {r.name for r in list_rules(session)}
    clashes = [
        _("line {line}: rule {name!r}").format(line=p.line, name=p.rule.name)
        for p in parsed
        if p.rule.name in existing
    ]
    if clashes:
        raise ValidationError(
            _("{origin}: already stored (edit or import instead): {clashes}").format(
                origin=origin, clashes="; ".join(clashes)
            )
        )
    top = len(existing)
    rows = [_row(p, top + i + 1) for i, p in enumerate(parsed)]
    session.add_all(rows)
    session.flush()
    return rows


def replace_rule(session: Session, name: str, text: str, *, check: bool = True) -> Rule:
    """Replace one rule's text (an edit); it keeps its place and may take a free new name.

    `check=False` skips what may have changed since the rule was stored (names that exist,
    patterns the engine takes): disabling a rule that fails must always be possible.
    """
    row = get_rule(session, name)
    origin = f"rule {name!r}"
    parsed = parse_single(text, origin=origin, stored=not check)
    if check:
        check_names(session, [parsed], origin=origin)
    if parsed.rule.name != name:
        clash = session.exec(select(Rule).where(Rule.name == parsed.rule.name)).first()
        if clash is not None:
            raise ValidationError(_("rule {name!r} already exists").format(name=parsed.rule.name))
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
    return replace_rule(session, name, "".join(lines), check=enabled)


def move_rule(session: Session, name: str, position: int) -> list[Rule]:
    """Put a rule at `position` (1 = first); the others keep their order around it."""
    rows = list_rules(session)
    row = get_rule(session, name)
    if not 1 <= position <= len(rows):
        raise ValidationError(
            _("position {position}: choose 1 to {count}").format(position=position, count=len(rows))
        )
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
    parsed = parse_and_check(session, source, origin=origin)
    existing = {r.name: r for r in list_rules(session)}
    wanted = {p.rule.name for p in parsed}
    removed = [name for name in existing if name not in wanted]
    for name in removed:
        session.delete(existing[name])
    session.flush()
    added: list[str] = []
    changed: list[str] = []
    unchanged: list[str] = []
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
