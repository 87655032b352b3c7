"""Alembic environment: always run in-process by ``Database.migrate`` on a live connection."""

from alembic import context

import sessionplane.audit.tables
import sessionplane.auth.tables
import sessionplane.history.tables
import sessionplane.iam.tables
import sessionplane.inventory.tables
import sessionplane.limits.tables
import sessionplane.revision
import sessionplane.rules.tables  # noqa: F401  (each module registers its tables on Base.metadata)
from sessionplane.schema import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
