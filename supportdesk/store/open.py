"""Open a store by URL, at the right schema revision."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.exc import DatabaseError

from supportdesk.errors import StoreError
from supportdesk.i18n import _
from supportdesk.store import migrate
from supportdesk.store.engine import Store, make_engine


def open_store(
    url: str,
    *,
    create: bool = False,
    password: Callable[[], str | None] | None = None,
    password_when_asked: Callable[[], str | None] | None = None,
) -> Store:
    """Open the store at `url`.

    SQLite stores are created (when `create`) or upgraded in place; PostgreSQL stores must
    already be at this version's revision (see `supportdesk.store.migrate`).
    """
    engine = make_engine(url, password=password, password_when_asked=password_when_asked)
    is_sqlite = engine.dialect.name == "sqlite"
    try:
        if is_sqlite and not create and not _sqlite_file_exists(url):
            raise StoreError(
                _(
                    "no store at {database}: run `supportdesk init` (or "
                    "`supportdesk demo` for a demo store)"
                ).format(database=engine.url.database)
            )
        migrate.check(engine, auto_upgrade=is_sqlite or create)
    except DatabaseError as exc:
        engine.dispose()
        raise StoreError(
            _("cannot open the store at {url!r}: {orig}").format(url=engine.url, orig=exc.orig)
        ) from None
    except Exception:
        engine.dispose()
        raise
    return Store(engine=engine, url=url)


def _sqlite_file_exists(url: str) -> bool:
    from pathlib import Path

    from sqlalchemy.engine import make_url

    database = make_url(url).database
    return database in (None, "", ":memory:") or Path(database).expanduser().exists()
