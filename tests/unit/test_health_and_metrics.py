"""Pure parts of node health and the metrics object: verdicts, displayed statuses, close counters, access."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sessionplane.health.registry import HealthRegistry
from sessionplane.health.status import group_status, instance_status
from sessionplane.inventory.records import Instance, Node
from sessionplane.ops.access import bearer_matches, is_loopback, metrics_access
from sessionplane.ops.metrics import Metrics
from sessionplane.settings import Settings


def test_a_node_turns_abnormal_after_consecutive_failures_and_normal_after_one_answer():
    registry = HealthRegistry(failures_before_abnormal=2)
    record = lambda answered, known="normal": registry.record(  # noqa: E731
        instance_id="i", node_id="n", known_status=known, answered=answered
    )
    assert record(False) == "normal"  # one lost PING does not flap the node
    assert record(True) == "normal"
    assert record(False) == "normal"
    assert record(False) == "abnormal"
    assert record(False, "abnormal") == "abnormal"
    assert record(True, "abnormal") == "normal"
    assert registry.snapshot()["n"].consecutive_failures == 0
    registry.keep_only([])
    assert registry.snapshot() == {}


def test_a_failure_keeps_the_verdict_on_record_until_the_threshold():
    registry = HealthRegistry(failures_before_abnormal=3)
    assert registry.record(instance_id="i", node_id="n", known_status="abnormal", answered=False) == "abnormal"


NOW = datetime(2026, 11, 25, tzinfo=UTC)
NODE = Node(
    id="n1", instance_id="i", group_id="g1", name="a", role="master", status="normal", host="h", port=1, tls=False
)


def instance(status: str, *node_status: str) -> Instance:
    nodes = tuple(replace(NODE, id=f"n{i}", status=s) for i, s in enumerate(node_status))
    return Instance(
        id="i", project_id="p", name="c", mode="Cluster", datastore_type="redis", datastore_version="7",
        status=status, enterprise_project_id="0", tags={}, protected_names=(), protected_users=(),
        created_at=NOW, updated_at=NOW, nodes=nodes,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("stored", "nodes", "shown"),
    [
        ("normal", ("normal", "normal"), "normal"),
        ("normal", ("normal", "abnormal"), "abnormal"),
        ("frozen", ("abnormal",), "frozen"),
        ("frozen", ("normal",), "frozen"),
    ],
)
def test_the_instance_shows_abnormal_when_any_node_is_unless_the_operator_set_a_status(stored, nodes, shown):
    found = instance(stored, *nodes)
    assert instance_status(found) == shown
    assert group_status(found.nodes) == ("abnormal" if "abnormal" in nodes else "normal")


def test_close_counters_keep_a_fixed_set_of_outcomes():
    metrics = Metrics()
    metrics.record_close(outcome="succeeded", closed=5)
    metrics.record_close(outcome="partial", closed=2)
    metrics.record_close(outcome="made-up", closed=1)  # never a new label value
    samples = {
        (s.name, s.labels.get("outcome")): s.value
        for family in text_string_to_metric_families(metrics.exposition().decode())
        for s in family.samples
    }
    assert samples[("sessionplane_sessions_closed_total", "succeeded")] == 5
    assert samples[("sessionplane_sessions_closed_total", "partial")] == 2
    assert samples[("sessionplane_close_operations_total", "failed")] == 1
    assert not any(outcome == "made-up" for _name, outcome in samples)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.3.4.5", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("10.0.0.7", False), ("example.com", False)],
)  # fmt: skip
def test_loopback_binds(host, loopback):
    assert is_loopback(host) is loopback
    assert metrics_access(Settings(host=host)) == ("open" if loopback else "off")


def test_bearer_token_comparison():
    assert bearer_matches("Bearer t0ken", "t0ken") and bearer_matches("bearer  t0ken", "t0ken")
    assert not bearer_matches("Bearer t0ken2", "t0ken") and not bearer_matches("t0ken", "t0ken")
    assert not bearer_matches(None, "t0ken") and not bearer_matches("Bearer ", "t0ken")
