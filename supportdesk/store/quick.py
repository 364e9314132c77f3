"""Cheap reads for commands that usually find nothing to do, without SQLAlchemy or Alembic.

A sync run from cron every minute mostly learns that no folder changed. Importing SQLModel,
SQLAlchemy and Alembic and checking the migrations costs that process over half a second, and
the answer needs only two rows: the store's schema revision and the folders' sync positions.
So those are read here with the standard library's sqlite3. Anything unexpected (not SQLite,
a revision other than this code's head, a missing file or table) returns None, and the caller
opens the store the normal way, which upgrades or refuses it before any write, as always.

The code's head revision is read from the migration files' `revision` / `down_revision` lines
rather than through Alembic's script loader, which imports every migration module;
tests/test_migrations.py checks that both agree.
"""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import quote

VERSIONS = Path(__file__).parent / "migrations" / "versions"
_SQLITE_PREFIX = "sqlite:///"
_REVISION = re.compile(r"^revision(?:\s*:\s*[\w\[\], |]+)?\s*=\s*['\"]([^'\"]+)['\"]", re.M)
_DOWN = re.compile(r"^down_revision(?:\s*:\s*[\w\[\], |]+)?\s*=\s*(.+)$", re.M)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")
BUSY_TIMEOUT_SECONDS = 10.0


@cache
def code_head() -> str | None:
    """This code's single head revision, or None when the files do not name exactly one."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in VERSIONS.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        found = _REVISION.search(source)
        if found is None:
            return None
        revisions.add(found.group(1))
        down = _DOWN.search(source)
        if down is not None:
            parents.update(_QUOTED.findall(down.group(1)))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


@dataclass(frozen=True)
class Position:
    """Where the last sync of one folder stopped (a row of `sync_state`)."""

    uidvalidity: int
    last_uid: int
    highestmodseq: int | None


def sqlite_path(url: str) -> str | None:
    """The file behind a plain `sqlite:///` URL, as SQLAlchemy would open it; None otherwise."""
    if not url.startswith(_SQLITE_PREFIX):
        return None
    rest = url[len(_SQLITE_PREFIX) :]
    if not rest or rest == ":memory:" or any(c in rest for c in "?%#"):
        return None
    return os.path.abspath(rest)


def sync_positions(url: str, mailbox: str) -> dict[str, Position] | None:
    """The stored positions of `mailbox`'s folders, or None when the quick read cannot vouch
    for them (then open the store normally)."""
    path = sqlite_path(url)
    head = code_head()
    if path is None or head is None or not os.path.isfile(path):
        return None
    try:
        conn = sqlite3.connect(
            f"file:{quote(path)}?mode=rw",
            uri=True,
            timeout=BUSY_TIMEOUT_SECONDS,
            isolation_level=None,
        )
    except sqlite3.Error:
        return None
    try:
        conn.execute("BEGIN")  # both reads from one snapshot
        versions = [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]
        if versions != [head]:
            return None
        rows = conn.execute(
            "SELECT folder, uidvalidity, last_uid, highestmodseq FROM sync_state WHERE mailbox = ?",
            (mailbox,),
        ).fetchall()
        conn.execute("COMMIT")
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return {folder: Position(int(v), int(last), m) for folder, v, last, m in rows}
