"""Close rules over HTTP against real redis-server nodes: changes, authorization, and what runs do on the nodes.

The module's service has its scheduler loop off (``rule_tick_seconds=0``): each test runs the
scheduler's real ``tick`` (claim, run, release) when it wants a run, so what a run did is
asserted without waiting for a clock. One test at the end watches the loop of a service that has
it on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text

from sessionplane import admin
from sessionplane.demo.servers import LocalCluster, RedisServer
from sessionplane.inventory.records import Instance, NodeSpec
from sessionplane.rules.model import RuleRun
from sessionplane.schema import utcnow
from tests.conftest import login, settings_for
from tests.live import LiveService
from tests.support import RawSession, client_ids

PASSWORD = "Ru1es-pa55word!"
LIST_ONLY = {"Version": "5.0", "Statement": [{"Effect": "Allow", "Action": ["gaussdbfornosql:instance:listSession"]}]}
RULE = {"name": "idle batch", "match": {"name": ["batch-*"]}}


@dataclass
class World:
    live: LiveService
    project_id: str
    admin: httpx.Client
    reader: httpx.Client  # listSession only
    stranger: httpx.Client  # another project's admin
    stranger_project_id: str
    instance: Instance  # a quiet instance for changes and validation

    def register(self, *servers: RedisServer, **options) -> Instance:
        specs = [NodeSpec(host=s.host, port=s.port, password=s.password) for s in servers]
        options.setdefault("name", "rules-cache")
        return self.live.call(
            admin.adopt_instance(self.live.services.inventory, project_id=self.project_id, nodes=specs, **options)
        )

    def rules(self, instance: Instance) -> str:
        return f"/sessionplane/v1/{self.project_id}/instances/{instance.id}/close-rules"

    def create(self, instance: Instance, body: dict) -> dict:
        response = self.admin.post(self.rules(instance), json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def tick(self) -> list[RuleRun]:
        return self.live.call(self.live.services.scheduler.tick())

    def due_now(self, rule_id: str) -> None:
        self.live.call(self.live.services.rule_store.update(rule_id, {"next_run_at": utcnow()}))

    def runs(self, instance: Instance, rule_id: str, **params) -> dict:
        response = self.admin.get(f"{self.rules(instance)}/{rule_id}/runs", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def audit(self, **params) -> list[dict]:
        response = self.admin.get(f"/sessionplane/v1/{self.project_id}/audit", params={"limit": 1000, **params})
        assert response.status_code == 200, response.text
        return response.json()["records"]


def _client(live: LiveService, domain: str, name: str, project_id: str) -> httpx.Client:
    token = login(live, domain=domain, name=name, password=PASSWORD, project_id=project_id)
    return httpx.Client(base_url=live.url, headers={"X-Auth-Token": token}, timeout=60)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    settings = settings_for(
        tmp_path_factory.mktemp("rules"), rule_tick_seconds=0, reconnect_window_seconds=3600, node_deadline_seconds=2
    )
    with LiveService(settings) as live, LocalCluster() as quiet:
        inventory, iam = live.services.inventory, live.services.iam
        live.call(admin.add_user(inventory, domain="rules-co", name="root", password=PASSWORD, is_admin=True))
        reader = live.call(admin.add_user(inventory, domain="rules-co", name="reader", password=PASSWORD))
        live.call(admin.add_user(inventory, domain="other-co", name="boss", password=PASSWORD, is_admin=True))
        project = live.call(admin.add_project(inventory, domain="rules-co", name="rules"))
        other = live.call(admin.add_project(inventory, domain="other-co", name="elsewhere"))
        live.call(iam.put_policy(account_id=reader.account_id, name="list-only", document=json.dumps(LIST_ONLY)))
        live.call(
            iam.attach(
                account_id=reader.account_id,
                policy_name="list-only",
                principal_type="user",
                principal_id=reader.id,
                project_id=project.id,
            )
        )
        server = quiet.start_server()
        node = NodeSpec(host=server.host, port=server.port)
        instance = live.call(admin.adopt_instance(inventory, project_id=project.id, name="quiet", nodes=[node]))
        clients = [
            _client(live, "rules-co", "root", project.id),
            _client(live, "rules-co", "reader", project.id),
            _client(live, "other-co", "boss", other.id),
        ]
        try:
            yield World(live, project.id, *clients, other.id, instance)
        finally:
            for client in clients:
                client.close()


@pytest.fixture
def opened() -> Iterator[list[RawSession]]:
    sessions: list[RawSession] = []
    yield sessions
    for session in sessions:
        session.close()


def _open(opened: list[RawSession], server: RedisServer, name: str) -> RawSession:
    session = RawSession(server, name=name)
    opened.append(session)
    return session


# -- changes ---------------------------------------------------------------------------------------


def test_a_rule_is_created_listed_changed_and_deleted_and_every_change_is_audited(world):
    url = world.rules(world.instance)
    rule = world.create(world.instance, {**RULE, "exclude": {"user": ["ops"]}})
    assert {k: v for k, v in rule.items() if not k.endswith("_at") and k != "id"} == {
        "instance_id": world.instance.id,
        "name": "idle batch",
        "match": {"name": ["batch-*"]},
        "exclude": {"user": ["ops"]},
        "interval_seconds": 60,
        "mode": "report",
        "max_per_run": 1000,
        "enabled": True,
        "disabled_reason": None,
    }
    assert rule["created_at"].endswith("Z") and rule["created_at"] == rule["updated_at"]
    assert world.admin.get(url).json() == {"total_count": 1, "rules": [rule]}
    assert world.admin.get(f"{url}/{rule['id']}").json() == rule

    change = {"mode": "enforce", "interval_seconds": 30, "match": {"name": ["batch-*"], "min_idle_seconds": 600}}
    changed = world.admin.patch(f"{url}/{rule['id']}", json=change)
    assert changed.status_code == 200, changed.text
    assert changed.json() | change == changed.json() and changed.json()["name"] == "idle batch"
    assert changed.json()["updated_at"] > rule["updated_at"]

    assert world.admin.delete(f"{url}/{rule['id']}").status_code == 204
    gone = world.admin.get(f"{url}/{rule['id']}")
    assert gone.status_code == 404 and gone.json()["error_code"] == "SP.0101"
    assert world.admin.get(f"{url}/{rule['id']}/runs").status_code == 404
    assert world.admin.get(url).json()["total_count"] == 0

    changes = [r for r in world.audit(instance_id=world.instance.id) if r["parameters"].get("rule_id") == rule["id"]]
    assert [r["action"] for r in changes] == [
        "sessionplane:closeRule:delete",
        "sessionplane:closeRule:update",
        "sessionplane:closeRule:create",
    ]
    assert all(r["actor"] == "user:root" and r["outcome"] == "succeeded" for r in changes)
    assert changes[1]["parameters"]["changes"] == change
    assert changes[2]["parameters"]["rule"]["mode"] == "report"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**RULE, "interval_seconds": 5}, "interval_seconds"),
        ({**RULE, "mode": "sometimes"}, "mode"),
        ({**RULE, "match": {"name": ["batch-[12]"]}}, "match.name[0]"),
        ({**RULE, "match": {"nmae": ["batch-*"]}}, "match.nmae"),
        ({**RULE, "match": {}}, "match"),
        ({**RULE, "scope": {"instance_ids": ["x"]}}, "scope"),
        ({**RULE, "max_per_run": -1}, "max_per_run"),
        ({"name": "no selector"}, "match"),
        ([RULE], "JSON object"),
    ],
)
def test_bad_bodies_answer_400_naming_the_field_and_store_nothing(world, body, field):
    url = world.rules(world.instance)
    before = len(world.audit(instance_id=world.instance.id))
    response = world.admin.post(url, json=body)
    assert response.status_code == 400
    assert response.json()["error_code"] == "DBS.200001" and field in response.json()["error_msg"]
    assert world.admin.get(url).json()["total_count"] == 0
    assert len(world.audit(instance_id=world.instance.id)) == before


def test_a_bad_change_answers_400_and_changes_nothing(world):
    rule = world.create(world.instance, RULE)
    url = f"{world.rules(world.instance)}/{rule['id']}"
    for body, field in (({"interval_seconds": 9}, "interval_seconds"), ({"mode": "x"}, "mode"), ({}, "at least")):
        response = world.admin.patch(url, json=body)
        assert response.status_code == 400 and field in response.json()["error_msg"]
    assert world.admin.get(url).json() == rule
    world.admin.delete(url)


def test_changes_need_delete_session_and_a_denied_change_changes_nothing(world):
    url = world.rules(world.instance)
    rule = world.create(world.instance, RULE)
    one = f"{url}/{rule['id']}"
    assert world.reader.get(url).status_code == 200 and world.reader.get(one).json() == rule
    assert world.reader.get(f"{one}/runs").status_code == 200
    for response in (
        world.reader.post(url, json=RULE),
        world.reader.patch(one, json={"mode": "enforce"}),
        world.reader.delete(one),
    ):
        assert response.status_code == 403 and response.json()["error_code"] == "DBS.280032"
    assert world.admin.get(url).json() == {"total_count": 1, "rules": [rule]}
    denied = world.audit(instance_id=world.instance.id, outcome="denied", actor="user:reader")
    assert [r["parameters"]["close_rule"] for r in denied[:3]] == ["delete", "update", "create"]
    world.admin.delete(one)


def test_another_projects_instance_and_another_instances_rule_read_as_missing(world, cluster):
    rule = world.create(world.instance, RULE)
    theirs = f"/sessionplane/v1/{world.stranger_project_id}/instances/{world.instance.id}/close-rules"
    for response in (world.stranger.get(theirs), world.stranger.post(theirs, json=RULE)):
        assert response.status_code == 404 and response.json()["error_code"] == "DBS.200002"
    assert world.stranger.get(world.rules(world.instance)).status_code == 403  # its token is not for this project
    sibling = world.register(cluster.start_server(), name="sibling")
    for response in (
        world.admin.get(f"{world.rules(sibling)}/{rule['id']}"),
        world.admin.delete(f"{world.rules(sibling)}/{rule['id']}"),
    ):
        assert response.status_code == 404 and response.json()["error_code"] == "SP.0101"
    world.admin.delete(f"{world.rules(world.instance)}/{rule['id']}")


# -- runs ------------------------------------------------------------------------------------------


def _alive(server: RedisServer, *sessions: RawSession) -> bool:
    on_node = client_ids(server)
    return all(s.id in on_node and not s.closed_by_node(wait=False) for s in sessions)


def test_a_report_rule_counts_and_closes_nothing(world, cluster, opened):
    a, b = cluster.start_server(), cluster.start_server()
    instance = world.register(a, b)
    batch = [_open(opened, a, "batch-1"), _open(opened, b, "batch-2"), _open(opened, b, "batch-3")]
    other = _open(opened, a, "api-1")
    rule = world.create(instance, RULE)

    (run,) = world.tick()

    assert run.rule_id == rule["id"] and (run.matched, run.closed) == (3, 0)
    assert _alive(a, batch[0], other) and _alive(b, *batch[1:])
    page = world.runs(instance, rule["id"])
    assert page["total_count"] == 1
    (shown,) = page["runs"]
    assert shown["mode"] == "report" and shown["reconnected"] is None and shown["audit_id"] is None
    assert shown["nodes"] == [
        {"node_id": instance.nodes[0].id, "matched": 1, "closed": 0, "error_code": None, "error_msg": None},
        {"node_id": instance.nodes[1].id, "matched": 2, "closed": 0, "error_code": None, "error_msg": None},
    ]
    assert world.audit(actor=f"rule:{rule['id']}") == []  # counting is not an action
    assert world.tick() == []  # not due again for an interval


def test_an_enforce_rule_closes_exactly_the_matches_and_spares_the_rest(world, cluster, opened):
    a, b = cluster.start_server(), cluster.start_server()
    replica = cluster.start_server(replica_of=a)
    instance = world.register(a, b, protected_names=["batch-keeper"])
    with a.client() as probe:
        links = {c["id"] for c in probe.client_list() if "S" in c["flags"]}
    assert links and replica
    old = [_open(opened, a, "batch-old"), _open(opened, b, "batch-old")]
    keeper = _open(opened, b, "batch-keeper")  # protected on this instance
    others = [_open(opened, a, "api-1"), _open(opened, b, "healthcheck")]
    time.sleep(2.2)  # the old ones idle >= 2 s; the next one idle 0
    fresh = _open(opened, a, "batch-fresh")
    rule = world.create(
        instance, {"name": "idle batch", "match": {"name": ["batch-*"], "min_idle_seconds": 2}, "mode": "enforce"}
    )

    (run,) = world.tick()

    assert all(s.closed_by_node() for s in old)
    assert _alive(a, others[0], fresh) and _alive(b, others[1], keeper)
    with a.client() as probe:
        assert links <= {c["id"] for c in probe.client_list() if "S" in c["flags"]}  # replication link untouched
    assert (run.matched, run.closed) == (2, 2) and run.audit_id
    (record,) = world.audit(actor=f"rule:{rule['id']}")
    assert record["id"] == run.audit_id and record["outcome"] == "succeeded" and record["closed"] == 2
    assert record["action"] == "gaussdbfornosql:instance:deleteSession" and record["instance_id"] == instance.id
    assert record["parameters"]["rule_id"] == rule["id"] and record["reconnected"] is None  # the window is an hour
    assert world.runs(instance, rule["id"])["runs"][0]["audit_id"] == run.audit_id


def test_a_rule_that_matches_everything_still_spares_protected_own_and_replication_sessions(world, cluster, opened):
    a = cluster.start_server()
    cluster.start_server(replica_of=a)
    instance = world.register(a, protected_names=["guardian"])
    plain = [_open(opened, a, "x"), _open(opened, a, "y")]
    guardian = _open(opened, a, "guardian")
    world.create(instance, {"name": "all", "match": {"min_age_seconds": 0}, "mode": "enforce"})
    assert world.admin.get(f"/v3/{world.project_id}/instances/{instance.id}/sessions").status_code == 200
    with a.client() as probe:  # the service's own connections are open now
        before = probe.client_list()
    links = {c["id"] for c in before if "S" in c["flags"]}
    own = {c["id"] for c in before if c["name"] == "sessionplane"}

    (run,) = world.tick()

    assert all(s.closed_by_node() for s in plain) and _alive(a, guardian)
    with a.client() as probe:
        after = {c["id"] for c in probe.client_list()}
    assert links and own and links | own <= after
    assert run.closed == run.matched == 2


def test_max_per_run_caps_a_run_and_the_longest_idle_go_first(world, cluster, opened):
    a, b = cluster.start_server(), cluster.start_server()
    instance = world.register(a, b)
    idle3 = _open(opened, a, "w-3")
    time.sleep(1.1)
    idle2 = _open(opened, b, "w-2")
    time.sleep(1.1)
    idle1 = _open(opened, a, "w-1")
    time.sleep(1.1)
    idle0 = _open(opened, b, "w-0")
    rule = world.create(instance, {"name": "w", "match": {"name": ["w-*"]}, "mode": "enforce", "max_per_run": 2})

    (run,) = world.tick()

    assert idle3.closed_by_node() and idle2.closed_by_node()
    assert _alive(a, idle1) and _alive(b, idle0)
    assert (run.matched, run.closed) == (4, 2)
    nodes = world.runs(instance, rule["id"])["runs"][0]["nodes"]
    assert [(n["matched"], n["closed"]) for n in nodes] == [(2, 1), (2, 1)]


def test_a_disabled_rule_does_not_run_until_enabled(world, cluster, opened):
    a = cluster.start_server()
    instance = world.register(a)
    victim = _open(opened, a, "batch-1")
    rule = world.create(instance, {**RULE, "mode": "enforce", "enabled": False})
    assert world.tick() == [] and world.tick() == []
    assert _alive(a, victim) and world.runs(instance, rule["id"])["total_count"] == 0

    enabled = world.admin.patch(f"{world.rules(instance)}/{rule['id']}", json={"enabled": True})
    assert enabled.status_code == 200 and enabled.json()["enabled"] is True
    (run,) = world.tick()
    assert run.closed == 1 and victim.closed_by_node()


def test_a_stopped_node_is_an_error_in_the_run_while_the_other_nodes_are_closed(world, cluster, opened):
    a, b = cluster.start_server(), cluster.start_server()
    instance = world.register(a, b)
    victim = _open(opened, a, "batch-1")
    _open(opened, b, "batch-2")
    b.stop()
    rule = world.create(instance, {**RULE, "mode": "enforce"})

    (run,) = world.tick()

    assert victim.closed_by_node() and (run.matched, run.closed) == (1, 1)
    first, second = world.runs(instance, rule["id"])["runs"][0]["nodes"]
    assert first == {"node_id": instance.nodes[0].id, "matched": 1, "closed": 1, "error_code": None, "error_msg": None}
    assert second["node_id"] == instance.nodes[1].id and second["error_code"] == "DBS.200018"
    assert second["error_msg"] and second["closed"] == 0
    (record,) = world.audit(actor=f"rule:{rule['id']}")
    assert record["outcome"] == "partial" and record["closed"] == 1
    assert record["nodes"][1]["error_code"] == "DBS.200018"


def test_a_rule_whose_instance_or_nodes_are_gone_is_disabled_with_the_reason(world, cluster, opened):
    store, inventory = world.live.services.rule_store, world.live.services.inventory
    gone = world.register(cluster.start_server())
    emptied = world.register(cluster.start_server())
    rules = [world.create(gone, RULE)["id"], world.create(emptied, RULE)["id"]]
    world.live.call(inventory.remove_instance(gone.id))

    async def drop_nodes() -> None:  # what a topology refresh that found no node would leave
        async with world.live.services.db.transaction() as s:
            await s.execute(text("DELETE FROM nodes WHERE instance_id = :i"), {"i": emptied.id})

    world.live.call(drop_nodes())

    assert world.tick() == []
    first, second = (world.live.call(store.rule_any_project(r)) for r in rules)
    assert not first.enabled and first.disabled_reason == f"instance {gone.id} no longer exists"
    assert not second.enabled and second.disabled_reason == f"instance {emptied.id} has no nodes"
    assert world.live.call(store.runs(rules[0]))[1] == 0


def test_runs_page_newest_first(world, cluster):
    instance = world.register(cluster.start_server())
    rule = world.create(instance, RULE)
    made = []
    for _ in range(3):
        world.due_now(rule["id"])
        made += [r.id for r in world.tick()]
    first = world.runs(instance, rule["id"], limit=2)
    rest = world.runs(instance, rule["id"], offset=2, limit=2)
    assert first["total_count"] == rest["total_count"] == 3
    assert [r["id"] for r in first["runs"] + rest["runs"]] == made[::-1]
    bad = world.admin.get(f"{world.rules(instance)}/{rule['id']}/runs", params={"limit": 0})
    assert bad.status_code == 400 and bad.json()["error_code"] == "DBS.200001"


def test_runs_older_than_the_retention_are_pruned(world, cluster):
    instance = world.register(cluster.start_server())
    rule = world.create(instance, RULE)
    store = world.live.services.rule_store
    for days in (31, 29):  # the retention is 30 days
        started = utcnow() - timedelta(days=days)
        kept = RuleRun(f"run-{days}", rule["id"], started, started, "report", 0, 0, None, ())
        assert world.live.call(store.add_run(kept))

    (run,) = world.tick()

    assert [r["id"] for r in world.runs(instance, rule["id"])["runs"]] == [run.id, "run-29"]


def _instance_with_a_batch_session(live: LiveService, cluster, opened, *, domain: str):
    """A project and an instance of one new node, on which a session named batch-1 is open."""
    inventory = live.services.inventory
    project = live.call(admin.add_project(inventory, domain=domain, name="p"))
    server = cluster.start_server()
    node = NodeSpec(host=server.host, port=server.port)
    instance = live.call(admin.adopt_instance(inventory, project_id=project.id, name=domain, nodes=[node]))
    _open(opened, server, "batch-1")
    return project, instance


def test_two_replicas_on_one_store_run_a_rule_once_per_interval(tmp_path, cluster, opened):
    replicas = [LiveService(settings_for(tmp_path, rule_tick_seconds=0)).start() for _ in range(2)]
    try:
        first = replicas[0]
        project, instance = _instance_with_a_batch_session(first, cluster, opened, domain="replicas")
        rule = first.call(
            first.services.rule_store.create(
                project_id=project.id,
                instance_id=instance.id,
                fields={
                    "name": "r",
                    "match": {"name": ["batch-*"]},
                    "exclude": {},
                    "interval_seconds": 10,
                    "mode": "report",
                    "max_per_run": 1,
                    "enabled": True,
                },
            )
        )

        def tick_both() -> list[RuleRun]:
            with ThreadPoolExecutor(2) as pool:
                done = pool.map(lambda live: live.call(live.services.scheduler.tick()), replicas)
                return [run for runs in done for run in runs]

        assert len(tick_both()) == 1
        assert tick_both() == []  # the next run is an interval away
        first.call(first.services.rule_store.update(rule.id, {"next_run_at": utcnow()}))
        assert len(tick_both()) == 1
        assert first.call(first.services.rule_store.runs(rule.id))[1] == 2
    finally:
        for live in replicas:
            live.stop()


def test_the_serving_process_runs_due_rules_by_itself(tmp_path, cluster, opened):
    """A service with its scheduler loop on (the other services of the suite have it off)."""
    live = LiveService(settings_for(tmp_path, rule_tick_seconds=0.2)).start()
    try:
        project, instance = _instance_with_a_batch_session(live, cluster, opened, domain="scheduled")
        fields = {"name": "s", "match": {"name": ["batch-*"]}, "exclude": {}, "interval_seconds": 60}
        fields |= {"mode": "report", "max_per_run": 10, "enabled": True}
        rule = live.call(live.services.rule_store.create(project_id=project.id, instance_id=instance.id, fields=fields))
        for _ in range(600):  # a liveness guard, not a timing assertion
            runs, total = live.call(live.services.rule_store.runs(rule.id))
            if total:
                break
            time.sleep(0.05)
        assert total == 1 and runs[0].matched == 1
    finally:
        live.stop()
