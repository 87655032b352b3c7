"""Small calls are served from in-process caches, and a change made elsewhere is refused at once
(issue 7, item 5).

With the caches warm, each change is made outside the serving process's caches: by the operator's
CLI (a process of its own), by another ``Services`` on the same store (what a second process or a
replica holds), or by another replica over PostgreSQL; the very next request gets the exact
refusal. A warm small call makes no SQLAlchemy query at all (the revision read goes through the
driver directly).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import event

from sessionplane import admin
from sessionplane.auth.passwords import hash_password
from sessionplane.cli.context import run as run_elsewhere
from sessionplane.iam.records import AccessKey
from sessionplane.inventory.records import Instance, NodeSpec
from sessionplane.services import Services
from tests.conftest import login, settings_for
from tests.databases import postgres_database
from tests.live import LiveService
from tests.signed import signed_get

PASSWORD = "Cach3d-password!"


@dataclass
class Operator:
    """A user allowed everything in the project through an attached policy, with a token and an AK."""

    user_id: str
    name: str
    domain: str
    project_id: str
    attachment_id: str
    token: str
    key: AccessKey
    instance: Instance

    def calls(self, base_url: str) -> dict[str, Callable[[], httpx.Response]]:
        node = f"{base_url}/v3/{self.project_id}/redis/nodes/{self.instance.nodes[0].id}/sessions"
        instance = f"{base_url}/v3/{self.project_id}/instances/{self.instance.id}/sessions"
        token = {"X-Auth-Token": self.token}
        return {
            "token_node": lambda: httpx.get(node, headers=token, timeout=60),
            "token_instance": lambda: httpx.get(instance, headers=token, timeout=60),
            "aksk_node": lambda: signed_get(node, self.key.id, self.key.secret, project_id=self.project_id),
        }


def make_operator(service: LiveService, *, domain: str, project_id: str, node: NodeSpec) -> Operator:
    inventory, iam = service.services.inventory, service.services.iam
    name = f"cached-{uuid.uuid4().hex[:8]}"
    user = service.call(admin.add_user(inventory, domain=domain, name=name, password=PASSWORD))
    account = service.call(inventory.account_by_name(domain))
    attachment = service.call(
        iam.attach(
            account_id=account.id,
            policy_name="NoSQL FullAccess",
            principal_type="user",
            principal_id=user.id,
            project_id=project_id,
        )
    )
    instance = service.call(admin.adopt_instance(inventory, project_id=project_id, name=name, nodes=[node]))
    return Operator(
        user_id=user.id,
        name=name,
        domain=domain,
        project_id=project_id,
        attachment_id=attachment.id,
        token=login(service, domain=domain, name=name, password=PASSWORD, project_id=project_id),
        key=service.call(iam.create_access_key(user_id=user.id)),
        instance=instance,
    )


def warm(calls: dict[str, Callable[[], httpx.Response]]) -> None:
    for call in calls.values():
        for _ in range(2):
            assert call().status_code == 200


def elsewhere(settings, work: Callable[[Services], Awaitable[object]]) -> None:
    """Another ``Services`` on the same store, in its own event loop: its own engine, its own caches."""
    run_elsewhere(settings, work)


def cli(settings, *args: str) -> None:
    env = {**os.environ, "SESSIONPLANE_DATA_DIR": str(settings.data_dir)}
    result = subprocess.run(
        [sys.executable, "-m", "sessionplane", *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _update_user(op: Operator, **change: object) -> Callable[[Services], Awaitable[object]]:
    return lambda s: s.inventory.update_user(op.user_id, **change)


# change -> how it is made -> what each call answers right after (status, error code)
CHANGES: dict[str, tuple[Callable[[object, Operator], None], dict[str, tuple[int, str | None]]]] = {
    "user disabled by the CLI": (
        lambda settings, op: cli(settings, "user", "disable", op.name, "--domain", op.domain),
        {"token_node": (401, "APIG.0307"), "token_instance": (401, "APIG.0307"), "aksk_node": (401, "APIG.0301")},
    ),
    "password changed": (
        lambda settings, op: elsewhere(settings, _update_user(op, password_hash=hash_password("N3w-password!"))),
        {"token_node": (401, "APIG.0307"), "token_instance": (401, "APIG.0307"), "aksk_node": (200, None)},
    ),
    "user deleted": (
        lambda settings, op: elsewhere(settings, lambda s: s.inventory.delete_user(op.user_id)),
        {"token_node": (401, "APIG.0307"), "token_instance": (401, "APIG.0307"), "aksk_node": (401, "APIG.0301")},
    ),
    "access key deleted": (
        lambda settings, op: elsewhere(settings, lambda s: s.iam.delete_access_key(op.key.id)),
        {"token_node": (200, None), "token_instance": (200, None), "aksk_node": (401, "APIG.0301")},
    ),
    "access key disabled": (
        lambda settings, op: elsewhere(settings, lambda s: s.iam.set_access_key_enabled(op.key.id, False)),
        {"token_node": (200, None), "token_instance": (200, None), "aksk_node": (401, "APIG.0301")},
    ),
    "policy detached": (
        lambda settings, op: elsewhere(settings, lambda s: s.iam.detach(op.attachment_id)),
        {"token_node": (403, "DBS.280032"), "token_instance": (403, "DBS.280032"), "aksk_node": (403, "DBS.280032")},
    ),
    "instance removed by the CLI": (
        lambda settings, op: cli(settings, "instance", "remove", op.instance.id),
        {"token_node": (404, "DBS.200013"), "token_instance": (404, "DBS.200002"), "aksk_node": (404, "DBS.200013")},
    ),
}


def answers(calls: dict[str, Callable[[], httpx.Response]]) -> dict[str, tuple[int, str | None]]:
    seen = {}
    for label, call in calls.items():
        response = call()
        seen[label] = (response.status_code, response.json().get("error_code"))
    return seen


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_made_elsewhere_is_refused_at_once(service, tenant, cluster, change):
    server = cluster.start_server()
    op = make_operator(
        service, domain=tenant.domain, project_id=tenant.project_id, node=NodeSpec(host=server.host, port=server.port)
    )
    calls = op.calls(service.url)
    warm(calls)
    make_change, expected = CHANGES[change]
    make_change(service.settings, op)
    assert answers(calls) == expected


@pytest.fixture
def statements(service) -> Iterator[list[str]]:
    """Every SQL statement the live service sends through SQLAlchemy while the test runs."""
    seen: list[str] = []
    lock = threading.Lock()

    def record(_conn, _cursor, statement, *_args) -> None:
        with lock:
            seen.append(statement)

    engine = service.services.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_a_warm_small_call_reads_the_revision_once_and_makes_no_other_query(service, tenant, cluster, statements):
    server = cluster.start_server()
    op = make_operator(
        service, domain=tenant.domain, project_id=tenant.project_id, node=NodeSpec(host=server.host, port=server.port)
    )
    calls = op.calls(service.url)
    warm(calls)
    revision = service.services.db.revision
    for label, call in calls.items():
        statements.clear()
        reads = revision.reads
        assert call().status_code == 200
        assert (label, statements, revision.reads - reads) == (label, [], 1)


@pytest.mark.postgres
def test_replicas_on_postgresql_see_each_others_changes_at_once(tmp_path, cluster):
    server = cluster.start_server()
    node = NodeSpec(host=server.host, port=server.port)
    with postgres_database() as url:
        first_settings = settings_for(tmp_path / "first", database_url=url)
        second_settings = settings_for(
            tmp_path / "second", database_url=url, keyring_file=first_settings.data_dir / "keyring"
        )
        with LiveService(first_settings) as first, LiveService(second_settings) as second:
            project = first.call(admin.add_project(first.services.inventory, domain="acme", name="p"))
            ops = [make_operator(first, domain="acme", project_id=project.id, node=node) for _ in range(3)]
            for op in ops:
                warm(op.calls(first.url))
                warm(op.calls(second.url))

            disabled, detached, removed = ops
            second.call(second.services.inventory.update_user(disabled.user_id, enabled=False))
            second.call(second.services.iam.detach(detached.attachment_id))
            second.call(second.services.inventory.remove_instance(removed.instance.id))

            assert answers(disabled.calls(first.url))["token_node"] == (401, "APIG.0307")
            assert answers(detached.calls(first.url))["aksk_node"] == (403, "DBS.280032")
            assert answers(removed.calls(first.url))["token_instance"] == (404, "DBS.200002")
