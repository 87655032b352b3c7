"""The audit trail: every close and every denied close, durable before the response, across restarts."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import text

from sessionplane import admin
from sessionplane.audit.records import AuditFilter
from sessionplane.demo.servers import RedisServer
from sessionplane.inventory.records import Instance, NodeSpec
from sessionplane.nodes.adapter import LISTINGS_AHEAD
from sessionplane.sessions import service as session_service
from tests.conftest import PASSWORD, login, settings_for
from tests.live import LiveService
from tests.support import RawSession, client_ids, kill_calls


def events(live: LiveService, **where):
    return live.call(live.services.audit_store.events(account_id=None, where=AuditFilter(**where)))


def test_allowed_closes_are_recorded_with_per_node_counts(service, api, tenant, cluster, sessions, register):
    servers = [cluster.start_server(), cluster.start_server()]
    instance = register(*servers, name="audited")
    a = sessions(servers[0], name="a")
    for _ in range(3):
        sessions(servers[1], name="b")

    by_id = api.request(
        "DELETE",
        f"/v3/{tenant.project_id}/redis/nodes/{instance.nodes[0].id}/sessions",
        json={"is_all": False, "session_ids": [str(a.id)]},
    )
    everything = api.delete(f"/v3/{tenant.project_id}/instances/{instance.id}/sessions")
    assert by_id.status_code == everything.status_code == 200

    recorded = {e.request_id: e for e in events(service, instance_id=instance.id)}
    first = recorded[by_id.headers["X-Request-Id"]]
    assert first.outcome == "succeeded" and first.user_name == "admin" and first.source_ip == "127.0.0.1"
    assert first.action == "gaussdbfornosql:instance:deleteSession" and first.node_id == instance.nodes[0].id
    assert first.parameters == {"is_all": False, "session_ids": [str(a.id)]}
    assert first.node_results == ({"node_id": instance.nodes[0].id, "closed": 1},)
    second = recorded[everything.headers["X-Request-Id"]]
    assert second.outcome == "succeeded" and second.parameters == {"is_all": True}
    assert second.node_results == (
        {"node_id": instance.nodes[0].id, "closed": 0},
        {"node_id": instance.nodes[1].id, "closed": 3},
    )


def test_partial_failure_is_recorded_per_node(service, api, tenant, cluster, sessions, register):
    servers = [cluster.start_server(), cluster.start_server()]
    instance = register(*servers)
    sessions(servers[0])
    servers[1].stop()
    response = api.delete(f"/v3/{tenant.project_id}/instances/{instance.id}/sessions")
    (event,) = [e for e in events(service, instance_id=instance.id) if e.request_id == response.headers["X-Request-Id"]]
    assert event.outcome == "partial" and event.error_code == "DBS.200018"
    assert event.node_results[0] == {"node_id": instance.nodes[0].id, "closed": 1}
    assert event.node_results[1]["node_id"] == instance.nodes[1].id
    assert event.node_results[1]["error_code"] == "DBS.200018"


def test_denied_close_is_recorded_and_closes_nothing(service, tenant, cluster, sessions, register):
    server = cluster.start_server()
    instance = register(server)
    victim = sessions(server, name="victim")
    service.call(admin.add_user(service.services.inventory, domain="acme", name="auditee", password=PASSWORD))
    token = login(service, domain="acme", name="auditee", password=PASSWORD, project_id=tenant.project_id)
    response = httpx.delete(
        f"{service.url}/v3/{tenant.project_id}/instances/{instance.id}/sessions", headers={"X-Auth-Token": token}
    )
    assert response.status_code == 403
    assert victim.alive() and victim.id in client_ids(server)
    (event,) = events(service, instance_id=instance.id, outcome="denied")
    assert event.user_name == "auditee" and event.request_id == response.headers["X-Request-Id"]
    assert event.error_code == "DBS.280032" and event.parameters == {"is_all": True}

    by_id = httpx.request(
        "DELETE",
        f"{service.url}/v3/{tenant.project_id}/redis/nodes/{instance.nodes[0].id}/sessions",
        headers={"X-Auth-Token": token},
        json={"is_all": False, "session_ids": [str(victim.id)]},
    )
    assert by_id.status_code == 403 and victim.alive()
    (denied,) = [e for e in events(service, outcome="denied") if e.request_id == by_id.headers["X-Request-Id"]]
    assert denied.node_id == instance.nodes[0].id
    assert denied.parameters == {"is_all": False, "session_ids": [str(victim.id)]}


@dataclass
class OwnService:
    live: LiveService
    project_id: str
    instance: Instance
    server: RedisServer
    token: str


@pytest.fixture
def own(tmp_path, cluster):
    """A service of the test's own (so that it can be restarted or have its store broken), one node, a token."""
    live = LiveService(settings_for(tmp_path)).start()
    inventory = live.services.inventory
    live.call(admin.add_user(inventory, domain="solo", name="root", password=PASSWORD, is_admin=True))
    project = live.call(admin.add_project(inventory, domain="solo", name="solo"))
    server = cluster.start_server()
    node = NodeSpec(host=server.host, port=server.port)
    instance = live.call(admin.adopt_instance(inventory, project_id=project.id, name="r", nodes=[node]))
    token = login(live, domain="solo", name="root", password=PASSWORD, project_id=project.id)
    yield OwnService(live, project.id, instance, server, token)
    live.stop()


def test_audit_survives_a_restart_and_reads_from_the_cli(own, tmp_path, sessions):
    sessions(own.server, name="x")
    instance = own.instance
    response = httpx.delete(
        f"{own.live.url}/v3/{own.project_id}/instances/{instance.id}/sessions", headers={"X-Auth-Token": own.token}
    )
    assert response.status_code == 200
    own.live.stop()

    restarted = LiveService(settings_for(tmp_path)).start()
    try:
        (event,) = events(restarted, instance_id=instance.id)
        assert event.request_id == response.headers["X-Request-Id"] and event.node_results[0]["closed"] == 1
    finally:
        restarted.stop()
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "sessionplane",
            "audit",
            "list",
            "--json",
            "--data-dir",
            str(tmp_path),
            "--instance",
            instance.id,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    (listed,) = json.loads(cli.stdout)
    assert listed["request_id"] == event.request_id and listed["outcome"] == "succeeded"


async def _break_audit(live: LiveService) -> None:  # a real write failure in the real store, not a mock
    async with live.services.db.transaction() as s:
        await s.execute(
            text(
                "CREATE TRIGGER no_audit BEFORE INSERT ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'audit volume full'); END"
            )
        )


def _refused_for_the_audit(response: httpx.Response) -> None:
    assert response.status_code == 500, response.text
    assert response.json()["error_code"] == "DBS.200998"
    assert response.headers["X-Request-Id"] in response.json()["error_msg"]
    assert "Traceback" not in response.text and "audit volume full" not in response.text


def test_a_failed_audit_write_closes_nothing(own):
    live, project_id, instance, server, token = own.live, own.project_id, own.instance, own.server, own.token
    victim = RawSession(server, name="victim")
    live.call(_break_audit(live))
    for response in (
        httpx.delete(f"{live.url}/v3/{project_id}/instances/{instance.id}/sessions", headers={"X-Auth-Token": token}),
        httpx.request(
            "DELETE",
            f"{live.url}/v3/{project_id}/redis/nodes/{instance.nodes[0].id}/sessions",
            headers={"X-Auth-Token": token},
            json={"is_all": True},
        ),
    ):
        _refused_for_the_audit(response)
    assert victim.alive() and victim.id in client_ids(server)
    victim.close()


def test_a_close_by_ids_listed_while_its_audit_write_fails_closes_nothing(own, monkeypatch):
    """A close by IDs has the node list its first slices while the record is written: a failed write
    leaves every listed session alive, and no kill was even sent."""
    monkeypatch.setattr(session_service, "FIRST_ID_SLICE", 1)
    monkeypatch.setattr(session_service, "ID_SLICE", 1)  # a slice per victim: more listings than are sent ahead
    victims = [RawSession(own.server, name=f"victim-{i}") for i in range(LISTINGS_AHEAD + 2)]
    own.live.call(_break_audit(own.live))
    kills_before = kill_calls(own.server)

    response = httpx.request(
        "DELETE",
        f"{own.live.url}/v3/{own.project_id}/redis/nodes/{own.instance.nodes[0].id}/sessions",
        headers={"X-Auth-Token": own.token},
        json={"is_all": False, "session_ids": [str(v.id) for v in victims]},
    )

    _refused_for_the_audit(response)
    assert all(v.alive() for v in victims) and {v.id for v in victims} <= client_ids(own.server)
    assert kill_calls(own.server) == kills_before
    for victim in victims:
        victim.close()
