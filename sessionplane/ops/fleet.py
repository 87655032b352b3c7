"""Every node of every instance, for the background loops (sampler, health probe)."""

from __future__ import annotations

from dataclasses import dataclass

from sessionplane.inventory.records import Instance, Node
from sessionplane.inventory.store import InventoryStore

_PAGE = 500


@dataclass(frozen=True)
class Target:
    instance: Instance
    node: Node


async def every_node(inventory: InventoryStore) -> list[Target]:
    targets: list[Target] = []
    offset = 0
    while True:
        page, total = await inventory.instances(project_id=None, offset=offset, limit=_PAGE)
        targets += [Target(instance, node) for instance in page for node in instance.nodes]
        offset += len(page)
        if not page or offset >= total:
            return targets
