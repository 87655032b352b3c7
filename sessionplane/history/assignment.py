"""Which nodes this replica samples: the seam where replicas will divide the fleet through leases.

Today one process serves (SQLite serves one process), so it samples every node. A later
``LeasedNodes`` will claim nodes through leases in the store (extensions section 6: each node
sampled by exactly one live replica, taken over within two intervals when one dies) and plug in
here without the sampler changing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sessionplane.ops.fleet import Target


class NodeAssignment(Protocol):
    async def claim(self, targets: Sequence[Target]) -> Sequence[Target]:
        """The subset of ``targets`` this replica samples this round."""
        ...


class EveryNode:
    async def claim(self, targets: Sequence[Target]) -> Sequence[Target]:
        return targets
