"""GET /sessionplane/v1/{project_id}/audit: filters, paging, the record's shape, tenant isolation, authorization."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest

from sessionplane import admin
from sessionplane.inventory.records import NodeSpec
from sessionplane.schema import utcnow
from tests.conftest import login

PASSWORD = "Aud1t-pa55word!"
GRANTS = {
    "auditor": {"Version": "5.0", "Statement": [{"Effect": "Allow", "Action": ["sessionplane:audit:list"]}]},
    "full_nosql": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["nosql:*:*"]}]},
    "lister": {"Version": "5.0", "Statement": [{"Effect": "Allow", "Action": ["gaussdbfornosql:instance:*"]}]},
    "denied": {
        "Version": "5.0",
        "Statement": [
            {"Effect": "Allow", "Action": ["*"]},
            {"Effect": "Deny", "Action": ["sessionplane:audit:list"]},
        ],
    },
}
NODE_OK = {"node_id": "n1no12", "closed": 2}
NODE_DOWN = {"node_id": "n2no12", "error_code": "DBS.200018", "error": "down"}
RECORD_KEYS = {
    "id",
    "time",
    "request_id",
    "actor",
    "source_ip",
    "action",
    "instance_id",
    "node_id",
    "parameters",
    "outcome",
    "error_code",
    "closed",
    "reconnected",
    "nodes",
}


@dataclass
class Trail:
    project_id: str
    other_project_id: str
    live_project_id: str  # where the real closes of a test go, apart from the seeded trail
    clients: dict[str, httpx.Client]
    seeded: list[str]  # audit ids, oldest first

    def get(self, who: str = "boss", project_id: str | None = None, **params) -> httpx.Response:
        return self.clients[who].get(f"/sessionplane/v1/{project_id or self.project_id}/audit", params=params)

    def ids(self, **params) -> list[str]:
        response = self.get(**params)
        assert response.status_code == 200, response.text
        return [r["id"] for r in response.json()["records"]]


SEED = [  # minutes ago, actor, outcome, instance
    (50, "user:alice", "succeeded", "i1in12"),
    (40, "rule:r_1", "succeeded", "i1in12"),
    (30, "cli:root", "partial", "i2in12"),
    (20, "user:alice", "denied", "i2in12"),
    (10, "rule:r2", "failed", "i1in12"),
    (5, "user:bob", "succeeded", None),
]


@pytest.fixture(scope="module")
def trail(service) -> Iterator[Trail]:
    inventory, iam, store = service.services.inventory, service.services.iam, service.services.audit_store
    domain = "audit-co"
    boss = service.call(admin.add_user(inventory, domain=domain, name="boss", password=PASSWORD, is_admin=True))
    project = service.call(admin.add_project(inventory, domain=domain, name="audited"))
    other = service.call(admin.add_project(inventory, domain=domain, name="elsewhere"))
    live = service.call(admin.add_project(inventory, domain=domain, name="live"))
    for name, document in GRANTS.items():
        user = service.call(admin.add_user(inventory, domain=domain, name=name, password=PASSWORD))
        service.call(iam.put_policy(account_id=user.account_id, name=name, document=json.dumps(document)))
        service.call(
            iam.attach(
                account_id=user.account_id,
                policy_name=name,
                principal_type="user",
                principal_id=user.id,
                project_id=project.id,
            )
        )
    now, seeded = utcnow(), []
    for minutes, actor, outcome, instance_id in SEED:
        seeded.append(
            service.call(
                store.append(
                    at=now - timedelta(minutes=minutes),
                    request_id=f"req-{minutes}",
                    account_id=boss.account_id,
                    project_id=project.id,
                    action="gaussdbfornosql:instance:deleteSession",
                    instance_id=instance_id,
                    parameters={"is_all": True},
                    outcome=outcome,
                    error_code=None,
                    node_results=[NODE_OK, NODE_DOWN],
                    actor=actor,
                    closed=2,
                )
            )
        )
    service.call(  # another project of the same account: never in this project's trail
        store.append(
            request_id="elsewhere",
            account_id=boss.account_id,
            project_id=other.id,
            action="gaussdbfornosql:instance:deleteSession",
            instance_id="i1in12",
            parameters={},
            outcome="succeeded",
            error_code=None,
            node_results=[],
            actor="user:alice",
        )
    )
    clients = {}
    for name in ("boss", *GRANTS):
        token = login(service, domain=domain, name=name, password=PASSWORD, project_id=project.id)
        clients[name] = httpx.Client(base_url=service.url, headers={"X-Auth-Token": token}, timeout=60)
    for name, scope in (("boss", other), ("boss", live), ("auditor", live)):
        token = login(service, domain=domain, name=name, password=PASSWORD, project_id=scope.id)
        clients[f"{name}_{scope.name}"] = httpx.Client(
            base_url=service.url, headers={"X-Auth-Token": token}, timeout=60
        )
    try:
        yield Trail(project.id, other.id, live.id, clients, seeded)
    finally:
        for client in clients.values():
            client.close()


def test_records_come_newest_first_with_their_shape(trail):
    response = trail.get()
    assert response.status_code == 200
    body = response.json()
    assert body["total_count"] == 6 and [r["id"] for r in body["records"]] == trail.seeded[::-1]
    newest = body["records"][0]
    assert set(newest) == RECORD_KEYS
    assert newest["actor"] == "user:bob" and newest["time"].endswith("Z") and newest["reconnected"] is None
    assert newest["closed"] == 2 and newest["nodes"] == [
        {"node_id": "n1no12", "closed": 2, "error_code": None, "error_msg": None},
        {"node_id": "n2no12", "closed": None, "error_code": "DBS.200018", "error_msg": "down"},
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"outcome": "succeeded"}, [5, 1, 0]),
        ({"actor": "user:alice"}, [3, 0]),
        ({"actor": "rule:*"}, [4, 1]),
        ({"actor": "rule:r_*"}, [1]),
        ({"instance_id": "i2in12"}, [3, 2]),
        ({"since": "-25m"}, [5, 4, 3]),
        ({"until": "-35m"}, [1, 0]),
        ({"since": "-45m", "until": "-15m", "instance_id": "i1in12"}, [1]),
        ({"offset": 2, "limit": 2}, [3, 2]),
        ({"outcome": "interrupted"}, []),
    ],
)
def test_filters_and_paging(trail, params, expected):
    response = trail.get(**params)
    assert response.status_code == 200, response.text
    assert [r["id"] for r in response.json()["records"]] == [trail.seeded[i] for i in expected]
    if "offset" not in params:
        assert response.json()["total_count"] == len(expected)
    else:
        assert response.json()["total_count"] == 6


def test_iso_times_filter_too(trail):
    since = (utcnow() - timedelta(minutes=25)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert trail.ids(since=since) == trail.seeded[:2:-1]


def test_real_closes_and_denials_appear_with_their_actor(service, trail, cluster, sessions):
    server = cluster.start_server()
    node = NodeSpec(host=server.host, port=server.port)
    inventory = service.services.inventory
    project_id = trail.live_project_id
    instance = service.call(admin.adopt_instance(inventory, project_id=project_id, name="real", nodes=[node]))
    sessions(server, name="victim")
    closed = trail.clients["boss_live"].delete(f"/v3/{project_id}/instances/{instance.id}/sessions")
    denied = trail.clients["auditor_live"].delete(f"/v3/{project_id}/instances/{instance.id}/sessions")  # no policy
    assert (closed.status_code, denied.status_code) == (200, 403)
    listed = trail.get("boss_live", project_id=project_id).json()
    assert listed["total_count"] == 2
    records = {r["request_id"]: r for r in listed["records"]}
    allowed = records[closed.headers["X-Request-Id"]]
    assert allowed["actor"] == "user:boss" and allowed["outcome"] == "succeeded" and allowed["closed"] == 1
    assert allowed["nodes"] == [{"node_id": instance.nodes[0].id, "closed": 1, "error_code": None, "error_msg": None}]
    refused = records[denied.headers["X-Request-Id"]]
    assert refused["actor"] == "user:auditor" and refused["outcome"] == "denied"
    assert refused["error_code"] == "DBS.280032" and refused["closed"] is None


def test_another_projects_records_are_invisible(trail):
    assert trail.ids() == trail.seeded[::-1]  # not the other project's record, though same account and instance id
    elsewhere = trail.get("boss_elsewhere", project_id=trail.other_project_id).json()
    assert [r["request_id"] for r in elsewhere["records"]] == ["elsewhere"]
    crossed = trail.get("boss_elsewhere")  # a token of the other project on this project's path
    assert crossed.status_code == 403 and crossed.json()["error_code"] == "DBS.280032"


@pytest.mark.parametrize(("who", "status"), [("auditor", 200), ("full_nosql", 403), ("lister", 403), ("denied", 403)])
def test_reading_the_trail_needs_sessionplane_audit_list(trail, who, status):
    response = trail.get(who)
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["error_code"] == "DBS.280032"
        assert "sessionplane:audit:list" in response.json()["error_msg"]
    anonymous = httpx.get(f"{trail.clients['boss'].base_url}/sessionplane/v1/{trail.project_id}/audit")
    assert anonymous.status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "-5y"}, "until"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"offset": -1}, "offset"),
        ({"outcome": "BAD!"}, "outcome"),
        ({"outcome": "bogus"}, "outcome"),  # well-formed, but no outcome of that name
        ({"actor": "user:\x01"}, "actor"),
        ({"instance_id": "a/b"}, "instance_id"),
    ],
)
def test_bad_parameters_answer_400_naming_them(trail, params, field):
    response = trail.get(**params)
    assert response.status_code == 400
    assert response.json()["error_code"] == "DBS.200001" and field in response.json()["error_msg"]
