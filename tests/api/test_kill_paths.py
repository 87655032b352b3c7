"""The two ways a close-all runs on a node, and the guarantees both keep.

Per user (``CLIENT KILL TYPE normal|pubsub USER u``) when sessionplane has its own ACL user on
the node and no protected name sits under ``u``; per ID otherwise. Either way replication links,
sessionplane's own connections and protected sessions survive, and the audit counts what was
closed. Our own connections are known by client ID: a client that names itself ``sessionplane``
is an ordinary client session.
"""

from __future__ import annotations

import contextlib
import threading

import httpx
import pytest

from sessionplane import admin
from sessionplane.audit.records import AuditFilter
from sessionplane.demo.servers import RedisServer
from sessionplane.inventory.records import NodeSpec
from sessionplane.nodes.grants import OWN_USER_RULES
from sessionplane.sessions import service as session_service
from tests.support import RawSession, client_ids, kill_calls, replica_link_ids

OWN_USER, OWN_PASSWORD = "sessionplane", "own-Acl-pa55"
APP_PASSWORD = "app-pa55word"
OWN_GRANTS = " ".join([*OWN_USER_RULES, "+info"])


def _acl(server: RedisServer, *users: str) -> None:
    with server.client() as client:
        client.execute_command("ACL", "SETUSER", OWN_USER, "on", f">{OWN_PASSWORD}", *OWN_GRANTS.split())
        for user in users:
            client.execute_command("ACL", "SETUSER", user, "on", f">{APP_PASSWORD}", "+@all", "~*", "&*")


def _register(service, tenant, server: RedisServer, *, own_user: bool, **options):
    spec = NodeSpec(
        host=server.host,
        port=server.port,
        username=OWN_USER if own_user else None,
        password=OWN_PASSWORD if own_user else server.password,
        name="node_1",
    )
    return service.call(
        admin.adopt_instance(
            service.services.inventory, project_id=tenant.project_id, name="kill-paths", nodes=[spec], **options
        )
    )


def _audit(service, request_id: str):
    (event,) = [
        e
        for e in service.call(service.services.audit_store.events(account_id=None, where=AuditFilter(limit=1000)))
        if e.request_id == request_id
    ]
    return event


def _close_all(api, tenant, instance) -> httpx.Response:
    response = api.request(
        "DELETE", f"/v3/{tenant.project_id}/redis/nodes/{instance.nodes[0].id}/sessions", json={"is_all": True}
    )
    assert response.status_code == 200, response.text
    return response


@pytest.mark.parametrize("own_user", [True, False], ids=["own-acl-user", "shared-user"])
def test_close_all_spares_links_own_and_protected_and_counts_exactly(service, api, tenant, cluster, sessions, own_user):
    primary = cluster.start_server()
    replica = cluster.start_server(replica_of=primary)
    _acl(primary, "app", "ops")
    instance = _register(service, tenant, primary, own_user=own_user, protected_users=["ops"])
    apps = [sessions(primary, user="app", password=APP_PASSWORD, name=f"app-{i}") for i in range(6)]
    subscriber = sessions(primary, user="app", password=APP_PASSWORD, name="events")
    subscriber.call("SUBSCRIBE", "news")
    defaults = [sessions(primary, name="legacy") for _ in range(2)]
    impostor = sessions(primary, name="sessionplane")  # takes our name: an ordinary client session
    ops = sessions(primary, user="ops", password=APP_PASSWORD, name="ops-shell")
    guardian = sessions(primary, name="guardian")  # a protected name under "default"
    link = replica_link_ids(primary, replica)
    kills_before = kill_calls(primary)

    response = _close_all(api, tenant, instance)

    closed = [*apps, subscriber, *defaults, impostor]
    assert all(s.closed_by_node() for s in closed)
    assert not {s.id for s in closed} & client_ids(primary)
    assert ops.alive() and guardian.alive()
    assert replica_link_ids(primary, replica) == link
    event = _audit(service, response.headers["X-Request-Id"])
    assert event.outcome == "succeeded"
    assert event.node_results == ({"node_id": instance.nodes[0].id, "closed": len(closed)},)
    own = service.call(service.services.nodes.own(instance.nodes[0])).open
    assert own and own <= client_ids(primary)
    # "app" has no shielded session: one pass per type; "default" holds the guardian (and, when we
    # share it, our own connections): its three client sessions go by ID.
    assert kill_calls(primary) - kills_before == 2 + 3


def test_a_close_by_ids_in_slices_keeps_every_guarantee_and_counts_exactly(
    service, api, tenant, cluster, sessions, monkeypatch
):
    """A close of more IDs than one slice lists and closes them slice by slice, each slice listed while the
    node still kills the one before: across slices, the same sessions go and stay as in one piece."""
    monkeypatch.setattr(session_service, "FIRST_ID_SLICE", 1)  # eight slices for these thirteen IDs
    monkeypatch.setattr(session_service, "ID_SLICE", 2)
    primary = cluster.start_server()
    replica = cluster.start_server(replica_of=primary)
    _acl(primary, "app", "ops")
    instance = _register(service, tenant, primary, own_user=False, protected_users=["ops"])
    apps = [sessions(primary, user="app", password=APP_PASSWORD, name=f"app-{i}") for i in range(5)]
    subscribers = [sessions(primary, user="app", password=APP_PASSWORD, name=f"events-{i}") for i in range(2)]
    for subscriber in subscribers:
        subscriber.call("SUBSCRIBE", "news")
    ops = sessions(primary, user="ops", password=APP_PASSWORD, name="ops-shell")
    guardian = sessions(primary, name="guardian")
    bystander = sessions(primary, user="app", password=APP_PASSWORD, name="not-named")
    link = replica_link_ids(primary, replica)
    api.get(f"/v3/{tenant.project_id}/redis/nodes/{instance.nodes[0].id}/sessions")  # opens our pool
    own = service.call(service.services.nodes.own(instance.nodes[0])).open
    closed = [*apps, *subscribers]
    named = [s.id for s in closed] + [ops.id, guardian.id, *link, *own, 999_999]

    response = api.request(
        "DELETE",
        f"/v3/{tenant.project_id}/redis/nodes/{instance.nodes[0].id}/sessions",
        json={"is_all": False, "session_ids": [str(i) for i in named]},
    )

    assert response.status_code == 200, response.text
    assert all(s.closed_by_node() for s in closed)
    remaining = client_ids(primary)
    assert not {s.id for s in closed} & remaining
    assert ops.alive() and guardian.alive() and bystander.alive()
    assert own <= remaining and replica_link_ids(primary, replica) == link
    event = _audit(service, response.headers["X-Request-Id"])
    assert event.node_results == ({"node_id": instance.nodes[0].id, "closed": len(closed)},)


def test_a_user_whose_name_holds_a_control_character_is_closed_whole(service, api, tenant, cluster, sessions):
    """Redis takes any ACL user name without a space or a NUL and lists it as it is: a name with a control
    character in it is read whole, so the close by user names that user, not the part before the character."""
    server = cluster.start_server()
    _acl(server)
    batch = "ops\x1fbatch"
    with server.client() as client:
        client.execute_command("ACL", "SETUSER", batch, "on", f">{APP_PASSWORD}", "+@all", "~*", "&*")
    instance = _register(service, tenant, server, own_user=True)
    victims = [sessions(server, user=batch, password=APP_PASSWORD, name=f"batch-{i}") for i in range(3)]

    response = _close_all(api, tenant, instance)

    assert all(v.closed_by_node() for v in victims)
    assert not {v.id for v in victims} & client_ids(server)
    event = _audit(service, response.headers["X-Request-Id"])
    assert event.node_results == ({"node_id": instance.nodes[0].id, "closed": len(victims)},)


def test_a_client_named_like_us_is_listed_counted_and_closed_by_id(api, tenant, cluster, sessions, register):
    server = cluster.start_server()
    instance = register(server)
    impostor = sessions(server, name="sessionplane")
    node = instance.nodes[0].id

    listed = api.get(f"/v3/{tenant.project_id}/redis/nodes/{node}/sessions").json()
    stats = api.get(f"/v3/{tenant.project_id}/redis/nodes/{node}/session-statistics").json()

    assert [s["id"] for s in listed["sessions"]] == [str(impostor.id)] and listed["total_count"] == 1
    assert stats["total_connection_count"] == 1
    response = api.request(
        "DELETE",
        f"/v3/{tenant.project_id}/redis/nodes/{node}/sessions",
        json={"is_all": False, "session_ids": [impostor.id]},
    )
    assert response.status_code == 200
    assert impostor.closed_by_node()


def test_our_own_connection_ids_cannot_be_closed_by_id(service, api, tenant, cluster, sessions, register):
    server = cluster.start_server()
    instance = register(server)
    keep = sessions(server, name="keep")
    api.get(f"/v3/{tenant.project_id}/redis/nodes/{instance.nodes[0].id}/sessions")  # opens our pool
    own = service.call(service.services.nodes.own(instance.nodes[0])).open

    response = api.request(
        "DELETE",
        f"/v3/{tenant.project_id}/redis/nodes/{instance.nodes[0].id}/sessions",
        json={"is_all": False, "session_ids": sorted(own)},
    )

    assert response.status_code == 200
    assert own <= client_ids(server)
    assert keep.alive()


def test_clients_arriving_under_a_protected_user_during_closes_survive(service, api, tenant, cluster, sessions):
    """Per-user kills never name a protected user, so a client that connects between the listing and
    the kill, under that user, is never closed (real concurrency: closes race new connections)."""
    server = cluster.start_server()
    _acl(server, "app", "ops")
    instance = _register(service, tenant, server, own_user=True, protected_users=["ops"])
    arrived: list[RawSession] = []
    stop = threading.Event()

    def arrive() -> None:
        while not stop.is_set() and len(arrived) < 200:
            # Until its AUTH is done a new connection is a "default" client, which a close may take: only
            # clients that finished their handshake are under their user (and an "app" one may go any time).
            for user in ("ops", "app"):
                with contextlib.suppress(ConnectionError):
                    arrived.append(RawSession(server, user=user, password=APP_PASSWORD, name=f"{user}-worker"))

    worker = threading.Thread(target=arrive)
    worker.start()
    try:
        for _ in range(10):
            _close_all(api, tenant, instance)
    finally:
        stop.set()
        worker.join()
    try:
        ops = [s for s in arrived if s.name == "ops-worker"]
        assert ops and all(s.alive() for s in ops)
    finally:
        for session in arrived:
            session.close()


def test_a_kill_by_id_cannot_close_a_replication_link_even_when_asked(service, tenant, cluster):
    """Defence in depth: every kill names the client's TYPE, so even an ID that slipped past the
    listing's shielding (here: handed straight to the adapter) leaves the link alone."""
    primary = cluster.start_server()
    replica = cluster.start_server(replica_of=primary)
    instance = _register(service, tenant, primary, own_user=False)
    (link,) = replica_link_ids(primary, replica)

    closed = service.call(service.services.nodes.kill(instance.nodes[0], ids=[link], pubsub_ids=[link]))

    assert closed == 0
    assert replica_link_ids(primary, replica) == {link}
