"""GET /sessionplane/v1/{project_id}/permissions: what each kind of caller may do, as its policies say.

Personas: the account's admin, a user with the read-only system policy, a user whose close is
allowed only on instances tagged env=dev (a condition-key policy), an auditor. Each answer is also
checked against the operations themselves: where it says "close", a dry-run close answers 200,
and where it says no, 403.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from sessionplane import admin
from sessionplane.audit.records import AuditFilter
from sessionplane.demo.servers import LocalCluster
from sessionplane.iam.system_policies import READ_ONLY
from sessionplane.inventory.records import Instance, NodeSpec
from tests.conftest import login

PASSWORD = "Perm1ss-pa55word!"
DOMAIN = "permissions-co"
DEV_CLOSER = {
    "Version": "5.0",
    "Statement": [
        {"Effect": "Allow", "Action": ["gaussdbfornosql:instance:listSession"]},
        {
            "Effect": "Allow",
            "Action": ["gaussdbfornosql:instance:deleteSession"],
            "Resource": ["gaussdbfornosql:*:*:instance:*"],
            "Condition": {"StringEquals": {"g:ResourceTag/env": ["dev"]}},
        },
    ],
}
DENY_CLOSE = {
    "Version": "5.0",
    "Statement": [
        {"Effect": "Allow", "Action": ["*"]},
        {"Effect": "Deny", "Action": ["gaussdbfornosql:instance:deleteSession"]},
    ],
}
ROLE_DELETER = {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["nosql:session:delete"]}]}
AUDITOR = {"Version": "5.0", "Statement": [{"Effect": "Allow", "Action": ["sessionplane:audit:list"]}]}
CAPABILITIES = {"list", "close", "rules", "audit"}
LIST, DELETE, AUDIT = (
    "gaussdbfornosql:instance:listSession",
    "gaussdbfornosql:instance:deleteSession",
    "sessionplane:audit:list",
)


@dataclass
class World:
    service: object
    project_id: str
    other_project_id: str
    instances: dict[str, Instance]  # dev, prod
    foreign: Instance  # another project's
    clients: dict[str, httpx.Client]

    def ask(self, who: str, instance: str | None = None, *, project_id: str | None = None) -> httpx.Response:
        params = {"instance_id": self.instances[instance].id} if instance else {}
        return self.clients[who].get(f"/sessionplane/v1/{project_id or self.project_id}/permissions", params=params)

    def allowed(self, who: str, instance: str | None = None) -> dict[str, bool]:
        response = self.ask(who, instance)
        assert response.status_code == 200, response.text
        return {name: p["allowed"] for name, p in response.json()["permissions"].items()}

    def dry_close(self, who: str, instance: str) -> int:
        node = self.instances[instance].nodes[0]
        return (
            self.clients[who]
            .request(
                "DELETE",
                f"/v3/{self.project_id}/redis/nodes/{node.id}/sessions",
                params={"dry_run": "true"},
                json={"is_all": True},
            )
            .status_code
        )


@pytest.fixture(scope="module")
def world(service) -> Iterator[World]:
    inventory, iam = service.services.inventory, service.services.iam
    boss = service.call(admin.add_user(inventory, domain=DOMAIN, name="boss", password=PASSWORD, is_admin=True))
    project = service.call(admin.add_project(inventory, domain=DOMAIN, name="asked"))
    other = service.call(admin.add_project(inventory, domain=DOMAIN, name="elsewhere"))
    with LocalCluster() as cluster:
        servers = {"dev": cluster.start_server(), "prod": cluster.start_server()}

        def adopt(label: str, project_id: str) -> Instance:
            server = servers[label]
            return service.call(
                admin.adopt_instance(
                    inventory,
                    project_id=project_id,
                    name=f"perm-{label}",
                    nodes=[NodeSpec(host=server.host, port=server.port)],
                    tags={"env": label},
                )
            )

        instances = {label: adopt(label, project.id) for label in servers}
        foreign = adopt("dev", other.id)

        def grant(name: str, policy: str) -> None:
            user = service.call(admin.add_user(inventory, domain=DOMAIN, name=name, password=PASSWORD))
            service.call(
                iam.attach(
                    account_id=boss.account_id,
                    policy_name=policy,
                    principal_type="user",
                    principal_id=user.id,
                    project_id=project.id,
                )
            )

        grant("reader", READ_ONLY.name)
        for name, document in (
            ("dev_closer", DEV_CLOSER),
            ("auditor", AUDITOR),
            ("deny_close", DENY_CLOSE),
            ("role_deleter", ROLE_DELETER),
        ):
            service.call(iam.put_policy(account_id=boss.account_id, name=name, document=json.dumps(document)))
            grant(name, name)
        service.call(admin.add_user(inventory, domain=DOMAIN, name="nobody", password=PASSWORD))

        def client(name: str) -> httpx.Client:
            token = login(service, domain=DOMAIN, name=name, password=PASSWORD, project_id=project.id)
            return httpx.Client(base_url=service.url, headers={"X-Auth-Token": token}, timeout=60)

        people = ("boss", "reader", "dev_closer", "auditor", "deny_close", "role_deleter", "nobody")
        clients = {name: client(name) for name in people}
        yield World(service, project.id, other.id, instances, foreign, clients)
        for client in clients.values():
            client.close()


def test_the_admin_may_do_everything_on_the_project_and_each_instance(world):
    response = world.ask("boss")
    assert response.status_code == 200
    body = response.json()
    assert body["project_id"] == world.project_id and body["instance_id"] is None
    assert body["permissions"] == {
        "list": {"action": LIST, "allowed": True, "instances_allowed": 2, "instances_total": 2},
        "close": {"action": DELETE, "allowed": True, "instances_allowed": 2, "instances_total": 2},
        "rules": {"action": DELETE, "allowed": True, "instances_allowed": 2, "instances_total": 2},
        "audit": {"action": AUDIT, "allowed": True, "instances_allowed": None, "instances_total": None},
    }
    for label in ("dev", "prod"):
        one = world.ask("boss", label).json()
        assert one["instance_id"] == world.instances[label].id
        assert one["permissions"]["close"] == {
            "action": DELETE,
            "allowed": True,
            "instances_allowed": None,
            "instances_total": None,
        }
        assert world.allowed("boss", label) == dict.fromkeys(CAPABILITIES, True)


def test_a_read_only_user_may_list_but_not_close_change_rules_or_read_the_audit(world):
    project = world.ask("reader").json()["permissions"]
    assert project["list"] == {"action": LIST, "allowed": True, "instances_allowed": 2, "instances_total": 2}
    assert project["close"] == {"action": DELETE, "allowed": False, "instances_allowed": 0, "instances_total": 2}
    assert project["rules"]["allowed"] is False and project["audit"]["allowed"] is False
    for label in ("dev", "prod"):
        assert world.allowed("reader", label) == {"list": True, "close": False, "rules": False, "audit": False}
        assert world.dry_close("reader", label) == 403  # the answer is the operation's


def test_a_condition_key_policy_allows_close_only_where_its_tag_matches(world):
    project = world.ask("dev_closer").json()["permissions"]
    assert project["close"] == {"action": DELETE, "allowed": True, "instances_allowed": 1, "instances_total": 2}
    assert project["list"]["instances_allowed"] == 2
    assert world.allowed("dev_closer", "dev") == {"list": True, "close": True, "rules": True, "audit": False}
    assert world.allowed("dev_closer", "prod") == {"list": True, "close": False, "rules": False, "audit": False}
    assert world.dry_close("dev_closer", "dev") == 200
    assert world.dry_close("dev_closer", "prod") == 403


def test_an_explicit_deny_wins_over_allow_everything_and_a_role_policy_counts_by_its_alias(world):
    assert world.allowed("deny_close") == {"list": True, "close": False, "rules": False, "audit": True}
    assert world.allowed("deny_close", "dev") == {"list": True, "close": False, "rules": False, "audit": True}
    assert world.dry_close("deny_close", "dev") == 403
    assert world.allowed("role_deleter", "prod") == {"list": False, "close": True, "rules": True, "audit": False}
    assert world.dry_close("role_deleter", "prod") == 200


def test_an_auditor_may_read_the_audit_only_and_a_user_without_policies_may_do_nothing(world):
    assert world.allowed("auditor") == {"list": False, "close": False, "rules": False, "audit": True}
    assert world.allowed("nobody") == dict.fromkeys(CAPABILITIES, False)
    assert world.allowed("nobody", "dev") == dict.fromkeys(CAPABILITIES, False)


def test_asking_is_not_audited(world):
    trail = world.service.services.audit_store
    where = AuditFilter(project_id=world.project_id, limit=1000)
    before = world.service.call(trail.count(account_id=None, where=where))
    for who in ("reader", "nobody"):
        world.ask(who)
        world.ask(who, "prod")
    assert world.service.call(trail.count(account_id=None, where=where)) == before


def test_missing_and_foreign_instances_read_as_missing_and_bad_ids_as_parameter_errors(world):
    path = f"/sessionplane/v1/{world.project_id}/permissions"
    for instance_id in (world.foreign.id, "0" * 32 + "in12"):
        response = world.clients["boss"].get(path, params={"instance_id": instance_id})
        assert (response.status_code, response.json()["error_code"]) == (404, "DBS.200002")
    response = world.clients["boss"].get(path, params={"instance_id": "../x"})
    assert (response.status_code, response.json()["error_code"]) == (400, "DBS.200001")


def test_it_needs_credentials_scoped_to_the_paths_project(world):
    anonymous = httpx.get(f"{world.clients['boss'].base_url}/sessionplane/v1/{world.project_id}/permissions")
    assert (anonymous.status_code, anonymous.json()["error_code"]) == (401, "APIG.0301")
    elsewhere = world.ask("boss", project_id=world.other_project_id)
    assert (elsewhere.status_code, elsewhere.json()["error_code"]) == (403, "DBS.280032")
