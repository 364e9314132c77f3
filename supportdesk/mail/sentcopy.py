"""The mailbox's own record of what was sent: appending to Sent, and finding a Message-ID.

Finding is how an uncertain delivery is settled: when the connection died after the message
was handed over, its Message-ID in Sent (where the provider files what it sent) or in the
inbox (where the mailbox sends itself a copy) proves it went out.
"""

from __future__ import annotations

from datetime import datetime

from imapclient import IMAPClient

from supportdesk.config import Mailbox
from supportdesk.mail import imap


def ensure_folder(client: IMAPClient, folder: str) -> None:
    if not client.folder_exists(folder):
        client.create_folder(folder)


def append(client: IMAPClient, mailbox: Mailbox, raw: bytes, when: datetime) -> None:
    """A copy in the mailbox's sent folder (created when missing), marked as read."""
    with imap.errors_as_imap(mailbox):
        ensure_folder(client, mailbox.sent_folder)
        client.append(mailbox.sent_folder, raw, flags=[b"\\Seen"], msg_time=when)


def contains(client: IMAPClient, mailbox: Mailbox, folder: str, message_id: str) -> bool:
    """Whether `folder` holds a message with this Message-ID (a missing folder holds none)."""
    with imap.errors_as_imap(mailbox):
        if not client.folder_exists(folder):
            return False
        client.select_folder(folder, readonly=True)
        return bool(client.search(["HEADER", "Message-ID", message_id]))


def places_to_look(mailbox: Mailbox) -> list[str]:
    """Where a sent message shows up: Sent always (ours or the provider's copy), and the
    inbox when the mailbox sends itself a copy."""
    places = [mailbox.sent_folder]
    if mailbox.bcc_self:
        places.extend(f for f in mailbox.folders if f not in places)
    return places
