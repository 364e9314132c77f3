"""The store: tables, engine, migrations and the full-text index. Knows nothing of UIs.

`Store`, `make_engine` and `open_store` load SQLAlchemy on first use, not on import, so a
module of this package that needs none of it (`store.quick`) costs its importer nothing more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from supportdesk.i18n import _

if TYPE_CHECKING:
    from supportdesk.store.engine import Store, make_engine
    from supportdesk.store.open import open_store

__all__ = ["Store", "make_engine", "open_store"]


def __getattr__(name: str) -> Any:
    if name in ("Store", "make_engine"):
        from supportdesk.store import engine

        return getattr(engine, name)
    if name == "open_store":
        from supportdesk.store.open import open_store

        return open_store
    raise AttributeError(
        _("module {name!r} has no attribute {name2!r}").format(name=__name__, name2=name)
    )
