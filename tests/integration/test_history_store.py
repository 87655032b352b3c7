"""The history store's contract, on SQLite and on the PostgreSQL server of this machine.

Same pattern as test_store_contract.py: a fresh database per backend, migrated by Alembic, used
through the public store methods; old rows are inserted through the store with old times, so
retention and roll-up are driven without waiting for a clock.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from sessionplane.db import Database
from sessionplane.history.maintenance import maintain, roll_up
from sessionplane.history.records import ROLLUP_SECONDS, NodeSample
from sessionplane.history.store import HistoryStore
from sessionplane.history.summary import NodeCounts
from sessionplane.schema import Base
from sessionplane.settings import Settings

NOW = datetime(2026, 11, 25, 12, 2, 30, tzinfo=UTC)
BUCKET = datetime(2026, 11, 25, 11, 50, tzinfo=UTC)  # two complete 5-minute buckets before NOW


def counts(total: int, names: dict[str, int]) -> NodeCounts:
    return NodeCounts(total=total, active=1, idle_over=total - 1, groups={"name": names, "ip": {"10.0.0.1": total}})


def reading(node: str, at: datetime, total: int | None, names: dict[str, int] | None = None) -> NodeSample:
    return NodeSample("inst", node, at, None if total is None else counts(total, names or {}))


async def _with(url: str, work) -> None:
    db = Database(url)
    try:
        await db.migrate()
        await work(HistoryStore(db), db)
    finally:
        await db.dispose()


def run(url: str, work) -> None:
    asyncio.run(_with(url, work))


def test_the_history_tables_migrate_and_match_the_models(database_url):  # noqa: F811
    async def work(_store: HistoryStore, db: Database) -> None:
        await db.migrate()  # idempotent

        def differences(connection):
            return compare_metadata(MigrationContext.configure(connection), Base.metadata)

        async with db.engine.connect() as connection:
            diff = await connection.run_sync(differences)
        history = [d for d in diff if "session_" in repr(d)]
        assert history == []

    run(database_url, work)


def test_samples_come_back_as_cells_and_unreachable_is_not_zero(database_url):  # noqa: F811
    async def work(store: HistoryStore, _db: Database) -> None:
        at = NOW - timedelta(seconds=30)
        await store.add_samples(
            [
                reading("n1", at, 3, {"a": 2, "": 1}),
                reading("n2", at, None),
                NodeSample("other", "n9", at, counts(9, {})),
            ]
        )
        cells = await store.raw_cells(instance_id="inst", start=NOW - timedelta(hours=1), end=NOW, with_groups=True)
        by_node = {c.node_id: c for c in cells}
        assert set(by_node) == {"n1", "n2"}  # another instance's samples are not read
        assert (by_node["n1"].samples, by_node["n1"].total, by_node["n1"].groups["name"]) == (1, 3.0, {"a": 2, "": 1})
        assert (by_node["n2"].samples, by_node["n2"].unreachable, by_node["n2"].total) == (0, 1, 0.0)
        assert by_node["n1"].at == at.timestamp()
        plain = await store.raw_cells(instance_id="inst", start=at, end=at + timedelta(seconds=1), with_groups=False)
        assert len(plain) == 2 and all(not c.groups for c in plain)
        assert (
            await store.raw_cells(instance_id="inst", start=NOW, end=NOW + timedelta(hours=1), with_groups=False) == []
        )

    run(database_url, work)


def test_rollups_sum_a_bucket_per_node_and_are_idempotent(database_url):  # noqa: F811
    async def work(store: HistoryStore, _db: Database) -> None:
        await store.add_samples([reading("n1", BUCKET + timedelta(seconds=s), 4, {"a": 4}) for s in (0, 15, 30)])
        await store.add_samples([reading("n1", BUCKET + timedelta(seconds=45), None)])
        await store.add_samples([reading("n1", BUCKET + timedelta(seconds=ROLLUP_SECONDS + 1), 50, {"b": 50})])
        await store.add_samples([reading("n1", NOW, 99)])  # in the current, incomplete bucket: not rolled up yet

        assert await roll_up(store, now=NOW, top_k=20) == datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
        assert await roll_up(store, now=NOW, top_k=20) == datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

        rolled = await store.rollup_cells(
            instance_id="inst", start=BUCKET, end=NOW + timedelta(hours=1), with_groups=True
        )
        first, second = sorted(rolled, key=lambda c: c.at)
        assert (first.at, first.samples, first.unreachable, first.total) == (BUCKET.timestamp(), 3, 1, 12.0)
        assert first.groups["name"] == {"a": 12}
        assert (second.samples, second.total, second.groups["name"]) == (1, 50.0, {"b": 50})
        assert await store.rolled_until() == BUCKET + timedelta(seconds=2 * ROLLUP_SECONDS)

    run(database_url, work)


def test_retention_removes_old_raw_samples_and_old_rollups_only(database_url):  # noqa: F811
    settings = Settings(history_raw_retention_seconds=3600, history_rollup_retention_seconds=2 * 86400)

    async def work(store: HistoryStore, db: Database) -> None:
        old = NOW - timedelta(days=3)
        await store.add_samples([reading("n1", old, 1), reading("n1", NOW - timedelta(hours=2), 2)])
        await store.add_samples([reading("n1", NOW - timedelta(minutes=10), 3)])

        result = await maintain(store, settings=settings, now=NOW)

        assert (result.raw_removed, result.rollups_removed) == (2, 1)  # the rolled-up 3-day-old bucket is gone too
        remaining = await store.raw_cells(instance_id="inst", start=old, end=NOW, with_groups=False)
        assert [c.total for c in remaining] == [3.0]
        rolled = await store.rollup_cells(instance_id="inst", start=old, end=NOW, with_groups=False)
        assert sorted(c.total for c in rolled) == [2.0, 3.0]  # 2 h and 10 min old: rolled up, kept 2 days
        async with db.sessions() as session:
            assert (await session.execute(text("SELECT count(*) FROM session_samples"))).scalar() == 1

    run(database_url, work)
