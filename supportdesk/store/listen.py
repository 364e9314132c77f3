"""LISTEN for a PostgreSQL store's change notices (sent by the triggers of migration 0006).

One connection of its own (`own_connection`), so a LISTEN is never undone by a pooled
connection's reset. The channel is `supportdesk.<schema>`: stores in different
schemas of one database do not hear each other.
"""

from __future__ import annotations

import contextlib

from sqlalchemy import Connection, Engine, text

from supportdesk.store.engine import own_connection

CHANNEL_PREFIX = "supportdesk."
ALL = "*"
PRESENCE = "p"
"""Leads the payload of a notice that only presence changed: no ticket data to read again."""


class ListenLost(Exception):
    """The listening connection broke (server restart, network): the caller falls back."""


class Listener:
    def __init__(self, engine: Engine) -> None:
        from psycopg import sql

        self._conn = own_connection(engine)
        try:
            row = self._conn.execute("SELECT current_schema()").fetchone()
            self.channel = f"{CHANNEL_PREFIX}{row[0] if row else 'public'}"
            self._conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
        except Exception:
            self.close()
            raise

    @property
    def backend_pid(self) -> int:
        """The server process of this connection (what an admin would terminate)."""
        return int(self._conn.info.backend_pid)

    def wait(self, timeout: float) -> list[str] | None:
        """The payloads that arrived within `timeout` seconds (all that are waiting once the
        first comes), or None if none did. Raises ListenLost when the connection is gone."""
        import psycopg

        try:
            first = [n.payload for n in self._conn.notifies(timeout=timeout, stop_after=1)]
            if not first:
                return None
            # A sync's batch sends one notice per statement: take the rest in one go.
            return first + [n.payload for n in self._conn.notifies(timeout=0.0)]
        except psycopg.Error as exc:
            raise ListenLost(str(exc)) from exc

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a broken connection: nothing left to close
            self._conn.close()


def announce(conn: Connection, ticket_ids: list[int]) -> None:
    """Tell listeners who is on these tickets changed (desk.presence): delivered at commit
    like the triggers' notices, marked PRESENCE. Nothing on SQLite, which has no listeners."""
    if conn.dialect.name != "postgresql" or not ticket_ids:
        return
    conn.execute(
        text("SELECT pg_notify(:channel || current_schema(), :payload)"),
        {
            "channel": CHANNEL_PREFIX,
            "payload": PRESENCE + ",".join(str(i) for i in sorted(set(ticket_ids))),
        },
    )
