"""Every node of every instance, for the background loops (sampler, health probe)."""

from __future__ import annotations

from dataclasses import dataclass

from sessionplane.inventory.records import Instance, Node
from sessionplane.inventory.store import InventoryStore


@dataclass(frozen=True)
class Target:
    instance: Instance
    node: Node


async def every_node(inventory: InventoryStore) -> list[Target]:
    """From the inventory's cached view: one revision read per round while the fleet does not change."""
    return [Target(instance, node) for instance in await inventory.every_instance() for node in instance.nodes]
