"""Alembic environment: always run in-process by ``Database.migrate`` on a live connection."""

from alembic import context

from sessionplane.inventory.tables import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
