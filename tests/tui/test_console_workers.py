"""The console's thread workers never outnumber the store's connections."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import text

from supportdesk.store import Store
from supportdesk.tui.app import WORKER_THREADS, SupportdeskApp
from tests.tui.conftest import SIZE, ready, wait_until


async def test_workers_holding_connections_never_wait_out_the_pool(
    make_app: Callable[..., SupportdeskApp], demo_store: Store
) -> None:
    """More workers than the pool holds, each keeping its connection (as a replaced exact
    count does): the extra ones wait for a thread, not for a connection, so none meets the
    pool's timeout (shortened here from 30 s) and all finish once the others let go."""
    demo_store.engine.pool._timeout = 0.5  # type: ignore[attr-defined]
    release = threading.Event()
    holding: list[int] = []
    done: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def hold(number: int) -> None:
        try:
            with demo_store.session() as session:
                session.execute(text("SELECT 1")).scalar_one()
                with lock:
                    holding.append(number)
                release.wait(10)
            with lock:
                done.append(number)
        except BaseException as exc:
            with lock:
                errors.append(exc)

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        count = WORKER_THREADS + 4
        for number in range(count):
            app.run_worker(lambda number=number: hold(number), thread=True, group=f"hold-{number}")
        await wait_until(pilot, lambda: len(holding) >= WORKER_THREADS - 2 or bool(errors))
        await pilot.pause(1.0)  # twice the pool's timeout: any worker waiting on it gave up
        assert not errors, errors
        release.set()
        await wait_until(pilot, lambda: len(done) + len(errors) == count, timeout=15)
        assert not errors, errors
        assert sorted(done) == list(range(count))
