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
    from supportdesk.desk.handle import Desk
    from supportdesk.desk.mailsetup import MailSetup


@dataclass
class CliContext:
    config_path: Path | None = None
    store_option: str | None = None
    """--store: a path, URL or `demo`, which wins over the config's database_url."""
    _settings: Settings | None = field(default=None, repr=False)
    _store: Desk | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from supportdesk.config import load_settings

            self._settings = load_settings(self.config_path)
        return self._settings

    def store(self, *, create: bool = False) -> Desk:
        if self._store is None:
            from supportdesk.desk.handle import open_desk

            self._store = open_desk(self.store_url(), create=create)
            self._store.info["mail_setup"] = self.mail_setup()
        return self._store

    def store_url(self) -> str:
        """The store this command works on: --store if given, else the config's."""
        if self.store_option is not None:
            from supportdesk.config import store_url_for

            return store_url_for(self.store_option)
        return self.settings.store_url()

    def mail_setup(self) -> MailSetup:
        """How replies are written and who they come from, for the domain (and rules)."""
        from supportdesk.desk.mailsetup import MailSetup

        return MailSetup.from_settings(self.settings)

    @property
    def actor(self) -> str:
        """Who the events of this command name: the configured agent, else the OS user."""
        me = self.settings.agent
        return f"agent:{me}" if me else f"cli:{getpass.getuser()}"

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()
            self._store = None
