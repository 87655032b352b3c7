"""One probe round: PING every node with a timeout, fold the answers into the registry, store new verdicts."""

from __future__ import annotations

import asyncio
import logging

from sessionplane.errors import SessionplaneError
from sessionplane.health.registry import HealthRegistry
from sessionplane.health.store import NodeStatusStore
from sessionplane.inventory.store import InventoryStore
from sessionplane.nodes.adapter import NodeAdapter
from sessionplane.ops.fleet import Target, every_node
from sessionplane.settings import Settings

log = logging.getLogger(__name__)


class HealthProbe:
    def __init__(
        self,
        *,
        inventory: InventoryStore,
        nodes: NodeAdapter,
        statuses: NodeStatusStore,
        registry: HealthRegistry,
        settings: Settings,
    ) -> None:
        self._inventory = inventory
        self._nodes = nodes
        self._statuses = statuses
        self._registry = registry
        self._settings = settings

    async def probe_round(self) -> dict[str, str]:
        """Probe every node; returns the verdicts that changed (node id -> new status)."""
        targets = await every_node(self._inventory)
        limit = asyncio.Semaphore(self._settings.background_concurrency)
        answers = await asyncio.gather(*(self._answers(limit, t) for t in targets))
        changed = {}
        for target, answered in zip(targets, answers, strict=True):
            node = target.node
            status = self._registry.record(
                instance_id=target.instance.id, node_id=node.id, known_status=node.status, answered=answered
            )
            if status != node.status:
                changed[node.id] = status
                log.warning("node %s of instance %s is now %s", node.id, target.instance.id, status)
        self._registry.keep_only(t.node.id for t in targets)
        await self._statuses.set_statuses(changed)
        return changed

    async def _answers(self, limit: asyncio.Semaphore, target: Target) -> bool:
        async with limit:
            try:
                async with asyncio.timeout(self._settings.probe_timeout_seconds):
                    await self._nodes.ping(target.node)
            except (SessionplaneError, TimeoutError):
                return False
        return True
