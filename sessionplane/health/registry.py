"""The probe's memory: consecutive failures per node, and the verdict they give.

One success makes a node ``normal``; ``failures_before_abnormal`` failures in a row make it
``abnormal``; in between it keeps the verdict it had (so one lost PING does not flap it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sessionplane.health.status import ABNORMAL, NORMAL


@dataclass(frozen=True)
class NodeHealth:
    instance_id: str
    status: str
    consecutive_failures: int


class HealthRegistry:
    def __init__(self, *, failures_before_abnormal: int) -> None:
        self._threshold = failures_before_abnormal
        self._nodes: dict[str, NodeHealth] = {}

    def record(self, *, instance_id: str, node_id: str, known_status: str, answered: bool) -> str:
        """Fold one probe result in; ``known_status`` is the verdict on record. Returns the new verdict."""
        previous = self._nodes.get(node_id)
        failures = 0 if answered else (previous.consecutive_failures if previous else 0) + 1
        if answered:
            status = NORMAL
        elif failures >= self._threshold:
            status = ABNORMAL
        else:
            status = known_status if known_status in (NORMAL, ABNORMAL) else NORMAL
        self._nodes[node_id] = NodeHealth(instance_id, status, failures)
        return status

    def keep_only(self, node_ids: Iterable[str]) -> None:
        """Forget nodes that are no longer in the inventory."""
        wanted = set(node_ids)
        self._nodes = {k: v for k, v in self._nodes.items() if k in wanted}

    def snapshot(self) -> dict[str, NodeHealth]:
        return dict(self._nodes)
