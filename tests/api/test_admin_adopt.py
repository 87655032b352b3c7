"""POST /sessionplane/v1/{project_id}/instances: the account's admin only; bad input changes nothing.

The seed is a real password-protected redis-server (a primary with one replica) on a free port.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from sessionplane import admin
from sessionplane.demo.servers import free_port
from tests.conftest import login
from tests.topologies import Topologies

NODE_PASSWORD = "Ad0pt-node-pa55"
PASSWORD = "Ad0pt-user-pa55!"


@dataclass(frozen=True)
class World:
    seed: str
    project_id: str
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def world(service, tenant, admin_token) -> Iterator[World]:
    inventory, iam = service.services.inventory, service.services.iam
    account = service.call(inventory.account_by_name(tenant.domain))
    full_access = service.call(admin.add_user(inventory, domain=tenant.domain, name="adopt-full", password=PASSWORD))
    service.call(
        iam.attach(
            account_id=account.id,
            policy_name="NoSQL FullAccess",
            principal_type="user",
            principal_id=full_access.id,
            project_id=None,
        )
    )
    service.call(admin.add_user(inventory, domain=tenant.domain, name="adopt-elsewhere", password=PASSWORD))
    elsewhere = service.call(admin.add_project(inventory, domain=tenant.domain, name="adopt-elsewhere"))
    service.call(admin.add_user(inventory, domain="adopt-other", name="root", password=PASSWORD, is_admin=True))
    other_project = service.call(admin.add_project(inventory, domain="adopt-other", name="p"))
    tokens = {
        "admin": admin_token,
        "full_access": login(
            service, domain=tenant.domain, name="adopt-full", password=PASSWORD, project_id=tenant.project_id
        ),
        "other_project": login(
            service, domain=tenant.domain, name="adopt-elsewhere", password=PASSWORD, project_id=elsewhere.id
        ),
        "other_account_admin": login(
            service, domain="adopt-other", name="root", password=PASSWORD, project_id=other_project.id
        ),
    }
    with Topologies(password=NODE_PASSWORD) as topologies:
        primary, _replicas = topologies.primary_with_replicas(1)
        yield World(f"redis://{primary.host}:{primary.port}", tenant.project_id, tokens)


def _adopt(service, world: World, token: str | None, body: object, project_id: str | None = None) -> httpx.Response:
    headers = {"X-Auth-Token": token} if token else {}
    url = f"{service.url}/sessionplane/v1/{project_id or world.project_id}/instances"
    if isinstance(body, bytes):
        return httpx.post(url, content=body, headers=headers | {"Content-Type": "application/json"}, timeout=60)
    return httpx.post(url, json=body, headers=headers, timeout=60)


def _instance_count(api: httpx.Client, project_id: str) -> int:
    return api.get(f"/v3/{project_id}/instances").json()["total_count"]


def test_the_admin_adopts_and_gets_201_with_the_instance(service, api, world):
    before = _instance_count(api, world.project_id)
    response = _adopt(service, world, world.tokens["admin"], {"seed": world.seed, "password": NODE_PASSWORD})

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["mode"] == "Replication" and body["id"].endswith("in12")
    assert [n["role"] for g in body["groups"] for n in g["nodes"]] == ["master", "slave"]
    assert NODE_PASSWORD not in response.text
    assert _instance_count(api, world.project_id) == before + 1


@pytest.mark.parametrize("persona", ["full_access", "other_project", "other_account_admin"])
def test_everyone_else_is_refused_with_403_and_nothing_is_adopted(service, api, world, persona):
    before = _instance_count(api, world.project_id)

    response = _adopt(service, world, world.tokens[persona], {"seed": world.seed, "password": NODE_PASSWORD})

    assert response.status_code == 403, response.text
    assert response.json()["error_code"] == "DBS.280032"
    assert _instance_count(api, world.project_id) == before


def test_no_credentials_answer_401(service, world):
    response = _adopt(service, world, None, {"seed": world.seed})
    assert response.status_code == 401 and response.json()["error_code"] == "APIG.0301"


def test_the_other_accounts_admin_adopts_into_its_own_project_only(service, api, world):
    token = world.tokens["other_account_admin"]
    own_project = service.call(service.services.inventory.account_by_name("adopt-other"))
    projects = service.call(service.services.inventory.projects(account_id=own_project.id))
    before = _instance_count(api, world.project_id)

    response = _adopt(service, world, token, {"seed": world.seed, "password": NODE_PASSWORD}, projects[0].id)

    assert response.status_code == 201, response.text
    assert _instance_count(api, world.project_id) == before
    assert api.get(f"/v3/{world.project_id}/instances", params={"id": response.json()["id"]}).json()["total_count"] == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "must be a JSON object with seed"),
        (b"[]", "must be a JSON object with seed"),
        ({}, "seed: Field required"),
        ({"seed": "redis://10.0.0.7:7000", "colour": "blue"}, "colour: Extra inputs are not permitted"),
        ({"seed": 7000}, "seed: Input should be a valid string"),
        ({"seed": "ftp://10.0.0.7:21"}, "scheme 'ftp' is not one of"),
        ({"seed": "redis+sentinel://10.0.0.9:26379"}, "names its primary"),
        ({"seed": "redis://10.0.0.7:99999"}, "bad host or port"),
        ({"seed": "redis://10.0.0.7:7000", "password": "x" * 513}, "password: Value should have at most 512"),
    ],
)
def test_bad_input_is_400_with_a_clear_message_and_changes_nothing(service, api, world, body, message):
    before = _instance_count(api, world.project_id)

    response = _adopt(service, world, world.tokens["admin"], body)

    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "DBS.200001"
    assert message in response.json()["error_msg"]
    assert _instance_count(api, world.project_id) == before


def test_a_password_in_the_seed_is_refused_and_not_echoed(service, world):
    response = _adopt(service, world, world.tokens["admin"], {"seed": "redis://ops:Echo-me-not@10.0.0.7:7000"})
    assert response.status_code == 400 and response.json()["error_code"] == "DBS.200001"
    assert "Echo-me-not" not in response.text
    assert "must not carry a password" in response.json()["error_msg"]


def test_an_unreachable_seed_is_named_with_what_failed(service, api, world):
    before = _instance_count(api, world.project_id)
    port = free_port()  # nothing listens there

    response = _adopt(service, world, world.tokens["admin"], {"seed": f"redis://127.0.0.1:{port}"})

    assert response.status_code == 403, response.text
    body = response.json()
    assert body["error_code"] == "DBS.200018"
    assert f"The seed 127.0.0.1:{port} cannot be reached" in body["error_msg"]
    assert _instance_count(api, world.project_id) == before


@pytest.mark.parametrize(
    ("password", "message"), [("wrong-password", "refused the credentials given"), (None, "requires a password")]
)
def test_credentials_the_seed_refuses_are_named_and_never_shown(service, api, world, password, message):
    before = _instance_count(api, world.project_id)

    response = _adopt(service, world, world.tokens["admin"], {"seed": world.seed, "password": password})

    assert response.status_code == 403, response.text
    assert response.json()["error_code"] == "DBS.200018"
    assert message in response.json()["error_msg"]
    assert "wrong-password" not in response.text
    assert _instance_count(api, world.project_id) == before


def test_the_route_is_documented_under_its_own_tag(service):
    document = httpx.get(f"{service.url}/openapi.json").json()
    operation = document["paths"]["/sessionplane/v1/{project_id}/instances"]["post"]
    assert operation["tags"] == ["sessionplane administration"]
    assert "201" in operation["responses"]


def test_adoption_logs_hold_no_node_password(service, world, caplog):
    caplog.set_level(logging.DEBUG)
    admin_token = world.tokens["admin"]

    statuses = [
        _adopt(service, world, admin_token, {"seed": world.seed, "password": NODE_PASSWORD}).status_code,
        _adopt(service, world, admin_token, {"seed": world.seed, "password": "Wr0ng-logged?"}).status_code,
        _adopt(service, world, admin_token, {"seed": "redis://u:Url-logged?@10.0.0.7:1"}).status_code,
        _adopt(service, world, admin_token, {"seed": world.seed, "password": 7, "x": "Body-logged?"}).status_code,
    ]

    assert statuses == [201, 403, 400, 400]
    assert "adopted redis://" in caplog.text  # the log is there, and names the seed
    for secret in (NODE_PASSWORD, "Wr0ng-logged?", "Url-logged?", "Body-logged?"):
        assert secret not in caplog.text
