"""Closes cut short by a crash: their records stay ``pending``; once no close can still be running, mark them.

A close writes its record (``pending``) before touching a node and completes it afterwards; a crash in
between may have closed some of the sessions (a kill batch is not undone). Such a record is marked
``interrupted``: it keeps what was known when the close began (who, where, which parameters) and says
that the per-node outcome is unknown.

Which records: only those pending for longer than any close can take. Another process (the CLI,
another replica on the same PostgreSQL store) may be closing right now, and its record is pending
too; it cannot be told apart from a dead one except by age. The limit is derived from the node
timeouts (``close_time_limit``) unless ``audit_pending_grace_seconds`` sets it. Should a close
outlive it anyway, its completion overwrites the mark with the real outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from sessionplane.audit.store import AuditStore
from sessionplane.schema import utcnow
from sessionplane.settings import Settings

log = logging.getLogger(__name__)
_NODE_ATTEMPTS = 2  # the node adapter retries a failed connection or command once
_STORE_AND_SCHEDULING_SECONDS = 60.0  # two audit writes (SQLite waits up to 5 s for a lock) and the event loop


def close_time_limit(settings: Settings) -> timedelta:
    """The longest a close can stay pending while its process is alive, with a margin of two.

    Per node, at worst: the pool is opened (``node_pool_size`` connections), then CLIENT LIST, then the
    kills; each step may wait for a connection (command timeout), connect (connect timeout) and run
    (command timeout), twice. Nodes are closed concurrently, so one node's worst case bounds a close.
    """
    if settings.audit_pending_grace_seconds is not None:
        return timedelta(seconds=settings.audit_pending_grace_seconds)
    step = settings.node_connect_timeout_seconds + settings.node_command_timeout_seconds
    one_node = (settings.node_pool_size + 2) * _NODE_ATTEMPTS * step + 2 * settings.node_command_timeout_seconds
    return timedelta(seconds=2 * (one_node + _STORE_AND_SCHEDULING_SECONDS))


async def mark_interrupted(store: AuditStore, *, limit: timedelta) -> list[str]:
    marked = await store.mark_interrupted(begun_before=utcnow() - limit)
    if marked:
        log.warning("marked %d close(s) interrupted (pending for over %s): %s", len(marked), limit, ", ".join(marked))
    return marked


@contextlib.asynccontextmanager
async def marking_while_serving(store: AuditStore, settings: Settings) -> AsyncIterator[None]:
    """While serving, a close left by a crashed CLI or replica is marked as soon as it is old enough."""
    task = asyncio.create_task(_keep_marking(store, limit=close_time_limit(settings)))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _keep_marking(store: AuditStore, *, limit: timedelta) -> None:
    every = min(limit.total_seconds(), 60.0)
    while True:
        await asyncio.sleep(every)
        try:
            await mark_interrupted(store, limit=limit)
        except Exception:  # the store may be briefly unavailable; the next round tries again
            log.exception("could not mark interrupted closes")
