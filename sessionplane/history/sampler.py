"""The sampler: each round, one CLIENT LIST per node (bounded concurrency), summarised, stored in one write.

A node that cannot be read (unreachable, refused, too slow, or marked abnormal by the health
probe) is recorded as unreachable: a gap in its history, never zero sessions. The latest round is
kept in memory for ``/metrics``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime

from sessionplane.errors import SessionplaneError
from sessionplane.health.status import is_abnormal
from sessionplane.history.assignment import EveryNode, NodeAssignment
from sessionplane.history.records import NodeSample
from sessionplane.history.store import HistoryStore
from sessionplane.history.summary import NodeCounts, summarize
from sessionplane.inventory.store import InventoryStore
from sessionplane.ops.fleet import Target, every_node
from sessionplane.schema import utcnow
from sessionplane.sessions.service import SessionService
from sessionplane.settings import Settings

log = logging.getLogger(__name__)


class Sampler:
    def __init__(
        self,
        *,
        inventory: InventoryStore,
        sessions: SessionService,
        store: HistoryStore,
        settings: Settings,
        assignment: NodeAssignment | None = None,
        observe_round: Callable[[float], None] = lambda _seconds: None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._inventory = inventory
        self._sessions = sessions
        self._store = store
        self._settings = settings
        self._assignment = assignment or EveryNode()
        self._observe_round = observe_round
        self._clock = clock
        self._latest: dict[str, tuple[Target, NodeSample]] = {}

    def latest(self) -> dict[str, tuple[Target, NodeSample]]:
        """node id -> (where, what) of the last round: only the nodes sampled then."""
        return self._latest

    async def sample_round(self) -> list[NodeSample]:
        started = time.perf_counter()
        targets = await self._assignment.claim(await every_node(self._inventory))
        at = self._clock()
        limit = asyncio.Semaphore(self._settings.background_concurrency)
        samples = await asyncio.gather(*(self._sample(limit, target, at) for target in targets))
        await self._store.add_samples(samples)
        self._latest = {s.node_id: (t, s) for t, s in zip(targets, samples, strict=True)}
        self._observe_round(time.perf_counter() - started)
        return samples

    async def _sample(self, limit: asyncio.Semaphore, target: Target, at: datetime) -> NodeSample:
        instance, node = target.instance, target.node
        counts = None
        if not is_abnormal(node):  # the probe found it down: do not wait on it, it is a gap
            async with limit:
                counts = await self._read(target)
        return NodeSample(instance_id=instance.id, node_id=node.id, at=at, counts=counts)

    async def _read(self, target: Target) -> NodeCounts | None:
        s = self._settings
        try:
            # The node deadline bounds the read; a slow node is a gap, not a late sample.
            read = await self._sessions.read(target.instance, target.node)
        except SessionplaneError as exc:
            log.debug("sampler: node %s not read: %s", target.node.id, type(exc).__name__)
            return None
        return summarize(
            read.listing,
            read.sessions,
            idle_threshold=s.active_idle_threshold_seconds,
            idle_over_seconds=s.idle_over_seconds,
            top_k=s.history_top_k,
        )
