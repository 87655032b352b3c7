"""POST /v3/auth/tokens and X-Auth-Token: issue, verify, expire, revoke, scope."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from sessionplane import admin
from sessionplane.auth import tokens
from sessionplane.auth.passwords import hash_password
from tests.conftest import login

ISO_MICROS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def body(name: str, password: str, *, domain: str = "acme", project: dict | None = None) -> dict:
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": name, "password": password, "domain": {"name": domain}}},
            },
            "scope": {"project": project or {}},
        }
    }


@pytest.fixture
def person(service, tenant):
    """A fresh user of the tenant's account, with its password."""
    counter = getattr(person, "n", 0) + 1
    person.n = counter  # type: ignore[attr-defined]
    name, password = f"token-user-{counter}", "T0ken-user-password"
    user = service.call(admin.add_user(service.services.inventory, domain=tenant.domain, name=name, password=password))
    return user, name, password


def test_issue_a_project_scoped_token(service, tenant, person):
    _user, name, password = person
    response = httpx.post(f"{service.url}/v3/auth/tokens", json=body(name, password, project={"id": tenant.project_id}))
    assert response.status_code == 201, response.text
    assert response.headers["X-Subject-Token"] and response.headers["X-Request-Id"]
    token = response.json()["token"]
    assert ISO_MICROS.match(token["expires_at"]) and ISO_MICROS.match(token["issued_at"])
    issued = datetime.strptime(token["issued_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    expires = datetime.strptime(token["expires_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert expires - issued == timedelta(hours=24)
    assert token["methods"] == ["password"] and token["user"]["name"] == name
    assert token["project"]["id"] == tenant.project_id and token["user"]["domain"]["name"] == "acme"
    assert token["catalog"][0]["endpoints"][0]["url"].startswith(service.url)
    scoped_by_name = httpx.post(
        f"{service.url}/v3/auth/tokens?nocatalog=true", json=body(name, password, project={"name": "ap-southeast-1"})
    )
    assert scoped_by_name.status_code == 201 and "catalog" not in scoped_by_name.json()["token"]


@pytest.mark.parametrize("who", ["wrong password", "unknown user", "unknown domain", "other account's project"])
def test_bad_credentials_all_read_the_same(service, tenant, person, who):
    _user, name, password = person
    elsewhere = service.call(
        admin.add_project(service.services.inventory, domain=f"other-{who.replace(' ', '-')}", name="x")
    )
    request = {
        "wrong password": body(name, "not-it", project={"id": tenant.project_id}),
        "unknown user": body("nobody", password, project={"id": tenant.project_id}),
        "unknown domain": body(name, password, domain="nope", project={"id": tenant.project_id}),
        "other account's project": body(name, password, project={"id": elsewhere.id}),
    }[who]
    response = httpx.post(f"{service.url}/v3/auth/tokens", json=request)
    assert response.status_code == 401
    assert response.json()["error_code"] == "APIG.0301" and response.json()["request_id"]
    assert password not in response.text


@pytest.mark.parametrize(
    "raw", [b"", b"{}", b'{"auth": {}}', b"nope", b'{"auth": {"identity": {"methods": ["token"]}}}']
)
def test_malformed_sign_in_body(service, raw):
    response = httpx.post(f"{service.url}/v3/auth/tokens", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["error_code"] == "DBS.200001"


def test_malformed_body_never_echoes_the_password(service):
    secret = "Sup3r-secret-value"
    request = body("x", secret)
    request["auth"]["identity"]["methods"] = "password"  # wrong type, beside the password
    response = httpx.post(f"{service.url}/v3/auth/tokens", json=request)
    assert response.status_code == 400 and secret not in response.text


def _list(service, tenant, token: str) -> httpx.Response:
    return httpx.get(f"{service.url}/v3/{tenant.project_id}/instances", headers={"X-Auth-Token": token})


def test_missing_tampered_and_expired_tokens(service, tenant, admin_token):
    missing = httpx.get(f"{service.url}/v3/{tenant.project_id}/instances")
    assert missing.status_code == 401 and "x-auth-token not found" in missing.json()["error_msg"]
    tampered = _list(service, tenant, admin_token[:20] + ("x" if admin_token[20] != "x" else "y") + admin_token[21:])
    assert tampered.status_code == 401 and "decrypt token fail" in tampered.json()["error_msg"]
    user = service.call(
        service.services.inventory.user_by_name(
            account_id=service.call(service.services.inventory.account_by_name("acme")).id, name="admin"
        )
    )
    expired, _ = tokens.issue(
        service.services.keyring,
        user_id=user.id,
        project_id=tenant.project_id,
        credential_version=user.credential_version,
        now=datetime.now(UTC) - timedelta(hours=25),
        ttl=timedelta(hours=24),
    )
    response = _list(service, tenant, expired)
    assert response.status_code == 401 and "token expires, expires_at:" in response.json()["error_msg"]


def test_token_of_another_project_is_forbidden(service, tenant, person):
    _user, name, password = person
    other = service.call(admin.add_project(service.services.inventory, domain="acme", name=f"second-{name}"))
    token = login(service, domain="acme", name=name, password=password, project_id=other.id)
    response = _list(service, tenant, token)
    assert response.status_code == 403 and response.json()["error_code"] == "DBS.280032"


@pytest.mark.parametrize("change", ["password", "disable", "delete"])
def test_revocation_is_immediate(service, tenant, person, change):
    user, name, password = person
    token = login(service, domain="acme", name=name, password=password, project_id=tenant.project_id)
    inventory = service.services.inventory
    assert _list(service, tenant, token).status_code == 403  # authenticated; no policy allows it yet
    if change == "password":
        service.call(inventory.update_user(user.id, password_hash=hash_password("An0ther-password")))
    elif change == "disable":
        service.call(inventory.update_user(user.id, enabled=False))
    else:
        service.call(inventory.delete_user(user.id))
    response = _list(service, tenant, token)
    assert response.status_code == 401 and response.json()["error_code"] == "APIG.0307"
