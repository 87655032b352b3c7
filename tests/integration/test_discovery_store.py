"""The inventory store's discovery methods, on SQLite and on the PostgreSQL server of this machine.

Each backend gets a fresh database migrated by Alembic (so migration 0002 runs on both); raw rows
are read only to prove that discovery credentials are encrypted at rest.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from sessionplane.db import Database
from sessionplane.inventory.records import DiscoverySource, NodeSpec
from sessionplane.inventory.store import InventoryStore
from sessionplane.inventory.topology import PRIMARY, REDIS_CLUSTER, REPLICA, Endpoint, SeenNode, Topology
from sessionplane.keyring import Keyring

NODE_SECRET = "n0de-Secret-discovered"
SENTINEL_SECRET = "s3ntinel-Secret"


def _with_store(url: str, work) -> None:
    async def main() -> None:
        db = Database(url)
        await db.migrate()
        keyring = Keyring([Keyring.new_master_key()])
        try:
            await work(InventoryStore(db, keyring), db)
        finally:
            await db.dispose()

    asyncio.run(main())


def _seen(port: int, role: str, shard: str, node_id: str, healthy: bool = True) -> SeenNode:
    return SeenNode(Endpoint("10.0.0.1", port), role, shard, healthy=healthy, cluster_node_id=node_id * 40)


async def _discovered(store: InventoryStore) -> tuple[str, str]:
    account = await store.create_account(name="acme")
    project = await store.create_project(account_id=account.id, name="p")
    instance_id = "0" * 32 + "in12"
    specs = [
        NodeSpec(host="10.0.0.1", port=7000, role=PRIMARY, group=0, password=NODE_SECRET, cluster_node_id="a" * 40),
        NodeSpec(host="10.0.0.1", port=7001, role=REPLICA, group=0, password=NODE_SECRET, cluster_node_id="b" * 40),
        NodeSpec(host="10.0.0.1", port=7002, role=PRIMARY, group=1, password=NODE_SECRET, cluster_node_id="c" * 40),
    ]
    source = DiscoverySource(
        instance_id=instance_id,
        seed="rediss://10.0.0.1:7000",
        username="ops",
        password=NODE_SECRET,
        sentinel_password=SENTINEL_SECRET,
    )
    await store.add_instance(
        project_id=project.id,
        name="c",
        mode=REDIS_CLUSTER,
        datastore_version="7.0",
        nodes=specs,
        instance_id=instance_id,
        discovery=source,
    )
    return project.id, instance_id


def test_a_discovered_instance_keeps_its_source_encrypted(database_url):
    async def work(store: InventoryStore, db: Database) -> None:
        _, instance_id = await _discovered(store)
        source = await store.discovery_source(instance_id)
        assert (source.seed, source.username, source.password, source.sentinel_password) == (
            "rediss://10.0.0.1:7000",
            "ops",
            NODE_SECRET,
            SENTINEL_SECRET,
        )
        assert NODE_SECRET not in repr(source) and SENTINEL_SECRET not in repr(source)
        assert await store.discovered_instance_ids() == [instance_id]
        async with db.sessions() as s:
            raw = " ".join(str(r) for r in (await s.execute(text("SELECT * FROM discovery_sources"))).all())
        assert NODE_SECRET not in raw and SENTINEL_SECRET not in raw

        assert await store.reencrypt_secrets() == 3 + 2  # three nodes, two source secrets
        async with db.sessions() as s:
            rotated = " ".join(str(r) for r in (await s.execute(text("SELECT * FROM discovery_sources"))).all())
        assert rotated != raw and (await store.discovery_source(instance_id)).password == NODE_SECRET

    _with_store(database_url, work)


def test_refresh_keeps_ids_follows_roles_adds_with_credentials_and_removes(database_url):
    async def work(store: InventoryStore, db: Database) -> None:
        project_id, instance_id = await _discovered(store)
        before = await store.instance(project_id=project_id, instance_id=instance_id)
        ids = {n.cluster_node_id[0]: n.id for n in before.nodes}
        groups = {n.cluster_node_id[0]: n.group_id for n in before.nodes}
        topology = Topology(
            REDIS_CLUSTER,
            "7.0",
            (
                _seen(7001, PRIMARY, "b", "b"),  # failed over
                _seen(7000, REPLICA, "b", "a", healthy=False),
                _seen(7003, PRIMARY, "d", "d"),  # a new shard; "c" is gone
            ),
        )

        report = await store.refresh_nodes(instance_id, topology)

        after = await store.instance(project_id=project_id, instance_id=instance_id)
        by_key = {n.cluster_node_id[0]: n for n in after.nodes}
        assert set(by_key) == {"a", "b", "d"}
        assert (by_key["a"].id, by_key["a"].role, by_key["a"].status) == (ids["a"], REPLICA, "abnormal")
        assert (by_key["b"].id, by_key["b"].role, by_key["b"].status) == (ids["b"], PRIMARY, "normal")
        assert by_key["a"].group_id == by_key["b"].group_id == groups["a"]
        new = by_key["d"]
        assert new.group_id not in groups.values() and new.id.endswith("no12")
        assert (new.host, new.port, new.username, new.password, new.tls) == ("10.0.0.1", 7003, "ops", NODE_SECRET, True)
        assert [n.id for n in report.added] == [new.id]
        assert [n.id for n in report.removed] == [ids["c"]]
        assert {after.id for _before, after in report.changed} == {ids["a"], ids["b"]}
        assert (await store.discovery_source(instance_id)).refreshed_at is not None

        again = await store.refresh_nodes(instance_id, topology)
        assert not (again.added or again.removed or again.changed)

    _with_store(database_url, work)


def test_failures_are_remembered_and_removal_cascades(database_url):
    async def work(store: InventoryStore, db: Database) -> None:
        _, instance_id = await _discovered(store)
        await store.record_discovery_failure(instance_id, "The node 10.0.0.1:7000 cannot be reached: " + "x" * 600)
        assert (await store.discovery_source(instance_id)).last_error.startswith("The node 10.0.0.1:7000")
        assert await store.remove_instance(instance_id)
        assert await store.discovery_source(instance_id) is None
        assert await store.discovered_instance_ids() == []
        with pytest.raises(LookupError, match="not adopted by discovery"):
            await store.refresh_nodes(instance_id, Topology(REDIS_CLUSTER, "7.0", ()))

    _with_store(database_url, work)


def test_refresh_of_an_instance_added_by_hand_is_refused(database_url):
    async def work(store: InventoryStore, db: Database) -> None:
        account = await store.create_account(name="acme")
        project = await store.create_project(account_id=account.id, name="p")
        instance = await store.add_instance(
            project_id=project.id, name="c", mode="Cluster", datastore_version="7", nodes=[NodeSpec("10.0.0.1", 1)]
        )
        with pytest.raises(LookupError, match="not adopted by discovery"):
            await store.refresh_nodes(instance.id, Topology(REDIS_CLUSTER, "7.0", ()))
        assert len((await store.instance_any_project(instance.id)).nodes) == 1

    _with_store(database_url, work)
