"""DELETE /v3/{project_id}/redis/nodes/{node_id}/sessions against real redis-server nodes."""

from __future__ import annotations

import time

import httpx

from tests.nodes import NODE_PROFILES, ON_EVERY_NODE_PROFILE
from tests.support import client_ids, client_names, kill_calls, wait_until_idle

pytestmark = ON_EVERY_NODE_PROFILE


def close(api: httpx.Client, project_id: str, node_id: str, body: object, **params: str) -> httpx.Response:
    return api.request("DELETE", f"/v3/{project_id}/redis/nodes/{node_id}/sessions", json=body, params=params)


def test_close_by_ids_closes_exactly_those_sockets(api, tenant, cluster, sessions, register):
    server = cluster.start_server()
    instance = register(server)
    a, b, keep = sessions(server, name="a"), sessions(server, name="b"), sessions(server, name="keep")

    response = close(api, tenant.project_id, instance.nodes[0].id, {"is_all": False, "session_ids": [str(a.id), b.id]})

    assert response.status_code == 200, response.text
    assert response.json() == {}
    assert response.headers["X-Request-Id"]
    assert a.closed_by_node() and b.closed_by_node()
    assert {a.id, b.id}.isdisjoint(client_ids(server))
    assert keep.alive() and keep.id in client_ids(server)


def test_a_close_by_ids_names_many_ids_per_kill_where_the_node_takes_them(
    api, tenant, cluster, sessions, register, node_profile
):
    """Valkey 8.1+ takes ``CLIENT KILL ID <id> <id>...``: one scan of its clients for many IDs, where Redis 7.0
    scans them once per ID. Each kill still names the clients' TYPE: normal and pub/sub go in a kill each."""
    server = cluster.start_server()
    instance = register(server)
    doomed = [sessions(server, name=f"batch-{i}") for i in range(6)]
    listener = sessions(server, name="listener")
    listener.call("SUBSCRIBE", "news")
    keep = sessions(server, name="keep")
    ids = [s.id for s in (*doomed, listener)]
    kills_before = kill_calls(server)

    response = close(api, tenant.project_id, instance.nodes[0].id, {"is_all": False, "session_ids": ids})

    assert response.status_code == 200, response.text
    assert all(s.closed_by_node() for s in (*doomed, listener))
    assert not set(ids) & client_ids(server)
    assert keep.alive() and keep.id in client_ids(server)
    grouped = NODE_PROFILES[node_profile].get("kind") == "valkey"
    assert kill_calls(server) - kills_before == (2 if grouped else len(ids))


def test_unknown_or_already_closed_ids_are_not_an_error(api, tenant, cluster, sessions, register):
    server = cluster.start_server()
    instance = register(server)
    keep = sessions(server, name="keep")

    response = close(
        api,
        tenant.project_id,
        instance.nodes[0].id,
        {"is_all": False, "session_ids": ["999999", "18446744073709551615"]},
    )

    assert response.status_code == 200, response.text
    assert keep.alive()


def test_close_all_spares_replication_protected_and_own_sessions(api, tenant, cluster, sessions, register):
    primary = cluster.start_server()
    replica = cluster.start_server(replica_of=primary)
    instance = register(primary, protected_names=["audit-tap"])
    users = [sessions(primary, name=f"app-{i}") for i in range(3)] + [sessions(primary)]
    subscriber = sessions(primary, name="listener")
    subscriber.call("SUBSCRIBE", "news")
    guardian = sessions(primary, name="guardian")  # protected globally (service settings)
    tap = sessions(primary, name="audit-tap")  # protected on this instance
    with replica.client() as r:
        assert _wait_link_up(r)
    link_before = _replica_link_ids(primary)
    assert len(link_before) == 1

    response = close(api, tenant.project_id, instance.nodes[0].id, {"is_all": True, "session_ids": ["ignored"]})

    assert response.status_code == 200, response.text
    for session in [*users, subscriber]:
        assert session.closed_by_node()
    remaining = client_ids(primary)
    assert all(s.id not in remaining for s in [*users, subscriber])
    assert guardian.alive() and tap.alive()
    assert "sessionplane" in client_names(primary)
    with primary.client() as probe:  # connected as the node's operator credentials (the ACL user on that profile)
        own_users = {c["user"] for c in probe.client_list() if c["name"] == "sessionplane"}
    assert own_users == {primary.credentials[0] or "default"}
    # the very same replication connection: not closed and re-established
    assert _replica_link_ids(primary) == link_before
    with replica.client() as r:
        assert r.info("replication")["master_link_status"] == "up"


def _replica_link_ids(primary) -> set[int]:
    with primary.client() as p:
        return {int(c["id"]) for c in p.client_list() if "S" in c["flags"]}


def _wait_link_up(replica_client) -> bool:
    for _ in range(200):
        if replica_client.info("replication").get("master_link_status") == "up":
            return True
        time.sleep(0.05)
    return False


def test_min_idle_seconds_closes_only_idle_sessions(api, tenant, cluster, sessions, register):
    server = cluster.start_server()
    instance = register(server)
    idle = sessions(server, name="idle")
    wait_until_idle(server, [idle], seconds=3)
    busy = sessions(server, name="busy")  # idle 0 now: the node would need 2 s more to count it 3 s idle

    response = close(api, tenant.project_id, instance.nodes[0].id, {"is_all": True, "min_idle_seconds": 3})

    assert response.status_code == 200, response.text
    assert idle.closed_by_node()
    assert busy.alive()


def test_addr_prefix_closes_only_matching_addresses(api, tenant, cluster, sessions, register):
    server = cluster.start_server()
    instance = register(server)
    local = sessions(server, name="local", source_ip="127.0.0.1")
    other = sessions(server, name="other", source_ip="127.0.0.2")

    response = close(api, tenant.project_id, instance.nodes[0].id, {"is_all": True, "addr_prefix": "127.0.0.2:"})

    assert response.status_code == 200, response.text
    assert other.closed_by_node()
    assert local.alive()


def test_dry_run_lists_what_would_close_and_closes_nothing(api, tenant, cluster, sessions, register):
    server = cluster.start_server()
    instance = register(server)
    a, b = sessions(server, name="a"), sessions(server, name="b")

    response = close(
        api, tenant.project_id, instance.nodes[0].id, {"is_all": False, "session_ids": [str(a.id)]}, dry_run="true"
    )

    assert response.status_code == 200, response.text
    listed = response.json()["sessions"]
    assert [s["id"] for s in listed] == [str(a.id)]
    assert listed[0]["name"] == "a"
    assert a.alive() and b.alive()
    assert {a.id, b.id} <= client_ids(server)


def test_a_close_by_ids_naming_a_replicas_master_link_neither_lists_nor_closes_it(
    api, tenant, cluster, sessions, register
):
    """A listing narrowed to IDs (``CLIENT LIST ID``) shows replication links: they are told by their flags."""
    primary = cluster.start_server()
    replica = cluster.start_server(replica_of=primary)
    with replica.client() as r:
        assert _wait_link_up(r)
        (link,) = [int(c["id"]) for c in r.client_list() if "M" in c["flags"]]
    instance = register(replica)
    app = sessions(replica, name="app")
    body = {"is_all": False, "session_ids": [str(link), str(app.id)]}

    preview = close(api, tenant.project_id, instance.nodes[0].id, body, dry_run="true")
    response = close(api, tenant.project_id, instance.nodes[0].id, body)

    assert preview.status_code == 200, preview.text
    assert [s["id"] for s in preview.json()["sessions"]] == [str(app.id)]
    assert response.status_code == 200, response.text
    assert app.closed_by_node()
    assert link in client_ids(replica)
    with replica.client() as r:
        assert r.info("replication")["master_link_status"] == "up"
