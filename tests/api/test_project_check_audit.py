"""A close whose credentials belong to another project is a denied close: refused (403), closes nothing, audited."""

from __future__ import annotations

import httpx
import pytest

from sessionplane import admin
from sessionplane.audit.records import AuditFilter
from tests.conftest import PASSWORD, login
from tests.support import client_ids


@pytest.fixture(scope="module")
def outsider(service):
    """A token of a project in another account."""
    inventory = service.services.inventory
    service.call(admin.add_user(inventory, domain="outside-co", name="mallory", password=PASSWORD, is_admin=True))
    project = service.call(admin.add_project(inventory, domain="outside-co", name="eu-1"))
    return login(service, domain="outside-co", name="mallory", password=PASSWORD, project_id=project.id), project.id


def denied_events(service, request_id: str):
    found = service.call(service.services.audit_store.events(account_id=None, where=AuditFilter(outcome="denied")))
    return [e for e in found if e.request_id == request_id]


def test_closing_another_projects_node_is_audited_as_denied(service, tenant, cluster, sessions, register, outsider):
    token, own_project = outsider
    server = cluster.start_server()
    instance = register(server)
    victim = sessions(server, name="victim")
    node_id = instance.nodes[0].id
    response = httpx.request(
        "DELETE",
        f"{service.url}/v3/{tenant.project_id}/redis/nodes/{node_id}/sessions?dry_run=false",
        headers={"X-Auth-Token": token},
        json={"is_all": True},
    )
    assert response.status_code == 403 and response.json()["error_code"] == "DBS.280032"
    assert victim.alive() and victim.id in client_ids(server)
    (event,) = denied_events(service, response.headers["X-Request-Id"])
    assert (event.user_name, event.project_id, event.error_code) == ("mallory", own_project, "DBS.280032")
    assert event.action == "gaussdbfornosql:instance:deleteSession" and event.node_id == node_id
    assert event.instance_id is None  # not looked up: the node is not the caller's to know about
    assert event.parameters == {"path_project_id": tenant.project_id, "dry_run": "false"}


def test_closing_another_projects_instance_is_audited_as_denied(service, tenant, cluster, sessions, register, outsider):
    token, _own_project = outsider
    server = cluster.start_server()
    instance = register(server)
    victim = sessions(server, name="victim")
    response = httpx.delete(
        f"{service.url}/v3/{tenant.project_id}/instances/{instance.id}/sessions", headers={"X-Auth-Token": token}
    )
    assert response.status_code == 403 and victim.alive()
    (event,) = denied_events(service, response.headers["X-Request-Id"])
    assert event.instance_id == instance.id and event.node_id is None
    assert event.parameters == {"path_project_id": tenant.project_id, "is_all": True}


def test_reads_refused_by_the_project_check_are_not_audited(service, tenant, cluster, register, outsider):
    token, _own_project = outsider
    instance = register(cluster.start_server())
    response = httpx.get(
        f"{service.url}/v3/{tenant.project_id}/instances/{instance.id}/sessions", headers={"X-Auth-Token": token}
    )
    assert response.status_code == 403
    assert denied_events(service, response.headers["X-Request-Id"]) == []
