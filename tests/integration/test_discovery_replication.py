"""Discovery of a primary with two replicas (passwords on every node): adopt, refresh, close, and the schedule."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sessionplane.errors import NodeUnavailable
from sessionplane.inventory.topology import Credentials, parse_seed
from tests.conftest import settings_for
from tests.live import LiveService
from tests.topologies import ConfiguredServer, Topologies, info, link_up, replication_link_ids, wait_until

NODE_PASSWORD = "R3plica-node-pa55"


@pytest.fixture
def topologies() -> Iterator[Topologies]:
    with Topologies(password=NODE_PASSWORD) as started:
        yield started


def adopt(api, project_id: str, seed: ConfiguredServer) -> dict:
    body = {"seed": f"redis://{seed.host}:{seed.port}", "password": NODE_PASSWORD}
    response = api.post(f"/sessionplane/v1/{project_id}/instances", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def roles_by_port(summary: dict) -> dict[int, str]:
    return {int(n["port"]): n["role"] for g in summary["groups"] for n in g["nodes"]}


def ids_by_port(summary: dict) -> dict[int, str]:
    return {int(n["port"]): n["id"] for g in summary["groups"] for n in g["nodes"]}


def listed(api, project_id: str, instance_id: str) -> dict:
    return api.get(f"/v3/{project_id}/instances", params={"id": instance_id}).json()["instances"][0]


def test_a_replica_seed_finds_its_primary_and_every_replica(api, tenant, topologies):
    primary, replicas = topologies.primary_with_replicas(2)

    body = adopt(api, tenant.project_id, replicas[1])

    assert body["mode"] == "Replication" and len(body["groups"]) == 1
    assert roles_by_port(body) == {primary.port: "master", replicas[0].port: "slave", replicas[1].port: "slave"}
    assert body["groups"][0]["nodes"][0]["role"] == "master"  # the primary first


def test_refresh_adds_a_new_replica_with_the_credentials_and_removes_a_gone_one(api, service, tenant, topologies):
    primary, (staying, leaving) = topologies.primary_with_replicas(2)
    body = adopt(api, tenant.project_id, leaving)  # the seed itself leaves: a refresh asks the known nodes
    ids = ids_by_port(body)
    joining = topologies.replica_of(primary)

    added = service.call(service.services.discovery.refresh(body["id"]))

    assert [(n.port, n.role) for n in added.added] == [(joining.port, "slave")]
    new_id = added.added[0].id
    # The credentials given at adoption reach the new node: its sessions can be listed.
    sessions = api.get(f"/v3/{tenant.project_id}/redis/nodes/{new_id}/sessions")
    assert sessions.status_code == 200, sessions.text

    leaving.stop()
    wait_until(lambda: info(primary, "replication")["connected_slaves"] == 2, "the primary to drop the replica")
    removed = service.call(service.services.discovery.refresh(body["id"]))

    assert [n.id for n in removed.removed] == [ids[leaving.port]]
    after = listed(api, tenant.project_id, body["id"])
    assert ids_by_port(after) == {
        primary.port: ids[primary.port],
        staying.port: ids[staying.port],
        joining.port: new_id,
    }
    gone = api.get(f"/v3/{tenant.project_id}/redis/nodes/{ids[leaving.port]}/sessions")
    assert gone.status_code == 404 and gone.json()["error_code"] == "DBS.200013"


def test_a_failed_refresh_changes_nothing_and_is_reported(api, service, tenant, topologies):
    primary, replicas = topologies.primary_with_replicas(1)
    body = adopt(api, tenant.project_id, primary)
    for server in (primary, *replicas):
        server.stop()

    with pytest.raises(NodeUnavailable, match="No node of the deployment answered"):
        service.call(service.services.discovery.refresh(body["id"]))

    assert ids_by_port(listed(api, tenant.project_id, body["id"])) == ids_by_port(body)
    source = service.call(service.services.inventory.discovery_source(body["id"]))
    assert source.last_error.startswith("No node of the deployment answered")


def test_closing_every_session_keeps_the_replication_links(api, tenant, topologies, sessions):
    primary, replicas = topologies.primary_with_replicas(2)
    body = adopt(api, tenant.project_id, primary)
    servers = [primary, *replicas]
    opened = [sessions(server, name="app") for server in servers for _ in range(3)]
    assert all(link_up(replica) for replica in replicas)  # links settled before they are noted
    links = {s.port: replication_link_ids(s) for s in servers}

    response = api.delete(f"/v3/{tenant.project_id}/instances/{body['id']}/sessions")

    assert response.status_code == 200, response.text
    assert all(session.closed_by_node() for session in opened)
    assert {s.port: replication_link_ids(s) for s in servers} == links
    assert all(link_up(replica) for replica in replicas)


def test_the_serving_process_refreshes_on_its_own_when_configured(tmp_path, topologies):
    primary, _replicas = topologies.primary_with_replicas(1)
    settings = settings_for(tmp_path, discovery_refresh_interval_seconds=0.2)
    with LiveService(settings) as live:
        inventory = live.services.inventory
        project = live.call(
            inventory.create_project(account_id=live.call(inventory.create_account(name="a")).id, name="p")
        )
        seed = parse_seed(f"redis://{primary.host}:{primary.port}")
        instance = live.call(
            live.services.discovery.adopt(
                project_id=project.id, seed=seed, credentials=Credentials(password=NODE_PASSWORD)
            )
        )
        joining = topologies.replica_of(primary)

        def node_ports() -> set[int]:
            return {n.port for n in live.call(inventory.instance_any_project(instance.id)).nodes}

        wait_until(lambda: joining.port in node_ports(), "the scheduled refresh to add the new replica")
        assert len(node_ports()) == 3
