"""Inventory scale on PostgreSQL: a synthetic inventory of 100,000 nodes (rows only) against one of 100 nodes.

Each store is a fresh PostgreSQL database holding one project: one real node (its own instance) and
synthetic instances of 10 nodes each, inserted straight into the store's tables (no servers; their
addresses refuse connections), then ANALYZEd as autovacuum would. A `sessionplane serve` runs over
each (the sampler and probe off: nothing dials the synthetic nodes). Both answer the same calls:

- ListInstances, first page of 10 (the 100-node store holds 10 instances, so both pages hold 10
  instances of 10 nodes; only ``total_count`` and what the store scans differ);
- the session statistics of the real node: its authorization lookup (node -> instance) among all
  the rows, then one CLIENT LIST. The lookup is cached in process (issue [4]), so the same lookup
  is also timed uncached, against the store directly, as a request pays it after any write.

A contender is ``BATCH`` sequential requests on one keep-alive connection; per-request medians of
rounds, rotated; the ratio is the 100,000-node time over the 100-node time (target <= 2x).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import insert, text

from bench.harness import BACKGROUND_OFF, Contender, Deployment, Http, rounds, start_deployment
from sessionplane import ids
from sessionplane.demo.servers import RedisServer
from sessionplane.inventory.tables import InstanceRow, NodeRow
from sessionplane.ops.fleet import every_node
from sessionplane.schema import utcnow
from sessionplane.services import Services
from sessionplane.settings import Settings
from tests.databases import create_postgres_database, drop_postgres_database

PER_INSTANCE = 10
PAGE = 10
BATCH = 50
SIZES = (100, 100_000)


def synthetic(nodes: int) -> Callable[[Services, str], Awaitable[None]]:
    """``nodes`` node rows in instances of PER_INSTANCE, newer than the real instance, in one transaction."""

    async def seed(services: Services, project_id: str) -> None:
        now = utcnow()
        instances, node_rows = [], []
        for n in range(0, nodes, PER_INSTANCE):
            instance_id = ids.instance_id()
            created = now + timedelta(milliseconds=n + 1)  # newest first: the first page is synthetic
            instances.append(
                {
                    "id": instance_id,
                    "project_id": project_id,
                    "name": f"synthetic-{n // PER_INSTANCE}",
                    "mode": "Cluster",
                    "datastore_type": "redis",
                    "datastore_version": "7.0",
                    "status": "normal",
                    "enterprise_project_id": "0",
                    "protected_names": [],
                    "protected_users": [],
                    "created_at": created,
                    "updated_at": created,
                }
            )
            for position in range(min(PER_INSTANCE, nodes - n)):
                node_rows.append(
                    {
                        "id": ids.node_id(),
                        "instance_id": instance_id,
                        "group_id": ids.plain_id(),
                        "position": position,
                        "name": f"node_{position + 1}",
                        "role": "master",
                        "status": "normal",
                        "host": "127.0.0.1",
                        "port": 9,  # nothing listens: a dial is refused at once
                        "username": None,
                        "password_encrypted": None,
                        "tls": False,
                        "created_at": created,
                        "cluster_node_id": None,
                    }
                )
        async with services.db.engine.begin() as connection:
            for rows, table in ((instances, InstanceRow.__table__), (node_rows, NodeRow.__table__)):
                for start in range(0, len(rows), 5000):
                    await connection.execute(insert(table), rows[start : start + 5000])
        async with services.db.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("ANALYZE"))

    return seed


@dataclass
class Store:
    nodes: int
    url: str
    deployment: Deployment
    node_id: str  # the real node
    http: Http | None = None

    @property
    def instance_id(self) -> str:
        return self.deployment.instances["real"].id

    async def calls(self, path: str) -> None:
        assert self.http
        headers = {"X-Auth-Token": self.deployment.token}
        for _ in range(BATCH):
            response = await self.http.request("GET", path.format(p=self.deployment.project_id), b"", headers)
            assert response.status == 200, response.body[:300]

    async def list_page(self) -> None:
        await self.calls(f"/v3/{{p}}/instances?offset=0&limit={PAGE}")

    async def statistics(self) -> None:
        await self.calls(f"/v3/{{p}}/redis/nodes/{self.node_id}/session-statistics")


def start_store(real: RedisServer, nodes: int) -> Store:
    url = create_postgres_database("sessionplane_bench")
    deployment = start_deployment(
        {"real": ([real], True)}, database_url=url, seed=synthetic(nodes - 1), env=BACKGROUND_OFF
    )
    node_id = deployment.instances["real"].nodes[0].id
    return Store(nodes, url, deployment, node_id)


async def uncached(store: Store, services: Services) -> tuple[Contender, Contender]:
    """The store queries behind the two calls, without the in-process cache (as after any write)."""
    inventory, project_id = services.inventory, store.deployment.project_id

    async def lookups() -> None:
        for _ in range(BATCH):
            found = await inventory._instance_of_node(project_id, store.node_id)  # the uncached path
            assert found is not None

    async def pages() -> None:
        for _ in range(BATCH):
            page, total = await inventory.instances(project_id=project_id, offset=0, limit=PAGE)
            assert len(page) == PAGE and total > PAGE

    return Contender(f"{store.nodes} lookup", lookups), Contender(f"{store.nodes} page", pages)


async def sampler_read(nodes: int, services: Services) -> str:
    """What each sampler (and probe) round reads from the store before it dials a node: every node of every
    instance. The first read builds the records; later ones, while the store revision stands, are cached."""
    started = time.perf_counter()
    targets = await every_node(services.inventory)
    cold = time.perf_counter() - started
    times = []
    for _ in range(3):
        started = time.perf_counter()
        targets = await every_node(services.inventory)
        times.append(time.perf_counter() - started)
    assert len(targets) == nodes
    warm = statistics.median(times) * 1000
    return f"sampler's fleet view, {nodes:,} nodes: first read {cold * 1000:.0f} ms, then {warm:.0f} ms (median of 3)"


def _per_request(c: Contender) -> str:
    per = [t / BATCH * 1000 for t in c.times]
    return f"{c.median / BATCH * 1000:.2f} ms [{min(per):.2f}-{max(per):.2f}]"


async def compare(stores: dict[int, Store]) -> list[str]:
    small, big = stores[SIZES[0]], stores[SIZES[1]]
    for store in stores.values():
        store.http = await Http.open(store.deployment.host, store.deployment.port)
    pairs = {
        "ListInstances first page (limit 10), HTTP": (
            Contender("100k", big.list_page),
            Contender("100", small.list_page),
        ),
        "node session statistics (cached lookup), HTTP": (
            Contender("100k", big.statistics),
            Contender("100", small.statistics),
        ),
    }
    direct = {
        n: Services.build(Settings(data_dir=st.deployment.data_dir, database_url=st.url)) for n, st in stores.items()
    }
    big_lookup, big_page = await uncached(big, direct[big.nodes])
    small_lookup, small_page = await uncached(small, direct[small.nodes])
    pairs["node -> instance lookup, uncached, store only"] = (big_lookup, small_lookup)
    pairs["ListInstances page + count, uncached, store only"] = (big_page, small_page)
    lines = [f"inventory on PostgreSQL: {SIZES[1]:,} vs {SIZES[0]} nodes ({PER_INSTANCE} per instance), per request"]
    for case, (large, little) in pairs.items():
        await rounds([large, little], warmups=2)
        ratio = large.median / little.median
        verdict = "ok" if ratio <= 2.0 else "MISSED"
        lines.append(f"{case}")
        lines.append(f"    {SIZES[1]:>7,} nodes  {_per_request(large)}")
        lines.append(f"    {SIZES[0]:>7,} nodes  {_per_request(little)}   ratio {ratio:.2f}x (target <= 2x)  {verdict}")
    for n, services in direct.items():
        lines.append(await sampler_read(n, services))
    for store in stores.values():
        if store.http:
            store.http.close()
    for services in direct.values():
        await services.close()
    return lines


def run(real: RedisServer) -> list[str]:
    stores: dict[int, Store] = {}
    try:
        for size in SIZES:
            started = time.perf_counter()
            stores[size] = start_store(real, size)
            print(f"    store of {size:,} nodes seeded and serving in {time.perf_counter() - started:.0f} s")
        return asyncio.run(compare(stores))
    finally:
        for store in stores.values():
            store.deployment.stop()
            drop_postgres_database(store.url)
