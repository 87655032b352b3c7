"""Fleet discovery: adopt a whole deployment from one seed, and refresh it (on demand, or on a schedule).

``adopt`` reads the seed's topology and registers it as one instance: a Redis Cluster becomes a
``RedisCluster`` instance with one group per shard; a primary with replicas, or a Sentinel's
primary with its replicas, becomes ``Replication`` with one group. Every node gets the
credentials given once, encrypted at rest like any node's.

``refresh`` reads the topology again and follows it (``InventoryStore.refresh_nodes``): new nodes
are added, nodes gone from the topology are deleted from the inventory, roles follow failovers,
and nodes that stay keep their IDs. A failed refresh changes nothing and is remembered on the
discovery source (``last_error``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace

from sessionplane import ids
from sessionplane.errors import SessionplaneError
from sessionplane.inventory.records import DiscoverySource, Instance, NodeSpec
from sessionplane.inventory.store import InventoryStore
from sessionplane.inventory.topology import (
    PRIMARY,
    Credentials,
    Endpoint,
    RefreshReport,
    Seed,
    Topology,
    parse_seed,
    status_of,
)
from sessionplane.nodes.discovery import TopologyReader

log = logging.getLogger(__name__)


class Discovery:
    def __init__(self, *, inventory: InventoryStore, reader: TopologyReader) -> None:
        self._inventory = inventory
        self._reader = reader

    async def adopt(
        self,
        *,
        project_id: str,
        seed: Seed,
        credentials: Credentials,
        name: str | None = None,
        tags: Mapping[str, str] | None = None,
        enterprise_project_id: str = "0",
        protected_names: Sequence[str] = (),
        protected_users: Sequence[str] = (),
    ) -> Instance:
        """Register the deployment behind ``seed`` as one instance of ``project_id`` (``LookupError`` if none)."""
        if await self._inventory.project(project_id) is None:
            raise LookupError(f"project {project_id} does not exist")
        credentials = replace(credentials, username=seed.username or credentials.username)
        topology = await self._reader.read(seed, credentials)
        instance_id = ids.instance_id()
        instance = await self._inventory.add_instance(
            project_id=project_id,
            name=name or seed.default_instance_name,
            mode=topology.mode,
            datastore_version=topology.version,
            nodes=node_specs(topology, credentials, tls=seed.tls),
            tags=tags,
            enterprise_project_id=enterprise_project_id,
            protected_names=protected_names,
            protected_users=protected_users,
            instance_id=instance_id,
            discovery=DiscoverySource(
                instance_id=instance_id,
                seed=seed.url,
                username=credentials.username,
                password=credentials.password,
                sentinel_password=credentials.sentinel_password,
            ),
        )
        log.info("adopted %s as %s instance %s (%d nodes)", seed.url, topology.mode, instance.id, len(instance.nodes))
        return instance

    async def refresh(self, instance_id: str) -> RefreshReport:
        """Follow the deployment's current topology (``LookupError`` if the instance was not adopted by discovery)."""
        instance = await self._inventory.instance_any_project(instance_id)
        source = await self._inventory.discovery_source(instance_id)
        if instance is None or source is None:
            raise LookupError(
                f"instance {instance_id} does not exist or was not adopted by discovery (sessionplane instance adopt)"
            )
        try:
            topology = await self._read_again(instance, source)
        except SessionplaneError as exc:
            await self._inventory.record_discovery_failure(instance_id, exc.message)
            raise
        report = await self._inventory.refresh_nodes(instance_id, topology)
        if report.added or report.removed or report.changed:
            log.info(
                "refreshed instance %s: %d added, %d removed, %d changed",
                instance_id,
                len(report.added),
                len(report.removed),
                len(report.changed),
            )
        return report

    async def refresh_all(self) -> None:
        """One pass over every discovered instance; one failing does not stop the others."""
        for instance_id in await self._inventory.discovered_instance_ids():
            try:
                await self.refresh(instance_id)
            except (SessionplaneError, LookupError) as exc:
                log.warning("refresh of instance %s failed: %s", instance_id, exc)

    async def _read_again(self, instance: Instance, source: DiscoverySource) -> Topology:
        seed = parse_seed(source.seed)
        credentials = Credentials(source.username, source.password, source.sentinel_password)
        if seed.sentinel_name is not None:
            return await self._reader.read(seed, credentials)
        # Known nodes first (primaries first: they hold the freshest view), the original seed last.
        ordered = sorted(instance.nodes, key=lambda n: n.role != PRIMARY)
        endpoints = [Endpoint(n.host, n.port) for n in ordered] + [seed.endpoint]
        return await self._reader.read_first(endpoints, tls=seed.tls, credentials=credentials)


def node_specs(topology: Topology, credentials: Credentials, *, tls: bool) -> list[NodeSpec]:
    groups = {shard: index for index, shard in enumerate(dict.fromkeys(n.shard for n in topology.nodes))}
    return [
        NodeSpec(
            host=n.endpoint.host,
            port=n.endpoint.port,
            name=str(n.endpoint)[:128],
            role=n.role,
            group=groups[n.shard],
            username=credentials.username,
            password=credentials.password,
            tls=tls,
            status=status_of(n),
            cluster_node_id=n.cluster_node_id,
        )
        for n in topology.nodes
    ]


class RefreshSchedule:
    """Refresh every discovered instance every ``interval`` seconds, in the serving process, until stopped."""

    def __init__(self, discovery: Discovery, interval: float | None) -> None:
        self._discovery = discovery
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._interval and self._task is None:
            self._task = asyncio.create_task(self._run(self._interval), name="sessionplane-discovery-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self._discovery.refresh_all()
            except Exception:  # the store may be briefly unavailable: try again next interval
                log.exception("discovery refresh pass failed")
