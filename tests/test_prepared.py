"""store.prepared writes exactly what SQLAlchemy's own execution writes, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import Connection, text

from supportdesk.desk import directory
from supportdesk.store import Store
from supportdesk.store.models import Customer, Ticket
from supportdesk.store.prepared import Prepared

CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]
TICKETS = Ticket.__table__  # type: ignore[attr-defined]
# An aware time in another zone: both paths must store it as the same UTC instant.
WHEN = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=timezone(timedelta(hours=9)))


def _customer(email: str) -> dict[str, object]:
    return {
        "email": email,
        "name": "Ünïcode Näme",
        "organisation_id": None,
        "created_at": WHEN,
        "updated_at": WHEN.astimezone(UTC),
        "bounced_at": None,
        "bounce_reason": "",
    }


def _stored(conn: Connection, table: str, id_: int) -> dict[str, object]:
    """A row exactly as the database holds it (no SQLAlchemy type processing)."""
    row = conn.exec_driver_sql(f"SELECT * FROM {table} WHERE id = {int(id_)}").mappings().one()
    return {k: v for k, v in row.items() if k not in ("id", "email", "number")}


def test_prepared_inserts_store_what_connection_execute_stores(store: Store) -> None:
    insert_customer = CUSTOMERS.insert().returning(CUSTOMERS.c.id)
    insert_ticket = TICKETS.insert().returning(TICKETS.c.id)
    fast_customer, fast_ticket = Prepared(insert_customer), Prepared(insert_ticket)
    with store.session(write=True) as session:
        queue = directory.ensure_queue(session, "general")
        conn = session.connection()
        slow = conn.execute(insert_customer, _customer("slow@example.org")).scalar_one()
        fast = fast_customer.scalar(conn, _customer("fast@example.org"))
        assert fast_customer.direct(conn, _customer("fast@example.org"))
        assert fast != slow
        assert _stored(conn, "customers", fast) == _stored(conn, "customers", slow)
        ticket: dict[str, object] = {
            "subject": "Rëfund",
            "status": "new",
            "priority": "normal",
            "queue_id": queue.id,
            "assignee_id": None,
            "requester_id": fast,
            "created_at": WHEN,
            "updated_at": WHEN,
            "first_response_at": None,
            "solved_at": None,
            "closed_at": None,
            "merged_into_id": None,
            "related_ticket_id": None,
            "message_count": 0,
            "version": 1,
        }
        slow_ticket = conn.execute(insert_ticket, {**ticket, "number": 1}).scalar_one()
        fast_ticket_id = fast_ticket.scalar(conn, {**ticket, "number": 2})
        assert _stored(conn, "tickets", fast_ticket_id) == _stored(conn, "tickets", slow_ticket)
    with store.session() as session:
        read = session.get(Customer, fast)
        assert read is not None and read.created_at == WHEN


def test_columns_left_to_their_defaults_go_through_sqlalchemy(store: Store) -> None:
    """Python-side column defaults need SQLAlchemy's execution, so it is used for them."""
    prepared = Prepared(CUSTOMERS.insert().returning(CUSTOMERS.c.id))
    with store.session(write=True) as session:
        conn = session.connection()
        params = {"email": "defaults@example.org", "organisation_id": None}
        assert not prepared.direct(conn, params)
        id_ = prepared.scalar(conn, params)
        name, created = conn.execute(
            text("SELECT name, created_at FROM customers WHERE id = :id"), {"id": id_}
        ).one()
    assert name == "" and created is not None
