"""Pure: session history as text, one sparkline row per group, for ``sessionplane sessions history``.

Each column is a stretch of time (one step, or several when the range is wider than the terminal:
then a column shows the highest reading in it, so that a short peak is not averaged away). Every
row shares one scale, so rows compare. Three things must never look alike: no reading at all (the
sampler was not running: blank), a node that could not be read (a gap: ``×``, never drawn as zero),
and zero sessions (``_``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

BARS = "▁▂▃▄▅▆▇█"
NOT_SAMPLED, UNREADABLE, ZERO = " ", "×", "_"
Point = tuple[int, float | None]


@dataclass(frozen=True)
class Row:
    key: str
    line: str
    now: float | None  # the latest reading (None: the latest point is a gap, or there is none)
    peak: float | None


def columns_for(start: int, end: int, step: int, width: int) -> tuple[int, int]:
    """(steps per column, column count) so that [start, end] fits in ``width`` columns."""
    steps = max(1, (end - start) // step + 1)
    per_column = max(1, math.ceil(steps / max(1, width)))
    return per_column, math.ceil(steps / per_column)


def render(
    series: Sequence[tuple[str, Sequence[Point]]], *, start: int, end: int, step: int, width: int
) -> tuple[list[Row], float]:
    """One row per series over the buckets from ``start`` to ``end`` (bucket starts); and the scale's top."""
    per_column, count = columns_for(start, end, step, width)
    span = per_column * step
    cells = [_cells(points, start=start, span=span, count=count) for _key, points in series]
    top = max((v for row in cells for v in row if isinstance(v, float)), default=0.0)
    rows = []
    for (key, points), row in zip(series, cells, strict=True):
        readings = [v for _t, v in points if v is not None]
        now = points[-1][1] if points else None
        rows.append(Row(key, "".join(_glyph(v, top) for v in row), now, max(readings) if readings else None))
    return rows, top


def _cells(points: Sequence[Point], *, start: int, span: int, count: int) -> list[float | str | None]:
    """Per column: the highest reading, UNREADABLE if the column only has gaps, None if it has nothing."""
    cells: list[float | str | None] = [None] * count
    for at, value in points:
        index = (at - start) // span
        if not 0 <= index < count:
            continue
        current = cells[index]
        if value is None:
            cells[index] = UNREADABLE if current is None else current
        else:
            cells[index] = max(float(value), current) if isinstance(current, float) else float(value)
    return cells


def _glyph(value: float | str | None, top: float) -> str:
    if value is None:
        return NOT_SAMPLED
    if isinstance(value, str):
        return value
    if value <= 0 or top <= 0:
        return ZERO
    return BARS[min(len(BARS) - 1, math.ceil(value / top * len(BARS)) - 1)]


def figure(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if value == int(value) else f"{value:.1f}"
