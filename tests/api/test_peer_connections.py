"""Other sessionplane processes' connections to a node (replicas, workers, the CLI, a second record of the
same server) are neither listed nor closed, when sessionplane has its own ACL user on the node.

They are recognised by our client name under sessionplane's own user: a client of the node cannot
log in as that user, so it cannot hide behind the name; under a shared user the name alone shields
nothing (an impostor naming itself ``sessionplane`` is listed and closed like any client).
"""

from __future__ import annotations

import pytest

from tests.support import client_ids

pytestmark = pytest.mark.parametrize("node_profile", ["redis-acl-user"], indirect=True)


def ours(server) -> set[int]:
    with server.client() as client:
        return {int(c["id"]) for c in client.client_list() if c["name"] == "sessionplane"}


def test_another_records_connections_are_not_sessions_and_survive_a_close(api, tenant, cluster, sessions, register):
    server = cluster.start_server()
    first = register(server, name="first-record")
    second = register(server, name="second-record")
    apps = [sessions(server, name="app") for _ in range(2)]
    impostor = sessions(server, name="sessionplane")  # under the node's default user, not sessionplane's

    listed = api.get(f"/v3/{tenant.project_id}/redis/nodes/{second.nodes[0].id}/sessions")
    assert listed.status_code == 200, listed.text
    peers = ours(server) - {impostor.id}
    assert peers  # the second record's pool, a peer of the first one's

    listed = api.get(f"/v3/{tenant.project_id}/redis/nodes/{first.nodes[0].id}/sessions")
    assert listed.status_code == 200, listed.text
    assert listed.json()["total_count"] == 3
    assert {int(s["id"]) for s in listed.json()["sessions"]} == {a.id for a in apps} | {impostor.id}

    closed = api.delete(f"/v3/{tenant.project_id}/instances/{first.id}/sessions")
    assert closed.status_code == 200, closed.text
    assert all(a.closed_by_node() for a in apps)
    assert impostor.closed_by_node()
    assert peers <= client_ids(server)  # the peer's connections are still open
    again = api.get(f"/v3/{tenant.project_id}/redis/nodes/{second.nodes[0].id}/sessions")
    assert again.status_code == 200, again.text
    assert again.json()["total_count"] == 0
