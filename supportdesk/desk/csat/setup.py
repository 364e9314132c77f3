"""What the domain needs from config for ratings, and the key, fetched only when needed.

Kept in the store's `info` under CSAT_SETUP (as desk.mailsetup is), so ingest deep inside a
sync and the sender both find it. The key is read at most once per process, and only when a
request is written or a rating mail arrives: a console that solves tickets never runs the
key command.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlmodel import Session

from supportdesk.desk.csat.token import MIN_KEY_BYTES
from supportdesk.errors import SecretError
from supportdesk.i18n import _

if TYPE_CHECKING:
    from supportdesk.config import Settings

CSAT_SETUP = "csat_setup"
DEFAULT_CANNED = "csat-request"


class KeySource:
    """The rating key from a fetch function (keyring, a command, a test's constant), cached.

    A failure is remembered for RETRY_AFTER too: a key command that hangs must not cost its
    whole time limit once per rating mail of a sync.
    """

    RETRY_AFTER = 300.0

    def __init__(self, fetch: Callable[[], str | bytes]) -> None:
        self._fetch = fetch
        self._key: bytes | None = None
        self._failed: tuple[float, SecretError] | None = None
        self._lock = threading.Lock()

    def key(self) -> bytes:
        """The key; raises SecretError when it cannot be read or is too short."""
        with self._lock:
            if self._key is not None:
                return self._key
            if self._failed is not None and time.monotonic() - self._failed[0] < self.RETRY_AFTER:
                raise self._failed[1]
            try:
                value = self._fetch()
                key = value.encode() if isinstance(value, str) else value
                if len(key) < MIN_KEY_BYTES:
                    raise SecretError(
                        _("the rating key is too short: use at least {count} characters").format(
                            count=MIN_KEY_BYTES
                        )
                    )
            except SecretError as exc:
                self._failed = (time.monotonic(), exc)
                raise
            self._key = key
            return key


@dataclass(frozen=True)
class CsatSetup:
    """The [csat] settings the domain uses, and where the key comes from."""

    enabled: bool = False
    canned: str = DEFAULT_CANNED
    canned_by_language: Mapping[str, str] = field(default_factory=dict)
    delay_minutes: int = 0
    valid_days: int = 30
    repeat_days: int = 14
    keys: KeySource | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> CsatSetup:
        from supportdesk.secrets import csat_key

        c = settings.csat
        command = c.key_command
        return cls(
            enabled=c.enabled,
            canned=c.canned,
            canned_by_language=dict(c.canned_by_language),
            delay_minutes=c.delay_minutes,
            valid_days=c.valid_days,
            repeat_days=c.repeat_days,
            keys=KeySource(lambda: csat_key(command)),
        )

    def key(self) -> bytes:
        if self.keys is None:
            raise SecretError(_("no rating key is set up (see [csat] in config.toml)"))
        return self.keys.key()

    def canned_for(self, language: str | None) -> str:
        return self.canned_by_language.get(language or "", self.canned)


def setup_of(session: Session) -> CsatSetup:
    """The CsatSetup the store was opened with, or one that is off and has no key."""
    found = session.info.get(CSAT_SETUP)
    return found if isinstance(found, CsatSetup) else CsatSetup()
