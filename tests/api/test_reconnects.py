"""Reconnect tracking over real nodes: who came back after a close, counted after the window, never in the way.

Each test runs a service of its own with the window it needs: an hour, to see that the close's
response (and its audit record) does not wait for the count; a second, to see the count arrive.
``ReconnectTracker.drain`` waits for the watches in progress, so no test sleeps for the window.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import text

from sessionplane import admin
from sessionplane.demo.servers import RedisServer
from sessionplane.inventory.records import Instance, NodeSpec
from tests.conftest import PASSWORD, login, settings_for
from tests.live import LiveService


@dataclass
class Own:
    live: LiveService
    project_id: str
    api: httpx.Client

    def register(self, *servers: RedisServer) -> Instance:
        specs = [NodeSpec(host=s.host, port=s.port) for s in servers]
        inventory = self.live.services.inventory
        return self.live.call(admin.adopt_instance(inventory, project_id=self.project_id, name="r", nodes=specs))

    def drain(self) -> int:
        return self.live.call(self.live.services.reconnects.drain())

    def record(self, audit_id: str | None = None, *, request_id: str | None = None) -> dict:
        records = self.api.get(f"/sessionplane/v1/{self.project_id}/audit", params={"limit": 1000}).json()["records"]
        return next(r for r in records if r["id"] == audit_id or r["request_id"] == request_id)


@pytest.fixture
def own(tmp_path) -> Iterator[Callable[..., Own]]:
    started: list[Own] = []

    def start(window: float, **settings: object) -> Own:
        live = LiveService(
            settings_for(tmp_path / str(len(started)), reconnect_window_seconds=window, rule_tick_seconds=0, **settings)
        ).start()
        inventory = live.services.inventory
        live.call(admin.add_user(inventory, domain="solo", name="root", password=PASSWORD, is_admin=True))
        project = live.call(admin.add_project(inventory, domain="solo", name="solo"))
        token = login(live, domain="solo", name="root", password=PASSWORD, project_id=project.id)
        client = httpx.Client(base_url=live.url, headers={"X-Auth-Token": token}, timeout=60)
        started.append(Own(live, project.id, client))
        return started[-1]

    yield start
    for service in started:
        service.api.close()
        service.live.stop()


def _close_node(own: Own, instance: Instance, body: dict) -> httpx.Response:
    node = instance.nodes[0].id
    return own.api.request("DELETE", f"/v3/{own.project_id}/redis/nodes/{node}/sessions", json=body)


def test_the_close_answers_before_the_window_has_passed(own, cluster, sessions):
    service = own(window=3600)
    server = cluster.start_server()
    instance = service.register(server)
    worker = sessions(server, name="worker")

    response = _close_node(service, instance, {"is_all": False, "session_ids": [str(worker.id)]})

    assert response.status_code == 200 and worker.closed_by_node()
    record = service.record(request_id=response.headers["X-Request-Id"])
    assert record["closed"] == 1 and record["reconnected"] is None  # counted an hour from now, not before answering


def test_clients_that_reconnect_at_once_are_counted_and_those_that_stay_away_are_not(own, cluster, sessions):
    service = own(window=1)
    server = cluster.start_server()
    instance = service.register(server)
    workers = [sessions(server, name="worker") for _ in range(3)]
    loners = [sessions(server, name="loner") for _ in range(2)]

    response = _close_node(service, instance, {"is_all": True})
    assert response.status_code == 200 and all(s.closed_by_node() for s in workers + loners)
    for _ in workers:  # a pool that reconnects at once, under the same name, from the same address
        sessions(server, name="worker")
    sessions(server, name="newcomer")  # new, but nobody closed a "newcomer"

    assert service.drain() == 3
    record = service.record(request_id=response.headers["X-Request-Id"])
    assert record["closed"] == 5 and record["reconnected"] == 3


def test_every_kind_of_close_is_tracked(own, cluster, sessions):
    service = own(window=1)
    servers = [cluster.start_server(), cluster.start_server()]
    instance = service.register(*servers)
    p = service.project_id

    sessions(servers[0], name="a")
    sessions(servers[1], name="b")
    whole = service.api.delete(f"/v3/{p}/instances/{instance.id}/sessions")
    sessions(servers[1], name="b")

    sessions(servers[0], name="batch-1")
    fleet = service.api.post(f"/sessionplane/v1/{p}/sessions/close", json={"match": {"name": ["batch-*"]}})
    sessions(servers[0], name="batch-1")

    sessions(servers[1], name="batch-2")
    store = service.live.services.rule_store
    rule = service.live.call(
        store.create(
            project_id=p,
            instance_id=instance.id,
            fields={
                "name": "r",
                "match": {"name": ["batch-2"]},
                "exclude": {},
                "interval_seconds": 10,
                "mode": "enforce",
                "max_per_run": 10,
                "enabled": True,
            },
        )
    )
    (run,) = service.live.call(service.live.services.scheduler.tick())
    # batch-2 stays away

    assert whole.status_code == 200 and fleet.status_code == 200 and run.closed == 1
    service.drain()
    assert service.record(request_id=whole.headers["X-Request-Id"])["reconnected"] == 1
    assert service.record(fleet.json()["audit_id"])["reconnected"] == 1
    assert service.record(run.audit_id)["reconnected"] == 0
    (kept,) = service.live.call(store.runs(rule.id))[0]
    assert kept.reconnected == 0


def test_tracking_survives_its_own_failures(own, cluster, sessions, caplog):
    service = own(window=0.2)
    good, doomed = cluster.start_server(), cluster.start_server()
    instance = service.register(good, doomed)

    async def trigger(sql: str) -> None:  # a real write failure in the real store, not a mock
        async with service.live.services.db.transaction() as s:
            await s.execute(text(sql))

    service.live.call(
        trigger(
            "CREATE TRIGGER no_reconnects BEFORE UPDATE OF reconnected ON audit_events "
            "BEGIN SELECT RAISE(ABORT, 'audit volume full'); END"
        )
    )
    sessions(good, name="x")
    failed_write = service.api.delete(f"/v3/{service.project_id}/instances/{instance.id}/sessions")
    with caplog.at_level(logging.ERROR, logger="sessionplane.sessions.reconnects"):
        assert service.drain() == 0
    assert failed_write.status_code == 200
    assert service.record(request_id=failed_write.headers["X-Request-Id"])["reconnected"] is None
    assert "reconnect tracking of audit record" in caplog.text
    service.live.call(trigger("DROP TRIGGER no_reconnects"))

    node = instance.nodes[1].id
    sessions(doomed, name="y")
    unreadable = service.api.request(
        "DELETE", f"/v3/{service.project_id}/redis/nodes/{node}/sessions", json={"is_all": True}
    )
    doomed.stop()  # gone before the window ends: nothing to count
    service.drain()
    assert service.record(request_id=unreadable.headers["X-Request-Id"])["reconnected"] is None

    sessions(good, name="z")
    later = _close_node(service, instance, {"is_all": True})
    sessions(good, name="z")
    assert service.drain() == 1  # the tracker is still at work
    assert service.record(request_id=later.headers["X-Request-Id"])["reconnected"] == 1
