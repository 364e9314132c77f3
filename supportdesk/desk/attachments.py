"""Saving a ticket's attachments to disk, never outside the folder a person chose.

File names come from senders: `../../.bashrc`, `/etc/passwd` or `C:\\x` are all possible, even
in a store written by an older parser, so every name is made safe again here at write time.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session, col

from supportdesk.desk import views
from supportdesk.desk.tickets import get_ticket
from supportdesk.errors import ValidationError
from supportdesk.i18n import _
from supportdesk.mail.filenames import safe_destination
from supportdesk.store.models import Attachment, Message


def save_attachments(
    session: Session, number: int, folder: Path, *, only: Iterable[int] | None = None
) -> list[Path]:
    """Write the ticket's attachments (or the ids in `only`) into `folder`; return the paths.

    Existing files are never overwritten: a taken name gets " (1)", " (2)"...
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ValidationError(_("{folder} is not a folder").format(folder=folder))
    ticket = get_ticket(session, number)
    stmt = (
        select(col(Attachment.id))
        .join(Message, col(Message.id) == Attachment.message_id)
        .where(col(Message.ticket_id) == ticket.id)
        .order_by(col(Attachment.id))
    )
    if only is not None:
        stmt = stmt.where(col(Attachment.id).in_(list(only)))
    saved: list[Path] = []
    for attachment_id in session.execute(stmt).scalars():
        content = views.attachment_content(session, attachment_id)
        path = safe_destination(folder, content.filename)
        with path.open("xb") as handle:
            handle.write(content.content)
        saved.append(path)
    return saved
