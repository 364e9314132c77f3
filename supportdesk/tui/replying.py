"""The composer's calls into desk.replies, each in one short session, from worker threads.

Every call that follows typing first writes the fields changed since the last save
(`changes`) in the same transaction, so a preview or a send always works on what is on
screen, and a send that is refused (a collision, a bad address) rolls the save back with it:
the composer still holds those changes as unsaved and the next save writes them.
Nothing here touches a widget; what comes back are the domain's frozen values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supportdesk.desk import replies, tickets
from supportdesk.desk.canned import RenderedCanned
from supportdesk.desk.replies import Arrived, DraftView, Preview, Queued
from supportdesk.desk.statuses import STATUSES, TRANSITIONS
from supportdesk.errors import ValidationError
from supportdesk.i18n import _
from supportdesk.mail import compose

if TYPE_CHECKING:
    from supportdesk.desk.handle import Desk, Session


@dataclass(frozen=True)
class Context:
    """What the composer shows around a draft: who it is from, the ticket, the original."""

    draft: DraftView
    ticket_subject: str
    status: str
    next_statuses: tuple[str, ...]
    sender: str
    """The From of the reply, or why no mailbox can send (shown, not raised: a note needs none)."""
    signature: str
    original: str
    """The original as the draft would include it (see replies.original_of)."""


class Replying:
    """The console agent's drafts on one store."""

    def __init__(self, store: Desk, actor: str) -> None:
        self.store = store
        self.actor = actor

    def _save(self, session: Session, draft_id: int, changes: Mapping[str, Any]) -> None:
        if changes:
            replies.save_draft(session, draft_id, self.actor, **changes)

    def open(self, number: int, kind: str | None) -> Context:
        """Resume the agent's draft on `number` (switched to `kind` if given) or start one."""
        with self.store.session(write=True) as session:
            setup = replies.setup_of(session)
            draft = replies.open_draft(session, number, self.actor, setup, kind=kind)
            return self._context(session, draft)

    def reload(self, draft_id: int, changes: Mapping[str, Any]) -> Context:
        with self.store.session(write=True) as session:
            self._save(session, draft_id, changes)
            return self._context(session, replies.get_draft(session, draft_id, self.actor))

    def _context(self, session: Session, draft: DraftView) -> Context:
        setup = replies.setup_of(session)
        ticket = tickets.get_ticket(session, draft.ticket_number)
        try:
            identity = replies.identity_for(session, ticket, setup)
            sender = str(compose.address(identity.name, identity.address))
        except (ValidationError, compose.ComposeError) as exc:
            sender = _("(nobody: {error})").format(error=exc)
        return Context(
            draft=draft,
            ticket_subject=ticket.subject,
            status=ticket.status,
            next_statuses=tuple(s for s in STATUSES if s in TRANSITIONS[ticket.status]),
            sender=sender,
            signature=replies.signature_for(session, setup, self.actor) or "",
            original=replies.original_of(session, draft.id, self.actor),
        )

    def save(self, draft_id: int, changes: Mapping[str, Any]) -> None:
        with self.store.session(write=True) as session:
            self._save(session, draft_id, changes)

    def switch(self, draft_id: int, kind: str, changes: Mapping[str, Any]) -> Context:
        with self.store.session(write=True) as session:
            self._save(session, draft_id, changes)
            setup = replies.setup_of(session)
            draft = replies.switch_kind(session, draft_id, self.actor, kind, setup)
            return self._context(session, draft)

    def attach(self, draft_id: int, path: Path, changes: Mapping[str, Any]) -> DraftView:
        with self.store.session(write=True) as session:
            self._save(session, draft_id, changes)
            replies.add_attachment_file(session, draft_id, self.actor, path)
            return replies.get_draft(session, draft_id, self.actor)

    def detach(self, draft_id: int, attachment_id: int, changes: Mapping[str, Any]) -> DraftView:
        with self.store.session(write=True) as session:
            self._save(session, draft_id, changes)
            replies.remove_attachment(session, draft_id, self.actor, attachment_id)
            return replies.get_draft(session, draft_id, self.actor)

    def preview(self, draft_id: int, changes: Mapping[str, Any]) -> Preview:
        with self.store.session(write=True) as session:
            self._save(session, draft_id, changes)
            return replies.preview(session, draft_id, self.actor, replies.setup_of(session))

    def send(self, draft_id: int, changes: Mapping[str, Any], *, force: bool = False) -> Queued:
        """Queue the draft with its status; CollisionError (nothing written) says what came."""
        with self.store.session(write=True) as session:
            self._save(session, draft_id, changes)
            setup = replies.setup_of(session)
            return replies.send_draft(session, draft_id, self.actor, setup, force=force)

    def rebase(self, draft_id: int, changes: Mapping[str, Any]) -> DraftView:
        with self.store.session(write=True) as session:
            self._save(session, draft_id, changes)
            return replies.rebase_draft(session, draft_id, self.actor)

    def arrived(self, draft_id: int) -> list[Arrived]:
        """What reached the ticket since the draft's base version (shown before a send)."""
        with self.store.session() as session:
            draft = replies.get_draft(session, draft_id, self.actor)
            ticket = tickets.get_ticket(session, draft.ticket_number)
            return replies.arrived_since(session, ticket, draft.base_version)

    def use_canned(
        self, draft_id: int, name: str, language: str | None, changes: Mapping[str, Any]
    ) -> RenderedCanned:
        with self.store.session(write=True) as session:
            self._save(session, draft_id, changes)
            return replies.use_canned(session, draft_id, self.actor, name, language=language)

    def discard(self, draft_id: int) -> None:
        with self.store.session(write=True) as session:
            replies.discard_draft(session, draft_id, self.actor)
