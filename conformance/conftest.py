"""The conformance check's fixtures: the suite's stores (SQLite and PostgreSQL), and the corpus.

The corpus is real-world mail written by other projects, kept outside the repository
(`../shared/corpus` beside the checkout, or wherever $SUPPORTDESK_CORPUS points). `.ci/run`
runs this directory after the README's test command where the corpus exists. Run by hand:

    SUPPORTDESK_CORPUS=/path/to/corpus python3 scripts/dev.py test conformance

Without a corpus every test here fails: a conformance run that checked nothing must not pass.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from supportdesk.desk import directory
from supportdesk.store import Store
from tests.conftest import (  # noqa: F401  (fixtures, registered by being imported here)
    pg_schemas,
    pg_store,
    pg_template,
    sqlite_store,
    sqlite_template,
    store,
)

ROOT = Path(__file__).resolve().parent.parent
CORPUS = (ROOT / (os.environ.get("SUPPORTDESK_CORPUS") or "../shared/corpus")).resolve()


@pytest.fixture
def queues(store: Store) -> Store:  # noqa: F811  (the fixture, by name)
    with store.session(write=True) as session:
        directory.ensure_queue(session, "general")
    return store
