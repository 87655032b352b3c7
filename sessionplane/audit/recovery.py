"""Closes cut short by a crash: their records stay ``pending``; once no close can still be running, mark them.

A close writes its record (``pending``) before touching a node and completes it afterwards; a crash in
between may have closed some of the sessions (a kill batch is not undone). Such a record is marked
``interrupted``: it keeps what was known when the close began (who, where, which parameters) and says
that the per-node outcome is unknown.

Which records: only those pending for longer than any close can take. Another process (the CLI,
another replica on the same PostgreSQL store) may be closing right now, and its record is pending
too; it cannot be told apart from a dead one except by age. The limit is derived from the node
deadline (``close_time_limit``) unless ``audit_pending_grace_seconds`` sets it. Should a close
outlive it anyway, its completion overwrites the mark with the real outcome.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sessionplane.audit.store import AuditStore
from sessionplane.schema import utcnow
from sessionplane.settings import Settings

log = logging.getLogger(__name__)
_STORE_AND_SCHEDULING_SECONDS = 60.0  # two audit writes (SQLite waits up to 5 s for a lock) and the event loop


def close_time_limit(settings: Settings) -> timedelta:
    """The longest a close can stay pending while its process is alive, with a margin of two.

    Per node a close is one listing and one kill batch, each bounded by the node deadline (connect,
    handshake, retry and replies included); nodes are closed concurrently.
    """
    if settings.audit_pending_grace_seconds is not None:
        return timedelta(seconds=settings.audit_pending_grace_seconds)
    return timedelta(seconds=2 * (2 * settings.node_deadline_seconds + _STORE_AND_SCHEDULING_SECONDS))


async def mark_interrupted(store: AuditStore, *, limit: timedelta) -> list[str]:
    marked = await store.mark_interrupted(begun_before=utcnow() - limit)
    if marked:
        log.warning("marked %d close(s) interrupted (pending for over %s): %s", len(marked), limit, ", ".join(marked))
    return marked


async def mark_old_enough(store: AuditStore, settings: Settings) -> None:
    """One round of the serving process's sweep: a close left by a crashed CLI or replica, once old enough."""
    await mark_interrupted(store, limit=close_time_limit(settings))
