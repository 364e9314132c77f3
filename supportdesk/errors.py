"""One exception family for mistakes a person can fix.

The CLI prints these as a single line and exits non-zero; the console shows them in a modal.
Anything that is not a SupportdeskError is a bug and keeps its traceback.
"""

from __future__ import annotations

from supportdesk.i18n import _


class SupportdeskError(Exception):
    """A problem worth one clear line to the person who caused or can fix it."""

    exit_code = 1


class ConfigError(SupportdeskError):
    """The config file is missing, unreadable or invalid; the message names file and key."""


class StoreError(SupportdeskError):
    """The store cannot be opened or is at the wrong schema revision."""


class ReadCancelled(StoreError):
    """A background read stopped part-way because the work that asked for it was cancelled
    (a newer read replaced it, the console is closing). Nobody waits for its result: callers
    drop it without a word, never show it."""


class NotFoundError(SupportdeskError):
    """A ticket, agent, queue or other named thing does not exist."""


class ValidationError(SupportdeskError):
    """A value given to the domain layer is not allowed (bad status, bad transition...)."""


class ConflictError(SupportdeskError):
    """Someone else changed the ticket first; nothing was overwritten."""


class QueryError(SupportdeskError):
    """A query in the supportdesk query language could not be understood.

    Carries the position so a UI can point at the bad token.
    """

    exit_code = 2

    def __init__(self, message: str, *, position: int, token: str) -> None:
        super().__init__(
            _("{message} at position {position}: {token!r}").format(
                message=message, position=position + 1, token=token
            )
            if token
            else message
        )
        self.position = position
        self.token = token


class SecretError(SupportdeskError):
    """A mailbox secret could not be read from the keyring or its password command."""
