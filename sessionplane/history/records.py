"""What the history domain hands around: one node's sample, and stored cells to aggregate."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sessionplane.history.summary import NodeCounts


@dataclass(frozen=True)
class NodeSample:
    """One node at one sampling round: its counts, or ``counts=None`` when it could not be read."""

    instance_id: str
    node_id: str
    at: datetime
    counts: NodeCounts | None

    @property
    def reachable(self) -> bool:
        return self.counts is not None


@dataclass(frozen=True, slots=True)
class Cell:
    """Stored figures of one node over a stretch of time: a raw sample (one) or a 5-minute roll-up (many).

    ``samples`` counts the readings that succeeded and ``unreachable`` those that did not; the other
    figures are sums over the successful readings, so cells merge by adding and a mean is sum / samples.
    """

    node_id: str
    at: float  # unix time: the sample's time, or the roll-up bucket's start
    samples: int
    unreachable: int
    total: float
    active: float
    idle_over: float
    groups: Mapping[str, Mapping[str, float]]


ROLLUP_SECONDS = 300


def merge(node_id: str, at: float, cells: Iterable[Cell]) -> Cell:
    """Cells of one node added together (counts and sums add; means stay sum / samples)."""
    samples = unreachable = 0
    total = active = idle_over = 0.0
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    for cell in cells:
        samples += cell.samples
        unreachable += cell.unreachable
        total += cell.total
        active += cell.active
        idle_over += cell.idle_over
        for dimension, counts in cell.groups.items():
            groups[dimension].update(counts)
    return Cell(node_id, at, samples, unreachable, total, active, idle_over, dict(groups))
