"""X-Forwarded-For and X-Forwarded-Proto are a client's word: believed only from a configured proxy.

uvicorn believes them from 127.0.0.1 by default, so any local process could have claimed another
source IP or HTTPS, both of which IAM policies condition on (``g:SourceIp``, ``g:SecureTransport``)
and the audit records. Each service here is a real server on 127.0.0.1, the policy user closes a real
session, and the audit record and the node say what happened.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from sessionplane import admin
from sessionplane.audit.records import AuditFilter
from sessionplane.demo.servers import RedisServer
from sessionplane.inventory.records import NodeSpec
from tests.conftest import login, settings_for
from tests.live import LiveService
from tests.support import RawSession, client_ids

PASSWORD = "Forw4rded-pa55word!"
PROXY_ONLY = {  # close only from the proxy's clients' network, over HTTPS
    "Version": "5.0",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["gaussdbfornosql:instance:deleteSession"],
            "Condition": {"IpAddress": {"g:SourceIp": ["203.0.113.0/24"]}, "Bool": {"g:SecureTransport": ["true"]}},
        }
    ],
}
FORWARDED = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}


def _service(tmp_path_factory: pytest.TempPathFactory, **overrides: object) -> Iterator[LiveService]:
    with LiveService(settings_for(tmp_path_factory.mktemp("forwarded"), **overrides)) as live:
        yield live


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    yield from _service(tmp_path_factory)


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    yield from _service(tmp_path_factory, trusted_proxies=["127.0.0.1"])


def _close_with_forwarded_headers(service: LiveService, server: RedisServer, victim: RawSession) -> httpx.Response:
    """As a user whose only policy is PROXY_ONLY, close ``victim`` with FORWARDED headers, from 127.0.0.1."""
    inventory, iam = service.services.inventory, service.services.iam
    boss = service.call(admin.add_user(inventory, domain="fwd", name="boss", password=PASSWORD, is_admin=True))
    project = service.call(admin.add_project(inventory, domain="fwd", name="fwd-1"))
    user = service.call(admin.add_user(inventory, domain="fwd", name="closer", password=PASSWORD))
    service.call(iam.put_policy(account_id=boss.account_id, name="proxy_only", document=json.dumps(PROXY_ONLY)))
    service.call(
        iam.attach(
            account_id=boss.account_id,
            policy_name="proxy_only",
            principal_type="user",
            principal_id=user.id,
            project_id=project.id,
        )
    )
    spec = NodeSpec(host=server.host, port=server.port, password=server.password)
    instance = service.call(admin.adopt_instance(inventory, project_id=project.id, name="fwd", nodes=[spec]))
    token = login(service, domain="fwd", name="closer", password=PASSWORD, project_id=project.id)
    return httpx.request(
        "DELETE",
        f"{service.url}/v3/{project.id}/redis/nodes/{instance.nodes[0].id}/sessions",
        json={"is_all": False, "session_ids": [str(victim.id)]},
        headers={"X-Auth-Token": token, **FORWARDED},
    )


def _audited(service: LiveService, response: httpx.Response):
    events = service.call(service.services.audit_store.events(account_id=None, where=AuditFilter(limit=100)))
    (event,) = [e for e in events if e.request_id == response.headers["X-Request-Id"]]
    return event


def test_forwarded_headers_from_a_local_client_are_not_believed(direct, cluster, sessions):
    server = cluster.start_server()
    victim = sessions(server)

    response = _close_with_forwarded_headers(direct, server, victim)

    assert response.status_code == 403, response.text
    assert response.json()["error_code"] == "DBS.280032"
    event = _audited(direct, response)
    assert (event.outcome, event.source_ip) == ("denied", "127.0.0.1")
    assert victim.alive() and victim.id in client_ids(server)


def test_a_configured_proxy_is_believed(behind_proxy, cluster, sessions):
    server = cluster.start_server()
    victim = sessions(server)

    response = _close_with_forwarded_headers(behind_proxy, server, victim)

    assert response.status_code == 200, response.text
    assert _audited(behind_proxy, response).source_ip == "203.0.113.9"
    assert victim.closed_by_node() and victim.id not in client_ids(server)
