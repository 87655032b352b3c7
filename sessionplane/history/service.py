"""The queries behind GET .../session-history and .../session-growth.

Callers (the HTTP handlers) have found the instance in the caller's project and authorised
``listSession`` on it; this module decides where the figures come from (raw samples for fine
steps within raw retention, 5-minute roll-ups otherwise) and hands them to ``series``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sessionplane.errors import InvalidParameter
from sessionplane.history import series as pure
from sessionplane.history.records import ROLLUP_SECONDS, Cell
from sessionplane.history.rollup import bucket_of
from sessionplane.history.store import HistoryStore
from sessionplane.schema import utcnow
from sessionplane.settings import Settings

GroupBy = Literal["total", "name", "user", "lib_name", "ip", "node"]
DEFAULT_POINTS = 240  # a default step puts about this many points in the range
GROWTH_POINTS = 60
MAX_POINTS = 10_000


@dataclass(frozen=True)
class History:
    since: datetime
    until: datetime
    step: int
    series: list[pure.Series]


@dataclass(frozen=True)
class GrowthReport:
    since: datetime
    until: datetime
    step: int
    groups: list[pure.Growth]
    gap_buckets: int


@dataclass(frozen=True)
class Plan:
    step: int
    from_rollups: bool


def plan(*, requested_step: int | None, since: datetime, until: datetime, settings: Settings) -> Plan:
    """The step to answer with, and whether roll-ups are needed (steps of 5 minutes or more, or older data)."""
    span = round((until - since).total_seconds())  # "-1h" parsed a moment before ``until``: still one hour
    step = requested_step or max(math.ceil(settings.sample_interval_seconds) or 1, math.ceil(span / DEFAULT_POINTS))
    if span / step > MAX_POINTS:
        raise InvalidParameter(
            f"Invalid parameter: step: {step}s gives more than {MAX_POINTS} points over this range; use a larger step."
        )
    raw_horizon = until - timedelta(seconds=settings.history_raw_retention_seconds)
    if step < ROLLUP_SECONDS and since >= raw_horizon:
        return Plan(step, from_rollups=False)
    return Plan(math.ceil(step / ROLLUP_SECONDS) * ROLLUP_SECONDS, from_rollups=True)


class HistoryService:
    def __init__(self, *, store: HistoryStore, settings: Settings, clock: Callable[[], datetime] = utcnow) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    async def history(self, *, instance_id: str, group_by: GroupBy, since: datetime, step: int | None) -> History:
        until = self._clock()
        chosen = plan(requested_step=step, since=since, until=until, settings=self._settings)
        cells = await self._cells(instance_id, since, until, chosen, with_groups=_needs_groups(group_by))
        found = pure.series(cells, group_by=group_by, step=chosen.step, top_k=self._settings.history_top_k)
        return History(since=since, until=until, step=chosen.step, series=found)

    async def growth(self, *, instance_id: str, group_by: GroupBy, window_seconds: int) -> GrowthReport:
        until = self._clock()
        since = until - timedelta(seconds=window_seconds)
        step = max(math.ceil(self._settings.sample_interval_seconds) or 1, math.ceil(window_seconds / GROWTH_POINTS))
        chosen = plan(requested_step=step, since=since, until=until, settings=self._settings)
        cells = await self._cells(instance_id, since, until, chosen, with_groups=_needs_groups(group_by))
        ranked, gaps = pure.growth(cells, group_by=group_by, step=chosen.step, top_k=self._settings.history_top_k)
        return GrowthReport(since=since, until=until, step=chosen.step, groups=ranked, gap_buckets=gaps)

    async def _cells(
        self, instance_id: str, since: datetime, until: datetime, chosen: Plan, *, with_groups: bool
    ) -> list[Cell]:
        start = _at(bucket_of(since.timestamp(), chosen.step))
        end = until + timedelta(microseconds=1)  # "at < end" includes a sample taken at this very moment
        raw_from = start
        cells: list[Cell] = []
        if chosen.from_rollups:
            rolled_until = await self._store.rolled_until()
            if rolled_until is not None and rolled_until > start:
                raw_from = min(rolled_until, end)
                cells += await self._store.rollup_cells(
                    instance_id=instance_id, start=start, end=raw_from, with_groups=with_groups
                )
        cells += await self._store.raw_cells(instance_id=instance_id, start=raw_from, end=end, with_groups=with_groups)
        return cells


def _needs_groups(group_by: GroupBy) -> bool:
    return group_by not in ("total", "node")


def _at(unix_time: float) -> datetime:
    return datetime.fromtimestamp(unix_time, UTC)
