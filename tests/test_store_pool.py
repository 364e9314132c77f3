"""A store whose connection pool is used up says so as a StoreError, on both backends."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from sqlalchemy import create_engine, text

from supportdesk.errors import StoreError
from supportdesk.store import Store


def test_a_pool_with_no_free_connection_is_a_store_error(store: Store) -> None:
    """The console's workers catch SupportdeskError; SQLAlchemy's pool TimeoutError would
    end the console instead of showing a message."""
    engine = create_engine(store.url, pool_size=2, max_overflow=0, pool_timeout=0.1)
    small = Store(engine, store.url)
    try:
        with ExitStack() as held:
            for _ in range(2):
                session = held.enter_context(small.session())
                assert session.execute(text("SELECT 1")).scalar_one() == 1
            with (
                pytest.raises(StoreError, match="no free database connection"),
                small.session(),
            ):
                pass
        with small.session() as session:  # given back: the pool serves again
            assert session.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()
