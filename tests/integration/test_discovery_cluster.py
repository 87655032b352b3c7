"""Discovery against a real 3-primary, 3-replica Redis Cluster (passwords on every node).

The cluster is shared by the module; every expectation is read from the live servers at the time
of the check (roles move with the failover test), never assumed from the order they started in.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.topologies import (
    ConfiguredServer,
    Topologies,
    cluster_node_id,
    cluster_state,
    info,
    link_up,
    replication_link_ids,
    role,
    wait_until,
)

NODE_PASSWORD = "Clust3r-node-pa55"


@pytest.fixture(scope="module")
def redis_cluster() -> Iterator[list[ConfiguredServer]]:
    with Topologies(password=NODE_PASSWORD) as topologies:
        yield topologies.redis_cluster(primaries=3, replicas_per_primary=1)


def adopt(api, project_id: str, seed: ConfiguredServer, **body: object) -> dict:
    body = {"seed": f"redis://{seed.host}:{seed.port}", "password": NODE_PASSWORD} | body
    response = api.post(f"/sessionplane/v1/{project_id}/instances", json=body)
    assert response.status_code == 201, response.text
    assert NODE_PASSWORD not in response.text
    return response.json()


def shape(summary: dict) -> set[frozenset[tuple[int, str]]]:
    """Each group as the set of (port, role) of its nodes."""
    return {frozenset((int(n["port"]), n["role"]) for n in g["nodes"]) for g in summary["groups"]}


def live_shape(servers: list[ConfiguredServer]) -> set[frozenset[tuple[int, str]]]:
    """The shards as the servers report them now: each primary with the replicas that follow it."""
    shards: dict[int, set[tuple[int, str]]] = {}
    for server in servers:
        facts = info(server, "replication")
        primary_port = server.port if facts["role"] == "master" else int(facts["master_port"])
        shards.setdefault(primary_port, set()).add((server.port, facts["role"]))
    return {frozenset(s) for s in shards.values()}


def node_ids_by_port(summary: dict) -> dict[int, str]:
    return {int(n["port"]): n["id"] for g in summary["groups"] for n in g["nodes"]}


def test_a_cluster_seed_becomes_a_redis_cluster_instance(api, service, tenant, redis_cluster):
    seed = next(s for s in redis_cluster if role(s) == "slave")  # any node will do: a replica here

    body = adopt(api, tenant.project_id, seed, name="orders-cluster")

    assert (body["mode"], body["name"], body["datastore"]["version"]) == ("RedisCluster", "orders-cluster", "7.0")
    assert len(body["groups"]) == 3 and all(len(g["nodes"]) == 2 for g in body["groups"])
    assert shape(body) == live_shape(redis_cluster)
    assert {n["private_ip"] for g in body["groups"] for n in g["nodes"]} == {"127.0.0.1"}
    listed = api.get(f"/v3/{tenant.project_id}/instances", params={"id": body["id"]}).json()["instances"]
    assert shape(listed[0]) == shape(body)
    stored = service.call(service.services.inventory.instance_any_project(body["id"]))
    assert {n.port: n.cluster_node_id for n in stored.nodes} == {s.port: cluster_node_id(s) for s in redis_cluster}
    assert {n.password for n in stored.nodes} == {NODE_PASSWORD}  # given once, on every node


def test_without_cluster_shards_the_cluster_nodes_reply_gives_the_same_instance(api, tenant, redis_cluster):
    """An ACL user refused CLUSTER SHARDS is what a server without it looks like: CLUSTER NODES answers."""
    for server in redis_cluster:
        with server.client() as client:
            client.execute_command(
                "ACL", "SETUSER", "discoverer", "on", f">{NODE_PASSWORD}", "+@all", "-cluster|shards"
            )
    try:
        with (
            redis_cluster[0].client(username="discoverer") as client,
            pytest.raises(redis.exceptions.NoPermissionError),
        ):
            client.execute_command("CLUSTER", "SHARDS")

        body = adopt(api, tenant.project_id, redis_cluster[0], username="discoverer")

        assert body["mode"] == "RedisCluster"
        assert shape(body) == live_shape(redis_cluster)
    finally:
        for server in redis_cluster:
            with server.client() as client:
                client.execute_command("ACL", "DELUSER", "discoverer")


def test_closing_every_session_of_the_cluster_leaves_the_bus_and_replication_links_alone(
    api, tenant, redis_cluster, sessions
):
    body = adopt(api, tenant.project_id, redis_cluster[0])
    opened = [sessions(server, name=f"app-{i}") for i, server in enumerate(redis_cluster) for _ in range(2)]
    links = {s.port: replication_link_ids(s) for s in redis_cluster}
    bus = {s.port: info(s, "clients")["cluster_connections"] for s in redis_cluster}
    assert all(links.values())  # every node has a replication link to keep

    response = api.delete(f"/v3/{tenant.project_id}/instances/{body['id']}/sessions")

    assert response.status_code == 200, response.text
    assert all(session.closed_by_node() for session in opened)
    assert {s.port: replication_link_ids(s) for s in redis_cluster} == links
    assert {s.port: info(s, "clients")["cluster_connections"] for s in redis_cluster} == bus
    assert all(cluster_state(s) == "ok" for s in redis_cluster)
    assert all(link_up(s) for s in redis_cluster if role(s) == "slave")


def test_a_refresh_after_a_cluster_failover_shows_the_new_roles(api, service, tenant, redis_cluster):
    body = adopt(api, tenant.project_id, redis_cluster[0])
    ids = node_ids_by_port(body)
    promoted = next(s for s in redis_cluster if role(s) == "slave")
    demoted = next(s for s in redis_cluster if s.port == int(info(promoted, "replication")["master_port"]))
    with promoted.client() as client:
        client.execute_command("CLUSTER", "FAILOVER")
    wait_until(lambda: role(promoted) == "master" and role(demoted) == "slave", "the failover")
    Topologies.wait_cluster_settled(redis_cluster, primaries=3, replicas_per_primary=1)

    report = service.call(service.services.discovery.refresh(body["id"]))

    after = api.get(f"/v3/{tenant.project_id}/instances", params={"id": body["id"]}).json()["instances"][0]
    assert node_ids_by_port(after) == ids  # nodes that stay keep their IDs
    assert shape(after) == live_shape(redis_cluster)
    roles = {int(n["port"]): n["role"] for g in after["groups"] for n in g["nodes"]}
    assert (roles[promoted.port], roles[demoted.port]) == ("master", "slave")
    assert {(b.role, a.role) for b, a in report.changed} == {("slave", "master"), ("master", "slave")}
    assert {a.id for _b, a in report.changed} == {ids[promoted.port], ids[demoted.port]}
    assert not report.added and not report.removed
    groups = {n["id"]: g["id"] for g in after["groups"] for n in g["nodes"]}
    before_groups = {n["id"]: g["id"] for g in body["groups"] for n in g["nodes"]}
    assert groups == before_groups  # a failover moves roles, not groups
