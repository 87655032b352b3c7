"""DELETE /v3/{project_id}/instances/{instance_id}/sessions: every node, concurrently, failures named."""

from __future__ import annotations

import threading

import httpx

from tests.nodes import ON_EVERY_NODE_PROFILE
from tests.support import client_ids

pytestmark = ON_EVERY_NODE_PROFILE


def test_closes_every_client_session_of_every_node(api, tenant, cluster, sessions, register):
    servers = [cluster.start_server() for _ in range(3)]
    instance = register(*servers)
    opened = [sessions(server, name=f"app-{n}") for n, server in enumerate(servers) for _ in range(4)]
    guardian = sessions(servers[1], name="guardian")

    response = api.delete(f"/v3/{tenant.project_id}/instances/{instance.id}/sessions")

    assert response.status_code == 200, response.text
    assert response.json() == {}
    assert all(s.closed_by_node() for s in opened)
    assert guardian.alive()
    for server in servers:
        assert not {s.id for s in opened} & client_ids(server)


def test_node_id_limits_the_close_to_that_node(api, tenant, cluster, sessions, register):
    first, second = cluster.start_server(), cluster.start_server()
    instance = register(first, second)
    on_first, on_second = sessions(first, name="x"), sessions(second, name="y")

    response = api.delete(
        f"/v3/{tenant.project_id}/instances/{instance.id}/sessions", params={"node_id": instance.nodes[1].id}
    )

    assert response.status_code == 200, response.text
    assert on_second.closed_by_node()
    assert on_first.alive()


def test_a_stopped_node_is_named_and_the_others_are_still_closed(api, tenant, cluster, sessions, register):
    servers = [cluster.start_server() for _ in range(3)]
    instance = register(*servers)
    survivors = [sessions(servers[1], name="on-stopped-node")]
    closed = [sessions(servers[0], name="a"), sessions(servers[2], name="c")]
    servers[1].stop()
    survivors.clear()  # its sockets died with the node

    response = api.delete(f"/v3/{tenant.project_id}/instances/{instance.id}/sessions")

    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error_code"] == "DBS.301077"
    assert instance.nodes[1].id in body["error_msg"]
    assert instance.nodes[0].id not in body["error_msg"] and instance.nodes[2].id not in body["error_msg"]
    assert all(s.closed_by_node() for s in closed)

    listing = api.get(f"/v3/{tenant.project_id}/instances/{instance.id}/sessions")
    assert listing.status_code == 400 and listing.json()["error_code"] == "DBS.301076"
    assert instance.nodes[1].id in listing.json()["error_msg"]

    servers[1].start()  # back: repeating the call is safe and now succeeds
    assert api.delete(f"/v3/{tenant.project_id}/instances/{instance.id}/sessions").status_code == 200


def test_own_connections_survive_concurrent_requests(service, admin_token, tenant, cluster, sessions, register):
    """Close-all runs while other requests use sessionplane's connections to the same nodes."""
    servers = [cluster.start_server() for _ in range(2)]
    instance = register(*servers)
    for server in servers:
        for _ in range(5):
            sessions(server, name="app")
    headers = {"X-Auth-Token": admin_token}
    with httpx.Client(base_url=service.url, headers=headers, timeout=60) as client:
        assert client.get(f"/v3/{tenant.project_id}/instances/{instance.id}/sessions").status_code == 200
    own_before = {server.port: _own_ids(server) for server in servers}
    assert all(own_before.values())

    answers: list[tuple[int, str]] = []

    def hammer(kind: str) -> None:
        with httpx.Client(base_url=service.url, headers=headers, timeout=60) as client:
            for _ in range(15):
                if kind == "close":
                    response = client.delete(f"/v3/{tenant.project_id}/instances/{instance.id}/sessions")
                else:
                    response = client.get(f"/v3/{tenant.project_id}/redis/nodes/{instance.nodes[0].id}/sessions")
                answers.append((response.status_code, "" if response.status_code == 200 else response.text))

    threads = [threading.Thread(target=hammer, args=(kind,)) for kind in ("close", "close", "list", "list")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [answer for answer in answers if answer[0] != 200] == []
    assert len(answers) == 60
    for server, node in zip(servers, instance.nodes, strict=True):
        # Pools open connections on demand, so there may be more of ours now; none was closed:
        # every one the node shows is one the pool holds open (a killed one would be missing).
        own_after = _own_ids(server)
        assert own_before[server.port] <= own_after
        assert own_after == service.call(service.services.nodes.own(node)).open


def _own_ids(server) -> set[int]:
    with server.client() as client:
        return {int(c["id"]) for c in client.client_list() if c["name"] == "sessionplane"}
