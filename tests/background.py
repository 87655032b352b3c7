"""A live service with its background loops on (sampler, health probe), a tenant, and ways to call it.

The shared ``service`` fixture runs with the loops off (see ``settings_for``); tests of the loops
start their own with short intervals, e.g. a 0.2 s sampler and probe.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import httpx

from sessionplane import admin
from sessionplane.auth.signing import SignedRequest, sign_request
from sessionplane.demo.servers import RedisServer
from sessionplane.inventory.records import Instance, NodeSpec
from tests.conftest import PASSWORD, login, settings_for
from tests.live import LiveService
from tests.topologies import LIVENESS_DEADLINE_SECONDS

T = TypeVar("T")
LOOPS = {"sample_interval_seconds": 0.2, "probe_interval_seconds": 0.2, "probe_timeout_seconds": 0.5}


@dataclass
class Served:
    live: LiveService
    domain: str
    project_id: str
    api: httpx.Client  # the account's admin, by token

    def register(self, *servers: RedisServer, project_id: str | None = None, **options: object) -> Instance:
        specs = [NodeSpec(host=s.host, port=s.port, password=s.password) for s in servers]
        return self.live.call(
            admin.adopt_instance(
                self.live.services.inventory,
                project_id=project_id or self.project_id,
                name=str(options.pop("name", "history-cache")),
                nodes=specs,
                **options,  # type: ignore[arg-type]
            )
        )

    def token_for(self, name: str, *, policy: str | None = None) -> str:
        """A user of the account with at most one policy attached in this project; its token."""
        services = self.live.services
        user = self.live.call(admin.add_user(services.inventory, domain=self.domain, name=name, password=PASSWORD))
        if policy is not None:
            self.live.call(
                services.iam.attach(
                    account_id=user.account_id,
                    policy_name=policy,
                    principal_type="user",
                    principal_id=user.id,
                    project_id=self.project_id,
                )
            )
        return login(self.live, domain=self.domain, name=name, password=PASSWORD, project_id=self.project_id)

    def access_key(self) -> tuple[str, str]:
        services = self.live.services
        root = self.live.call(services.inventory.account_by_name(self.domain))
        assert root is not None
        admin_user = self.live.call(services.inventory.user_by_name(account_id=root.id, name="root"))
        key = self.live.call(services.iam.create_access_key(user_id=admin_user.id))
        return key.id, key.secret or ""


@contextmanager
def serving(data_dir: Path, **overrides: object) -> Iterator[Served]:
    settings = settings_for(data_dir, **{**LOOPS, **overrides})
    with LiveService(settings) as live:
        inventory = live.services.inventory
        live.call(admin.add_user(inventory, domain="loops", name="root", password=PASSWORD, is_admin=True))
        project = live.call(admin.add_project(inventory, domain="loops", name="loops-1"))
        token = login(live, domain="loops", name="root", password=PASSWORD, project_id=project.id)
        with httpx.Client(base_url=live.url, headers={"X-Auth-Token": token}, timeout=60) as api:
            yield Served(live, "loops", project.id, api)


def signed_by(ak: str, sk: str, project_id: str) -> Callable[[httpx.Request], httpx.Request]:
    """An httpx auth hook that signs the request with SDK-HMAC-SHA256, as the official SDK does."""

    def sign(request: httpx.Request) -> httpx.Request:
        request.headers.pop("X-Auth-Token", None)
        request.headers["X-Sdk-Date"] = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        request.headers["X-Project-Id"] = project_id
        request.headers["Content-Type"] = "application/json"
        signed = SignedRequest(
            method=request.method,
            path=request.url.path,
            query=tuple(request.url.params.multi_items()),
            headers={"host": urlsplit(str(request.url)).netloc, **{k.lower(): v for k, v in request.headers.items()}},
            body=request.content,
        )
        request.headers["Authorization"] = sign_request(
            signed, ak, sk, ["content-type", "host", "x-project-id", "x-sdk-date"]
        )
        return request

    return sign


def eventually(probe: Callable[[], T | None], *, pause: float = 0.1) -> T:
    """Poll until ``probe`` returns something truthy (a bounded wait for the background loops, never a timing
    bound): up to the suite's liveness deadline, the same under load as on an idle machine."""
    deadline = time.monotonic() + LIVENESS_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(pause)
    raise AssertionError(f"the condition never held; last answer: {probe()!r}")
