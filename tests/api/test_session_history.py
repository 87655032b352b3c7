"""GET .../session-history and .../session-growth against real redis-server nodes and a 0.2 s sampler."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import httpx
import pytest

from sessionplane import admin
from sessionplane.iam.system_policies import READ_ONLY
from tests.background import Served, eventually, serving, signed_by

BASE = "/sessionplane/v1/{project}/instances/{instance}"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("history"), idle_over_seconds=2) as live:
        yield live


def history(served: Served, instance_id: str, **params: object) -> dict:
    path = BASE.format(project=served.project_id, instance=instance_id) + "/session-history"
    response = served.api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def growth(served: Served, instance_id: str, **params: object) -> dict:
    path = BASE.format(project=served.project_id, instance=instance_id) + "/session-growth"
    response = served.api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def points(answer: dict, key: str) -> list[list]:
    return next((s["points"] for s in answer["series"] if s["key"] == key), [])


def test_series_and_growth_show_sessions_opened_and_closed_under_known_names(served, cluster, sessions):
    server = cluster.start_server()
    instance = served.register(server)
    gone = [sessions(server, name="gone-worker") for _ in range(3)]
    sessions(server, name="steady")
    eventually(
        lambda: any(v == 3 for _t, v in points(history(served, instance.id, group_by="name", step=1), "gone-worker"))
    )
    time.sleep(3)  # whole one-second buckets of this state before the change (see the growth window below)

    changed_at = time.time()
    for session in gone:
        session.close()
    leaking = [sessions(server, name="leaky-worker") for _ in range(4)]

    def settled() -> dict | None:
        found = history(served, instance.id, group_by="name", step=1)
        after = [v for t, v in points(found, "leaky-worker") if t >= changed_at + 1]
        return found if after and after[-1] == 4 else None

    by_name = eventually(settled)
    gone_points = points(by_name, "gone-worker")
    assert gone_points[0][1] == 3 and gone_points[-1][1] == 0  # closed ones show as a drop, then 0
    assert points(by_name, "steady")[-1][1] == 1
    assert by_name["step"] == 1 and by_name["group_by"] == "name"
    totals = history(served, instance.id, group_by="total", step=1)
    assert [s["key"] for s in totals["series"]] == ["total", "active", "idle_over"]
    # sessionplane's own connections are never counted: exactly the test's sessions
    assert points(totals, "total")[-1][1] == 5 and max(v for _t, v in points(totals, "total")) <= 5

    # A window that starts inside the settled state before the change: first bucket 3 gone, last 4 leaking.
    window = f"{math.ceil(time.time() - changed_at) + 1}s"
    suspects = growth(served, instance.id, group_by="name", window=window)
    ranked = {g["key"]: g for g in suspects["groups"]}
    assert suspects["groups"][0]["key"] == "leaky-worker"
    assert (ranked["leaky-worker"]["start"], ranked["leaky-worker"]["end"], ranked["leaky-worker"]["growth"]) == (
        0,
        4,
        4,
    )
    assert ranked["gone-worker"]["growth"] == -3 and ranked["steady"]["growth"] == 0
    assert suspects["window"] == window and suspects["gap_buckets"] == 0
    assert all(s.alive() for s in leaking)


def test_an_unreachable_node_is_a_gap_not_a_zero(served, cluster, sessions):
    up, down = cluster.start_server(), cluster.start_server()
    instance = served.register(up, down)
    sessions(up, name="a")
    sessions(down, name="b")
    first, second = (n.id for n in instance.nodes)

    def both_read() -> bool:
        by_node = history(served, instance.id, group_by="node", step=1)
        return bool(points(by_node, first)) and bool(points(by_node, second)) and points(by_node, second)[-1][1] == 1

    eventually(both_read)
    down.stop()

    def gap() -> dict | None:
        by_node = history(served, instance.id, group_by="node", step=1)
        return by_node if any(v is None for _t, v in points(by_node, second)) else None

    by_node = eventually(gap)
    gap_times = {t for t, v in points(by_node, second) if v is None}
    assert all(v == 1 for t, v in points(by_node, first) if t in gap_times)  # the other node still reads
    totals = history(served, instance.id, group_by="total", step=1)
    total_at = dict(map(tuple, points(totals, "total")))
    assert all(total_at[t] is None for t in gap_times if t in total_at)  # never the healthy node alone (1)
    assert 0 not in total_at.values() and 1 not in total_at.values()
    names = history(served, instance.id, group_by="name", step=1)
    assert all(dict(map(tuple, points(names, "a")))[t] is None for t in gap_times)

    down.start()  # the same port: it comes back by itself
    sessions(down, name="b")
    eventually(lambda: points(history(served, instance.id, group_by="node", step=1), second)[-1][1] == 1)


def test_the_same_authentication_and_authorization_as_every_route(served, cluster):
    server = cluster.start_server()
    instance = served.register(server)
    path = BASE.format(project=served.project_id, instance=instance.id)
    reader = served.token_for("history-reader", policy=READ_ONLY.name)
    nobody = served.token_for("history-nobody")
    ak, sk = served.access_key()
    url = served.live.url

    assert httpx.get(url + path + "/session-history").status_code == 401
    assert httpx.get(url + path + "/session-history", headers={"X-Auth-Token": "garbage"}).json()["error_code"] == (
        "APIG.0301"
    )
    for suffix in ("/session-history", "/session-growth"):
        denied = httpx.get(url + path + suffix, headers={"X-Auth-Token": nobody})
        assert denied.status_code == 403 and denied.json()["error_code"] == "DBS.280032"
        assert "listSession" in denied.json()["error_msg"]
        assert httpx.get(url + path + suffix, headers={"X-Auth-Token": reader}).status_code == 200
        with httpx.Client(base_url=url, auth=signed_by(ak, sk, served.project_id)) as signed:
            assert signed.get(path + suffix, params={"group_by": "ip"}).status_code == 200


def test_another_projects_instance_reads_as_not_found(served, cluster):
    server = cluster.start_server()
    services = served.live.services
    elsewhere = served.live.call(admin.add_project(services.inventory, domain=served.domain, name="loops-2"))
    theirs = served.register(server, project_id=elsewhere.id)
    mine = BASE.format(project=served.project_id, instance=theirs.id)
    for suffix in ("/session-history", "/session-growth"):
        response = served.api.get(mine + suffix)
        assert response.status_code == 404 and response.json()["error_code"] == "DBS.200002"
        missing = served.api.get(BASE.format(project=served.project_id, instance="nope") + suffix)
        assert missing.status_code == 404 and missing.json()["error_code"] == "DBS.200002"


@pytest.mark.parametrize(
    ("suffix", "params", "named"),
    [
        ("/session-history", {"group_by": "flags"}, "group_by"),
        ("/session-history", {"step": "0"}, "step"),
        ("/session-history", {"step": "ten"}, "step"),
        ("/session-history", {"step": "86401"}, "step"),
        ("/session-history", {"since": "-7d", "step": "1"}, "step"),
        ("/session-history", {"since": "yesterday"}, "since"),
        ("/session-history", {"since": "2999-01-01T00:00:00Z"}, "since"),
        ("/session-history", {"since": "-1y"}, "since"),
        ("/session-history", {"since": "-" + "9" * 100}, "since"),
        ("/session-growth", {"window": "0s"}, "window"),
        ("/session-growth", {"window": "1 h"}, "window"),
        ("/session-growth", {"window": "401d"}, "window"),
        ("/session-growth", {"group_by": "db"}, "group_by"),
    ],
)
def test_bad_parameters_answer_400_naming_the_parameter(served, cluster, suffix, params, named):
    instance = served.register(cluster.start_server())
    response = served.api.get(BASE.format(project=served.project_id, instance=instance.id) + suffix, params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error_code"] == "DBS.200001" and f"{named}:" in body["error_msg"]


def test_the_answer_shape_and_defaults(served, cluster, sessions):
    server = cluster.start_server()
    instance = served.register(server)
    sessions(server, name="shape")
    eventually(lambda: points(history(served, instance.id), "total"))
    answer = history(served, instance.id)
    assert answer["group_by"] == "total" and answer["step"] == 15  # about 240 points over the default hour
    assert answer["since"].endswith("Z") and answer["until"].endswith("Z")
    week = history(served, instance.id, since="-7d")
    assert week["step"] % 300 == 0  # older than raw retention allows, or coarse: from 5-minute roll-ups
    report = growth(served, instance.id)
    assert report["window"] == "1h" and report["group_by"] == "name" and report["step"] == 60
