"""Pure: raw cells -> 5-minute roll-up cells, one per node and bucket, groups re-folded to the top k."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sessionplane.history.records import ROLLUP_SECONDS, Cell, merge
from sessionplane.history.summary import fold


def bucket_of(at: float, step: int) -> int:
    return int(at // step) * step


def rollup(cells: Iterable[tuple[str, Cell]], *, top_k: int) -> list[tuple[str, Cell]]:
    """(instance_id, cell) pairs merged per node and 5-minute bucket."""
    buckets: dict[tuple[str, str, int], list[Cell]] = defaultdict(list)
    for instance_id, cell in cells:
        buckets[(instance_id, cell.node_id, bucket_of(cell.at, ROLLUP_SECONDS))].append(cell)
    rolled = []
    for (instance_id, node_id, start), members in sorted(buckets.items()):
        merged = merge(node_id, float(start), members)
        groups = {dimension: fold(counts, top_k) for dimension, counts in merged.groups.items()}
        rolled.append((instance_id, _with_groups(merged, groups)))
    return rolled


def _with_groups(cell: Cell, groups: dict[str, dict[str, float]]) -> Cell:
    return Cell(cell.node_id, cell.at, cell.samples, cell.unreachable, cell.total, cell.active, cell.idle_over, groups)
