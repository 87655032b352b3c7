"""Shared fixtures: one live service (real HTTP, SQLite in a temp dir) and fresh redis-server nodes per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from sessionplane import admin
from sessionplane.demo.servers import LocalCluster, RedisServer
from sessionplane.inventory.records import Instance, NodeSpec
from sessionplane.settings import Settings
from tests.live import LiveService
from tests.nodes import NODE_PROFILES
from tests.support import RawSession, Tenant

PASSWORD = "Adm1n-pa55word!"


def settings_for(data_dir: Path, **overrides: object) -> Settings:
    # The background loops (sampler, health probe, rule scheduler) are off unless a test turns them on: a
    # probe that marks a node abnormal between a test's steps, or a scheduler's query in a test that counts
    # the store's queries, would make request-path tests depend on timing.
    overrides = {"sample_interval_seconds": 0, "probe_interval_seconds": 0, "rule_tick_seconds": 0, **overrides}
    return Settings(data_dir=data_dir, node_connect_timeout_seconds=1.0, **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    settings = settings_for(tmp_path_factory.mktemp("service"), protected_client_names=["guardian"])
    with LiveService(settings) as live:
        yield live


@pytest.fixture(scope="session")
def tenant(service: LiveService) -> Tenant:
    inventory = service.services.inventory
    service.call(admin.add_user(inventory, domain="acme", name="admin", password=PASSWORD, is_admin=True))
    project = service.call(admin.add_project(inventory, domain="acme", name="ap-southeast-1"))
    return Tenant(domain="acme", project_id=project.id, admin_name="admin", admin_password=PASSWORD)


def login(service: LiveService, *, domain: str, name: str, password: str, project_id: str) -> str:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": name, "password": password, "domain": {"name": domain}}},
            },
            "scope": {"project": {"id": project_id}},
        }
    }
    response = httpx.post(f"{service.url}/v3/auth/tokens", json=body)
    assert response.status_code == 201, response.text
    return response.headers["X-Subject-Token"]


@pytest.fixture(scope="session")
def admin_token(service: LiveService, tenant: Tenant) -> str:
    return login(
        service,
        domain=tenant.domain,
        name=tenant.admin_name,
        password=tenant.admin_password,
        project_id=tenant.project_id,
    )


@pytest.fixture
def api(service: LiveService, admin_token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.url, headers={"X-Auth-Token": admin_token}, timeout=60) as client:
        yield client


@pytest.fixture
def node_profile(request: pytest.FixtureRequest) -> str:
    """Which kind of node ``cluster`` starts (``tests.nodes.NODE_PROFILES``); plain Redis unless parametrized."""
    return getattr(request, "param", "redis")


@pytest.fixture
def cluster(node_profile: str) -> Iterator[LocalCluster]:
    with LocalCluster(**NODE_PROFILES[node_profile]) as local:  # type: ignore[arg-type]
        yield local


@pytest.fixture
def sessions() -> Iterator[Callable[..., RawSession]]:
    """Open client sessions on a node; all closed at the end of the test."""
    opened: list[RawSession] = []

    def open_session(server: RedisServer, **options: object) -> RawSession:
        session = RawSession(server, **options)  # type: ignore[arg-type]
        opened.append(session)
        return session

    yield open_session
    for session in opened:
        session.close()


@pytest.fixture
def register(service: LiveService, tenant: Tenant) -> Callable[..., Instance]:
    """Adopt running servers as one instance of the tenant's project."""

    def register_instance(*servers: RedisServer, **options: object) -> Instance:
        specs = [
            NodeSpec(
                host=s.host, port=s.port, username=s.credentials[0], password=s.credentials[1], name=f"node_{i + 1}"
            )
            for i, s in enumerate(servers)
        ]
        options.setdefault("name", "orders-cache")
        return service.call(
            admin.adopt_instance(
                service.services.inventory,
                project_id=tenant.project_id,
                nodes=specs,
                **options,  # type: ignore[arg-type]
            )
        )

    return register_instance


def _node_spec(server: RedisServer, *, name: str) -> NodeSpec:
    username, password = server.credentials
    return NodeSpec(host=server.host, port=server.port, username=username, password=password, name=name)
