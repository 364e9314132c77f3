"""Canned replies: named reply templates with `{customer.name}`-style placeholders.

Templates are written by people and rendered into mail that leaves the building, so rendering
is plain substitution by a small parser of our own: no `str.format`, no attribute lookups, no
expressions. A placeholder without a value is an error that names it, raised before anything
is sent, never an empty gap in a customer's mail, unless the template gives a default after
a bar: `{customer.first_name|there}` says "there" when the first name is unknown.

Each canned reply is stored as its own `[[canned]]` TOML text (see `desk.tomlblocks`, shared
with rules), so `supportdesk canned export` and `import` round-trip exactly:

    [[canned]]
    name = "refund-ok"              # lower-case letters, digits, . _ -
    title = "Refund approved"       # shown in the picker; default: the name
    language = "en"                 # the language of `body`; default "en"
    body = '''
    Hello {customer.first_name|there},
    ...'''
    status = "solved"               # a macro, applied with the send: status,
    priority = "normal"             # priority
    tags = ["refund"]               # and tags to add
    [canned.variants.ja]            # the same reply in another language
    title = "返金のご案内"
    body = '''...'''
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic import ValidationError as ModelError
from sqlmodel import Session, col, select

from supportdesk.desk import tomlblocks
from supportdesk.desk.statuses import check_priority, check_status
from supportdesk.desk.tomlblocks import ImportSummary
from supportdesk.errors import NotFoundError, ValidationError
from supportdesk.i18n import N_, _
from supportdesk.store.models import (
    Agent,
    CannedReply,
    Customer,
    Organisation,
    Queue,
    Ticket,
    utcnow,
)
from supportdesk.text import cut

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_PLACEHOLDER = re.compile(rf"^{_IDENT}(?:\.{_IDENT})*$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
DEFAULT_LANGUAGE = "en"
# Escapes first, so `{{x}}` is the literal text "{x}" and not a brace around a placeholder.
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}\n]*)\}|[{}]")

# What the composer fills in; saving a template that uses anything else is refused, so a
# typo is found when the template is written rather than when a reply is sent.
KNOWN_PLACEHOLDERS = frozenset(
    {
        "customer.name",
        "customer.first_name",
        "customer.email",
        "customer.organisation",
        "ticket.number",
        "ticket.subject",
        "ticket.status",
        "ticket.priority",
        "ticket.queue",
        "agent.name",
        "agent.handle",
        "agent.email",
        "agent.signature",
        # Filled only in a satisfaction rating request (desk.csat.requests).
        "rating.links",
        "rating.link_1",
        "rating.link_2",
        "rating.link_3",
        "rating.link_4",
        "rating.link_5",
    }
)


def _scan(body: str) -> list[tuple[re.Match[str], str | None, str | None]]:
    """Every brace token with its placeholder name (None for an escape) and default (None:
    no default); bad syntax raises."""
    tokens: list[tuple[re.Match[str], str | None, str | None]] = []
    for match in _TOKEN.finditer(body):
        text = match.group()
        if text in ("{{", "}}"):
            tokens.append((match, None, None))
            continue
        inside = match.group(1)
        if inside is None:
            raise ValidationError(
                _(
                    "unmatched {text!r} at position {value}: write {{{{ or }}}} for a literal brace"
                ).format(text=text, value=match.start() + 1)
            )
        name, bar, default = inside.partition("|")
        name = name.strip()
        if not _PLACEHOLDER.match(name):
            raise ValidationError(
                _(
                    "{text!r} at position {value} is not a placeholder: use "
                    "names like {{customer.name}} (or "
                    "{{customer.first_name|there}} with a default), or {{{{ and "
                    "}}}} for literal braces"
                ).format(text=text, value=match.start() + 1)
            )
        tokens.append((match, name, default if bar else None))
    return tokens


def placeholders(body: str) -> set[str]:
    """The placeholder names a template uses; raises ValidationError on malformed braces."""
    return {name for _, name, _ in _scan(body) if name is not None}


def render(body: str, values: Mapping[str, str]) -> str:
    """`body` with each placeholder replaced by its value, in one pass.

    Values are inserted verbatim (a value containing braces is not expanded again). A value
    that is missing or blank takes the placeholder's default when it has one; otherwise it
    counts as missing: every such placeholder is named in one ValidationError, so the agent
    fixes them all at once.
    """
    tokens = _scan(body)

    def value(name: str, default: str | None) -> str | None:
        given = str(values.get(name, ""))
        if given.strip():
            return given
        return default

    missing = sorted(
        {name for _, name, default in tokens if name is not None and value(name, default) is None}
    )
    if missing:
        listed = ", ".join("{" + name + "}" for name in missing)
        raise ValidationError(
            _("no value for {listed}: fill it in or edit the reply").format(listed=listed)
        )
    parts: list[str] = []
    position = 0
    for match, name, default in tokens:
        parts.append(body[position : match.start()])
        parts.append(match.group()[0] if name is None else str(value(name, default)))
        position = match.end()
    parts.append(body[position:])
    return "".join(parts)


def template_values(session: Session, ticket: Ticket, agent: Agent | None) -> dict[str, str]:
    """The values of KNOWN_PLACEHOLDERS for a reply on `ticket` by `agent`.

    Unknown facts (a customer without a name, a free-mail customer's organisation) are left
    blank on purpose, so `render` refuses rather than greeting someone as "Dear ,".
    """
    customer = session.get(Customer, ticket.requester_id)
    organisation = (
        session.get(Organisation, customer.organisation_id)
        if customer is not None and customer.organisation_id is not None
        else None
    )
    queue = session.get(Queue, ticket.queue_id)
    name = customer.name.strip() if customer else ""
    return {
        "customer.name": name,
        "customer.first_name": name.split()[0] if name else "",
        "customer.email": customer.email if customer else "",
        "customer.organisation": organisation.name if organisation else "",
        "ticket.number": str(ticket.number),
        "ticket.subject": ticket.subject,
        "ticket.status": ticket.status,
        "ticket.priority": ticket.priority,
        "ticket.queue": queue.name if queue else "",
        "agent.name": agent.name if agent else "",
        "agent.handle": agent.handle if agent else "",
        "agent.email": agent.email if agent else "",
        "agent.signature": agent.signature if agent else "",
    }


# -- the definition of one canned reply


def _check_name(name: str) -> str:
    name = name.strip()
    if not _NAME.match(name):
        raise ValidationError(
            _("canned reply name {name!r}: use lower-case letters, digits, '.', '_' or '-'").format(
                name=name
            )
        )
    return name


def _check_body(body: str) -> str:
    if not body.strip():
        raise ValidationError(_("a canned reply needs a body"))
    unknown = sorted(placeholders(body) - KNOWN_PLACEHOLDERS)
    if unknown:
        listed = ", ".join("{" + name + "}" for name in unknown)
        known = ", ".join("{" + name + "}" for name in sorted(KNOWN_PLACEHOLDERS))
        raise ValidationError(
            _("unknown placeholder {listed}; known: {known}").format(listed=listed, known=known)
        )
    return body


def _check_language(code: str) -> str:
    if not _LANGUAGE.match(code):
        raise ValueError(
            _("language {code!r}: use a two- or three-letter code like en or ja").format(code=code)
        )
    return code


class Variant(BaseModel):
    """The reply in one more language."""

    model_config = ConfigDict(extra="forbid", strict=True)

    title: str | None = None
    body: str

    @field_validator("body")
    @classmethod
    def _body(cls, value: str) -> str:
        return _as_value_error(_check_body, value)


class CannedDef(BaseModel):
    """One `[[canned]]` table, validated: what the composer and rules use."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str
    title: str | None = None
    language: str = DEFAULT_LANGUAGE
    body: str
    status: str | None = None
    priority: str | None = None
    tags: list[str] = []
    variants: dict[str, Variant] = {}

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _as_value_error(_check_name, value)

    @field_validator("body")
    @classmethod
    def _body(cls, value: str) -> str:
        return _as_value_error(_check_body, value)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        return _check_language(value)

    @field_validator("status")
    @classmethod
    def _status(cls, value: str | None) -> str | None:
        return None if value is None else _as_value_error(check_status, value)

    @field_validator("priority")
    @classmethod
    def _priority(cls, value: str | None) -> str | None:
        return None if value is None else _as_value_error(check_priority, value)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        from supportdesk.desk.tickets import normalise_tag

        return [_as_value_error(normalise_tag, tag) for tag in value]

    @field_validator("variants")
    @classmethod
    def _variants(cls, value: dict[str, Variant]) -> dict[str, Variant]:
        for code in value:
            _check_language(code)
        return value

    @property
    def languages(self) -> list[str]:
        """Every language this reply is written in, its own first."""
        return [self.language, *(c for c in sorted(self.variants) if c != self.language)]

    def text_for(self, language: str | None) -> tuple[str, str, str]:
        """(language, title, body) of the variant for `language`, else the reply's own."""
        if language and language != self.language and language in self.variants:
            variant = self.variants[language]
            return language, variant.title or self.title or self.name, variant.body
        return self.language, self.title or self.name, self.body

    @property
    def has_macro(self) -> bool:
        return bool(self.status or self.priority or self.tags)


def _as_value_error(check: Any, value: Any) -> Any:
    try:
        return check(value)
    except ValidationError as exc:
        raise ValueError(str(exc)) from None


@dataclass(frozen=True)
class CannedText:
    """One entry read from a file: its exact text, where it starts, what it says."""

    text: str
    line: int
    canned: CannedDef


_CANNED = tomlblocks.Entries(
    table="canned",
    key="name",
    file=N_("a canned replies file"),
    plural=N_("canned replies"),
    one=N_("reply"),
    label=lambda n: (
        _("canned reply {name!r}").format(name=n)
        if isinstance(n, str)
        else _("canned reply #{position}").format(position=n)
    ),
    duplicate=lambda _name, line: _("the name is already used by the entry on line {line}").format(
        line=line
    ),
)


def parse_canned_file(source: str, *, origin: str = "canned file") -> list[CannedText]:
    """Every `[[canned]]` entry in a TOML file, validated; one ValidationError lists all
    problems, each with its line and the entry's name."""
    return [
        CannedText(text=b.text, line=b.line, canned=b.entry)
        for b in tomlblocks.parse_entries(source, CannedDef, _CANNED, origin=origin)
    ]


def parse_single(text: str, *, origin: str) -> CannedText:
    entries = parse_canned_file(text, origin=origin)
    if len(entries) != 1:
        raise ValidationError(
            _("{origin}: expected exactly one [[canned]] table, found {count}").format(
                origin=origin, count=len(entries)
            )
        )
    return entries[0]


def to_toml(entry: CannedDef) -> str:
    """A canonical `[[canned]]` text for `entry` (what `add` stores; reads back equal)."""
    q = tomlblocks.basic_string
    lines = ["[[canned]]", f"name = {q(entry.name)}"]
    if entry.title is not None:
        lines.append(f"title = {q(entry.title)}")
    if entry.language != DEFAULT_LANGUAGE:
        lines.append(f"language = {q(entry.language)}")
    lines.append(f"body = {tomlblocks.multiline_string(entry.body)}")
    if entry.status is not None:
        lines.append(f"status = {q(entry.status)}")
    if entry.priority is not None:
        lines.append(f"priority = {q(entry.priority)}")
    if entry.tags:
        lines.append("tags = [" + ", ".join(q(t) for t in entry.tags) + "]")
    for code in sorted(entry.variants):
        variant = entry.variants[code]
        lines.append("")
        lines.append(f"[canned.variants.{code}]")
        if variant.title is not None:
            lines.append(f"title = {q(variant.title)}")
        lines.append(f"body = {tomlblocks.multiline_string(variant.body)}")
    return "\n".join(lines) + "\n"


@lru_cache(maxsize=1024)
def _parse_definition(text: str) -> CannedDef:
    return parse_single(text, origin="stored canned reply").canned


def definition(reply: CannedReply) -> CannedDef:
    """The stored reply as a model; rows from before definitions existed are read from their
    columns."""
    if reply.definition.strip():
        return _parse_definition(reply.definition)
    return _legacy_definition(reply.name, reply.title, reply.body)


@lru_cache(maxsize=256)
def _legacy_definition(name: str, title: str, body: str) -> CannedDef:
    """A row written before definitions existed, checked as `add` checks one now: such a row
    may use a placeholder that is no longer known, which is an error naming the reply."""
    try:
        return CannedDef(name=name, title=title or None, body=body)
    except ModelError as exc:
        found = "; ".join(str(error["msg"]).removeprefix("Value error, ") for error in exc.errors())
        raise ValidationError(
            _(
                "canned reply {name!r}: {found} (fix it with `supportdesk canned edit {name}`)"
            ).format(name=name, found=found)
        ) from None


def definition_text(reply: CannedReply) -> str:
    return reply.definition if reply.definition.strip() else to_toml(definition(reply))


# -- storage


def _find(session: Session, name: str) -> CannedReply | None:
    return session.exec(select(CannedReply).where(CannedReply.name == name.strip())).first()


def _apply(reply: CannedReply, parsed: CannedText) -> None:
    entry = parsed.canned
    reply.name = entry.name
    reply.title = entry.title or entry.name
    reply.body = entry.body
    reply.definition = parsed.text


def add_canned_text(session: Session, text: str, *, origin: str = "canned reply") -> CannedReply:
    """Store one `[[canned]]` entry exactly as written; its name must be new."""
    parsed = parse_single(text, origin=origin)
    if _find(session, parsed.canned.name) is not None:
        raise ValidationError(
            _("a canned reply called {name!r} already exists").format(name=parsed.canned.name)
        )
    reply = CannedReply(name=parsed.canned.name, body=parsed.canned.body)
    _apply(reply, parsed)
    session.add(reply)
    session.flush()
    return reply


def add_canned(session: Session, name: str, title: str, body: str) -> CannedReply:
    name = _check_name(name)
    body = _check_body(body)
    entry = CannedDef(name=name, title=title.strip() or None, body=body)
    return add_canned_text(session, to_toml(entry))


def get_canned(session: Session, name: str) -> CannedReply:
    reply = _find(session, name)
    if reply is None:
        known = ", ".join(r.name for r in list_canned(session)) or _("none yet")
        raise NotFoundError(
            _("no canned reply {name!r} (canned replies: {known})").format(name=name, known=known)
        )
    return reply


def list_canned(session: Session) -> list[CannedReply]:
    return list(session.exec(select(CannedReply).order_by(col(CannedReply.name))))


def replace_canned(session: Session, name: str, text: str) -> CannedReply:
    """Replace one reply's text (an edit); it may take a free new name."""
    reply = get_canned(session, name)
    parsed = parse_single(text, origin=f"canned reply {name!r}")
    new_name = parsed.canned.name
    if new_name != reply.name and _find(session, new_name) is not None:
        raise ValidationError(
            _("a canned reply called {new_name!r} already exists").format(new_name=new_name)
        )
    _apply(reply, parsed)
    reply.updated_at = utcnow()
    session.add(reply)
    session.flush()
    return reply


def update_canned(
    session: Session,
    name: str,
    *,
    title: str | None = None,
    body: str | None = None,
    new_name: str | None = None,
) -> CannedReply:
    """Change what is given; a rename keeps names unique. The stored text is rewritten in
    the canonical form (comments in it are not kept: edit the TOML to keep them)."""
    reply = get_canned(session, name)
    entry = definition(reply)
    changes: dict[str, Any] = {}
    if new_name is not None:
        changes["name"] = _check_name(new_name)
    if title is not None:
        changes["title"] = title.strip() or None
    if body is not None:
        changes["body"] = _check_body(body)
    updated = entry.model_copy(update=changes)
    return replace_canned(session, name, to_toml(updated))


def remove_canned(session: Session, name: str) -> None:
    session.delete(get_canned(session, name))
    session.flush()


def export_canned(session: Session) -> str:
    """Every canned reply, by name, as one TOML file that `import_canned` reads back unchanged."""
    return "\n".join(definition_text(r) for r in list_canned(session))


def import_canned(session: Session, source: str, *, origin: str = "canned file") -> ImportSummary:
    """Make the stored canned replies exactly the file's; validates everything first and
    changes nothing when any entry is wrong."""
    parsed = parse_canned_file(source, origin=origin)
    existing = {r.name: r for r in list_canned(session)}
    wanted = {p.canned.name for p in parsed}
    removed = sorted(name for name in existing if name not in wanted)
    for name in removed:
        session.delete(existing[name])
    session.flush()
    added, changed, unchanged = [], [], []
    for p in parsed:
        row = existing.get(p.canned.name)
        if row is None:
            row = CannedReply(name=p.canned.name, body=p.canned.body)
            added.append(p.canned.name)
        elif definition_text(row) == p.text:
            unchanged.append(p.canned.name)
        else:
            changed.append(p.canned.name)
            row.updated_at = utcnow()
        _apply(row, p)
        session.add(row)
    session.flush()
    return ImportSummary(added=added, changed=changed, removed=removed, unchanged=unchanged)


# -- the composer's picker


@dataclass(frozen=True)
class CannedMatch:
    """One canned reply as the picker lists it: best matches first."""

    name: str
    title: str
    languages: list[str]
    preview: str
    has_macro: bool
    score: int = 0
    problem: str = ""
    """Why the reply cannot be used as stored (it is still listed, so it can be found and
    fixed); empty when it can."""


def _subsequence(needle: str, haystack: str) -> bool:
    position = 0
    for char in needle:
        position = haystack.find(char, position) + 1
        if position == 0:
            return False
    return True


def find_canned(session: Session, query: str = "", *, limit: int = 50) -> list[CannedMatch]:
    """Canned replies matching `query` as the picker's filter: every word must appear in the
    name or title (also as a subsequence, so "rfok" finds "refund-ok") or in a body of any
    language. Name hits rank above title hits above body hits; ties by name.

    A stored reply that no longer validates is listed too, with its `problem`, so one broken
    entry neither hides the others nor disappears from the agent's sight."""
    words = query.lower().split()
    matches: list[CannedMatch] = []
    for reply in list_canned(session):
        problem = ""
        try:
            entry = definition(reply)
        except ValidationError as exc:
            problem = str(exc)
            entry = CannedDef.model_construct(
                name=reply.name, title=reply.title or None, body=reply.body
            )
        name, title = entry.name.lower(), (entry.title or "").lower()
        bodies = " ".join([entry.body, *(v.body for v in entry.variants.values())]).lower()
        titles = " ".join([title, *((v.title or "").lower() for v in entry.variants.values())])
        score = 0
        for word in words:
            if word in name:
                score += 8 if name.startswith(word) else 6
            elif word in titles:
                score += 4
            elif _subsequence(word, name):
                score += 2
            elif word in bodies:
                score += 1
            else:
                break
        else:
            preview = cut(" ".join(entry.body.split()), 160)  # cells, whole characters
            matches.append(
                CannedMatch(
                    name=entry.name,
                    title=entry.title or entry.name,
                    languages=entry.languages,
                    preview=preview,
                    has_macro=entry.has_macro,
                    score=score,
                    problem=problem,
                )
            )
    matches.sort(key=lambda m: (-m.score, m.name))
    return matches[:limit]


@dataclass(frozen=True)
class RenderedCanned:
    """A canned reply filled in for one ticket, in one language, with its macro."""

    name: str
    language: str
    languages: list[str]
    title: str
    text: str
    status: str | None = None
    priority: str | None = None
    tags: list[str] = field(default_factory=list)


def render_canned_for(
    session: Session,
    name: str,
    ticket: Ticket,
    agent: Agent | None,
    *,
    language: str | None = None,
) -> RenderedCanned:
    """The canned reply `name` filled in for `ticket`, in `language` when it has that
    variant (else its own language), with the macro it carries.

    Raises ValidationError naming every placeholder this ticket cannot fill, so the agent
    sees the gap before anything is sent.
    """
    entry = definition(get_canned(session, name))
    chosen, title, body = entry.text_for(language)
    try:
        text = render(body, template_values(session, ticket, agent))
    except ValidationError as exc:
        raise ValidationError(
            _("canned reply {name!r} ({chosen}): {exc}").format(name=name, chosen=chosen, exc=exc)
        ) from None
    return RenderedCanned(
        name=entry.name,
        language=chosen,
        languages=entry.languages,
        title=title,
        text=text,
        status=entry.status,
        priority=entry.priority,
        tags=list(entry.tags),
    )


def render_canned(
    session: Session,
    name: str,
    ticket: Ticket,
    agent: Agent | None,
    *,
    language: str | None = None,
) -> str:
    """The canned reply `name` filled in for `ticket`, as the composer inserts it."""
    entry = definition(get_canned(session, name))
    _chosen, _title, body = entry.text_for(language)
    return render(body, template_values(session, ticket, agent))


def set_acknowledgement(session: Session, queue_name: str, name: str | None) -> None:
    """New tickets in `queue_name` get canned reply `name` by mail (None: no more)."""
    from supportdesk.desk import directory

    queue = directory.get_queue(session, queue_name)
    queue.acknowledge_with = get_canned(session, name).name if name else None
    session.add(queue)
    session.flush()
