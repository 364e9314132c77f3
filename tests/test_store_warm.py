"""`Store.warm`: a PostgreSQL store opens the console's first connections ahead, on threads
of their own, and a failure there is left to the read that needs the connection."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from supportdesk.store import Store, make_engine
from tests.conftest import PgSchemas, pg_url

JOIN_SECONDS = 30.0
"""A safety net for a hung thread, not a timing: the threads end in milliseconds."""


@pytest.mark.postgres
def test_warm_leaves_that_many_ready_connections_in_the_pool(pg_schemas: PgSchemas) -> None:
    engine = make_engine(pg_url(pg_schemas.new()))
    store = Store(engine, str(engine.url))
    try:
        threads = store.warm(3)
        for thread in threads:
            thread.join(JOIN_SECONDS)
        assert len(threads) == 3
        assert not any(thread.is_alive() for thread in threads)
        assert engine.pool.checkedin() == 3  # type: ignore[attr-defined]
        with store.session() as session:  # one of them, set up like any other
            setting = session.execute(text("SHOW max_parallel_workers_per_gather")).scalar_one()
            assert setting == "0"
        assert engine.pool.checkedin() == 3  # type: ignore[attr-defined]
    finally:
        engine.dispose()


def test_warm_does_nothing_on_sqlite(sqlite_store: Store) -> None:
    before = sqlite_store.engine.pool.checkedin()  # type: ignore[attr-defined]
    assert sqlite_store.warm(3) == []
    assert sqlite_store.engine.pool.checkedin() == before  # type: ignore[attr-defined]


@pytest.mark.postgres
def test_a_connection_that_fails_while_warming_raises_nothing(pg_schemas: PgSchemas) -> None:
    """No server database of that name: every thread ends, none waits for the others."""
    given = make_url(pg_url(pg_schemas.new()))
    url = given.set(database="supportdesk_no_such_database").render_as_string(False)
    engine = make_engine(url)
    store = Store(engine, url)
    try:
        threads = store.warm(3)
        for thread in threads:
            thread.join(JOIN_SECONDS)
        assert not any(thread.is_alive() for thread in threads)
        assert engine.pool.checkedin() == 0  # type: ignore[attr-defined]
    finally:
        engine.dispose()
