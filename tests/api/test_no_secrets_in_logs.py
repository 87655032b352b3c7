"""Run the auth cases with every logger at DEBUG and look for passwords, secret keys and tokens in the logs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import httpx

from sessionplane import admin
from sessionplane.auth.signing import SignedRequest, sign_request
from sessionplane.inventory.records import NodeSpec
from tests.conftest import login


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


def test_logs_hold_no_password_secret_key_or_token(service, tenant, cluster, caplog):
    caplog.set_level(logging.DEBUG)
    password, node_password = "L0g-test-password", "n0de-log-secret"
    inventory, iam = service.services.inventory, service.services.iam
    user = service.call(admin.add_user(inventory, domain="acme", name="log-tester", password=password, is_admin=True))
    key = service.call(iam.create_access_key(user_id=user.id))
    node = cluster.start_server()
    # credentials the node rejects: the adapter's AUTH fails there, and the error must not carry them
    instance = service.call(
        admin.adopt_instance(
            inventory,
            project_id=tenant.project_id,
            name="wrong-credentials",
            nodes=[NodeSpec(host=node.host, port=node.port, username="nobody", password=node_password)],
        )
    )
    p = tenant.project_id

    token = login(service, domain="acme", name="log-tester", password=password, project_id=p)
    url = service.url
    responses = [
        httpx.post(
            f"{url}/v3/auth/tokens",
            json={
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {
                            "user": {"name": "log-tester", "password": password + "x", "domain": {"name": "acme"}}
                        },
                    },
                    "scope": {"project": {"id": p}},
                }
            },
        ),
        httpx.get(f"{url}/v3/{p}/instances", headers={"X-Auth-Token": token}),
        httpx.get(f"{url}/v3/{p}/instances", headers={"X-Auth-Token": token[:-4] + "abcd"}),
        httpx.get(f"{url}/v3/{p}/redis/nodes/{instance.nodes[0].id}/sessions", headers={"X-Auth-Token": token}),
        _signed_get(url, f"/v3/{p}/instances", p, key.id, key.secret),
        _signed_get(url, f"/v3/{p}/instances", p, key.id, key.secret[::-1]),
    ]
    assert [r.status_code for r in responses] == [401, 200, 401, 403, 200, 401]
    # The service's own logs (the test's HTTP client, httpx/httpcore, rightly sees the token it asked for).
    service_logs = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    )
    logged = service_logs + "".join(r.text for r in responses) + "".join(str(r.headers) for r in responses[1:])
    assert "request_id=" in service_logs  # the access log was captured
    for secret in (password, key.secret, key.secret[::-1], token, node_password):
        assert secret not in logged
