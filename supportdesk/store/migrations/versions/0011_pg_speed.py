"""pg_speed: tickets take heap-only updates on PostgreSQL (no index holds the assignee)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 01:40:00

PostgreSQL writes a new entry in every index of a table for each updated row, unless no
indexed column changed and the new row version fits on the old one's page (a heap-only
tuple, HOT). Reassigning 100,000 tickets wrote ~1,100,000 index entries, most of the time
of the change. So on PostgreSQL:

- `ix_tickets_assignee_updated` and `ix_tickets_queue_status_assignee` go, and
  `ix_tickets_queue_status` (queue, status) takes the second one's place for the counts;
  lists of one agent's tickets walk the status or update-time index and test the assignee
  (an agent holds one in twenty tickets: a page is ~1,000 rows read);
- the tickets table's fillfactor is 50, so a page has room for a new version of each of
  its rows, and the table is rewritten once (CLUSTER) so the pages already there get it.

And the search index's statistics keep 10,000 lexemes instead of 1,000 (statistics target
1000 on message_search.doc). PostgreSQL estimates a word outside that list from the rarest
one in it: at 1,000,000 messages a word in five messages was taken for 3,580, which made
the plan collecting a rare word's tickets start two parallel workers (60 ms on a busy
machine for 0.1 ms of work). With the longer list the estimates were within 5% for words
in 2,700, 27,000 and 570,000 messages, and 173 for the rare one. ANALYZE of
message_search then samples 300,000 rows: 4.3 s at 1,000,000 messages (load 5).

The tickets part waits at most LOCK_TIMEOUT_MS for its lock: a transaction left open somewhere
makes the upgrade fail (run it again when it is closed) rather than stop every console. A
downgrade puts the indexes back but leaves the table as large as fillfactor 50 made it.

SQLite updates only the indexes holding a changed column: it keeps both indexes and this
revision does nothing there.
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

FILLFACTOR = 50
DOC_STATISTICS = 1000
LOCK_TIMEOUT_MS = 10_000


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # The analysis first, before the tickets are locked: it takes seconds at 1M messages and
    # blocks nobody, while every console waits for the tickets' exclusive lock until commit.
    op.execute(f"ALTER TABLE message_search ALTER COLUMN doc SET STATISTICS {DOC_STATISTICS}")
    op.execute("ANALYZE message_search")
    # An agent's transaction left open would otherwise keep DROP INDEX waiting, and every
    # console queued behind it, for as long as it stays open: fail instead.
    op.execute(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")
    op.drop_index("ix_tickets_assignee_updated", table_name="tickets")
    op.drop_index("ix_tickets_queue_status_assignee", table_name="tickets")
    op.create_index("ix_tickets_queue_status", "tickets", ["queue_id", "status"], unique=False)
    op.execute(f"ALTER TABLE tickets SET (fillfactor = {FILLFACTOR})")
    # Rewrites the table at the new fillfactor (and its indexes); VACUUM FULL would do the
    # same but cannot run inside the migration's transaction. Not left marked as clustered.
    op.execute("CLUSTER tickets USING tickets_pkey")
    op.execute("ALTER TABLE tickets SET WITHOUT CLUSTER")
    op.execute("ANALYZE tickets")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE message_search ALTER COLUMN doc SET STATISTICS -1")
    op.execute("ALTER TABLE tickets RESET (fillfactor)")
    op.drop_index("ix_tickets_queue_status", table_name="tickets")
    op.create_index(
        "ix_tickets_queue_status_assignee",
        "tickets",
        ["queue_id", "status", "assignee_id"],
        unique=False,
    )
    op.create_index(
        "ix_tickets_assignee_updated", "tickets", ["assignee_id", "updated_at", "id"], unique=False
    )
