"""Sampler leases in the store, on SQLite and PostgreSQL: replicas divide the nodes, each node held by one,
a dead replica's nodes taken over within two intervals, a joining replica given its share."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from sessionplane.db import HISTORY_MAINTENANCE_LOCK, Database
from sessionplane.history.leases import LeasedNodes
from sessionplane.ops.fleet import Target

INTERVAL = 15.0


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def targets(count: int) -> list[Target]:
    return [Target(instance=None, node=SimpleNamespace(id=f"node-{n:03}")) for n in range(count)]  # type: ignore[arg-type]


def run_with(url: str, work) -> None:
    async def main() -> None:
        db = Database(url)
        await db.migrate()
        try:
            await work(db)
        finally:
            await db.dispose()

    asyncio.run(main())


def assert_partition(held: dict[str, set[str]], fleet: list[Target]) -> None:
    every = [node for nodes in held.values() for node in nodes]
    assert sorted(every) == sorted(t.node.id for t in fleet)  # every node, each exactly once


def test_one_replica_samples_every_node(database_url):
    async def work(db: Database) -> None:
        clock, fleet = Clock(), targets(7)
        only = LeasedNodes(db, interval_seconds=INTERVAL, owner="a", clock=clock)
        assert len(await only.claim(fleet)) == 7
        clock.advance(INTERVAL)
        assert len(await only.claim(fleet)) == 7  # renewed

    run_with(database_url, work)


async def rounds(
    clock: Clock, fleet: list[Target], phases: dict[LeasedNodes, int], seconds: int, held: dict[str, set[str]]
) -> None:
    """Run ``seconds`` of time, a second at a time: each replica rounds at its own second of the interval."""
    for _ in range(seconds):
        second = int((clock.now - Clock().now).total_seconds())
        for replica, phase in phases.items():
            if second % INTERVAL == phase:
                held[replica.owner] = {t.node.id for t in await replica.claim(fleet)}
        clock.advance(1)


def test_a_joining_replica_gets_its_share_and_no_node_is_held_twice(database_url):
    async def work(db: Database) -> None:
        clock, fleet, held = Clock(), targets(10), {}
        a, b, c = (LeasedNodes(db, interval_seconds=INTERVAL, owner=name, clock=clock) for name in "abc")
        await rounds(clock, fleet, {a: 0}, 15, held)
        assert len(held["a"]) == 10
        await rounds(clock, fleet, {a: 0, b: 5}, 15, held)
        assert held["b"] == set()  # every node was held: b waits for a to hand some over
        await rounds(clock, fleet, {a: 0, b: 5}, 30, held)
        assert_partition(held, fleet)
        assert (len(held["a"]), len(held["b"])) == (5, 5)
        await rounds(clock, fleet, {a: 0, b: 5, c: 10}, 45, held)  # c joins: a and b hand over, c claims
        assert_partition(held, fleet)
        assert sorted(len(nodes) for nodes in held.values()) == [3, 3, 4]
        balanced = dict(held)
        await rounds(clock, fleet, {a: 0, b: 5, c: 10}, 45, held)
        assert held == balanced  # stable: no churn once balanced

    run_with(database_url, work)


def test_a_dead_replicas_nodes_are_sampled_again_within_two_intervals(database_url):
    async def work(db: Database) -> None:
        clock, fleet = Clock(), targets(9)
        a, b, c = (LeasedNodes(db, interval_seconds=INTERVAL, owner=name, clock=clock) for name in "abc")
        phase = {c: 0, a: 4, b: 9}  # each replica's rounds fall at its own second of the interval
        held: dict[str, set[str]] = {}
        sampled: dict[str, list[int]] = {t.node.id: [] for t in fleet}  # second -> nodes, as sampled
        c_died_after = 3 * int(INTERVAL)  # c's last round is at second 30
        for second in range(6 * int(INTERVAL)):
            for replica, at in phase.items():
                if second % INTERVAL != at or (replica is c and second > c_died_after):
                    continue
                held[replica.owner] = {t.node.id for t in await replica.claim(fleet)}
                for node in held[replica.owner]:
                    sampled[node].append(second)
            clock.advance(1)
        orphans = {node for node, seconds in sampled.items() if c_died_after in seconds}
        assert len(orphans) == 3  # c sampled its share until it died
        for node in orphans:
            after = [s for s in sampled[node] if s > c_died_after]
            assert INTERVAL <= after[0] - c_died_after <= 2 * INTERVAL  # not while c's lease ran; then at once
        assert_partition({owner: held[owner] for owner in "ab"}, fleet)
        assert sorted(len(held[owner]) for owner in "ab") == [4, 5]

    run_with(database_url, work)


def test_replicas_claiming_at_once_never_hold_a_node_twice(database_url):
    async def work(db: Database) -> None:
        clock, fleet = Clock(), targets(20)
        others = [Database(db.url) for _ in range(3)]
        try:
            replicas = [
                LeasedNodes(each, interval_seconds=INTERVAL, owner=f"r{n}", clock=clock)
                for n, each in enumerate(others)
            ]
            for _ in range(4):
                results = await asyncio.gather(*(r.claim(fleet) for r in replicas))
                held = {r.owner: {t.node.id for t in result} for r, result in zip(replicas, results, strict=True)}
                every = [node for nodes in held.values() for node in nodes]
                assert len(every) == len(set(every))  # never two replicas on one node
                clock.advance(INTERVAL)
            assert_partition(held, fleet)
        finally:
            for each in others:
                await each.dispose()

    run_with(database_url, work)


def test_a_clean_shutdown_hands_the_nodes_over_at_once(database_url):
    async def work(db: Database) -> None:
        clock, fleet, held = Clock(), targets(4), {}
        a, b = (LeasedNodes(db, interval_seconds=INTERVAL, owner=name, clock=clock) for name in "ab")
        await rounds(clock, fleet, {a: 0, b: 7}, 45, held)
        assert [len(held[name]) for name in "ab"] == [2, 2]
        await a.release_all()
        clock.advance(1)
        assert len(await b.claim(fleet)) == 4

    run_with(database_url, work)


def test_store_wide_work_is_done_by_one_replica_at_a_time(database_url):
    async def work(db: Database) -> None:
        other = Database(db.url)
        try:
            # PostgreSQL: the other replica skips; SQLite serves one process, which always may.
            async with (
                db.exclusively(HISTORY_MAINTENANCE_LOCK) as first,
                other.exclusively(HISTORY_MAINTENANCE_LOCK) as second,
            ):
                assert (first, second) == (True, db.engine.dialect.name == "sqlite")
            async with other.exclusively(HISTORY_MAINTENANCE_LOCK) as after:
                assert after  # released at the end of the block, the connection back in its pool
            async with db.exclusively(HISTORY_MAINTENANCE_LOCK) as again:
                assert again
        finally:
            await other.dispose()

    run_with(database_url, work)
