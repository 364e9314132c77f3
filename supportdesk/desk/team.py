"""Team mode: one PostgreSQL store, each agent and service logging in as their own role.

The faces call these; the SQL for roles and privileges lives in `store/team.py`, the
triggers in migration 0006. A console or command on a team store acts as the actor the
server maps its login role to (`session_actor`), so what it shows as "me" and what the
server records always agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from supportdesk.desk import directory, message_ids
from supportdesk.errors import ValidationError
from supportdesk.i18n import _
from supportdesk.store import team as store_team
from supportdesk.store.engine import Store
from supportdesk.store.team import TeamRole

__all__ = ["DEFAULT_GROUP", "TeamRole", "add_agent", "add_service", "init", "members"]

DEFAULT_GROUP = "supportdesk_team"
SERVICE_PREFIX = "system:"


@dataclass(frozen=True)
class Added:
    role: str
    actor: str
    created_role: bool
    """False when the login role existed already (peer or certificate authentication)."""


def init(store: Store, group: str = DEFAULT_GROUP) -> str:
    """Prepare `store` (already at the schema head) for a team whose agents are in `group`."""
    group = _role_name(group)
    with store.session(write=True) as session:
        store_team.prepare(session.connection(), group)
        # Made here by the owner, so no agent's first reply races another's to create it.
        message_ids.threading_key(session)
    return group


def add_agent(
    store: Store,
    handle: str,
    *,
    email: str,
    name: str = "",
    role: str | None = None,
    password: str | None = None,
) -> Added:
    """The agent `handle` and their login role (named `role`, else the handle), together.

    One transaction: PostgreSQL's CREATE ROLE is transactional, so a clash on the agent's
    email leaves no role behind.
    """
    with store.session(write=True) as session:
        agent = directory.add_agent(session, handle, email=email, name=name)
        # The directory's spelling of the handle (lower case): what the agent logs in as.
        role = _role_name(role or agent.handle)
        actor = f"agent:{agent.handle}"
        created = store_team.add_login(
            session.connection(), role, actor=actor, kind="agent", password=password
        )
    return Added(role=role, actor=actor, created_role=created)


def add_service(
    store: Store, name: str, *, role: str | None = None, password: str | None = None
) -> Added:
    """A login role for a program (sync, the sender, time rules): it records as `system:name`
    and its rules as `rule:<rule>`, never as a person."""
    role = _role_name(role or f"supportdesk_{name}")
    actor = SERVICE_PREFIX + _role_name(name)
    with store.session(write=True) as session:
        created = store_team.add_login(
            session.connection(), role, actor=actor, kind="service", password=password
        )
    return Added(role=role, actor=actor, created_role=created)


def members(store: Store) -> list[TeamRole]:
    with store.session() as session:
        return store_team.roles(session.connection())


def session_actor(store: Store) -> str | None:
    """Who the server records this store's sessions as, or None (SQLite, or not a team role)."""
    if store.dialect != "postgresql":
        return None
    with store.session() as session:
        return store_team.session_actor(session.connection())


def _role_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 63 or any(c in name for c in "\"'\\%\0") or name.isspace():
        raise ValidationError(
            _("database role {name!r}: use 1 to 63 characters without quotes, '%' or '\\'").format(
                name=name
            )
        )
    if name.lower().startswith("pg_"):
        raise ValidationError(
            _("database role {name!r}: names starting pg_ are PostgreSQL's own").format(name=name)
        )
    return name
