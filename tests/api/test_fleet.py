"""POST /sessionplane/v1/{project_id}/sessions/search|summary|close over real nodes of several instances."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from sessionplane import admin
from sessionplane.audit.records import AuditFilter
from sessionplane.demo.servers import LocalCluster, RedisServer
from sessionplane.inventory.records import Instance, NodeSpec
from tests.conftest import login
from tests.support import RawSession, client_ids

PASSWORD = "Fleet-pa55word!"
DEV_ONLY = {
    "Version": "5.0",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["gaussdbfornosql:instance:listSession", "gaussdbfornosql:instance:deleteSession"],
            "Condition": {"StringEquals": {"g:ResourceTag/env": ["dev"]}},
        }
    ],
}


@dataclass
class Fleet:
    project_id: str
    admin: httpx.Client
    operator: httpx.Client  # may list and close on env=dev instances only
    dev: Instance
    prod: Instance
    servers: dict[str, list[RedisServer]]


@pytest.fixture(scope="module")
def fleet(service) -> Iterator[Fleet]:
    inventory, iam = service.services.inventory, service.services.iam
    domain = "fleet-co"
    service.call(admin.add_user(inventory, domain=domain, name="boss", password=PASSWORD, is_admin=True))
    operator = service.call(admin.add_user(inventory, domain=domain, name="operator", password=PASSWORD))
    project = service.call(admin.add_project(inventory, domain=domain, name="fleet"))
    service.call(iam.put_policy(account_id=operator.account_id, name="dev-only", document=json.dumps(DEV_ONLY)))
    service.call(
        iam.attach(
            account_id=operator.account_id,
            policy_name="dev-only",
            principal_type="user",
            principal_id=operator.id,
            project_id=project.id,
        )
    )
    with LocalCluster(password="node-Secret-1") as cluster:
        servers = {"dev": [cluster.start_server(), cluster.start_server()], "prod": [cluster.start_server()]}
        instances = {
            env: service.call(
                admin.adopt_instance(
                    inventory,
                    project_id=project.id,
                    name=f"fleet-{env}",
                    nodes=[NodeSpec(host=s.host, port=s.port, password=s.password) for s in group],
                    tags={"env": env},
                    protected_names=["guardian"],
                )
            )
            for env, group in servers.items()
        }
        clients = [
            httpx.Client(
                base_url=service.url,
                headers={
                    "X-Auth-Token": login(service, domain=domain, name=n, password=PASSWORD, project_id=project.id)
                },
                timeout=60,
            )
            for n in ("boss", "operator")
        ]
        try:
            yield Fleet(project.id, clients[0], clients[1], instances["dev"], instances["prod"], servers)
        finally:
            for client in clients:
                client.close()


@pytest.fixture
def opened(fleet: Fleet) -> Iterator[list[RawSession]]:
    """Known sessions on every node, closed (if still open) after the test."""
    sessions: list[RawSession] = []
    yield sessions
    for session in sessions:
        session.close()


def _open(opened: list[RawSession], server: RedisServer, **options) -> RawSession:
    session = RawSession(server, **options)
    opened.append(session)
    return session


def _post(client: httpx.Client, fleet: Fleet, operation: str, body: dict) -> httpx.Response:
    return client.post(f"/sessionplane/v1/{fleet.project_id}/sessions/{operation}", json=body)


def _names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(s["name"] for s in response.json()["sessions"])


def _alive(fleet: Fleet, known: dict[str, RawSession], *names: str) -> bool:
    """Still connected (by ID on its node: a subscriber cannot answer a plain PING)."""
    on_node = set().union(*(client_ids(s) for group in fleet.servers.values() for s in group))
    return all(known[n].id in on_node and not known[n].closed_by_node(wait=False) for n in names or known)


def _populate(fleet: Fleet, opened: list[RawSession]) -> dict[str, RawSession]:
    dev_a, dev_b = fleet.servers["dev"]
    (prod,) = fleet.servers["prod"]
    known = {
        "batch-old": _open(opened, dev_a, name="batch-old"),
        "batch-db3": _open(opened, dev_b, name="batch-db3", db=3),
        "api-1": _open(opened, dev_a, name="api-1"),
        "healthcheck": _open(opened, dev_b, name="healthcheck"),
        "guardian": _open(opened, dev_a, name="guardian"),
        "prod-batch": _open(opened, prod, name="batch-prod"),
    }
    time.sleep(2.2)  # "batch-old" and friends: idle >= 2 s; the next ones: idle 0
    known["batch-new"] = _open(opened, dev_a, name="batch-new")
    known["subscriber"] = _open(opened, dev_b, name="listener")
    known["subscriber"].call("SUBSCRIBE", "news")
    return known


def test_search_filters_by_each_field_and_never_lists_shielded_sessions(fleet, opened):
    _populate(fleet, opened)
    search = lambda body: _names(_post(fleet.admin, fleet, "search", body))  # noqa: E731

    assert search({"match": {"name": ["batch-*"]}}) == ["batch-db3", "batch-new", "batch-old", "batch-prod"]
    assert search({"match": {"name": ["batch-*"], "min_idle_seconds": 2}}) == ["batch-db3", "batch-old", "batch-prod"]
    assert search({"match": {"db": [3]}}) == ["batch-db3"]
    assert search({"match": {"flags": ["P"]}}) == ["listener"]
    assert search({"match": {"cmd": ["subscribe"]}}) == ["listener"]
    assert search({"match": {"name": ["batch-*"]}, "exclude": {"name": ["batch-*"]}}) == []
    assert search({"scope": {"instance_ids": [fleet.prod.id]}}) == ["batch-prod"]
    assert search({"scope": {"node_ids": [fleet.dev.nodes[1].id]}}) == ["batch-db3", "healthcheck", "listener"]
    everything = _post(fleet.admin, fleet, "search", {"limit": 1000}).json()
    assert "guardian" not in {s["name"] for s in everything["sessions"]}  # protected
    assert "sessionplane" not in {s["name"] for s in everything["sessions"]}  # our own, by ID
    assert everything["total_count"] == 7 and everything["failed_nodes"] == []
    one = next(s for s in everything["sessions"] if s["name"] == "batch-db3")
    assert one["instance_id"] == fleet.dev.id and one["node_id"] == fleet.dev.nodes[1].id
    assert one["db"] == "3" and one["active"] is False and "qbuf_free" in one and isinstance(one["idle"], str)


def test_sort_and_paging_are_stable_and_complete(fleet, opened):
    _populate(fleet, opened)
    # Paged by a key that holds still between the requests: idle and age grow while the test runs, and
    # each node's clock ticks on its own, so two requests may order sessions of equal idle apart.
    pages = [
        _post(fleet.admin, fleet, "search", {"sort": "-name", "offset": offset, "limit": 3}).json()["sessions"]
        for offset in (0, 3, 6)
    ]
    assert [len(page) for page in pages] == [3, 3, 1]
    names = [s["name"] for page in pages for s in page]
    assert names == sorted(
        ["batch-old", "batch-db3", "api-1", "healthcheck", "batch-prod", "batch-new", "listener"], reverse=True
    )
    by_idle = _post(fleet.admin, fleet, "search", {"sort": "-idle"}).json()["sessions"]
    idles = [int(s["idle"]) for s in by_idle]
    assert idles == sorted(idles, reverse=True) and {s["name"] for s in by_idle[-2:]} == {"batch-new", "listener"}
    default = _post(fleet.admin, fleet, "search", {}).json()["sessions"]  # newest first
    ages = [int(s["age"]) for s in default]
    assert ages == sorted(ages) and {s["name"] for s in default[:2]} == {"batch-new", "listener"}


def test_summary_groups_counts_and_active(fleet, opened):
    known = _populate(fleet, opened)
    known["batch-new"].call("MULTI")  # active (inside a transaction) however long it then waits
    response = _post(fleet.admin, fleet, "summary", {"group_by": "name", "top": 2, "match": {"name": ["batch-*"]}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total_count"] == 4 and len(body["groups"]) == 2 and body["other"] == 2
    assert all(g["count"] == 1 for g in body["groups"])
    by_node = _post(fleet.admin, fleet, "summary", {"group_by": "node"}).json()
    assert {g["key"]: g["count"] for g in by_node["groups"]} == {
        fleet.dev.nodes[0].id: 3,
        fleet.dev.nodes[1].id: 3,
        fleet.prod.nodes[0].id: 1,
    }
    new = next(
        g
        for g in _post(fleet.admin, fleet, "summary", {"group_by": "name"}).json()["groups"]
        if g["key"] == "batch-new"
    )
    assert new["active"] == 1 and new["idle_over"] == 0


def test_close_closes_exactly_the_matches_and_is_audited(service, fleet, opened):
    known = _populate(fleet, opened)
    body = {"match": {"name": ["batch-*"], "min_idle_seconds": 2}, "exclude": {"name": ["batch-prod"]}}

    preview = _post(fleet.admin, fleet, "close", {**body, "dry_run": True})
    assert preview.status_code == 200 and preview.json()["would_close"] == 2
    assert _alive(fleet, known)

    response = _post(fleet.admin, fleet, "close", {**body, "expect_at_most": 2})

    assert response.status_code == 200, response.text
    result = response.json()
    assert result["closed"] == 2 and result["failed_nodes"] == []
    assert known["batch-old"].closed_by_node() and known["batch-db3"].closed_by_node()
    survivors = [k for k in known if k not in ("batch-old", "batch-db3")]
    assert _alive(fleet, known, *survivors)
    (event,) = [
        e
        for e in service.call(service.services.audit_store.events(account_id=None, where=AuditFilter(limit=500)))
        if e.id == result["audit_id"]
    ]
    assert event.outcome == "succeeded" and event.user_name == "boss"
    assert event.parameters["selector"] == body and event.parameters["expect_at_most"] == 2
    assert sum(r.get("closed", 0) for r in event.node_results) == 2


def test_expect_at_most_exceeded_closes_nothing(fleet, opened):
    known = _populate(fleet, opened)
    response = _post(fleet.admin, fleet, "close", {"match": {"name": ["batch-*"]}, "expect_at_most": 3})
    assert response.status_code == 409
    assert response.json()["error_code"] == "SP.0001" and "4 sessions match" in response.json()["error_msg"]
    assert _alive(fleet, known)
    audit = fleet.admin.get(f"/sessionplane/v1/{fleet.project_id}/audit", params={"outcome": "refused"})
    assert [r["outcome"] for r in audit.json()["records"]] == ["refused"]  # audited, and filterable as such


def test_a_stopped_node_is_a_failed_node_while_the_others_answer(fleet, opened):
    _populate(fleet, opened)
    (prod,) = fleet.servers["prod"]
    prod.stop()
    try:
        response = _post(fleet.admin, fleet, "search", {"match": {"name": ["batch-*"]}})
        assert response.status_code == 200
        body = response.json()
        assert sorted(s["name"] for s in body["sessions"]) == ["batch-db3", "batch-new", "batch-old"]
        (failed,) = body["failed_nodes"]
        assert failed["node_id"] == fleet.prod.nodes[0].id and failed["error_code"] == "DBS.200018"
    finally:
        prod.start()


def test_implicit_scope_skips_what_the_caller_may_not_touch(fleet, opened):
    known = _populate(fleet, opened)
    seen = _post(fleet.operator, fleet, "search", {"match": {"name": ["batch-*"]}})
    assert _names(seen) == ["batch-db3", "batch-new", "batch-old"]  # no prod

    closed = _post(fleet.operator, fleet, "close", {"match": {"name": ["batch-*"]}})
    assert closed.status_code == 200 and closed.json()["closed"] == 3
    assert _alive(fleet, known, "prod-batch")


def test_an_explicit_scope_the_caller_may_not_touch_is_403_and_closes_nothing(fleet, opened):
    known = _populate(fleet, opened)
    scope = {"scope": {"instance_ids": [fleet.dev.id, fleet.prod.id]}}
    response = _post(fleet.operator, fleet, "close", scope)
    assert response.status_code == 403 and response.json()["error_code"] == "DBS.280032"
    node_scope = _post(fleet.operator, fleet, "search", {"scope": {"node_ids": [fleet.prod.nodes[0].id]}})
    assert node_scope.status_code == 403
    assert _alive(fleet, known)


def test_another_projects_instance_reads_as_missing(service, fleet, opened, tenant, register, cluster):
    elsewhere = register(cluster.start_server(), name="someone-elses")
    for operation in ("search", "close"):
        response = _post(fleet.admin, fleet, operation, {"scope": {"instance_ids": [elsewhere.id]}})
        assert response.status_code == 404 and response.json()["error_code"] == "DBS.200002"
    response = _post(fleet.admin, fleet, "close", {"scope": {"node_ids": [elsewhere.nodes[0].id]}})
    assert response.status_code == 404 and response.json()["error_code"] == "DBS.200013"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"match": {"nmae": ["batch-*"]}}, "match.nmae"),
        ({"match": {"name": "batch-*"}}, "match.name"),
        ({"match": {"name": ["batch-[12]"]}}, "match.name[0]"),
        ({"match": {"min_idle_seconds": -5}}, "match.min_idle_seconds"),
        ({"expect_at_most": -1}, "expect_at_most"),
        ({"dry_run": "yes"}, "dry_run"),
        ({"sort": "random"}, "sort"),
        ({"limit": 0}, "limit"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_bad_bodies_name_the_field_and_close_nothing(fleet, opened, body, field):
    known = _populate_light(fleet, opened)
    response = _post(fleet.admin, fleet, "close", body)
    assert response.status_code == 400
    assert response.json()["error_code"] == "DBS.200001" and field in response.json()["error_msg"]
    assert known.alive() and known.id in client_ids(fleet.servers["dev"][0])


def _populate_light(fleet: Fleet, opened: list[RawSession]) -> RawSession:
    return _open(opened, fleet.servers["dev"][0], name="batch-bystander")
