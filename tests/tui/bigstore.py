"""A 100,000-ticket store built in seconds, for the console's scale test.

The domain layer writes one ticket at a time with its events, which is right for real work
and far too slow for a fixture. This fills only what the ticket list reads (queues, agents,
customers, tickets) with SQLAlchemy core executemany inserts into a store created through
the migrations, so the schema and indexes are the real ones. No messages: the list and the
counts never read them, and opening a ticket with none is still a valid thread.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, update

from supportdesk.store import open_store
from supportdesk.store.engine import sqlite_url
from supportdesk.store.models import Agent, Counter, Customer, Queue, Ticket

STATUSES = ("new", "open", "pending", "on-hold", "solved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
CHUNK = 20_000


def build_big_store(path: Path, tickets: int = 100_000) -> None:
    store = open_store(sqlite_url(path), create=True)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    try:
        with store.engine.begin() as conn:
            conn.execute(
                insert(Queue.__table__),  # type: ignore[attr-defined]
                [
                    {
                        "id": i + 1,
                        "name": n,
                        "description": "",
                        "is_quarantine": False,
                        "created_at": start,
                    }
                    for i, n in enumerate(("billing", "support", "sales"))
                ],
            )
            conn.execute(
                insert(Agent.__table__),  # type: ignore[attr-defined]
                [
                    {
                        "id": i + 1,
                        "handle": h,
                        "name": h.title(),
                        "email": f"{h}@desk.example",
                        "signature": "",
                        "active": True,
                        "created_at": start,
                    }
                    for i, h in enumerate(("alice", "bob", "carol"))
                ],
            )
            conn.execute(
                insert(Customer.__table__),  # type: ignore[attr-defined]
                [
                    {
                        "id": i + 1,
                        "email": f"customer{i}@example.com",
                        "name": f"Customer {i}",
                        "organisation_id": None,
                        "created_at": start,
                        "updated_at": start,
                    }
                    for i in range(1000)
                ],
            )
            for first in range(0, tickets, CHUNK):
                rows = []
                for n in range(first + 1, min(tickets, first + CHUNK) + 1):
                    when = start + timedelta(minutes=n)
                    rows.append(
                        {
                            "id": n,
                            "number": n,
                            "subject": f"Ticket number {n}",
                            "status": STATUSES[n % len(STATUSES)],
                            "priority": PRIORITIES[n % len(PRIORITIES)],
                            "queue_id": n % 3 + 1,
                            "assignee_id": (n % 4 + 1) if n % 4 < 3 else None,
                            "requester_id": n % 1000 + 1,
                            "created_at": when,
                            "updated_at": when,
                            "message_count": 0,
                            "version": 1,
                        }
                    )
                conn.execute(insert(Ticket.__table__), rows)  # type: ignore[attr-defined]
            conn.execute(
                update(Counter.__table__)  # type: ignore[attr-defined]
                .where(Counter.__table__.c.name == "ticket_number")  # type: ignore[attr-defined]
                .values(value=tickets)
            )
            conn.exec_driver_sql("ANALYZE")
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        store.dispose()
