"""Which nodes this replica samples: the seam where replicas divide the fleet.

On SQLite one process serves, so it samples every node (``EveryNode``). On PostgreSQL replicas
claim nodes through leases in the store (``history.leases.LeasedNodes``, extensions section 6:
each node sampled by exactly one live replica, taken over within two intervals when one dies).
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
