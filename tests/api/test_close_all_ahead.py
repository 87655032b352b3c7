"""Close-all in one round trip: the users a node's last close-all found are killed in the pipeline of its listing.

Used only where no client name is protected (a protected session may sit under any user, and only a
listing shows where), so this module runs its own service without the ``guardian`` name the shared
one protects. The hint never widens a close: protected users and our own are removed at every use,
a user the hint missed is closed from the listing taken with the kills, and a user deleted since
closes nothing. Every test runs on real nodes and reads the node afterwards.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text

from sessionplane import admin
from sessionplane.audit.records import AuditFilter
from sessionplane.auth.principal import Principal, RequestMeta
from sessionplane.demo.servers import RedisServer
from sessionplane.inventory.records import Instance, NodeSpec
from sessionplane.nodes.grants import OWN_USER_RULES
from tests.conftest import PASSWORD, login, settings_for
from tests.live import LiveService
from tests.support import Tenant, client_ids, open_pool_connections, replica_link_ids

OWN_USER, OWN_PASSWORD = "sessionplane", "own-Acl-pa55"
APP_PASSWORD = "app-pa55word"
OWN_GRANTS = " ".join([*OWN_USER_RULES, "+info"])


@pytest.fixture(scope="module", params=[1, 0], ids=["listed-ahead", "listed-with-the-kills"])
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """Every test twice: a one-node close-all lists ahead of the record's write (the default for up to 16
    nodes), and, as a wide close does, with the kills (``close_list_ahead_max_nodes`` 0)."""
    settings = settings_for(tmp_path_factory.mktemp("ahead"), close_list_ahead_max_nodes=request.param)
    with LiveService(settings) as live:  # no protected name
        yield live


@pytest.fixture(scope="module")
def tenant(service: LiveService) -> Tenant:
    inventory = service.services.inventory
    service.call(admin.add_user(inventory, domain="acme", name="admin", password=PASSWORD, is_admin=True))
    project = service.call(admin.add_project(inventory, domain="acme", name="ap-southeast-1"))
    return Tenant(domain="acme", project_id=project.id, admin_name="admin", admin_password=PASSWORD)


@pytest.fixture(scope="module")
def admin_token(service: LiveService, tenant: Tenant) -> str:
    return login(service, domain="acme", name="admin", password=PASSWORD, project_id=tenant.project_id)


@pytest.fixture
def ahead(service: LiveService, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """The users each one-round-trip close-all named (the real adapter runs them; this only records)."""
    adapter = service.services.nodes
    named: list[tuple[str, ...]] = []
    real = adapter.list_then_kill_users

    async def recorded(node, users, *, ready, then, list_ahead):
        assert list_ahead == (service.settings.close_list_ahead_max_nodes >= 1)
        named.append(tuple(users))
        return await real(node, users, ready=ready, then=then, list_ahead=list_ahead)

    monkeypatch.setattr(adapter, "list_then_kill_users", recorded)
    return named


def _acl(server: RedisServer, *users: str) -> None:
    with server.client() as client:
        client.execute_command("ACL", "SETUSER", OWN_USER, "on", f">{OWN_PASSWORD}", *OWN_GRANTS.split())
        for user in users:
            client.execute_command("ACL", "SETUSER", user, "on", f">{APP_PASSWORD}", "+@all", "~*", "&*")


def _adopt(service: LiveService, tenant: Tenant, server: RedisServer, **options) -> Instance:
    spec = NodeSpec(host=server.host, port=server.port, username=OWN_USER, password=OWN_PASSWORD, name="node_1")
    return service.call(
        admin.adopt_instance(
            service.services.inventory, project_id=tenant.project_id, name="ahead", nodes=[spec], **options
        )
    )


def _close_all(api: httpx.Client, tenant: Tenant, instance: Instance) -> httpx.Response:
    response = api.request(
        "DELETE", f"/v3/{tenant.project_id}/redis/nodes/{instance.nodes[0].id}/sessions", json={"is_all": True}
    )
    assert response.status_code == 200, response.text
    return response


def _closed_in_audit(service: LiveService, response: httpx.Response) -> tuple[dict, ...]:
    request_id = response.headers["X-Request-Id"]
    events = service.call(service.services.audit_store.events(account_id=None, where=AuditFilter(limit=1000)))
    (event,) = [e for e in events if e.request_id == request_id]
    assert event.outcome == "succeeded"
    return event.node_results


def _open_pool_connections(service: LiveService, instance: Instance, count: int = 4) -> frozenset[int]:
    """Concurrent listings on the service's own loop (``open_pool_connections``): the node's pool opens
    ``count`` connections of ours (HTTP requests from threads may be served one after another)."""
    nodes, node = service.services.nodes, instance.nodes[0]

    async def listings() -> frozenset[int]:
        await open_pool_connections(nodes, node, count)
        return (await nodes.own(node)).open

    return service.call(listings())


def test_a_known_users_close_spares_links_own_and_protected_and_closes_a_new_user_too(
    service, api, tenant, cluster, sessions, ahead
):
    primary = cluster.start_server()
    replica = cluster.start_server(replica_of=primary)  # its link is a "default" client of the primary
    _acl(primary, "app", "batch", "ops")
    instance = _adopt(service, tenant, primary, protected_users=["ops"])
    first = [sessions(primary, user="app", password=APP_PASSWORD), sessions(primary, user="ops", password=APP_PASSWORD)]
    first.append(sessions(primary, name="legacy"))
    _close_all(api, tenant, instance)  # lists first, and learns the users: app, default
    assert ahead == []

    apps = [sessions(primary, user="app", password=APP_PASSWORD, name=f"app-{i}") for i in range(5)]
    subscriber = sessions(primary, user="app", password=APP_PASSWORD, name="events")
    subscriber.call("SUBSCRIBE", "news")
    legacy = sessions(primary, name="legacy")
    batch = [sessions(primary, user="batch", password=APP_PASSWORD) for _ in range(2)]  # new since the last close
    ops = sessions(primary, user="ops", password=APP_PASSWORD, name="ops-shell")
    link = replica_link_ids(primary, replica)
    own = _open_pool_connections(service, instance)
    assert len(own) > 1

    response = _close_all(api, tenant, instance)

    assert ahead == [("app", "default")]  # ops is protected, our own user is never named
    closed = [*apps, subscriber, legacy, *batch]
    assert all(s.closed_by_node() for s in closed)
    remaining = client_ids(primary)
    assert not {s.id for s in closed} & remaining
    assert ops.alive() and first[1].alive()
    assert own <= remaining
    assert replica_link_ids(primary, replica) == link
    assert _closed_in_audit(service, response) == ({"node_id": instance.nodes[0].id, "closed": len(closed)},)


def test_where_we_share_the_clients_user_it_is_never_killed_ahead_and_our_connections_stay(
    service, api, tenant, cluster, sessions, ahead
):
    """Our own user is removed from the hint at every use: killing it by user would close our own
    connections (all but the sending one), which only a listing tells from the clients' (by ID)."""
    server = cluster.start_server()
    _acl(server, "app")
    spec = NodeSpec(host=server.host, port=server.port, password=server.password, name="node_1")  # as "default"
    instance = service.call(
        admin.adopt_instance(service.services.inventory, project_id=tenant.project_id, name="shared", nodes=[spec])
    )
    sessions(server, name="legacy")
    sessions(server, user="app", password=APP_PASSWORD)
    _close_all(api, tenant, instance)  # learns app and default
    legacy = [sessions(server, name="legacy") for _ in range(2)]
    app = sessions(server, user="app", password=APP_PASSWORD)
    own = _open_pool_connections(service, instance)
    assert len(own) > 1

    response = _close_all(api, tenant, instance)

    assert ahead == [("app",)]
    assert all(s.closed_by_node() for s in (*legacy, app))
    assert own <= client_ids(server)
    assert _closed_in_audit(service, response) == ({"node_id": instance.nodes[0].id, "closed": 3},)


def test_a_user_deleted_since_the_last_close_all_closes_nothing_and_fails_nothing(
    service, api, tenant, cluster, sessions, ahead
):
    server = cluster.start_server()
    _acl(server, "app", "temp")
    instance = _adopt(service, tenant, server)
    sessions(server, user="temp", password=APP_PASSWORD)
    sessions(server, user="app", password=APP_PASSWORD)
    _close_all(api, tenant, instance)
    with server.client() as client:
        client.execute_command("ACL", "DELUSER", "temp")
    apps = [sessions(server, user="app", password=APP_PASSWORD) for _ in range(3)]

    response = _close_all(api, tenant, instance)

    assert ahead == [("app", "temp")]
    assert all(s.closed_by_node() for s in apps)
    assert _closed_in_audit(service, response) == ({"node_id": instance.nodes[0].id, "closed": 3},)


def test_a_user_protected_since_it_was_learned_is_never_killed_ahead(service, tenant, cluster, sessions, ahead):
    """The hint is not a permission: protection is applied at each close, to the users learned before it."""
    server = cluster.start_server()
    _acl(server, "app", "ops")
    instance = _adopt(service, tenant, server)
    meta = RequestMeta("req-protected-later", _principal(tenant))
    sessions(server, user="ops", password=APP_PASSWORD)
    sessions(server, user="app", password=APP_PASSWORD)
    service.call(service.services.sessions.close_instance(meta=meta, instance=instance, node_id=None))  # learns both
    ops = sessions(server, user="ops", password=APP_PASSWORD, name="ops-shell")
    app = sessions(server, user="app", password=APP_PASSWORD)
    now_protected = dataclasses.replace(instance, protected_users=("ops",))

    service.call(service.services.sessions.close_instance(meta=meta, instance=now_protected, node_id=None))

    assert ahead == [("app",)]
    assert ops.alive() and app.closed_by_node()


def test_with_a_protected_name_a_close_all_always_lists_first(service, api, tenant, cluster, sessions, ahead):
    server = cluster.start_server()
    _acl(server, "app")
    instance = _adopt(service, tenant, server, protected_names=["keeper"])
    sessions(server, user="app", password=APP_PASSWORD)
    _close_all(api, tenant, instance)
    keeper = sessions(server, user="app", password=APP_PASSWORD, name="keeper")  # arrives under a known user
    app = sessions(server, user="app", password=APP_PASSWORD)

    _close_all(api, tenant, instance)

    assert ahead == []
    assert keeper.alive() and app.closed_by_node()


def _principal(tenant: Tenant) -> Principal:
    return Principal(
        user_id="u-test",
        user_name="admin",
        account_id="a-test",
        account_name="acme",
        project_id=tenant.project_id,
        project_name="ap-southeast-1",
        is_admin=True,
        method="token",
    )


def test_a_failed_audit_write_kills_nothing_though_the_node_was_already_listing(
    service, api, tenant, cluster, sessions, ahead
):
    """The kills wait for the audit record (listed ahead, the listing went to the node while it was written).
    A record that cannot be written fails the close (500) with every session alive, and the connection that
    carried a listing is not handed to the next request with a reply still unread."""
    primary = cluster.start_server()
    _acl(primary)
    instance = _adopt(service, tenant, primary)
    sessions(primary)
    _close_all(api, tenant, instance)  # learns the user "default": the next close-all goes in one round trip
    survivors = [sessions(primary, name=f"app-{i}") for i in range(3)]

    def audit_trigger(sql: str) -> None:  # a real write failure in the real store, not a mock
        async def run() -> None:
            async with service.services.db.transaction() as s:
                await s.execute(text(sql))

        service.call(run())

    audit_trigger(
        "CREATE TRIGGER no_audit BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit volume full'); END"
    )
    try:
        response = api.request(
            "DELETE", f"/v3/{tenant.project_id}/redis/nodes/{instance.nodes[0].id}/sessions", json={"is_all": True}
        )
    finally:
        audit_trigger("DROP TRIGGER no_audit")

    assert response.status_code == 500, response.text
    assert response.json()["error_code"] == "DBS.200998"
    assert ahead == [("default",)]  # the one-round-trip path was the one taken
    assert all(s.alive() for s in survivors)
    assert {s.id for s in survivors} <= client_ids(primary)
    listed = api.get(f"/v3/{tenant.project_id}/redis/nodes/{instance.nodes[0].id}/sessions")
    assert listed.status_code == 200 and {int(s["id"]) for s in listed.json()["sessions"]} >= {s.id for s in survivors}


def test_a_close_all_wider_than_close_list_ahead_max_nodes_lists_with_the_kills(
    service, tenant, cluster, sessions, monkeypatch
):
    """Two nodes are wider than either run's limit (1 or 0): each node's listing goes with its kills, and
    the close keeps its guarantees (the one-node closes of the listed-ahead run list ahead, as ``ahead``
    checks)."""
    servers = [cluster.start_server() for _ in range(2)]
    specs = []
    for n, server in enumerate(servers, start=1):
        _acl(server, "app")
        specs.append(
            NodeSpec(host=server.host, port=server.port, username=OWN_USER, password=OWN_PASSWORD, name=f"n{n}")
        )
    instance = service.call(
        admin.adopt_instance(service.services.inventory, project_id=tenant.project_id, name="wide", nodes=specs)
    )
    meta = RequestMeta("req-wide", _principal(tenant))
    for server in servers:
        sessions(server, user="app", password=APP_PASSWORD)
    service.call(service.services.sessions.close_instance(meta=meta, instance=instance, node_id=None))  # learns app
    apps = [sessions(server, user="app", password=APP_PASSWORD) for server in servers for _ in range(2)]
    adapter = service.services.nodes
    real, modes = adapter.list_then_kill_users, []

    async def recorded(node, users, *, ready, then, list_ahead):
        modes.append((tuple(users), list_ahead))
        return await real(node, users, ready=ready, then=then, list_ahead=list_ahead)

    monkeypatch.setattr(adapter, "list_then_kill_users", recorded)

    outcomes = service.call(service.services.sessions.close_instance(meta=meta, instance=instance, node_id=None))

    assert modes == [(("app",), False)] * 2
    assert all(s.closed_by_node() for s in apps)
    assert sorted(o.closed for o in outcomes) == [2, 2]
