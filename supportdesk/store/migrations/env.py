"""Alembic environment: always run from supportdesk.store.migrate with a live connection."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from supportdesk.store import models  # noqa: F401  (registers every table on the metadata)

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `supportdesk db upgrade`, not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
