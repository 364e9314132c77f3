"""What every CLI command needs: the loaded config, the open store and who is acting.

Both are loaded on first use, so `supportdesk --help` pays for neither.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from supportdesk.config import Settings
    from supportdesk.store import Store


@dataclass
class CliContext:
    config_path: Path | None = None
    _settings: Settings | None = field(default=None, repr=False)
    _store: Store | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from supportdesk.config import load_settings

            self._settings = load_settings(self.config_path)
        return self._settings

    def store(self, *, create: bool = False) -> Store:
        if self._store is None:
            from supportdesk.store import open_store

            self._store = open_store(self.store_url(), create=create)
        return self._store

    def store_url(self) -> str:
        """The store this command works on."""
        return self.settings.store_url()

    @property
    def actor(self) -> str:
        """Who the events of this command name: the configured agent, else the OS user."""
        me = self.settings.agent
        return f"agent:{me}" if me else f"cli:{getpass.getuser()}"

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()
            self._store = None
