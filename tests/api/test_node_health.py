"""Node health: a probe per node turns a dead or hung node abnormal in ListInstances, node calls on it
answer DBS.200018 at once, and it turns normal again by itself.

The service's node deadline is 600 s: a call that waited on a hung node would hang far past the
HTTP client's 60 s limit and fail the test instead of passing it.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import httpx
import pytest

from tests.background import Served, eventually, serving


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("health"), node_deadline_seconds=600) as live:
        yield live


def listed(served: Served, instance_id: str) -> dict:
    response = served.api.get(f"/v3/{served.project_id}/instances", params={"id": instance_id})
    assert response.status_code == 200, response.text
    (instance,) = response.json()["instances"]
    return instance


def statuses(served: Served, instance_id: str) -> tuple[str, list[str], list[str]]:
    """(instance status, group statuses, node statuses in registration order)"""
    instance = listed(served, instance_id)
    nodes = {n["id"]: n["status"] for g in instance["groups"] for n in g["nodes"]}
    return instance["status"], [g["status"] for g in instance["groups"]], list(nodes.values())


def node_sessions(served: Served, node_id: str) -> httpx.Response:
    return served.api.get(f"/v3/{served.project_id}/redis/nodes/{node_id}/sessions")


def assert_refused_at_once(response: httpx.Response, node_id: str) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["error_code"] == "DBS.200018" and node_id in response.json()["error_msg"]


def test_a_hung_node_turns_abnormal_answers_at_once_and_recovers(served, cluster, sessions):
    hung, healthy = cluster.start_server(), cluster.start_server()
    instance = served.register(hung, healthy)
    hung_id, healthy_id = (n.id for n in instance.nodes)
    victim = sessions(hung, name="victim")
    bystander = sessions(healthy, name="bystander")
    assert eventually(lambda: statuses(served, instance.id) == ("normal", ["normal"], ["normal", "normal"]))

    os.kill(hung.process.pid, signal.SIGSTOP)  # accepts connections, answers nothing: only a timeout ends a wait
    try:
        eventually(lambda: statuses(served, instance.id) == ("abnormal", ["abnormal"], ["abnormal", "normal"]))
        project = served.project_id
        assert_refused_at_once(node_sessions(served, hung_id), hung_id)
        assert_refused_at_once(served.api.get(f"/v3/{project}/redis/nodes/{hung_id}/session-statistics"), hung_id)
        close = served.api.request("DELETE", f"/v3/{project}/redis/nodes/{hung_id}/sessions", json={"is_all": True})
        assert_refused_at_once(close, hung_id)
        assert node_sessions(served, healthy_id).status_code == 200
        everything = served.api.delete(f"/v3/{project}/instances/{instance.id}/sessions")
        assert everything.status_code == 400 and everything.json()["error_code"] == "DBS.301077"
        assert hung_id in everything.json()["error_msg"] and healthy_id not in everything.json()["error_msg"]
        assert bystander.closed_by_node()  # the healthy node was still closed
    finally:
        os.kill(hung.process.pid, signal.SIGCONT)

    eventually(lambda: statuses(served, instance.id) == ("normal", ["normal"], ["normal", "normal"]))
    listing = node_sessions(served, hung_id)
    assert listing.status_code == 200 and str(victim.id) in {s["id"] for s in listing.json()["sessions"]}


def test_a_stopped_node_turns_abnormal_and_normal_again_when_restarted_on_its_port(served, cluster, sessions):
    server = cluster.start_server()
    instance = served.register(server)
    node_id = instance.nodes[0].id
    assert eventually(lambda: statuses(served, instance.id) == ("normal", ["normal"], ["normal"]))

    server.stop()
    eventually(lambda: statuses(served, instance.id) == ("abnormal", ["abnormal"], ["abnormal"]))
    assert_refused_at_once(node_sessions(served, node_id), node_id)

    server.start()
    eventually(lambda: statuses(served, instance.id) == ("normal", ["normal"], ["normal"]))
    back = sessions(server, name="back")
    listing = node_sessions(served, node_id)
    assert listing.status_code == 200 and str(back.id) in {s["id"] for s in listing.json()["sessions"]}


def test_an_operator_status_wins_over_health(served, cluster):
    server = cluster.start_server()
    instance = served.register(server)
    served.live.call(served.live.services.inventory.set_instance_status(instance.id, "frozen"))
    server.stop()
    eventually(lambda: statuses(served, instance.id) == ("frozen", ["abnormal"], ["abnormal"]))
