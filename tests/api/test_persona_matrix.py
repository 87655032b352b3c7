"""Persona x endpoint: the status every kind of caller gets on every endpoint, and denied closes close nothing.

Each cell opens fresh client sessions on the node it targets, calls the endpoint over HTTP, and
checks on the node that the sessions are gone exactly when the call was allowed to close them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from sessionplane import admin
from sessionplane.auth import tokens
from sessionplane.auth.signing import SignedRequest, sign_request
from sessionplane.demo.servers import LocalCluster
from sessionplane.iam.policy import parse_policy
from sessionplane.inventory.records import NodeSpec
from tests.conftest import login
from tests.support import RawSession

PASSWORD = "Pers0na-password!"
ENDPOINTS = ["close_node", "close_instance", "list_node", "list_instance", "stats", "list_instances"]
CLOSES = {"close_node", "close_instance"}

READER = {"Version": "5.0", "Statement": [{"Effect": "Allow", "Action": ["gaussdbfornosql:instance:listSession"]}]}
DEV_OPERATOR = {
    "Version": "5.0",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["gaussdbfornosql:instance:deleteSession"],
            "Resource": ["gaussdbfornosql:*:*:instance:*"],
            "Condition": {"StringEquals": {"g:ResourceTag/env": ["dev"]}},
        }
    ],
}
EP_OPERATOR = {
    "Version": "5.0",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["gaussdbfornosql:instance:*"],
            "Condition": {"StringEquals": {"g:EnterpriseProjectId": ["ep-a"]}},
        }
    ],
}
DENY_BESIDE_ALLOW = {
    "Version": "5.0",
    "Statement": [
        {"Effect": "Allow", "Action": ["gaussdbfornosql:*:*"]},
        {"Sid": "noClose", "Effect": "Deny", "Action": ["gaussdbfornosql:instance:deleteSession"]},
    ],
}
ROLE_DELETER = {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["nosql:session:delete"]}]}

# (status, error_code) of one answer; OK has no error code
Outcome = tuple[int, str | None]
OK: Outcome = (200, None)
DENIED: Outcome = (403, "DBS.280032")  # authenticated, but the project or the policies do not allow it
UNAUTH: Outcome = (401, "APIG.0301")  # no valid credentials
REVOKED: Outcome = (401, "APIG.0307")  # a token that was valid, revoked since (its user was disabled)

# persona -> endpoint -> (outcome on the dev instance, outcome on the prod instance)
EXPECTED: dict[str, dict[str, tuple[Outcome, Outcome]]] = {
    "anonymous": dict.fromkeys(ENDPOINTS, (UNAUTH, UNAUTH)),
    "tampered_token": dict.fromkeys(ENDPOINTS, (UNAUTH, UNAUTH)),
    "expired_token": dict.fromkeys(ENDPOINTS, (UNAUTH, UNAUTH)),
    "other_project_token": dict.fromkeys(ENDPOINTS, (DENIED, DENIED)),
    "bad_signature": dict.fromkeys(ENDPOINTS, (UNAUTH, UNAUTH)),
    "stale_signature": dict.fromkeys(ENDPOINTS, (UNAUTH, UNAUTH)),
    "reader": {
        **dict.fromkeys(["list_node", "list_instance", "stats"], (OK, OK)),
        **dict.fromkeys(["close_node", "close_instance", "list_instances"], (DENIED, DENIED)),
    },
    "dev_operator": {
        **dict.fromkeys(CLOSES, (OK, DENIED)),
        **dict.fromkeys(["list_node", "list_instance", "stats", "list_instances"], (DENIED, DENIED)),
    },
    "ep_operator": {
        **dict.fromkeys(["close_node", "close_instance", "list_node", "list_instance", "stats"], (OK, DENIED)),
        "list_instances": (DENIED, DENIED),
    },  # no enterprise project on a resource-less action
    "deny_beside_allow": {
        **dict.fromkeys(CLOSES, (DENIED, DENIED)),
        **dict.fromkeys(["list_node", "list_instance", "stats", "list_instances"], (OK, OK)),
    },
    "role_deleter": {
        **dict.fromkeys(CLOSES, (OK, OK)),
        **dict.fromkeys(["list_node", "list_instance", "stats", "list_instances"], (DENIED, DENIED)),
    },
    "signed_admin": dict.fromkeys(ENDPOINTS, (OK, OK)),
    "disabled_user": dict.fromkeys(ENDPOINTS, (REVOKED, REVOKED)),
    "account_admin": dict.fromkeys(ENDPOINTS, (OK, OK)),
}


@dataclass
class World:
    base_url: str
    project_id: str
    instances: dict[str, object]
    servers: dict[str, object]
    auth: dict[str, Callable[[httpx.Request], None]]


def _token_auth(token: str | None) -> Callable[[httpx.Request], None]:
    def apply(request: httpx.Request) -> None:
        if token is not None:
            request.headers["X-Auth-Token"] = token

    return apply


def _signed(ak: str, sk: str, project_id: str, *, skew: timedelta = timedelta(0)) -> Callable[[httpx.Request], None]:
    def apply(request: httpx.Request) -> None:
        url = urlsplit(str(request.url))
        request.headers["X-Sdk-Date"] = (datetime.now(UTC) - skew).strftime("%Y%m%dT%H%M%SZ")
        request.headers["X-Project-Id"] = project_id
        request.headers.setdefault("Content-Type", "application/json")
        signed = SignedRequest(
            method=request.method,
            path=request.url.path,
            query=tuple(request.url.params.multi_items()),
            headers={"host": url.netloc, **{k.lower(): v for k, v in request.headers.items()}},
            body=request.content,
        )
        request.headers["Authorization"] = sign_request(
            signed, ak, sk, ["content-type", "host", "x-project-id", "x-sdk-date"]
        )

    return apply


@pytest.fixture(scope="module")
def world(service, tenant, admin_token) -> Iterator[World]:
    inventory, iam = service.services.inventory, service.services.iam
    with LocalCluster() as cluster:
        servers = {"dev": cluster.start_server(), "prod": cluster.start_server()}
        instances = {
            label: service.call(
                admin.adopt_instance(
                    inventory,
                    project_id=tenant.project_id,
                    name=f"matrix-{label}",
                    nodes=[NodeSpec(host=s.host, port=s.port)],
                    tags={"env": label},
                    enterprise_project_id="ep-a" if label == "dev" else "ep-b",
                )
            )
            for label, s in servers.items()
        }
        account = service.call(inventory.account_by_name("acme"))
        elsewhere = service.call(admin.add_project(inventory, domain="acme", name="matrix-elsewhere"))

        def person(name: str, policy: dict | None = None, role: str | None = None) -> str:
            user = service.call(admin.add_user(inventory, domain="acme", name=f"matrix-{name}", password=PASSWORD))
            if policy is not None:
                parse_policy(json.dumps(policy))
                service.call(iam.put_policy(account_id=account.id, name=f"matrix-{name}", document=json.dumps(policy)))
                service.call(
                    iam.attach(
                        account_id=account.id,
                        policy_name=f"matrix-{name}",
                        principal_type="user",
                        principal_id=user.id,
                        project_id=tenant.project_id,
                    )
                )
            return user.id

        for name, policy in [
            ("reader", READER),
            ("dev_operator", DEV_OPERATOR),
            ("ep_operator", EP_OPERATOR),
            ("deny_beside_allow", DENY_BESIDE_ALLOW),
            ("role_deleter", ROLE_DELETER),
            ("disabled_user", DENY_BESIDE_ALLOW),
            ("other_project", None),
        ]:
            person(name, policy)

        def token(name: str, project_id: str = tenant.project_id) -> str:
            return login(service, domain="acme", name=f"matrix-{name}", password=PASSWORD, project_id=project_id)

        auth = {
            name: _token_auth(token(name))
            for name in ["reader", "dev_operator", "ep_operator", "deny_beside_allow", "role_deleter"]
        }
        disabled_token = token("disabled_user")
        disabled = service.call(inventory.user_by_name(account_id=account.id, name="matrix-disabled_user"))
        service.call(inventory.update_user(disabled.id, enabled=False))
        admin_user = service.call(inventory.user_by_name(account_id=account.id, name="admin"))
        # one key per signing persona: failures lock a key out (more than 5 in a row), by design
        bad_key, stale_key, key = (service.call(iam.create_access_key(user_id=admin_user.id)) for _ in range(3))
        expired, _ = tokens.issue(
            service.services.keyring,
            user_id=admin_user.id,
            project_id=tenant.project_id,
            credential_version=admin_user.credential_version,
            now=datetime.now(UTC) - timedelta(days=2),
            ttl=timedelta(days=1),
        )
        auth |= {
            "anonymous": _token_auth(None),
            "tampered_token": _token_auth(
                admin_token[:-6] + ("AAAAAA" if not admin_token.endswith("AAAAAA") else "BBBBBB")
            ),
            "expired_token": _token_auth(expired),
            "other_project_token": _token_auth(token("other_project", elsewhere.id)),
            "bad_signature": _signed(bad_key.id, bad_key.secret[::-1], tenant.project_id),
            "stale_signature": _signed(stale_key.id, stale_key.secret, tenant.project_id, skew=timedelta(minutes=20)),
            "signed_admin": _signed(key.id, key.secret, tenant.project_id),
            "disabled_user": _token_auth(disabled_token),
            "account_admin": _token_auth(admin_token),
        }
        yield World(service.url, tenant.project_id, instances, servers, auth)


def _request(world: World, endpoint: str, label: str, session_id: int) -> httpx.Request:
    p, instance = world.project_id, world.instances[label]
    node = instance.nodes[0].id  # type: ignore[attr-defined]
    url = {
        "close_node": f"/v3/{p}/redis/nodes/{node}/sessions",
        "close_instance": f"/v3/{p}/instances/{instance.id}/sessions",  # type: ignore[attr-defined]
        "list_node": f"/v3/{p}/redis/nodes/{node}/sessions",
        "list_instance": f"/v3/{p}/instances/{instance.id}/sessions",  # type: ignore[attr-defined]
        "stats": f"/v3/{p}/redis/nodes/{node}/session-statistics",
        "list_instances": f"/v3/{p}/instances",
    }[endpoint]
    method = "DELETE" if endpoint in CLOSES else "GET"
    body = json.dumps({"is_all": False, "session_ids": [str(session_id)]}).encode() if endpoint == "close_node" else b""
    headers = {"Content-Type": "application/json"} if body else {}
    return httpx.Request(method, world.base_url + url, content=body, headers=headers)


CELLS = [(persona, endpoint, label) for persona in EXPECTED for endpoint in ENDPOINTS for label in ("dev", "prod")]


@pytest.mark.parametrize(("persona", "endpoint", "label"), CELLS)
def test_persona_endpoint(world: World, persona: str, endpoint: str, label: str) -> None:
    server = world.servers[label]
    target, bystander = RawSession(server, name="target"), RawSession(server, name="bystander")
    try:
        request = _request(world, endpoint, label, target.id)
        world.auth[persona](request)
        with httpx.Client(timeout=60) as client:
            response = client.send(request)
        status, error_code = expected = EXPECTED[persona][endpoint][0 if label == "dev" else 1]
        assert response.status_code == status, response.text
        assert response.headers["X-Request-Id"]
        if error_code is not None:
            body = response.json()
            assert body["error_code"] == error_code, body
            assert body["error_msg"]
        if expected == OK and endpoint in CLOSES:
            assert target.closed_by_node()
            assert bystander.closed_by_node() if endpoint == "close_instance" else bystander.alive()
        else:  # nothing was closed on the node
            assert target.alive() and bystander.alive()
    finally:
        target.close()
        bystander.close()
