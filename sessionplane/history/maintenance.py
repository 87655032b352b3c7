"""Roll-up and retention, run periodically by the serving process (and directly by tests).

Roll-ups are computed from raw samples for every complete 5-minute bucket not yet rolled up (and
the newest rolled-up one again), an hour at a time, and written bucket range by bucket range
(delete, then insert, in one transaction), so a run that is repeated or interrupted leaves the
same result. Retention runs after the roll-up, so raw samples are never dropped unrolled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sessionplane.history.records import ROLLUP_SECONDS
from sessionplane.history.rollup import bucket_of, rollup
from sessionplane.history.store import HistoryStore
from sessionplane.settings import Settings

_CHUNK = timedelta(hours=1)


@dataclass(frozen=True)
class MaintenanceResult:
    rolled_buckets_until: datetime | None
    raw_removed: int
    rollups_removed: int


async def maintain(store: HistoryStore, *, settings: Settings, now: datetime) -> MaintenanceResult:
    rolled_until = await roll_up(store, now=now, top_k=settings.history_top_k)
    raw_removed, rollups_removed = await store.prune(
        raw_before=now - timedelta(seconds=settings.history_raw_retention_seconds),
        rollups_before=now - timedelta(seconds=settings.history_rollup_retention_seconds),
    )
    return MaintenanceResult(rolled_until, raw_removed, rollups_removed)


async def roll_up(store: HistoryStore, *, now: datetime, top_k: int) -> datetime | None:
    """Roll up every complete bucket before ``now``; returns the end of the rolled-up time."""
    end = _at(bucket_of(now.timestamp(), ROLLUP_SECONDS))
    first = await _first_bucket(store)
    if first is None:
        return await store.rolled_until()
    rolled_until = await store.rolled_until()
    # The newest bucket is rolled up again: a round's samples are written when the round ends, so
    # some may have landed after that bucket was first rolled up.
    start = first if rolled_until is None else max(first, rolled_until - timedelta(seconds=ROLLUP_SECONDS))
    while start < end:
        chunk_end = min(start + _CHUNK, end)
        raw = await store.raw_cells_of_every_instance(start=start, end=chunk_end)
        await store.replace_rollups(start=start, end=chunk_end, rollups=rollup(raw, top_k=top_k))
        start = chunk_end
    return max(start, end)


async def _first_bucket(store: HistoryStore) -> datetime | None:
    oldest = await store.oldest_sample()
    return None if oldest is None else _at(bucket_of(oldest.timestamp(), ROLLUP_SECONDS))


def _at(unix_time: float) -> datetime:
    return datetime.fromtimestamp(unix_time, UTC)
