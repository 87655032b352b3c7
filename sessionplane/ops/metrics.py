"""Prometheus metrics, on a registry of the service's own (no process-global state).

Label values are bounded by construction: HTTP routes are route *templates* (never raw paths),
methods a fixed set, statuses numbers; close outcomes a fixed set; per-node figures carry instance
and node IDs (the inventory's size) and, for groups, the sampler's top-k keys per dimension, as
of the last round only (a node or key that is gone is gone from the exposition too).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sessionplane.audit.trail import AUDIT_WRITES
from sessionplane.health.registry import NodeHealth
from sessionplane.health.status import NORMAL
from sessionplane.history.records import NodeSample
from sessionplane.ops.fleet import Target


class PoolStats(Protocol):
    @property
    def open_connections(self) -> int: ...

    @property
    def pool_count(self) -> int: ...


CLOSE_OUTCOMES = ("succeeded", "partial", "failed", "denied", "refused")
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
# A durable write took 0.3 ms alone on a local disk, and 1-18 ms beside the nodes' work on a loaded 2-core host.
AUDIT_WRITE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
UNMATCHED_ROUTE = "unmatched"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._requests = Counter(
            "sessionplane_http_requests",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self._latency = Histogram(
            "sessionplane_http_request_duration_seconds",
            "HTTP request latency by route template and method.",
            ["route", "method"],
            registry=r,
        )
        self._closes = Counter("sessionplane_close_operations", "Close operations by outcome.", ["outcome"], registry=r)
        self._closed = Counter(
            "sessionplane_sessions_closed",
            "Sessions closed, by the outcome of their close operation.",
            ["outcome"],
            registry=r,
        )
        self._audit_writes = Histogram(
            "sessionplane_audit_write_duration_seconds",
            "Time a caller waited for an audit write to be durable: a close's record, its outcome; a denial.",
            ["write"],
            buckets=AUDIT_WRITE_BUCKETS,
            registry=r,
        )
        for outcome in CLOSE_OUTCOMES:  # every series exists from the start, at 0
            self._closes.labels(outcome)
            self._closed.labels(outcome)
        for write in AUDIT_WRITES:
            self._audit_writes.labels(write)
        self._sampler_rounds = Histogram(
            "sessionplane_sampler_round_duration_seconds", "Duration of one sampling round over the fleet.", registry=r
        )
        self._rule_runs = Histogram(
            "sessionplane_rule_run_duration_seconds", "Duration of one close-rule run.", registry=r
        )
        ProcessCollector(registry=r)  # process_open_fds and process_max_fds, beside the node connections gauge
        GCCollector(registry=r)  # collections per generation: a full one stops the event loop
        Gauge(  # 0 means every full collection scans what startup built again, with the event loop stopped
            "sessionplane_gc_frozen_objects",
            "Objects in the garbage collector's permanent generation (gc.freeze at startup, server.settled).",
            registry=r,
        ).set_function(gc.get_freeze_count)

    def observe_request(self, *, route: str, method: str, status: int, seconds: float) -> None:
        method = method if method in HTTP_METHODS else "OTHER"
        self._requests.labels(route, method, str(status)).inc()
        self._latency.labels(route, method).observe(seconds)

    def record_close(self, *, outcome: str, closed: int) -> None:
        """For the close paths: one close operation and the sessions it closed."""
        outcome = outcome if outcome in CLOSE_OUTCOMES else "failed"
        self._closes.labels(outcome).inc()
        self._closed.labels(outcome).inc(closed)

    def observe_audit_write(self, write: str, seconds: float) -> None:
        self._audit_writes.labels(write).observe(seconds)

    def observe_sampler_round(self, seconds: float) -> None:
        self._sampler_rounds.observe(seconds)

    def observe_rule_run(self, seconds: float) -> None:
        self._rule_runs.observe(seconds)

    def watch(self, collector: Collector) -> None:
        self.registry.register(collector)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class FleetCollector(Collector):
    """Per-node gauges from the sampler's last round and the health probe's verdicts, built at scrape time."""

    def __init__(
        self,
        *,
        latest_samples: Callable[[], Mapping[str, tuple[Target, NodeSample]]],
        health: Callable[[], Mapping[str, NodeHealth]],
    ) -> None:
        self._latest_samples = latest_samples
        self._health = health

    def describe(self) -> Iterator[Metric]:
        yield from _families().values()

    def collect(self) -> Iterator[Metric]:
        families = _families()
        for node_id, (target, sample) in self._latest_samples().items():
            where = [target.instance.id, node_id]
            families["sampled"].add_metric(where, 1 if sample.reachable else 0)
            counts = sample.counts
            if counts is None:
                continue  # unknown, not zero: no session figures for this node
            families["total"].add_metric(where, counts.total)
            families["active"].add_metric(where, counts.active)
            families["idle_over"].add_metric(where, counts.idle_over)
            for dimension, groups in counts.groups.items():
                for key, count in groups.items():
                    families["groups"].add_metric([*where, dimension, key], count)
        for node_id, health in self._health().items():
            families["up"].add_metric([health.instance_id, node_id], 1 if health.status == NORMAL else 0)
        yield from families.values()


class NodeConnectionsCollector(Collector):
    """Connections open to nodes and the pools that hold them: what the fan-out costs in file descriptors."""

    def __init__(self, nodes: PoolStats) -> None:
        self._nodes = nodes

    def describe(self) -> Iterator[Metric]:
        return self.collect()

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "sessionplane_node_connections",
            "Connections open to nodes (one file descriptor each), over every node pool.",
            value=self._nodes.open_connections,
        )
        yield GaugeMetricFamily(
            "sessionplane_node_pools",
            "Node connection pools held (idle ones are closed, then forgotten).",
            value=self._nodes.pool_count,
        )


def _families() -> dict[str, GaugeMetricFamily]:
    node = ["instance_id", "node_id"]
    return {
        "total": GaugeMetricFamily("sessionplane_node_sessions", "Client sessions at the last sample.", labels=node),
        "active": GaugeMetricFamily(
            "sessionplane_node_active_sessions", "Active client sessions at the last sample.", labels=node
        ),
        "idle_over": GaugeMetricFamily(
            "sessionplane_node_idle_over_sessions",
            "Client sessions idle at least idle_over_seconds at the last sample.",
            labels=node,
        ),
        "groups": GaugeMetricFamily(
            "sessionplane_node_session_groups",
            "Client sessions per group (top-k keys per dimension, the rest as '(other)') at the last sample.",
            labels=[*node, "dimension", "key"],
        ),
        "sampled": GaugeMetricFamily(
            "sessionplane_node_sampled", "1 when the last sample read the node, 0 when it could not.", labels=node
        ),
        "up": GaugeMetricFamily(
            "sessionplane_node_up", "1 when the health probe finds the node normal, 0 when abnormal.", labels=node
        ),
    }
