"""Other sessionplane processes' connections to a node (replicas, workers, the CLI, a second record of the
same server) are sessions like any other to a process, which knows only its own by ID; protecting the
ACL user they all log in as (what the README recommends) makes them never listed nor closed.

A name shields nothing: a client naming itself ``sessionplane`` is listed and closed like any client,
protected user or not.
"""

from __future__ import annotations

import pytest

from tests.nodes import OPERATOR
from tests.support import client_ids

pytestmark = pytest.mark.parametrize("node_profile", ["redis-acl-user"], indirect=True)


def ours(server) -> set[int]:
    with server.client() as client:
        return {int(c["id"]) for c in client.client_list() if c["user"] == OPERATOR.name}


def test_another_records_connections_survive_a_close_when_sessionplanes_user_is_protected(
    api, tenant, cluster, sessions, register
):
    server = cluster.start_server()
    first = register(server, name="first-record", protected_users=[OPERATOR.name])
    second = register(server, name="second-record", protected_users=[OPERATOR.name])
    apps = [sessions(server, name="app") for _ in range(2)]
    impostor = sessions(server, name="sessionplane")  # under the node's default user, not sessionplane's

    listed = api.get(f"/v3/{tenant.project_id}/redis/nodes/{second.nodes[0].id}/sessions")
    assert listed.status_code == 200, listed.text
    peers = ours(server)
    assert peers  # the second record's pool, a peer of the first one's

    listed = api.get(f"/v3/{tenant.project_id}/redis/nodes/{first.nodes[0].id}/sessions")
    assert listed.status_code == 200, listed.text
    assert {int(s["id"]) for s in listed.json()["sessions"]} == {a.id for a in apps} | {impostor.id}

    closed = api.delete(f"/v3/{tenant.project_id}/instances/{first.id}/sessions")
    assert closed.status_code == 200, closed.text
    assert all(a.closed_by_node() for a in apps)
    assert impostor.closed_by_node()
    assert peers <= client_ids(server)  # the peer's connections are still open
    again = api.get(f"/v3/{tenant.project_id}/redis/nodes/{second.nodes[0].id}/sessions")
    assert again.status_code == 200, again.text
    assert again.json()["total_count"] == 0


def test_without_the_protection_a_peers_connections_are_sessions(api, tenant, cluster, sessions, register):
    server = cluster.start_server()
    first = register(server, name="first-record")
    second = register(server, name="second-record")
    assert api.get(f"/v3/{tenant.project_id}/redis/nodes/{second.nodes[0].id}/sessions").status_code == 200
    peers = ours(server)

    listed = api.get(f"/v3/{tenant.project_id}/redis/nodes/{first.nodes[0].id}/sessions")

    # our name under our user proves nothing by itself: the README says to protect the user
    assert peers <= {int(s["id"]) for s in listed.json()["sessions"]}
