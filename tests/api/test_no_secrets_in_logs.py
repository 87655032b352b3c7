"""Run the auth cases with every logger at DEBUG and look for passwords, secret keys and tokens in the logs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import httpx

from sessionplane import admin
from sessionplane.auth.signing import SignedRequest, sign_request
from sessionplane.demo.servers import LocalCluster
from sessionplane.inventory.records import NodeSpec
from tests.conftest import login
from tests.support import RawSession


def _signed_get(url: str, path: str, project_id: str, ak: str, sk: str) -> httpx.Response:
    host = url.removeprefix("http://")
    headers = {
        "Content-Type": "application/json",
        "X-Project-Id": project_id,
        "X-Sdk-Date": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
    }
    signed = SignedRequest("GET", path, (), {"host": host, **{k.lower(): v for k, v in headers.items()}}, b"")
    headers["Authorization"] = sign_request(signed, ak, sk, ["content-type", "host", "x-project-id", "x-sdk-date"])
    return httpx.get(url + path, headers=headers)


def test_logs_and_responses_hold_no_password_secret_key_token_or_node_secret(service, tenant, caplog):
    caplog.set_level(logging.DEBUG)
    password, node_password, wrong_node_password = "L0g-test-password", "n0de-log-secret", "n0de-wr0ng-secret"
    inventory, iam = service.services.inventory, service.services.iam
    user = service.call(admin.add_user(inventory, domain="acme", name="log-tester", password=password, is_admin=True))
    key = service.call(iam.create_access_key(user_id=user.id))
    p = tenant.project_id
    with LocalCluster(password=node_password) as cluster:
        node = cluster.start_server()
        clients = [RawSession(node, name=f"app-{i}") for i in range(3)]

        def adopt(name: str, secret: str):
            spec = NodeSpec(host=node.host, port=node.port, password=secret)
            return service.call(admin.adopt_instance(inventory, project_id=p, name=name, nodes=[spec]))

        instance = adopt("node-with-password", node_password)
        # credentials the node rejects: the adapter's AUTH fails there, and the error must not carry them
        rejected = adopt("wrong-credentials", wrong_node_password)
        token = login(service, domain="acme", name="log-tester", password=password, project_id=p)
        url, auth = service.url, {"X-Auth-Token": token}
        node_url = f"{url}/v3/{p}/redis/nodes/{instance.nodes[0].id}"
        wrong_login = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": "log-tester", "password": password + "x", "domain": {"name": "acme"}}
                    },
                },
                "scope": {"project": {"id": p}},
            }
        }
        responses = [
            httpx.post(f"{url}/v3/auth/tokens", json=wrong_login),
            httpx.get(f"{url}/v3/{p}/instances", headers=auth),
            httpx.get(f"{url}/v3/{p}/instances", headers={"X-Auth-Token": token[:-4] + "abcd"}),
            httpx.get(f"{node_url}/sessions", headers=auth),
            httpx.get(f"{node_url}/session-statistics", headers=auth),
            httpx.get(f"{url}/v3/{p}/instances/{instance.id}/sessions", headers=auth),
            httpx.request("DELETE", f"{node_url}/sessions?dry_run=true", json={"is_all": True}, headers=auth),
            httpx.request(
                "DELETE", f"{node_url}/sessions", json={"is_all": False, "session_ids": [clients[0].id]}, headers=auth
            ),
            httpx.delete(f"{url}/v3/{p}/instances/{instance.id}/sessions", headers=auth),
            httpx.get(f"{url}/v3/{p}/redis/nodes/{rejected.nodes[0].id}/sessions", headers=auth),
            httpx.delete(f"{url}/v3/{p}/instances/{rejected.id}/sessions", headers=auth),
            _signed_get(url, f"/v3/{p}/instances", p, key.id, key.secret),
            _signed_get(url, f"/v3/{p}/instances", p, key.id, key.secret[::-1]),
        ]
        for client in clients:
            client.close()
    assert [r.status_code for r in responses] == [401, 200, 401, 200, 200, 200, 200, 200, 200, 403, 400, 200, 401]
    assert responses[3].json()["total_count"] == 3  # the node was reached with its password
    assert len(responses[6].json()["sessions"]) == 3  # and so was every listing, preview and close
    # The service's own logs (the test's HTTP client, httpx/httpcore, rightly sees the token it asked for).
    service_logs = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    )
    answered = "".join(r.text + str(r.headers) for r in responses)
    assert "request_id=" in service_logs  # the access log was captured
    for secret in (password, key.secret, key.secret[::-1], token, node_password, wrong_node_password):
        assert secret not in service_logs
        assert secret not in answered
