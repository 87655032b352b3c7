"""The fan-out at scale, seen from outside a `sessionplane serve` process over 40 real nodes.

- Idle node pools are closed by the background sweep: each node's CLIENT LIST stops showing our
  connection, the /metrics gauge of open node connections drops to 0, and the process's open file
  descriptors (/proc/<pid>/fd) come back to where they were before the fan-out.
- Instance-wide lists and closes read at most ``fanout_concurrency`` nodes at once: with every node
  frozen (SIGSTOP: the kernel still accepts connections, the node never answers), the process holds
  exactly that many sockets to the nodes, never one per node.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from sessionplane.demo.servers import LocalCluster, RedisServer
from tests.processes import ServeProcess, gauge, invoke, sign_in
from tests.tcp_table import steady, tcp_sockets

NODES = 40
ADMIN_PASSWORD = "Adm1n-password"
QUIET = {"SESSIONPLANE_SAMPLE_INTERVAL_SECONDS": "0", "SESSIONPLANE_PROBE_INTERVAL_SECONDS": "0"}


@pytest.fixture(scope="module")
def nodes() -> Iterator[list[RedisServer]]:
    with LocalCluster() as cluster:
        yield [cluster.start_server() for _ in range(NODES)]


def setup(data_dir: Path, servers: list[RedisServer]) -> tuple[str, str]:
    invoke(data_dir, "user", "add", "root", "--domain", "acme", "--admin", "--password-stdin", stdin=ADMIN_PASSWORD)
    project = invoke(data_dir, "project", "add", "p1", "--domain", "acme").stdout.strip()
    args = [arg for s in servers for arg in ("--node", f"{s.host}:{s.port}")]
    instance = invoke(data_dir, "instance", "add", "wide", "--project", project, *args).stdout.strip()
    return project, instance


def wait_for(condition, what: str) -> None:
    for _ in range(2400):
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def sockets_to(pid: int, ports: set[int]) -> int:
    """TCP sockets of process ``pid`` whose remote port is one of ``ports``."""
    return len(steady(lambda: {s.inode for s in tcp_sockets(pid).values() if s.remote_port in ports}))


def ours_on(server: RedisServer) -> int:
    with server.client() as client:
        return sum(1 for c in client.client_list() if c["name"] == "sessionplane")


def test_idle_pools_are_closed_and_the_file_descriptors_come_back(tmp_path, nodes):
    data_dir = tmp_path / "data"
    project, instance = setup(data_dir, nodes)
    env = {**QUIET, "SESSIONPLANE_NODE_POOL_IDLE_SECONDS": "1"}
    ports = {s.port for s in nodes}
    with ServeProcess(data_dir, tmp_path / "serve.log", **env) as serve:
        assert serve.process is not None
        pid = serve.process.pid
        token = sign_in(serve.url, domain="acme", name="root", password=ADMIN_PASSWORD, project_id=project)
        headers = {"X-Auth-Token": token}
        listing = f"{serve.url}/v3/{project}/instances/{instance}/sessions"
        assert httpx.get(listing, headers=headers, timeout=60).status_code == 200  # the store's connections, warm
        wait_for(lambda: gauge(serve.url, "sessionplane_node_connections") == 0, "the first pools to close")
        baseline = open_fds(pid)
        # serve froze what startup built (server.settled): full collections no longer scan it all
        assert gauge(serve.url, "sessionplane_gc_frozen_objects") > 50_000

        response = httpx.get(listing, headers=headers, timeout=60)
        assert response.status_code == 200, response.text
        assert len(response.json()["node_sessions"]) == NODES
        # Right after the call: one connection per node, counted by the gauge and seen by each node
        # (the sweep closes a pool 1 to 1.5 s after its last use; the assertions below may race it
        # only if the machine stalls for a second, and then fail loudly rather than pass wrongly).
        assert gauge(serve.url, "sessionplane_node_connections") == NODES
        assert sockets_to(pid, ports) == NODES
        assert open_fds(pid) >= baseline + NODES - 2  # give or take the HTTP connections of this test
        assert gauge(serve.url, "process_open_fds") >= baseline + NODES - 2  # /metrics sees them too

        wait_for(lambda: gauge(serve.url, "sessionplane_node_connections") == 0, "idle pools to be closed")
        assert [ours_on(s) for s in nodes] == [0] * NODES
        wait_for(lambda: sockets_to(pid, ports) == 0, "the sockets to be released")
        wait_for(lambda: open_fds(pid) <= baseline + 2, "file descriptors back near the baseline")
        assert gauge(serve.url, "sessionplane_node_pools") == NODES  # closed, remembered while their IDs matter

        # A closed pool is opened again on the next call.
        again = httpx.get(listing, headers=headers, timeout=60)
        assert again.status_code == 200, again.text
        assert [ours_on(s) for s in nodes] == [1] * NODES


@contextmanager
def frozen(servers: list[RedisServer]) -> Iterator[None]:
    for server in servers:
        os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for server in servers:
            os.kill(server.process.pid, signal.SIGCONT)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_instance_calls_read_at_most_fanout_concurrency_nodes_at_once(tmp_path, nodes, method):
    data_dir = tmp_path / "data"
    project, instance = setup(data_dir, nodes)
    env = {
        **QUIET,
        "SESSIONPLANE_FANOUT_CONCURRENCY": "4",
        "SESSIONPLANE_NODE_CONNECT_TIMEOUT_SECONDS": "600",  # a frozen node holds its slot as long as we need
        "SESSIONPLANE_NODE_DEADLINE_SECONDS": "600",
    }
    ports = {s.port for s in nodes}
    with ServeProcess(data_dir, tmp_path / "serve.log", **env) as serve:
        assert serve.process is not None
        pid = serve.process.pid
        token = sign_in(serve.url, domain="acme", name="root", password=ADMIN_PASSWORD, project_id=project)
        url = f"{serve.url}/v3/{project}/instances/{instance}/sessions"
        answers: list[int] = []
        with frozen(nodes):
            call = threading.Thread(
                target=lambda: answers.append(
                    httpx.request(method, url, headers={"X-Auth-Token": token}, timeout=600).status_code
                ),
                daemon=True,
            )
            call.start()
            wait_for(lambda: sockets_to(pid, ports) >= 4, "the first nodes to be dialled")
            time.sleep(1.0)  # room for an unbounded fan-out to dial the other 36 (it does so at once)
            assert sockets_to(pid, ports) == 4
        call.join(timeout=600)
        assert answers == [200]
        assert sockets_to(pid, ports) == NODES  # every node was reached in the end, one pooled connection each
