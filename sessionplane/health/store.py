"""Writes the probe's verdict into the inventory's node rows.

The status is a column of the inventory's ``nodes`` table (the API already shows it and every
node lookup already reads it); the probe is the only writer of its value, so the one statement
that writes it lives here, beside the probe, rather than in the inventory store.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import update

from sessionplane.db import Database
from sessionplane.inventory.tables import NodeRow


class NodeStatusStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def set_statuses(self, statuses: Mapping[str, str]) -> None:
        """node id -> status, in one transaction."""
        if not statuses:
            return
        async with self._db.transaction() as session:
            for node_id, status in statuses.items():
                await session.execute(update(NodeRow).where(NodeRow.id == node_id).values(status=status))
