"""How a face reaches the store without importing it: open one, and the names it passes around.

The faces (cli/, tui/) hold the open store as a `Desk` and ask it for sessions; what they do
in a session they ask of the domain. They import neither `supportdesk.store` nor SQLAlchemy
(an import-linter contract in pyproject.toml holds that; `cli/db.py`, schema administration,
is the one exception), so the schema and the engine stay the domain's business and can
change without touching a screen or a command.

Nothing heavy loads on import: the CLI reads this module on every start, and a sync that
finds nothing new must never load SQLAlchemy (see `quick_positions`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supportdesk.i18n import _

if TYPE_CHECKING:
    from sqlalchemy.exc import SQLAlchemyError as StoreError
    from sqlmodel import Session as Session

    from supportdesk.store.engine import Store as Desk
    from supportdesk.store.models import Rule as Rule
    from supportdesk.store.quick import Position

__all__ = ["Desk", "Rule", "Session", "StoreError", "error_text", "open_desk", "quick_positions"]


def open_desk(
    url: str,
    *,
    create: bool = False,
    password: Callable[[], str | None] | None = None,
    password_when_asked: Callable[[], str | None] | None = None,
) -> Desk:
    """Open the store at `url` (upgrading its schema, or with `create` making it). For a
    PostgreSQL URL without a password: `password` is asked at the first connection,
    `password_when_asked` only if the server wants one (see store.engine.make_engine)."""
    from supportdesk.store import open_store

    return open_store(
        url, create=create, password=password, password_when_asked=password_when_asked
    )


def sqlite_url(path: Path) -> str:
    """The URL of an SQLite store file at `path`."""
    from supportdesk.store.engine import sqlite_url as url

    return url(path)


def quick_positions(url: str, mailbox: str) -> dict[str, Position] | None:
    """`mailbox`'s stored folder positions read without SQLAlchemy, or None if they cannot be.

    A sync run from cron mostly finds nothing new; reading its positions this way keeps that
    run from loading the store's machinery at all (see store.quick).
    """
    from supportdesk.store.quick import sync_positions

    return sync_positions(url, mailbox)


def error_text(exc: BaseException) -> str:
    """What the database itself said about `exc`, without the driver's wrapping."""
    from sqlalchemy.exc import DBAPIError

    return str(exc.orig) if isinstance(exc, DBAPIError) else str(exc)


def __getattr__(name: str) -> Any:
    # Classes a face names at run time (an `except` clause, an isinstance), loaded when asked.
    if name == "StoreError":
        from sqlalchemy.exc import SQLAlchemyError

        return SQLAlchemyError
    if name == "Desk":
        from supportdesk.store.engine import Store

        return Store
    if name == "Session":
        from sqlmodel import Session

        return Session
    if name == "Rule":
        from supportdesk.store.models import Rule

        return Rule
    raise AttributeError(
        _("module {name!r} has no attribute {name2!r}").format(name=__name__, name2=name)
    )
