"""Who replies are sent as: the part of config the domain needs to write mail.

Its own small module because every CLI command that opens the store hands one over (see
`Store.info`), and `tickets list` should not load the reply machinery to do so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from supportdesk.config import Settings

MAIL_SETUP = "mail_setup"
"""The key of the store's `info` (and so each session's) that holds the MailSetup."""


@dataclass(frozen=True)
class Identity:
    """One mailbox that can send: the From of replies to the tickets it received."""

    mailbox: str
    address: str
    name: str = ""
    charset: str = "utf-8"
    bcc_self: bool = False
    aliases: frozenset[str] = frozenset()
    """Every address of this mailbox (support address, login, From), never replied to."""


@dataclass(frozen=True)
class MailSetup:
    """What the domain needs from config to write replies; built once per process."""

    identities: tuple[Identity, ...] = ()
    signature: str | None = None
    quote_original: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> MailSetup:
        identities = tuple(
            Identity(
                mailbox=m.name,
                address=m.from_address,
                name=m.from_name,
                charset=m.charset,
                bcc_self=m.bcc_self,
                aliases=frozenset(
                    a.lower() for a in (m.address, m.from_address, m.username) if "@" in a
                ),
            )
            for m in settings.mailboxes
            if m.sends
        )
        return cls(
            identities=identities,
            signature=settings.compose.signature,
            quote_original=settings.compose.quote_original,
        )

    @property
    def own_addresses(self) -> frozenset[str]:
        return frozenset().union(*(i.aliases | {i.address.lower()} for i in self.identities))

    def identity(self, mailbox: str | None) -> Identity | None:
        return next((i for i in self.identities if i.mailbox == mailbox), None)
