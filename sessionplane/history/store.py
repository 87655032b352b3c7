"""The history store: raw samples in, cells out; roll-ups replaced bucket range by bucket range; retention.

Reads return ``Cell`` records (raw samples and roll-ups alike), so that the pure aggregation in
``series`` never sees a row. Times are aware UTC datetimes at the edge of this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Row, delete, func, insert, select

from sessionplane.db import Database
from sessionplane.history.records import ROLLUP_SECONDS, Cell, NodeSample
from sessionplane.history.tables import SessionRollupRow, SessionSampleRow

_NO_GROUPS: dict[str, dict[str, float]] = {}
_RAW_COLUMNS = (
    SessionSampleRow.node_id,
    SessionSampleRow.at,
    SessionSampleRow.reachable,
    SessionSampleRow.total,
    SessionSampleRow.active,
    SessionSampleRow.idle_over,
)
_ROLLUP_COLUMNS = (
    SessionRollupRow.node_id,
    SessionRollupRow.bucket_start,
    SessionRollupRow.samples,
    SessionRollupRow.unreachable,
    SessionRollupRow.total_sum,
    SessionRollupRow.active_sum,
    SessionRollupRow.idle_over_sum,
)


class HistoryStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_samples(self, samples: Sequence[NodeSample]) -> None:
        """One sampling round, in one transaction."""
        if not samples:
            return
        rows = [_sample_row(s) for s in samples]
        async with self._db.transaction() as session:
            await session.execute(insert(SessionSampleRow), rows)

    async def raw_cells(self, *, instance_id: str, start: datetime, end: datetime, with_groups: bool) -> list[Cell]:
        """Raw samples of an instance with ``start <= at < end``."""
        s = SessionSampleRow
        query = select(*_RAW_COLUMNS, *([s.groups] if with_groups else [])).where(
            s.instance_id == instance_id, s.at >= start, s.at < end
        )
        async with self._db.sessions() as session:
            return [_raw_cell(row) for row in await session.execute(query)]

    async def raw_cells_of_every_instance(self, *, start: datetime, end: datetime) -> list[tuple[str, Cell]]:
        """(instance_id, cell) for every raw sample with ``start <= at < end``: the input of a roll-up."""
        s = SessionSampleRow
        query = select(*_RAW_COLUMNS, s.groups, s.instance_id).where(s.at >= start, s.at < end)
        async with self._db.sessions() as session:
            return [(row.instance_id, _raw_cell(row)) for row in await session.execute(query)]

    async def rollup_cells(self, *, instance_id: str, start: datetime, end: datetime, with_groups: bool) -> list[Cell]:
        """Roll-ups of an instance whose bucket starts in ``[start, end)``."""
        r = SessionRollupRow
        query = select(*_ROLLUP_COLUMNS, *([r.groups_sum] if with_groups else [])).where(
            r.instance_id == instance_id, r.bucket_start >= start, r.bucket_start < end
        )
        async with self._db.sessions() as session:
            return [_rollup_cell(row) for row in await session.execute(query)]

    async def rolled_until(self) -> datetime | None:
        """The end of the newest roll-up bucket: everything before it has been rolled up."""
        async with self._db.sessions() as session:
            newest = await session.scalar(select(func.max(SessionRollupRow.bucket_start)))
        return None if newest is None else _utc(newest) + timedelta(seconds=ROLLUP_SECONDS)

    async def oldest_sample(self) -> datetime | None:
        async with self._db.sessions() as session:
            oldest = await session.scalar(select(func.min(SessionSampleRow.at)))
        return None if oldest is None else _utc(oldest)

    async def replace_rollups(self, *, start: datetime, end: datetime, rollups: Sequence[tuple[str, Cell]]) -> None:
        """Make the roll-ups with buckets in ``[start, end)`` exactly ``rollups`` (idempotent)."""
        rows = [_rollup_row(instance_id, cell) for instance_id, cell in rollups]
        r = SessionRollupRow
        async with self._db.transaction() as session:
            await session.execute(delete(r).where(r.bucket_start >= start, r.bucket_start < end))
            if rows:
                await session.execute(insert(r), rows)

    async def prune(self, *, raw_before: datetime, rollups_before: datetime) -> tuple[int, int]:
        """Retention: drop raw samples and roll-ups older than the given times; returns how many of each."""
        async with self._db.transaction() as session:
            raw = await session.execute(delete(SessionSampleRow).where(SessionSampleRow.at < raw_before))
            rolled = await session.execute(
                delete(SessionRollupRow).where(SessionRollupRow.bucket_start < rollups_before)
            )
        return raw.rowcount, rolled.rowcount


def _raw_cell(row: Row) -> Cell:
    at = row.at.timestamp()
    if not row.reachable:
        return Cell(row.node_id, at, 0, 1, 0.0, 0.0, 0.0, _NO_GROUPS)
    groups = getattr(row, "groups", None) or _NO_GROUPS
    return Cell(row.node_id, at, 1, 0, float(row.total), float(row.active), float(row.idle_over), groups)


def _rollup_cell(row: Row) -> Cell:
    groups = getattr(row, "groups_sum", None) or _NO_GROUPS
    return Cell(
        row.node_id,
        row.bucket_start.timestamp(),
        row.samples,
        row.unreachable,
        float(row.total_sum),
        float(row.active_sum),
        float(row.idle_over_sum),
        groups,
    )


def _sample_row(sample: NodeSample) -> dict:
    counts = sample.counts
    return {
        "at": sample.at,
        "instance_id": sample.instance_id,
        "node_id": sample.node_id,
        "reachable": counts is not None,
        "total": counts.total if counts else None,
        "active": counts.active if counts else None,
        "idle_over": counts.idle_over if counts else None,
        "groups": counts.groups if counts else None,
    }


def _rollup_row(instance_id: str, cell: Cell) -> dict:
    return {
        "node_id": cell.node_id,
        "bucket_start": datetime.fromtimestamp(cell.at, UTC),
        "instance_id": instance_id,
        "samples": cell.samples,
        "unreachable": cell.unreachable,
        "total_sum": round(cell.total),
        "active_sum": round(cell.active),
        "idle_over_sum": round(cell.idle_over),
        "groups_sum": {
            dimension: {k: round(v) for k, v in counts.items()} for dimension, counts in cell.groups.items()
        },
    }


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
