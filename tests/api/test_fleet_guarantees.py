"""Fleet search, summary and close (extensions §1-2) on real nodes: what tests/api/test_fleet.py leaves open.

- Replication links (a real replica of a fleet primary, both adopted) are never listed, counted or
  closed, even by a selector written to catch them: the link keeps its client ID and stays up.
- ``user`` and ``exclude.user`` over distinct ACL users; ``ip`` and ``addr_prefix`` over distinct
  source addresses (127.0.0.2, 127.0.0.3); ``lib_name`` over ``CLIENT SETINFO`` (Valkey: Debian's
  Redis 7.0 has no SETINFO); ``min_age_seconds`` / ``max_age_seconds`` over connection ages.
  Redis and Valkey both: on Valkey the node filters single exact values itself.
- A stopped node is a failed node for summary and close too, while the others answer and close.
- The fan-out asks at most ``fanout_concurrency`` nodes at once (seen in the frozen nodes' sockets).

Each test has a project of its own, so an implicit scope sees only the test's instances.
"""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from sessionplane import admin
from sessionplane.audit.records import AuditFilter
from sessionplane.demo.servers import RedisServer
from sessionplane.inventory.records import Instance, NodeSpec
from tests.conftest import login, settings_for
from tests.live import LiveService
from tests.nodes import NODE_PASSWORD, ON_EVERY_NODE_PROFILE
from tests.support import RawSession, client_ids, node_view
from tests.tcp_table import ESTABLISHED, steady, tcp_sockets
from tests.topologies import info, replication_link_ids, wait_until

DOMAIN = "guarantees-co"
PASSWORD = "Guarantee-pa55word!"
APP_PASSWORD = "App-user-pa55!"
ON_REDIS_AND_VALKEY = pytest.mark.parametrize("node_profile", ["redis", "valkey"], indirect=True)


@dataclass
class Project:
    id: str
    api: httpx.Client
    adopt: Callable[..., Instance]

    def post(self, operation: str, body: dict[str, Any]) -> httpx.Response:
        return self.api.post(f"/sessionplane/v1/{self.id}/sessions/{operation}", json=body)

    def answer(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.post(operation, body)
        assert response.status_code == 200, response.text
        return response.json()

    def names(self, body: dict[str, Any]) -> list[str]:
        found = self.answer("search", {"limit": 1000, **body})
        assert found["failed_nodes"] == [], (body, found["failed_nodes"])
        return sorted(s["name"] for s in found["sessions"])

    def counts(self, group_by: str, body: dict[str, Any] | None = None) -> dict[str, int]:
        summary = self.answer("summary", {"group_by": group_by, "top": 100, **(body or {})})
        assert summary["failed_nodes"] == [], summary["failed_nodes"]
        return {g["key"]: g["count"] for g in summary["groups"]}


@pytest.fixture(scope="module")
def boss(service: LiveService) -> str:
    service.call(
        admin.add_user(service.services.inventory, domain=DOMAIN, name="boss", password=PASSWORD, is_admin=True)
    )
    return "boss"


@pytest.fixture
def project(service: LiveService, boss: str) -> Iterator[Project]:
    inventory = service.services.inventory
    created = service.call(admin.add_project(inventory, domain=DOMAIN, name=f"p-{uuid.uuid4().hex[:8]}"))
    token = login(service, domain=DOMAIN, name=boss, password=PASSWORD, project_id=created.id)

    def adopt(*servers: RedisServer, roles: tuple[str, ...] = (), name: str = "cache") -> Instance:
        specs = [
            NodeSpec(
                host=s.host,
                port=s.port,
                username=s.credentials[0],
                password=s.credentials[1],
                name=f"node_{i + 1}",
                role=roles[i] if roles else "master",
            )
            for i, s in enumerate(servers)
        ]
        return service.call(admin.adopt_instance(inventory, project_id=created.id, name=name, nodes=specs))

    with httpx.Client(base_url=service.url, headers={"X-Auth-Token": token}, timeout=60) as client:
        yield Project(created.id, client, adopt)


def _acl_users(server: RedisServer, *names: str) -> None:
    with server.client() as client:
        for name in names:
            client.execute_command("ACL", "SETUSER", name, "reset", "on", f">{APP_PASSWORD}", "~*", "&*", "+@all")


def _open_as(sessions: Callable[..., RawSession], server: RedisServer, user: str, name: str) -> RawSession:
    if user == "default":
        return sessions(server, name=name)
    return sessions(server, user=user, password=APP_PASSWORD, name=name)


# -- replication links ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Links:
    """A primary's and a replica's view of the replication link between them."""

    on_primary: set[int]  # the replica's connection to the primary (flag S)
    on_replica: set[int]  # the same link as the replica lists it: its connection to the primary (flag M)
    full_syncs: int

    @classmethod
    def of(cls, primary: RedisServer, replica: RedisServer) -> Links:
        wait_until(lambda: info(replica, "replication").get("master_link_status") == "up", "the replica link")
        return cls(
            replication_link_ids(primary),
            replication_link_ids(replica),
            int(info(primary, "stats")["sync_full"]),
        )


# Selectors written to catch the links: by their flags, their command, their user, their address.
LINK_BAITS = [
    {"match": {"flags": ["S"]}},
    {"match": {"flags": ["M"]}},
    {"match": {"cmd": ["replconf", "psync", "sync", "ping"]}},
    {"match": {"name": [""]}},
    {"match": {"user": ["default"]}, "exclude": {"name": ["app-*", "reader-*"]}},
    {"match": {"addr_prefix": "127.0.0.1:"}, "exclude": {"name": ["app-*", "reader-*"]}},
]


@ON_EVERY_NODE_PROFILE
def test_replication_links_are_never_listed_counted_or_closed(project, cluster, sessions):
    primary = cluster.start_server()
    replica = cluster.start_server(replica_of=primary)
    instance = project.adopt(primary, replica, roles=("master", "slave"))
    on_primary, on_replica = instance.nodes[0].id, instance.nodes[1].id
    links = Links.of(primary, replica)
    assert len(links.on_primary) == 1 and len(links.on_replica) == 1
    opened = [sessions(primary, name="app-1"), sessions(primary, name="app-2"), sessions(replica, name="reader-1")]

    everything = project.answer("search", {"limit": 1000})
    assert sorted(s["name"] for s in everything["sessions"]) == ["app-1", "app-2", "reader-1"]
    assert everything["total_count"] == 3 and everything["failed_nodes"] == []
    listed = {int(s["id"]) for s in everything["sessions"]}
    assert not listed & (links.on_primary | links.on_replica)
    assert project.counts("node") == {on_primary: 2, on_replica: 1}
    for bait in LINK_BAITS:
        assert project.answer("search", bait)["total_count"] == 0, bait
        assert project.answer("summary", {**bait, "group_by": "user"}) == {
            "total_count": 0,
            "groups": [],
            "other": 0,
            "failed_nodes": [],
        }, bait
        assert project.answer("close", {**bait, "dry_run": True})["would_close"] == 0, bait
        closed = project.answer("close", bait)
        assert closed["closed"] == 0 and closed["failed_nodes"] == [], bait

    closed = project.answer("close", {"expect_at_most": 3})

    assert closed["closed"] == 3
    assert {n["node_id"]: n["closed"] for n in closed["nodes"]} == {on_primary: 2, on_replica: 1}
    assert all(s.closed_by_node() for s in opened)
    # The very same link (same client ID on both sides), still up, and no new full sync happened.
    assert Links.of(primary, replica) == links
    assert info(replica, "replication")["master_link_status"] == "up"
    assert info(primary, "replication")["connected_slaves"] == 1


# -- selector fields over real connections --------------------------------------------------------


# On "redis-acl-user" sessionplane connects as an ACL user of its own: never counted under any user.
@pytest.mark.parametrize("node_profile", ["redis", "redis-acl-user", "valkey"], indirect=True)
def test_user_and_exclude_user_pick_sessions_by_acl_user(project, cluster, sessions):
    server = cluster.start_server()
    _acl_users(server, "app", "batch", "ops")
    project.adopt(server)
    opened = {
        name: _open_as(sessions, server, user, name)
        for user, name in [("app", "web-1"), ("app", "web-2"), ("batch", "job-1"), ("ops", "ops-shell")]
        + [("default", "legacy")]
    }

    assert project.names({"match": {"user": ["app"]}}) == ["web-1", "web-2"]
    assert project.names({"match": {"user": ["b*"]}}) == ["job-1"]
    assert project.names({"match": {"user": ["app", "ops"]}}) == ["ops-shell", "web-1", "web-2"]
    assert project.names({"exclude": {"user": ["ops"]}}) == ["job-1", "legacy", "web-1", "web-2"]
    assert project.names({"match": {"user": ["app"]}, "exclude": {"user": ["app"]}}) == []
    # No such user on the node: nothing matches (Valkey's USER filter refuses the name; the answer must not).
    assert project.names({"match": {"user": ["nobody"]}}) == []
    nothing = project.answer("close", {"match": {"user": ["nobody"]}})
    assert nothing["closed"] == 0 and nothing["failed_nodes"] == []
    assert project.counts("user") == {"app": 2, "batch": 1, "ops": 1, "default": 1}
    by_user = project.answer("search", {"match": {"user": ["batch"]}})["sessions"]
    assert [(s["name"], s["user"]) for s in by_user] == [("job-1", "batch")]

    closed = project.answer("close", {"exclude": {"user": ["ops", "default"]}, "expect_at_most": 3})

    assert closed["closed"] == 3
    assert all(opened[n].closed_by_node() for n in ("web-1", "web-2", "job-1"))
    assert opened["ops-shell"].alive() and opened["legacy"].alive()


@ON_REDIS_AND_VALKEY
def test_ip_and_addr_prefix_pick_sessions_by_source_address(project, cluster, sessions):
    server = cluster.start_server()
    project.adopt(server)
    opened = {
        "two-a": sessions(server, name="two-a", source_ip="127.0.0.2"),
        "two-b": sessions(server, name="two-b", source_ip="127.0.0.2"),
        "three": sessions(server, name="three", source_ip="127.0.0.3"),
        "local": sessions(server, name="local"),
    }

    assert project.names({"match": {"ip": ["127.0.0.2"]}}) == ["two-a", "two-b"]
    assert project.names({"match": {"ip": ["127.0.0.2", "127.0.0.3"]}}) == ["three", "two-a", "two-b"]
    assert project.names({"match": {"ip": ["10.0.0.5"]}}) == []
    assert project.names({"exclude": {"ip": ["127.0.0.1"]}}) == ["three", "two-a", "two-b"]
    assert project.names({"match": {"addr_prefix": "127.0.0.3:"}}) == ["three"]
    assert project.names({"match": {"addr_prefix": opened["two-a"].addr}}) == ["two-a"]
    assert project.names({"match": {"addr_prefix": "127.0.0."}, "exclude": {"addr_prefix": "127.0.0.2"}}) == [
        "local",
        "three",
    ]
    assert project.counts("ip") == {"127.0.0.1": 1, "127.0.0.2": 2, "127.0.0.3": 1}
    (three,) = project.answer("search", {"match": {"ip": ["127.0.0.3"]}})["sessions"]
    assert three["addr"] == opened["three"].addr and three["id"] == str(opened["three"].id)

    closed = project.answer("close", {"match": {"ip": ["127.0.0.2"]}, "expect_at_most": 2})

    assert closed["closed"] == 2
    assert opened["two-a"].closed_by_node() and opened["two-b"].closed_by_node()
    assert opened["three"].alive() and opened["local"].alive()


@pytest.mark.parametrize("node_profile", ["valkey"], indirect=True)
def test_lib_name_picks_sessions_by_the_library_they_declared(project, cluster, sessions):
    """CLIENT SETINFO LIB-NAME is Redis 7.2+ / Valkey: Debian's Redis 7.0 refuses it, so Valkey only."""
    server = cluster.start_server()
    project.adopt(server)
    opened = {}
    for name, library in [("py-1", "redis-py"), ("py-2", "redis-py"), ("go-1", "go-redis"), ("bare", None)]:
        opened[name] = sessions(server, name=name)
        if library:
            assert opened[name].call("CLIENT", "SETINFO", "LIB-NAME", library) == b"OK"
            opened[name].call("CLIENT", "SETINFO", "LIB-VER", "1.2.3")

    assert project.names({"match": {"lib_name": ["redis-py"]}}) == ["py-1", "py-2"]
    assert project.names({"match": {"lib_name": ["go-*", "redis-py"]}}) == ["go-1", "py-1", "py-2"]
    assert project.names({"match": {"lib_name": [""]}}) == ["bare"]
    assert project.names({"exclude": {"lib_name": ["redis-py*"]}}) == ["bare", "go-1"]
    assert project.counts("lib_name") == {"redis-py": 2, "go-redis": 1, "": 1}
    (go,) = project.answer("search", {"match": {"lib_name": ["go-redis"]}})["sessions"]
    assert go["lib_name"] == "go-redis" and go["lib_ver"] == "1.2.3"

    closed = project.answer("close", {"match": {"lib_name": ["go-redis"]}, "expect_at_most": 1})

    assert closed["closed"] == 1 and opened["go-1"].closed_by_node()
    assert all(opened[n].alive() for n in ("py-1", "py-2", "bare"))


OLD = 5  # seconds the older sessions are connected before the newer ones open


@ON_REDIS_AND_VALKEY
def test_min_and_max_age_pick_sessions_by_how_long_they_are_connected(project, cluster, sessions):
    server = cluster.start_server()
    project.adopt(server)
    old = [sessions(server, name="old-1"), sessions(server, name="old-2")]
    _wait_until_connected_for(server, old, seconds=OLD)
    new = sessions(server, name="new-1")  # age 0: it would need OLD seconds more to reach the old ones

    # The newer session first: its age grows while the test runs, the older ones' bound never stops holding.
    assert project.names({"match": {"max_age_seconds": OLD - 1}}) == ["new-1"]
    assert project.names({"exclude": {"min_age_seconds": OLD}}) == ["new-1"]
    assert project.names({"match": {"min_age_seconds": OLD}}) == ["old-1", "old-2"]
    assert project.names({"exclude": {"max_age_seconds": OLD - 1}}) == ["old-1", "old-2"]
    assert project.names({"match": {"min_age_seconds": OLD, "max_age_seconds": 10**6}}) == ["old-1", "old-2"]
    assert project.names({"match": {"min_age_seconds": 10**6}}) == []

    closed = project.answer("close", {"match": {"min_age_seconds": OLD}, "expect_at_most": 2})

    assert closed["closed"] == 2 and all(s.closed_by_node() for s in old)
    assert new.alive()


def _wait_until_connected_for(server: RedisServer, opened: list[RawSession], *, seconds: int) -> None:
    ids = [s.id for s in opened]
    wait_until(lambda: all(int(c["age"]) >= seconds for c in node_view(server, ids).values()), f"{seconds} s of age")


# -- a stopped node ---------------------------------------------------------------------------------


@pytest.mark.parametrize("node_profile", ["redis-requirepass"], indirect=True)
def test_a_stopped_node_is_a_failed_node_for_summary_and_close_while_the_others_answer(
    service, project, cluster, sessions
):
    first, stopped, other = cluster.start_server(), cluster.start_server(), cluster.start_server()
    orders = project.adopt(first, stopped, name="orders")
    billing = project.adopt(other, name="billing")
    batch = [sessions(first, name="batch-1"), sessions(first, name="batch-2"), sessions(other, name="batch-3")]
    bystanders = [sessions(first, name="api-1"), sessions(other, name="api-2")]
    sessions(stopped, name="batch-gone")
    stopped.stop()
    down = orders.nodes[1].id
    selector = {"match": {"name": ["batch-*"]}}

    summary = project.answer("summary", {**selector, "group_by": "node"})
    assert summary["total_count"] == 3 and summary["other"] == 0
    assert {g["key"]: g["count"] for g in summary["groups"]} == {orders.nodes[0].id: 2, billing.nodes[0].id: 1}
    (failed,) = summary["failed_nodes"]
    assert failed["node_id"] == down and failed["instance_id"] == orders.id
    assert failed["error_code"] == "DBS.200018" and failed["error_msg"]
    assert NODE_PASSWORD not in json.dumps(summary)

    preview = project.answer("close", {**selector, "dry_run": True})
    assert preview["would_close"] == 3 and [f["node_id"] for f in preview["failed_nodes"]] == [down]

    closed = project.answer("close", {**selector, "expect_at_most": 3})

    assert closed["closed"] == 3
    nodes = {n["node_id"]: n for n in closed["nodes"]}
    assert {k: n["closed"] for k, n in nodes.items()} == {orders.nodes[0].id: 2, down: 0, billing.nodes[0].id: 1}
    assert nodes[down]["error_code"] == "DBS.200018" and nodes[orders.nodes[0].id]["error_code"] is None
    assert [(f["node_id"], f["error_code"]) for f in closed["failed_nodes"]] == [(down, "DBS.200018")]
    assert all(s.closed_by_node() for s in batch)
    assert all(s.alive() for s in bystanders)
    assert not {s.id for s in batch[:2]} & client_ids(first) and batch[2].id not in client_ids(other)
    (event,) = [
        e
        for e in service.call(service.services.audit_store.events(account_id=None, where=AuditFilter(limit=500)))
        if e.id == closed["audit_id"]
    ]
    assert event.outcome == "partial" and event.error_code == "DBS.200018"
    results = {r["node_id"]: r for r in event.node_results}
    assert results[down]["error_code"] == "DBS.200018" and "closed" not in results[down]
    assert NODE_PASSWORD not in json.dumps(closed) + json.dumps(event.node_results)
    assert results[orders.nodes[0].id]["closed"] == 2 and results[billing.nodes[0].id]["closed"] == 1


# -- bounded fan-out -------------------------------------------------------------------------------


def test_a_fan_out_asks_at_most_fanout_concurrency_nodes_at_once(tmp_path, cluster):
    """Frozen nodes (SIGSTOP) never answer, and the node deadline outlasts the test: a node has been
    asked when our request sits unread in its socket. With ``fanout_concurrency`` 2, two of four nodes
    are asked; the next is asked only when one of them answers."""
    settings = settings_for(tmp_path, fanout_concurrency=2, node_deadline_seconds=600)
    with LiveService(settings) as live, ThreadPoolExecutor(1) as background:
        inventory = live.services.inventory
        live.call(admin.add_user(inventory, domain=DOMAIN, name="boss", password=PASSWORD, is_admin=True))
        project = live.call(admin.add_project(inventory, domain=DOMAIN, name="wide"))
        servers = [cluster.start_server() for _ in range(4)]
        specs = [NodeSpec(host=s.host, port=s.port, name=f"node_{i + 1}") for i, s in enumerate(servers)]
        live.call(admin.adopt_instance(inventory, project_id=project.id, name="wide", nodes=specs))
        token = login(live, domain=DOMAIN, name="boss", password=PASSWORD, project_id=project.id)
        url = f"{live.url}/sessionplane/v1/{project.id}/sessions/search"
        search = lambda: httpx.post(url, json={}, headers={"X-Auth-Token": token}, timeout=600)  # noqa: E731
        assert search().status_code == 200  # every node's pool is open: a request is bytes on a socket
        for server in servers:
            os.kill(server.process.pid, signal.SIGSTOP)
        try:
            pending = background.submit(search)
            wait_until(lambda: len(_asked(servers)) >= 2, "two nodes to be asked")
            first = _asked(servers)
            assert len(first) == 2
            os.kill(first[0].process.pid, signal.SIGCONT)  # it answers: one more node may be asked
            still_frozen = [s for s in servers if s is not first[0]]
            wait_until(lambda: len(_asked(still_frozen)) >= 2, "a third node to be asked")
            second = _asked(still_frozen)
            assert len(second) == 2 and first[1] in second
        finally:
            for server in servers:
                os.kill(server.process.pid, signal.SIGCONT)
        answer = pending.result()
        assert answer.status_code == 200 and answer.json()["failed_nodes"] == []


def _asked(servers: list[RedisServer]) -> list[RedisServer]:
    """The servers with bytes waiting unread on a connection they accepted (their own side's rx queue)."""
    waiting = steady(lambda: {s.local_port for s in tcp_sockets().values() if s.state == ESTABLISHED and s.unread})
    return [s for s in servers if s.port in waiting]
