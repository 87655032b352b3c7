"""Reading a deployment's topology from a seed: the only discovery code that talks to nodes (redis-py asyncio).

- A Redis Cluster node answers ``CLUSTER SHARDS`` (Redis 7+); a server without it, or an ACL user
  refused it, answers ``CLUSTER NODES`` instead.
- A standalone node is read with ``INFO``: a primary lists its replicas; a replica's primary is
  read in its place, so either may be the seed.
- A Sentinel answers ``SENTINEL MASTER`` and ``SENTINEL SLAVES`` (the name every Sentinel
  version knows) for the named primary; the primary's ``INFO`` gives the version.

Addresses are taken as the deployment announces them (a cluster's endpoints, a primary's view
of its replicas, Sentinel's view), never as the seed was written. Connections are short-lived,
named ``own_client_name`` like the adapter's, and speak RESP2 (older servers have no ``HELLO``).

Errors are mapped here, once: cannot connect, or refused credentials -> ``NodeUnavailable``
(naming the endpoint, never a credential); a seed that is not what its URL says (a Sentinel
without ``+sentinel``, a name the Sentinel does not monitor) -> ``InvalidParameter``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from sessionplane.errors import InvalidParameter, NodeUnavailable
from sessionplane.inventory.topology import (
    PRIMARY,
    REDIS_CLUSTER,
    REPLICA,
    REPLICATION,
    Credentials,
    Endpoint,
    Seed,
    SeenNode,
    Topology,
)
from sessionplane.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis


class TopologyReader:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def read(self, seed: Seed, credentials: Credentials) -> Topology:
        """The deployment the seed belongs to."""
        if seed.sentinel_name is not None:
            return await self._from_sentinel(seed, seed.sentinel_name, credentials)
        return await self._from_node(seed.endpoint, seed.tls, credentials, what="seed")

    async def read_first(self, endpoints: Sequence[Endpoint], *, tls: bool, credentials: Credentials) -> Topology:
        """The deployment as the first of ``endpoints`` that answers sees it (a refresh asks known nodes first)."""
        failures: list[str] = []
        for endpoint in dict.fromkeys(endpoints):
            try:
                return await self._from_node(endpoint, tls, credentials)
            except NodeUnavailable as exc:
                failures.append(exc.message)
        shown = "; ".join(failures[:3]) + (f" (and {len(failures) - 3} more)" if len(failures) > 3 else "")
        raise NodeUnavailable(f"No node of the deployment answered: {shown}")

    # -- a node: cluster, or primary and replicas ------------------------------------------

    async def _from_node(
        self, endpoint: Endpoint, tls: bool, credentials: Credentials, *, what: str = "node"
    ) -> Topology:
        async with self._talking_to(what, endpoint, tls, credentials.username, credentials.password) as client:
            facts = await client.info()
            if facts.get("redis_mode") == "sentinel":
                raise InvalidParameter(
                    f"Invalid parameter: seed {endpoint} is a Sentinel; use redis+sentinel://{endpoint}/<primary name>."
                )
            if facts.get("cluster_enabled"):
                return Topology(REDIS_CLUSTER, _version(facts), await self._cluster(client, tls))
        if facts.get("role") == PRIMARY:
            return Topology(REPLICATION, _version(facts), replication_nodes(endpoint, facts))
        primary = Endpoint(str(facts.get("master_host", "")), int(facts.get("master_port", 0)))
        async with self._talking_to("primary", primary, tls, credentials.username, credentials.password) as client:
            facts = await client.info()
        if facts.get("role") != PRIMARY:
            # Chained replication: the top primary's INFO would not list the replicas of replicas.
            raise NodeUnavailable(f"The primary {primary} of {endpoint} is itself a replica; seed with the top one.")
        return Topology(REPLICATION, _version(facts), replication_nodes(primary, facts))

    async def _cluster(self, client: Redis, tls: bool) -> tuple[SeenNode, ...]:
        from redis import exceptions as redis_errors

        try:
            shards = await client.execute_command("CLUSTER", "SHARDS")
        except redis_errors.ResponseError:  # unknown subcommand before Redis 7, or refused by the ACL
            return cluster_nodes_topology(await client.execute_command("CLUSTER NODES"))
        return cluster_shards_topology(shards, tls=tls)

    # -- a Sentinel ------------------------------------------------------------------------

    async def _from_sentinel(self, seed: Seed, name: str, credentials: Credentials) -> Topology:
        from redis import exceptions as redis_errors

        async with self._talking_to("Sentinel", seed.endpoint, seed.tls, None, credentials.sentinel_password) as s:
            try:
                primary = await s.sentinel_master(name)
            except redis_errors.ResponseError as exc:
                if "no such master" not in str(exc).lower():
                    raise
                raise InvalidParameter(
                    f"Invalid parameter: Sentinel {seed.endpoint} does not monitor a primary named {name[:64]!r}."
                ) from None
            replicas = await s.sentinel_slaves(name)
        nodes = sentinel_nodes(primary, replicas)
        user, password = credentials.username, credentials.password
        async with self._talking_to("primary", nodes[0].endpoint, seed.tls, user, password) as client:
            facts = await client.info("server")
        return Topology(REPLICATION, _version(facts), nodes)

    # -- connections -----------------------------------------------------------------------

    @asynccontextmanager
    async def _talking_to(
        self, what: str, endpoint: Endpoint, tls: bool, username: str | None, password: str | None
    ) -> AsyncIterator[Redis]:
        # redis-py is imported where it is used, not at module level: every CLI command imports this
        # module, and only adopt and refresh connect.
        from redis import exceptions as redis_errors
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        s = self._settings
        client = Redis(
            host=endpoint.host,
            port=endpoint.port,
            username=username,
            password=password,
            client_name=s.own_client_name,
            socket_connect_timeout=s.node_connect_timeout_seconds,
            socket_timeout=s.node_deadline_seconds,
            retry=Retry(NoBackoff(), retries=0),
            protocol=2,
            decode_responses=True,
            single_connection_client=True,
            ssl=tls,
            ssl_cert_reqs="required",
            ssl_check_hostname=True,
            ssl_ca_certs=str(s.node_tls_ca_file) if tls and s.node_tls_ca_file else None,
        )
        try:
            yield client
        except redis_errors.AuthenticationError as exc:
            if password is None:
                raise NodeUnavailable(f"The {what} {endpoint} requires a password; none was given.") from exc
            raise NodeUnavailable(f"The {what} {endpoint} refused the credentials given.") from exc
        except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as exc:
            raise NodeUnavailable(f"The {what} {endpoint} cannot be reached: {_first_line(exc)}") from exc
        except redis_errors.ResponseError as exc:
            raise NodeUnavailable(f"The {what} {endpoint} refused discovery: {_first_line(exc)}") from exc
        finally:
            await client.aclose()


# -- replies to topologies (pure) ----------------------------------------------------------


def replication_nodes(primary: Endpoint, facts: dict[str, Any]) -> tuple[SeenNode, ...]:
    """A primary and the replicas its ``INFO replication`` lists (``slaveN:ip=..,port=..,state=..``)."""
    shard = str(primary)
    replicas = [
        SeenNode(Endpoint(str(r["ip"]), int(r["port"])), REPLICA, shard, healthy=r.get("state") == "online")
        for key, r in sorted(facts.items(), key=lambda kv: _slave_index(kv[0]))
        if _slave_index(key) >= 0 and isinstance(r, dict)
    ]
    return (SeenNode(primary, PRIMARY, shard), *replicas)


def _slave_index(key: str) -> int:
    suffix = key.removeprefix("slave")
    return int(suffix) if key.startswith("slave") and suffix.isdigit() else -1


def cluster_shards_topology(shards: Iterable[Any], *, tls: bool) -> tuple[SeenNode, ...]:
    """``CLUSTER SHARDS``: one group per shard, its primary first; the announced endpoint of each node."""
    seen: list[SeenNode] = []
    for shard in shards:
        members = [_as_map(n) for n in _as_map(shard).get("nodes", [])]
        members.sort(key=lambda n: n.get("role") != "master")
        if not members:
            continue
        key = str(members[0]["id"])
        for node in members:
            host = str(node.get("endpoint") or "")
            if host in ("", "?"):
                host = str(node.get("ip") or "")
            port = int(node.get("tls-port") or 0) if tls else 0
            endpoint = Endpoint(host, port or int(node["port"]))
            role = PRIMARY if node.get("role") == "master" else REPLICA
            healthy = node.get("health") != "failed"
            seen.append(SeenNode(endpoint, role, key, healthy=healthy, cluster_node_id=str(node["id"])))
    return tuple(seen)


def cluster_nodes_topology(nodes: dict[str, dict[str, Any]]) -> tuple[SeenNode, ...]:
    """``CLUSTER NODES`` as redis-py parses it (``{"ip:port": {"node_id", "flags", "master_id", ...}}``).

    A shard is a primary and the replicas naming it; nodes without an address (``noaddr``, or
    still in ``handshake``) are left out: nothing could connect to them.
    """
    usable = {
        address: node
        for address, node in nodes.items()
        if not {"noaddr", "handshake"} & set(node["flags"].split(",")) and not address.startswith(":")
    }
    primaries = [(a, n) for a, n in usable.items() if "master" in n["flags"].split(",")]
    seen: list[SeenNode] = []
    for address, primary in sorted(primaries, key=lambda an: an[1]["node_id"]):
        shard = primary["node_id"]
        seen.append(_cluster_node(address, primary, PRIMARY, shard))
        for replica_address, replica in sorted(usable.items()):
            if replica["master_id"] == shard and "slave" in replica["flags"].split(","):
                seen.append(_cluster_node(replica_address, replica, REPLICA, shard))
    return tuple(seen)


def _cluster_node(address: str, node: dict[str, Any], role: str, shard: str) -> SeenNode:
    host, _, port = address.rpartition(":")
    failing = {"fail", "fail?"} & set(node["flags"].split(","))
    return SeenNode(Endpoint(host, int(port)), role, shard, healthy=not failing, cluster_node_id=node["node_id"])


def sentinel_nodes(primary: dict[str, Any], replicas: Sequence[dict[str, Any]]) -> tuple[SeenNode, ...]:
    """``SENTINEL MASTER`` / ``SENTINEL SLAVES`` as redis-py parses them (``ip``, ``port``, ``is_sdown``...)."""
    shard = str(Endpoint(str(primary["ip"]), int(primary["port"])))
    return tuple(
        SeenNode(Endpoint(str(n["ip"]), int(n["port"])), role, shard, healthy=_sentinel_healthy(n))
        for role, n in [(PRIMARY, primary), *((REPLICA, r) for r in replicas)]
    )


def _sentinel_healthy(node: dict[str, Any]) -> bool:
    return not (node.get("is_sdown") or node.get("is_odown") or node.get("is_disconnected"))


def _as_map(value: Any) -> dict[str, Any]:
    # redis-py parses CLUSTER SHARDS only in its cluster client: a RESP2 map is a flat key/value list.
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    items = list(value)
    return {str(k): v for k, v in zip(items[::2], items[1::2], strict=True)}


def _version(facts: dict[str, Any]) -> str:
    """``major.minor`` of the server, as GeminiDB versions read (``7.0``)."""
    parts = str(facts.get("redis_version", "")).split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else "unknown"


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]
