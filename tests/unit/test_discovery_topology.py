"""Discovery's pure parts: seeds, replies turned into topologies, and refresh planning (hypothesis)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from sessionplane.errors import InvalidParameter
from sessionplane.inventory.records import Node
from sessionplane.inventory.topology import (
    PRIMARY,
    REDIS_CLUSTER,
    REPLICA,
    Endpoint,
    Seed,
    SeenNode,
    Topology,
    node_key,
    parse_seed,
    plan_refresh,
)
from sessionplane.nodes.discovery import (
    cluster_nodes_topology,
    cluster_shards_topology,
    replication_nodes,
    sentinel_nodes,
)
from sessionplane.settings import Settings

# -- seeds ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.7:7000", Seed(Endpoint("10.0.0.7", 7000))),
        ("redis://10.0.0.7", Seed(Endpoint("10.0.0.7", 6379))),
        ("rediss://ops@cache.internal:6380", Seed(Endpoint("cache.internal", 6380), tls=True, username="ops")),
        ("redis://[::1]:7000/0", Seed(Endpoint("::1", 7000))),
        ("redis+sentinel://10.0.0.9/orders", Seed(Endpoint("10.0.0.9", 26379), sentinel_name="orders")),
        ("rediss+sentinel://s1:26380/orders", Seed(Endpoint("s1", 26380), tls=True, sentinel_name="orders")),
    ],
)
def test_seeds_parse(text, expected):
    assert parse_seed(text) == expected


def test_a_seed_url_never_carries_credentials_back():
    seed = parse_seed("redis+sentinel://ops@10.0.0.9:26379/orders")
    assert seed.url == "redis+sentinel://10.0.0.9:26379/orders"
    assert parse_seed("[::1]:7000").url == "redis://[::1]:7000"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "1 to 1024 characters"),
        ("x" * 1025, "1 to 1024 characters"),
        ("ftp://10.0.0.7:21", "scheme 'ftp' is not one of"),
        ("redis://10.0.0.7:99999", "bad host or port"),
        ("redis://:7000", "no host"),
        ("redis+sentinel://10.0.0.9:26379", "names its primary"),
        ("redis://10.0.0.9:26379/orders", "redis+sentinel://10.0.0.9:26379/orders"),
        ("redis://10.0.0.7:7000?db=1", "query string"),
    ],
)
def test_bad_seeds_are_refused_with_a_clear_message(text, message):
    with pytest.raises(InvalidParameter, match="Invalid parameter") as refused:
        parse_seed(text)
    assert message in refused.value.message


def test_a_password_in_the_seed_is_refused_and_never_repeated():
    with pytest.raises(InvalidParameter) as refused:
        parse_seed("redis://ops:Sup3r-secret@10.0.0.7:7000")
    assert "must not carry a password" in refused.value.message
    assert "Sup3r-secret" not in refused.value.message


# -- replies -------------------------------------------------------------------------------


def _shard_node(node_id, port, role, health="online", **extra):
    return {
        "id": node_id,
        "port": port,
        "ip": "10.0.0.1",
        "endpoint": "10.0.0.1",
        "role": role,
        "health": health,
    } | extra


def _flat(mapping: dict) -> list:
    """A map as RESP2 sends it: a flat key/value list."""
    return [item for pair in mapping.items() for item in pair]


def test_cluster_shards_in_resp2_and_resp3_give_the_same_topology():
    shards = [
        {"slots": [0, 8191], "nodes": [_shard_node("b" * 40, 7001, "replica"), _shard_node("a" * 40, 7000, "master")]},
        {"slots": [8192, 16383], "nodes": [_shard_node("c" * 40, 7002, "master", endpoint="?", ip="10.0.0.2")]},
    ]
    resp2 = [_flat(s | {"nodes": [_flat(n) for n in s["nodes"]]}) for s in shards]

    seen = cluster_shards_topology(shards, tls=False)

    assert seen == cluster_shards_topology(resp2, tls=False)
    assert [(s.endpoint, s.role, s.cluster_node_id) for s in seen] == [
        (Endpoint("10.0.0.1", 7000), PRIMARY, "a" * 40),  # the primary first, whatever the reply's order
        (Endpoint("10.0.0.1", 7001), REPLICA, "b" * 40),
        (Endpoint("10.0.0.2", 7002), PRIMARY, "c" * 40),  # endpoint "?" falls back to the ip
    ]
    assert seen[0].shard == seen[1].shard != seen[2].shard


def test_cluster_shards_health_and_tls_port():
    shard = {"nodes": [_shard_node("a" * 40, 7000, "master", health="failed", **{"tls-port": 7400})]}
    (plain,) = cluster_shards_topology([shard], tls=False)
    (tls,) = cluster_shards_topology([shard], tls=True)
    assert not plain.healthy and plain.endpoint.port == 7000 and tls.endpoint.port == 7400


def test_cluster_nodes_groups_replicas_under_their_primary_and_skips_unusable_nodes():
    a, b, c, d = ("a" * 40, "b" * 40, "c" * 40, "d" * 40)
    parsed = {  # as redis-py parses CLUSTER NODES
        "10.0.0.1:7000": {"node_id": a, "flags": "myself,master", "master_id": "-"},
        "10.0.0.1:7001": {"node_id": b, "flags": "slave,fail?", "master_id": a},
        "10.0.0.1:7002": {"node_id": c, "flags": "master,fail", "master_id": "-"},
        ":0": {"node_id": d, "flags": "slave,noaddr", "master_id": c},
    }
    seen = cluster_nodes_topology(parsed)
    assert [(str(s.endpoint), s.role, s.healthy, s.shard) for s in seen] == [
        ("10.0.0.1:7000", PRIMARY, True, a),
        ("10.0.0.1:7001", REPLICA, False, a),
        ("10.0.0.1:7002", PRIMARY, False, c),
    ]


def test_replication_from_info_lists_replicas_in_order_with_their_state():
    facts = {
        "role": "master",
        "slave10": {"ip": "10.0.0.3", "port": 6379, "state": "online"},
        "slave2": {"ip": "10.0.0.2", "port": 6379, "state": "wait_bgsave"},
        "slave_read_repl_offset": 5,  # not a replica line
    }
    seen = replication_nodes(Endpoint("10.0.0.1", 6379), facts)
    assert [(str(s.endpoint), s.role, s.healthy) for s in seen] == [
        ("10.0.0.1:6379", PRIMARY, True),
        ("10.0.0.2:6379", REPLICA, False),
        ("10.0.0.3:6379", REPLICA, True),
    ]


def test_sentinel_view_marks_down_nodes_abnormal():
    primary = {"ip": "10.0.0.1", "port": 6379, "is_sdown": False, "is_odown": False, "is_disconnected": False}
    replicas = [
        {"ip": "10.0.0.2", "port": 6379, "is_sdown": True},
        {"ip": "10.0.0.3", "port": 6379, "is_disconnected": False},
    ]
    seen = sentinel_nodes(primary, replicas)
    assert [(s.role, s.healthy) for s in seen] == [(PRIMARY, True), (REPLICA, False), (REPLICA, True)]
    assert len({s.shard for s in seen}) == 1


# -- refresh planning ----------------------------------------------------------------------


def _node(i: int, seen: SeenNode, group: str) -> Node:
    return Node(
        id=f"n{i}",
        instance_id="i",
        group_id=group,
        name=str(seen.endpoint),
        role=seen.role,
        status="normal",
        host=seen.endpoint.host,
        port=seen.endpoint.port,
        tls=False,
        cluster_node_id=seen.cluster_node_id,
    )


def test_a_failover_moves_roles_not_nodes_or_groups():
    old_primary = SeenNode(Endpoint("10.0.0.1", 7000), PRIMARY, "a", cluster_node_id="a" * 40)
    old_replica = SeenNode(Endpoint("10.0.0.1", 7001), REPLICA, "a", cluster_node_id="b" * 40)
    current = [_node(1, old_primary, "g1"), _node(2, old_replica, "g1")]
    after = Topology(
        REDIS_CLUSTER,
        "7.0",
        (
            SeenNode(old_replica.endpoint, PRIMARY, "b", cluster_node_id="b" * 40),
            SeenNode(Endpoint("10.0.0.9", 7000), REPLICA, "b", cluster_node_id="a" * 40),  # moved address
        ),
    )
    plan = plan_refresh(current, after, new_group_id=lambda: pytest.fail("no new group"))
    assert not plan.added and not plan.removed
    assert {(c.node.id, c.seen.role, c.group_id) for c in plan.kept} == {("n2", PRIMARY, "g1"), ("n1", REPLICA, "g1")}


seen_nodes = st.builds(
    SeenNode,
    endpoint=st.builds(Endpoint, st.sampled_from(["10.0.0.1", "10.0.0.2"]), st.integers(7000, 7005)),
    role=st.sampled_from([PRIMARY, REPLICA]),
    shard=st.sampled_from(["s1", "s2", "s3"]),
    healthy=st.booleans(),
    cluster_node_id=st.none() | st.sampled_from(["a" * 40, "b" * 40, "c" * 40]),
)


def _unique(nodes: list[SeenNode]) -> list[SeenNode]:
    return list({n.key: n for n in nodes}.values())


@given(st.lists(seen_nodes, max_size=8).map(_unique), st.lists(seen_nodes, max_size=8).map(_unique))
def test_plan_keeps_known_nodes_adds_new_ones_and_removes_the_rest(before, after):
    counter = itertools.count()
    current = [_node(i, s, f"g-{s.shard}") for i, s in enumerate(before)]
    topology = Topology(REDIS_CLUSTER, "7.0", tuple(after))

    plan = plan_refresh(current, topology, new_group_id=lambda: f"new-{next(counter)}")

    known = {node_key(n): n for n in current}
    assert {c.node.id for c in plan.kept} == {known[s.key].id for s in after if s.key in known}
    assert all(node_key(c.node) == c.seen.key for c in plan.kept)
    assert {c.seen.key for c in plan.added} == {s.key for s in after if s.key not in known}
    assert {node_key(n) for n in plan.removed} == set(known) - {s.key for s in after}
    by_shard: dict[str, set[str]] = {}
    for change in (*plan.kept, *plan.added):
        by_shard.setdefault(change.seen.shard, set()).add(change.group_id)
    assert all(len(groups) == 1 for groups in by_shard.values())  # one group per shard
    assert len({next(iter(g)) for g in by_shard.values()}) == len(by_shard)  # and never shared


# -- the schedule's setting ----------------------------------------------------------------


def test_the_refresh_schedule_is_off_by_default_and_needs_a_positive_interval():
    assert Settings().discovery_refresh_interval_seconds is None
    assert Settings(discovery_refresh_interval_seconds=30).discovery_refresh_interval_seconds == 30
    with pytest.raises(ValidationError):
        Settings(discovery_refresh_interval_seconds=0)
