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
    _team_actor: str | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from supportdesk.config import load_settings
            from supportdesk.dates import set_timezone

            self._settings = load_settings(self.config_path)
            set_timezone(self._settings.timezone)  # validated: a known zone or None
        return self._settings

    def store(self, *, create: bool = False) -> Desk:
        if self._store is None:
            from supportdesk.desk.handle import open_desk
            from supportdesk.secrets import database_command_password

            command = self.settings.database_password_command
            self._store = open_desk(
                self.store_url(),
                create=create,
                password=(lambda: database_command_password(command)) if command else None,
                password_when_asked=self.keyring_password,
            )
            self._store.info["mail_setup"] = self.mail_setup()
            from supportdesk.desk.csat.setup import CSAT_SETUP, CsatSetup

            self._store.info[CSAT_SETUP] = CsatSetup.from_settings(self.settings)
        return self._store

    def store_url(self) -> str:
        """The store this command works on: --store if given, else the config's."""
        if self.store_option is not None:
            from supportdesk.config import store_url_for

            return store_url_for(self.store_option)
        return self.settings.store_url()

    def keyring_password(self) -> str | None:
        """The team store's password kept by `supportdesk team login`, if any."""
        from supportdesk.config import database_account
        from supportdesk.secrets import database_keyring_password

        account = database_account(self.store_url())
        return None if account is None else database_keyring_password(account)

    def mail_setup(self) -> MailSetup:
        """How replies are written and who they come from, for the domain (and rules)."""
        from supportdesk.desk.mailsetup import MailSetup

        return MailSetup.from_settings(self.settings)

    @property
    def me(self) -> str | None:
        """The acting agent's handle: on a team store the one the server maps this login
        role to (what it records anyway), else the configured agent."""
        if self._team_actor is None:
            self._team_actor = ""
            if self.store_url().startswith("postgresql"):
                from supportdesk.desk import team

                self._team_actor = team.session_actor(self.store()) or ""
        if self._team_actor.startswith("agent:"):
            return self._team_actor.removeprefix("agent:")
        return self.settings.agent

    @property
    def actor(self) -> str:
        """Who the events of this command name: the agent, else the login role's own actor
        (a service), else the OS user."""
        me = self.me
        if me:
            return f"agent:{me}"
        return self._team_actor or f"cli:{getpass.getuser()}"

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()
            self._store = None
