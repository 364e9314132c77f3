"""The store: tables, engine, migrations and the full-text index. Knows nothing of UIs."""

from supportdesk.store.engine import Store, make_engine
from supportdesk.store.open import open_store

__all__ = ["Store", "make_engine", "open_store"]
