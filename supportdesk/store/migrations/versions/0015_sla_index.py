"""sla_index: the SLA views read their tickets from one index, not from every active ticket

Revision ID: 0015
Revises: 0014

`ix_tickets_status_sla` (status, sla_breached, sla_due) holds everything "Breaching soon"
(`due:<2h breached:no status:active`) and "Breached" (`breached:yes status:active`) test.
Without it SQLite read both through `ix_tickets_status_solved` and looked up the row of
every active ticket for its flag and due time: 12-14 ms a page or count on the bench store
(100,000 tickets, 10,400 active) with both views empty. `ix_tickets_sla_due` did not help:
on a store without statistics (any store `supportdesk db optimize` has not analysed)
SQLite takes an equality on a column to match ten rows and a range between two bounds to
match a sixty-fourth of the table, so the four statuses of `status IN` always won.

With the status first the equality leads to this index. The query compiler writes both SLA
conditions as ranges of it (see `desk.sla.due.breached_condition` and
`on_time_condition`): "Breaching soon" is, within each active status, the unflagged
tickets due between now and two hours on; "Breached" the flagged ones, and the unflagged
ones due before now. Without statistics SQLite seeks the first and reads the second by
testing each active ticket inside the index, never the table. On the bench store, count /
first page: Breaching soon 0.2 / 0.8 ms empty and 0.2 / 1.3 ms holding 56 tickets,
Breached 1.0 / 1.5 ms empty and 0.9 / 2.1 ms holding 2,732. With statistics SQLite reads
"Breached" as an OR of its two ranges (0.7 / 2.2 ms; before, 19 / 22 ms through a scan of
the table). A partial index on the flag, beside `ix_tickets_sla_due`, was never chosen by
SQLite without statistics.

PostgreSQL gets the same index and reads both views from its ranges (a BitmapOr for
"Breached"). Of its columns only the flag was in no index before, and a reassignment does
not change it, so a reassignment stays a heap-only update (migration 0011). The index is
built under the table's SHARE lock, which waits at most LOCK_TIMEOUT_MS for a transaction
left open somewhere rather than queue every writer behind it. Building it took 2.6-5.5 s
on SQLite on the bench store (2.9 GB).
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

LOCK_TIMEOUT_MS = 10_000


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")
    op.create_index(
        "ix_tickets_status_sla",
        "tickets",
        ["status", "sla_breached", "sla_due"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_status_sla", table_name="tickets")
