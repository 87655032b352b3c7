"""Pure: stored cells -> series of points per group, and groups ranked by growth.

Buckets are ``step`` seconds, aligned to the unix epoch so that points are stable between calls.
Within a bucket, a node's figure is the mean of its successful readings there; an instance's
figure is the sum over its nodes. Three cases per bucket:

- no node has any reading in it (the sampler was not running): the bucket has no point;
- some node has readings in it but none succeeded (it could not be read): the point is a gap,
  ``None`` for every group, never a sum that silently leaves that node out;
- otherwise every group has a number (a group a node did not report counts 0 on that node).

Grouped by node, each node's series stands on its own: a gap only where that node failed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sessionplane.history.records import Cell, merge
from sessionplane.history.rollup import bucket_of
from sessionplane.history.summary import OTHER

TOTAL_KEYS = ("total", "active", "idle_over")
Point = tuple[int, float | None]


@dataclass(frozen=True)
class Series:
    key: str
    points: list[Point]


@dataclass(frozen=True)
class Growth:
    key: str
    start: float
    end: float
    growth: float
    peak: float


def buckets(cells: Iterable[Cell], step: int) -> dict[int, dict[str, Cell]]:
    """bucket start -> node -> that node's cells in the bucket, merged."""
    grouped: dict[int, dict[str, list[Cell]]] = defaultdict(lambda: defaultdict(list))
    for cell in cells:
        grouped[bucket_of(cell.at, step)][cell.node_id].append(cell)
    return {
        start: {node: merge(node, float(start), members) for node, members in nodes.items()}
        for start, nodes in sorted(grouped.items())
    }


def series(cells: Iterable[Cell], *, group_by: str, step: int, top_k: int) -> list[Series]:
    """One series per group: the top ``top_k`` by peak, the rest summed as ``(other)``."""
    columns = _columns(buckets(cells, step), group_by)
    if group_by in ("node", "total"):
        return [Series(key, points) for key, points in columns.items()]
    return _folded(columns, top_k)


def growth(cells: Iterable[Cell], *, group_by: str, step: int, top_k: int) -> tuple[list[Growth], int]:
    """Groups ranked by growth (last point minus first, gaps skipped), and how many buckets had a gap."""
    by_bucket = buckets(cells, step)
    ranked = []
    for key, points in _columns(by_bucket, group_by).items():
        values = [value for _start, value in points if value is not None]
        if values:
            ranked.append(Growth(key, values[0], values[-1], values[-1] - values[0], max(values)))
    ranked.sort(key=lambda g: (-g.growth, -g.end, g.key))
    gaps = sum(1 for nodes in by_bucket.values() if any(cell.samples == 0 for cell in nodes.values()))
    return ranked[:top_k], gaps


def number(value: float | None) -> float | int | None:
    """Means can be fractional: two decimals, and whole numbers as integers."""
    if value is None:
        return None
    rounded = round(value, 2)
    return int(rounded) if rounded.is_integer() else rounded


def _columns(by_bucket: Mapping[int, Mapping[str, Cell]], group_by: str) -> dict[str, list[Point]]:
    if group_by == "node":
        return _node_columns(by_bucket)
    rows = [(start, _instance_values(nodes, group_by)) for start, nodes in by_bucket.items()]
    keys: set[str] = set(TOTAL_KEYS) if group_by == "total" else set()
    for _start, values in rows:
        keys.update(values or ())
    ordered = TOTAL_KEYS if group_by == "total" else sorted(keys)
    return {
        key: [(start, None if values is None else values.get(key, 0.0)) for start, values in rows] for key in ordered
    }


def _node_columns(by_bucket: Mapping[int, Mapping[str, Cell]]) -> dict[str, list[Point]]:
    columns: dict[str, list[Point]] = defaultdict(list)
    for start, nodes in by_bucket.items():
        for node, cell in nodes.items():
            columns[node].append((start, cell.total / cell.samples if cell.samples else None))
    return dict(sorted(columns.items()))


def _instance_values(nodes: Mapping[str, Cell], group_by: str) -> dict[str, float] | None:
    if any(cell.samples == 0 for cell in nodes.values()):
        return None  # a node could not be read in this bucket: unknown, not zero
    values: dict[str, float] = defaultdict(float)
    for cell in nodes.values():
        for key, figure in _figures(cell, group_by).items():
            values[key] += figure / cell.samples
    return values


def _figures(cell: Cell, group_by: str) -> Mapping[str, float]:
    if group_by == "total":
        return {"total": cell.total, "active": cell.active, "idle_over": cell.idle_over}
    return cell.groups.get(group_by, {})


def _folded(columns: dict[str, list[Point]], top_k: int) -> list[Series]:
    def peak(key: str) -> float:
        return max((value for _t, value in columns[key] if value is not None), default=0.0)

    ranked = sorted((key for key in columns if key != OTHER), key=lambda key: (-peak(key), key))
    kept, rest = ranked[:top_k], [*ranked[top_k:], *([OTHER] if OTHER in columns else [])]
    result = [Series(key, columns[key]) for key in kept]
    if rest:
        result.append(Series(OTHER, _summed([columns[key] for key in rest])))
    return result


def _summed(columns: list[list[Point]]) -> list[Point]:
    """Point-wise sum of series that share their buckets (a gap is a gap in all of them, and stays one)."""
    summed: list[Point] = []
    for points in zip(*columns, strict=True):
        values = [value for _start, value in points]
        summed.append((points[0][0], None if values[0] is None else sum(v or 0.0 for v in values)))
    return summed
