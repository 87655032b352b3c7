"""/metrics (parsed with prometheus_client's own parser), its access rules and bounded labels; /healthz, /readyz."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sessionplane.ops.metrics import HTTP_METHODS
from tests.background import Served, eventually, serving
from tests.conftest import settings_for
from tests.databases import drop_postgres_database, postgres_database
from tests.live import LiveService

NODE_SESSIONS_ROUTE = "/v3/{project_id}/redis/nodes/{node_id}/sessions"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("metrics"), history_top_k=3) as live:
        yield live


def scrape(url: str, **headers: str) -> dict[str, list]:
    """family name -> its samples, as Prometheus would read them."""
    response = httpx.get(f"{url}/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {family.name: family.samples for family in text_string_to_metric_families(response.text)}


def values(families: dict[str, list], sample_name: str, **labels: str) -> list[float]:
    return [
        s.value
        for samples in families.values()
        for s in samples
        if s.name == sample_name and all(s.labels.get(k) == v for k, v in labels.items())
    ]


def test_metrics_parse_and_carry_every_series(served, cluster, sessions):
    server = cluster.start_server()
    instance = served.register(server)
    node_id = instance.nodes[0].id
    for name in ("api", "api", "worker"):
        sessions(server, name=name)
    assert served.api.get(f"/v3/{served.project_id}/redis/nodes/{node_id}/sessions").status_code == 200

    def sampled() -> dict | None:
        families = scrape(served.live.url)
        total = values(families, "sessionplane_node_sessions", node_id=node_id)
        settled = values(families, "sessionplane_node_active_sessions", node_id=node_id) == [0.0]  # idle >= 1 s
        return families if total == [3.0] and settled else None

    families = eventually(sampled)
    on_node = {"instance_id": instance.id, "node_id": node_id}
    assert values(families, "sessionplane_node_idle_over_sessions", **on_node) == [0.0]
    assert values(families, "sessionplane_node_session_groups", **on_node, dimension="name", key="api") == [2.0]
    assert values(families, "sessionplane_node_session_groups", **on_node, dimension="name", key="worker") == [1.0]
    assert values(families, "sessionplane_node_up", **on_node) == [1.0]
    assert values(families, "sessionplane_node_sampled", **on_node) == [1.0]
    listed = dict(route=NODE_SESSIONS_ROUTE, method="GET", status="200")
    assert values(families, "sessionplane_http_requests_total", **listed) == [1.0]
    assert values(families, "sessionplane_http_request_duration_seconds_count", route=NODE_SESSIONS_ROUTE)
    assert values(families, "sessionplane_sampler_round_duration_seconds_count")[0] > 0
    assert values(families, "sessionplane_rule_run_duration_seconds_count") == [0.0]
    for outcome in ("succeeded", "partial", "failed", "denied", "refused"):
        assert values(families, "sessionplane_close_operations_total", outcome=outcome) == [0.0]
        assert values(families, "sessionplane_sessions_closed_total", outcome=outcome) == [0.0]
    for write in ("record", "outcome", "denial"):
        assert values(families, "sessionplane_audit_write_duration_seconds_count", write=write) == [0.0]


def test_a_down_node_is_down_and_has_no_session_figures(served, cluster, sessions):
    server = cluster.start_server()
    instance = served.register(server)
    node = {"node_id": instance.nodes[0].id}
    sessions(server, name="x")
    eventually(lambda: values(scrape(served.live.url), "sessionplane_node_sessions", **node) == [1.0])
    server.stop()

    def down() -> dict | None:
        families = scrape(served.live.url)
        up = values(families, "sessionplane_node_up", **node) == [0.0]
        return families if up and values(families, "sessionplane_node_sampled", **node) == [0.0] else None

    families = eventually(down)
    assert values(families, "sessionplane_node_sessions", **node) == []  # unknown, not 0
    assert values(families, "sessionplane_node_session_groups", **node) == []


def name_keys(families: dict[str, list], node_id: str) -> set[str]:
    groups = families.get("sessionplane_node_session_groups", [])
    return {s.labels["key"] for s in groups if s.labels["node_id"] == node_id and s.labels["dimension"] == "name"}


def test_label_values_stay_bounded(served, cluster, sessions):
    server = cluster.start_server()
    instance = served.register(server)
    node_id = instance.nodes[0].id
    project = served.project_id
    noise = [uuid.uuid4().hex for _ in range(20)]
    for token in noise:
        assert served.api.get(f"/v3/{project}/redis/nodes/{token}/sessions").status_code == 404
        assert served.api.get(f"/{token}/anything").status_code == 404
    assert served.api.request("PROPFIND", f"/v3/{project}/instances").status_code == 405
    many = [sessions(server, name=f"client-{i}") for i in range(8)]
    for _ in range(4):
        sessions(server, name="client-0")

    def sampled_all() -> dict | None:  # a sample taken while the sessions were still opening folds fewer names
        families = scrape(served.live.url)
        return families if values(families, "sessionplane_node_sessions", node_id=node_id) == [12.0] else None

    families = eventually(sampled_all)
    assert not any(token in httpx.get(f"{served.live.url}/metrics").text for token in noise)  # paths never labels
    requests = families["sessionplane_http_requests"]
    routes = {s.labels["route"] for s in requests}
    assert NODE_SESSIONS_ROUTE in routes and "unmatched" in routes
    assert all(r == "unmatched" or r.startswith(("/v3/", "/sessionplane/v1/", "/metrics")) for r in routes)
    assert {"GET", "OTHER"} <= {s.labels["method"] for s in requests} <= {*HTTP_METHODS, "OTHER"}
    keys = name_keys(families, node_id)
    assert len(keys) == 3 + 1 and "(other)" in keys  # the top 3 names and the rest folded

    for session in many:
        session.close()
    sessions(server, name="newcomer")

    def forgotten() -> bool:
        keys = name_keys(scrape(served.live.url), node_id)
        return "newcomer" in keys and not any(k.startswith("client-") and k != "client-0" for k in keys)

    eventually(forgotten)  # keys that left the top-k leave the exposition: no stale series pile up


@pytest.mark.parametrize(
    ("settings", "headers", "status"),
    [
        ({"host": "0.0.0.0"}, {}, 404),  # the setting under test, not a bind
        ({"host": "10.0.0.7"}, {}, 404),
        ({"host": "0.0.0.0", "metrics_enabled": True}, {}, 200),
        ({"host": "127.0.0.1", "metrics_enabled": False}, {}, 404),
        ({"host": "::1"}, {}, 200),
        ({"host": "0.0.0.0", "metrics_bearer_token": "sc-rape"}, {}, 401),
        ({"host": "0.0.0.0", "metrics_bearer_token": "sc-rape"}, {"Authorization": "Bearer wrong"}, 401),
        ({"host": "0.0.0.0", "metrics_bearer_token": "sc-rape"}, {"Authorization": "Basic sc-rape"}, 401),
        ({"host": "0.0.0.0", "metrics_bearer_token": "sc-rape"}, {"Authorization": "Bearer sc-rape"}, 200),
        ({"host": "127.0.0.1", "metrics_bearer_token": "sc-rape"}, {}, 401),
    ],
)
def test_metrics_are_off_on_public_binds_unless_a_token_or_an_explicit_setting(tmp_path, settings, headers, status):
    with LiveService(settings_for(tmp_path, **settings)) as live:  # serves on loopback; the app reads the setting
        response = httpx.get(f"{live.url}/metrics", headers=headers)
    assert response.status_code == status, response.text
    if status != 200:
        assert response.json()["error_code"] == ("APIG.0101" if status == 404 else "APIG.0301")
        assert "sc-rape" not in response.text
    else:
        assert "sessionplane_http_requests_total" in response.text


def test_healthz_and_readyz_need_no_credentials(served):
    assert httpx.get(f"{served.live.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{served.live.url}/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "store": "ok"}
    paths = httpx.get(f"{served.live.url}/openapi.json").json()["paths"]
    assert not {"/metrics", "/healthz", "/readyz"} & set(paths)


@pytest.mark.postgres
def test_readyz_answers_503_when_the_store_is_gone(tmp_path):
    with postgres_database() as url, LiveService(settings_for(tmp_path, database_url=url)) as live:
        assert httpx.get(f"{live.url}/readyz").status_code == 200
        drop_postgres_database(url)
        gone = eventually(lambda: (r := httpx.get(f"{live.url}/readyz")).status_code == 503 and r)
        assert gone.json() == {"status": "unavailable", "store": "unreachable"}
        assert httpx.get(f"{live.url}/healthz").status_code == 200  # alive, just not ready


def test_every_close_moves_the_close_counters(tmp_path, cluster, sessions):
    """Closes by the API (node and instance), and a denied one, each counted once with what they closed."""
    with serving(tmp_path) as served:
        server = cluster.start_server()
        instance = served.register(server)
        node_id = instance.nodes[0].id
        for _ in range(3):
            sessions(server, name="app")
        node_close = f"/v3/{served.project_id}/redis/nodes/{node_id}/sessions"
        assert served.api.request("DELETE", node_close, json={"is_all": True}).status_code == 200
        sessions(server, name="app")
        assert served.api.delete(f"/v3/{served.project_id}/instances/{instance.id}/sessions").status_code == 200

        families = scrape(served.live.url)

        assert values(families, "sessionplane_close_operations_total", outcome="succeeded") == [2.0]
        assert values(families, "sessionplane_sessions_closed_total", outcome="succeeded") == [4.0]
        assert values(families, "sessionplane_close_operations_total", outcome="failed") == [0.0]


def test_every_audit_write_a_caller_waits_for_is_timed(tmp_path, cluster, sessions):
    """A close waits for two durable writes (its record, its outcome), a denied close for one: each is timed."""
    with serving(tmp_path) as served:
        server = cluster.start_server()
        instance = served.register(server)
        sessions(server, name="app")
        instance_close = f"/v3/{served.project_id}/instances/{instance.id}/sessions"
        assert served.api.delete(instance_close).status_code == 200
        node_close = f"/v3/{served.project_id}/redis/nodes/{instance.nodes[0].id}/sessions"
        assert served.api.request("DELETE", node_close, json={"is_all": True}).status_code == 200
        refused = httpx.delete(served.live.url + instance_close, headers={"X-Auth-Token": served.token_for("nobody")})
        assert refused.status_code == 403

        families = scrape(served.live.url)

        for write, count in (("record", 2.0), ("outcome", 2.0), ("denial", 1.0)):
            assert values(families, "sessionplane_audit_write_duration_seconds_count", write=write) == [count]
            assert values(families, "sessionplane_audit_write_duration_seconds_sum", write=write)[0] > 0
        audit = served.api.get(f"/sessionplane/v1/{served.project_id}/audit").json()["records"]
        outcomes = sorted(record["outcome"] for record in audit)
        assert outcomes == ["denied", "succeeded", "succeeded"]  # what was timed is what the store holds
