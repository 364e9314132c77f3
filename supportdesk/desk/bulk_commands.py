"""The changes to many tickets, declared once: what each takes, how it reads, what it calls.

The CLI builds its bulk commands (`tickets assign`, `tickets status`, ...) from `COMMANDS`,
and the console applies its marked-ticket actions through the same entries, so a bulk
change has one meaning, one description and one dry run wherever it is asked for. The
table loads nothing heavy: the CLI reads it to build its commands on every start.

A change runs in two transactions: a read one that finds the tickets and counts them (so a
confirmation prompt never holds the write lock while a person thinks), then a write one
that finds them again and changes them as one batch. A dry run makes the change for real
and rolls it back once its events are read, so what it lists is exactly what would happen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from supportdesk.errors import ValidationError
from supportdesk.i18n import N_, _

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement
    from sqlmodel import Session

    from supportdesk.desk.bulk import BulkResult
    from supportdesk.desk.events import Change
    from supportdesk.store import Store

Apply = Callable[["Session", list[int], "Change"], "BulkResult"]
Narrow = Callable[["Session"], "ColumnElement[bool]"]

QUERY_HELP = N_(
    'Which tickets: a query ("status:pending updated:>14d"), all for every ticket, '
    "or - to read ticket numbers from standard input."
)


@dataclass(frozen=True)
class Param:
    """One input of a bulk command, as a shell passes it.

    `flags` empty: a positional argument; otherwise an option spelled by those flags.
    The parameter named `query` is the selection every command has.
    """

    name: str
    help: str
    flags: tuple[str, ...] = ()
    kind: type = str
    default: Any = ...


@dataclass(frozen=True)
class Prepared:
    """One bulk change with its inputs read: ready to find its tickets and apply.

    `refused` names input dropped before the change ran (a bad tag among good ones): the
    change still runs, and the faces report the refusal after it.
    """

    what: str
    apply: Apply
    narrow: Narrow | None = None
    refused: str | None = None


@dataclass(frozen=True)
class BulkCommand:
    """A bulk command: its name, what it says about itself, its inputs, and its reading of them.

    `prepare` takes the inputs (all but the query) by name and returns the change, checked
    as far as it can be without the store; `field` is what the command changes.
    """

    name: str
    field: str
    help: str
    params: tuple[Param, ...]
    prepare: Callable[..., Prepared]


def _bulk() -> Any:
    from supportdesk.desk import bulk

    return bulk


def _query(optional: bool = False, help: str = QUERY_HELP) -> Param:
    return Param("query", help, default="" if optional else ...)


def _assign(agent: str) -> Prepared:
    return Prepared(
        _("assign to {agent}").format(agent=agent),
        lambda s, ids, c: _bulk().assign(s, ids, agent, c),
    )


def _unassign() -> Prepared:
    return Prepared(_("unassign"), _bulk().unassign)


def _reassign(from_agent: str, to_agent: str) -> Prepared:
    def theirs(session: Session) -> ColumnElement[bool]:
        from sqlmodel import col

        from supportdesk.desk import directory
        from supportdesk.store.models import Ticket

        return col(Ticket.assignee_id) == directory.get_agent(session, from_agent).id

    return Prepared(
        _("reassign {from_agent} → {to_agent}").format(from_agent=from_agent, to_agent=to_agent),
        lambda s, ids, c: _bulk().assign(s, ids, to_agent, c),
        narrow=theirs,
    )


def _status(status: str) -> Prepared:
    return Prepared(
        _("status {status}").format(status=status),
        lambda s, ids, c: _bulk().set_status(s, ids, status, c),
    )


def _priority(priority: str) -> Prepared:
    return Prepared(
        _("priority {priority}").format(priority=priority),
        lambda s, ids, c: _bulk().set_priority(s, ids, priority, c),
    )


def _move(queue: str) -> Prepared:
    return Prepared(
        _("move to {queue}").format(queue=queue), lambda s, ids, c: _bulk().move(s, ids, queue, c)
    )


def tag_input(text: str) -> tuple[tuple[str, ...], str | None]:
    """The good tags of TAGS and a line naming the bad ones; none good at all is an error."""
    from supportdesk.desk.tags import parse_tags

    parsed = parse_tags(text, signs=False)
    if not parsed.add:
        raise ValidationError(
            _("{problem}; nothing changed").format(
                problem=parsed.problem() or _("name at least one tag")
            )
        )
    return parsed.add, parsed.problem()


def _tag(tags: str | Sequence[str]) -> Prepared:
    names, refused = tag_input(tags) if isinstance(tags, str) else (tuple(tags), None)
    return Prepared(
        _("tag {tags}").format(tags=",".join(names)),
        lambda s, ids, c: _bulk().add_tags(s, ids, names, c),
        refused=refused,
    )


def _untag(tags: str | Sequence[str]) -> Prepared:
    names, refused = tag_input(tags) if isinstance(tags, str) else (tuple(tags), None)
    return Prepared(
        _("untag {tags}").format(tags=",".join(names)),
        lambda s, ids, c: _bulk().remove_tags(s, ids, names, c),
        refused=refused,
    )


def _merge(into: int) -> Prepared:
    return Prepared(
        _("merge into #{into}").format(into=into), lambda s, ids, c: _bulk().merge(s, ids, into, c)
    )


_TAGS_HELP = N_("One tag, or several separated by commas or spaces (any script).")

COMMANDS: tuple[BulkCommand, ...] = (
    BulkCommand(
        "assign",
        "assignee",
        N_("Assign every ticket matching QUERY to AGENT."),
        (Param("agent", N_("The agent's handle.")), _query()),
        _assign,
    ),
    BulkCommand(
        "unassign", "assignee", N_("Unassign every ticket matching QUERY."), (_query(),), _unassign
    ),
    BulkCommand(
        "reassign",
        "assignee",
        N_("Move the tickets assigned to one agent (and matching QUERY) to another."),
        (
            Param("from_agent", N_("Whose tickets."), ("--from",)),
            Param("to_agent", N_("Who gets them."), ("--to",)),
            _query(True, N_("Narrow further with a query, or - for numbers on stdin.")),
        ),
        _reassign,
    ),
    BulkCommand(
        "status",
        "status",
        N_(
            "Set the status of every ticket matching QUERY; those that cannot go there are skipped."
        ),
        (Param("status", N_("new, open, pending, on-hold, solved or closed.")), _query()),
        _status,
    ),
    BulkCommand(
        "priority",
        "priority",
        N_("Set the priority of every ticket matching QUERY."),
        (Param("priority", N_("low, normal, high or urgent.")), _query()),
        _priority,
    ),
    BulkCommand(
        "move",
        "queue",
        N_("Move every ticket matching QUERY to QUEUE."),
        (Param("queue", N_("The queue to move them to.")), _query()),
        _move,
    ),
    BulkCommand(
        "tag",
        "tags",
        N_(
            "Add TAGS to every ticket matching QUERY; a bad tag is refused by name, the rest apply."
        ),
        (Param("tags", _TAGS_HELP), _query()),
        _tag,
    ),
    BulkCommand(
        "untag",
        "tags",
        N_("Remove TAGS from every ticket matching QUERY; a bad tag is refused by name."),
        (Param("tags", _TAGS_HELP), _query()),
        _untag,
    ),
    BulkCommand(
        "merge",
        "merged_into",
        N_("Merge every ticket matching QUERY into ticket --into. Merges cannot be undone."),
        (_query(), Param("into", N_("The ticket number to merge them into."), ("--into",), int)),
        _merge,
    ),
)

BY_NAME: Mapping[str, BulkCommand] = {c.name: c for c in COMMANDS}


def prepare(name: str, **inputs: Any) -> Prepared:
    """The bulk command `name` with its inputs read (see `COMMANDS`)."""
    return BY_NAME[name].prepare(**inputs)


@dataclass(frozen=True)
class Selection:
    """Which tickets a change applies to: a query (read as agent `me`), or listed numbers.

    Listed numbers come from a pipe or from tickets marked on screen: one that does not
    exist is an error, never silently dropped.
    """

    query: str = ""
    numbers: tuple[int, ...] | None = None
    me: str | None = None

    def ids(self, session: Session, narrow: Narrow | None = None) -> list[int]:
        from supportdesk.desk.query import Matching

        extra = narrow(session) if narrow is not None else None
        if self.numbers is not None:
            return _bulk().ids_for_numbers(session, self.numbers, extra)
        return Matching.selection(session, self.query, me=self.me, narrow=extra).ids()


@dataclass(frozen=True)
class Preview:
    """What a person is asked to confirm: the change and exactly how many tickets it meets."""

    what: str
    matched: int
    confirm_above: int

    @property
    def needs_confirmation(self) -> bool:
        return self.matched > self.confirm_above


def preview(
    store: Store, prepared: Prepared, selection: Selection, *, confirm_above: int
) -> Preview:
    """Find the tickets in a read transaction and count them, changing nothing."""
    with store.session() as session:
        matched = len(selection.ids(session, prepared.narrow))
    return Preview(prepared.what, matched, confirm_above)


@dataclass(frozen=True)
class Outcome:
    """What a bulk change did, or with `dry_run`, would do: `changes` lists a dry run's events."""

    what: str
    result: BulkResult
    dry_run: bool = False
    changes: list[dict[str, object]] = field(default_factory=list)
    refused: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = self.result.as_dict()
        if self.dry_run:
            data = {"dry_run": True, **data, "batch_id": None, "changes": self.changes}
        if self.refused:
            data["refused"] = self.refused
        return data

    def summary(self) -> str:
        """The one line a face prints: matched, changed, skipped and how to undo."""
        r = self.result
        skipped = "".join(
            _(", {count} skipped ({why})").format(count=n, why=_(why))
            for why, n in r.skipped.items()
        )
        if self.dry_run:
            line = _("{what}: {matched} matched, would change {changed}{skipped}")
        else:
            line = _("{what}: {matched} matched, changed {changed}{skipped}")
        line = line.format(what=self.what, matched=r.matched, changed=r.changed, skipped=skipped)
        if self.dry_run:
            line += _("; dry run: nothing was changed")
        elif r.changed:
            line += _("; batch {batch} (supportdesk undo {batch})").format(batch=r.batch_id)
        return line


class _DryRun(Exception):
    """Rolls a dry run's transaction back once its events have been read."""


def run(
    store: Store,
    prepared: Prepared,
    selection: Selection,
    *,
    actor: str,
    dry_run: bool = False,
    then: Sequence[Prepared] = (),
) -> Outcome:
    """Find the tickets again in a write transaction and change them as one batch.

    `then` are further changes to the same tickets in the same batch (the console's tag box
    removes some tags and adds others as one change); the outcome counts the first one.
    """
    from supportdesk.desk.events import Change

    change = Change.by(actor)
    changes: list[dict[str, object]] = []
    try:
        with store.session(write=True) as session:
            ids = selection.ids(session, prepared.narrow)
            result = prepared.apply(session, ids, change)
            for more in then:
                more.apply(session, ids, change)
            if dry_run:
                changes = _batch_changes(session, change.batch_id)
                raise _DryRun
    except _DryRun:
        pass
    return Outcome(prepared.what, result, dry_run, changes, prepared.refused)


def _batch_changes(session: Session, batch: str) -> list[dict[str, object]]:
    from supportdesk.desk import history

    return [
        {"ticket": e.ticket, "action": e.action, "old": e.old_value, "new": e.new_value}
        for e in history.events(session, batch=batch, limit=None)
    ]
