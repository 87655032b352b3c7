"""``sessionplane serve --workers N``: N worker processes on one port over one PostgreSQL store; SQLite refuses."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.databases import postgres_database
from tests.processes import ServeProcess, cli, gauge, invoke, sign_in
from tests.tcp_table import ESTABLISHED, LISTEN, held_on_port

PASSWORD = "Adm1n-password"


def test_sqlite_refuses_more_than_one_worker_in_one_line(tmp_path):
    result = cli(tmp_path / "data", "serve", "--workers", "2", code=2)
    assert result.stderr == "error: --workers 2 needs a PostgreSQL store (--database-url); SQLite serves one process\n"
    assert not (tmp_path / "data" / "sessionplane.db").exists()  # refused before anything was created


def worker_pids(serve: ServeProcess) -> list[int]:
    """The supervisor's worker processes (its other child is multiprocessing's resource tracker)."""
    assert serve.process is not None
    pid = serve.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return sorted(int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes())


def wait_for(condition, what: str, *, observed=None):
    """``condition()`` once it is truthy; ``observed()`` says what there was instead if it never is."""
    for _ in range(2400):  # generous: two cores shared by many tests
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}" + (f" (now: {observed()!r})" if observed else ""))


def sampled_by(url: str) -> dict[int, int]:
    """worker pid -> how many nodes it holds a live sampler lease on (owners are ``host:pid:random``)."""

    async def read() -> list[asyncpg.Record]:
        connection = await asyncpg.connect(url.replace("+asyncpg", ""))
        try:
            return await connection.fetch("SELECT owner FROM node_leases WHERE expires_at > now()")
        finally:
            await connection.close()

    return dict(Counter(int(row["owner"].split(":")[1]) for row in asyncio.run(read())))


def instances(url: str, project: str, token: str) -> httpx.Response:
    # A new connection each time: the kernel hands it to whichever worker accepts first.
    return httpx.get(f"{url}/v3/{project}/instances", headers={"X-Auth-Token": token}, timeout=30)


@pytest.mark.postgres
def test_workers_serve_one_store_and_a_killed_worker_is_replaced(tmp_path, cluster):
    data_dir = tmp_path / "data"
    nodes = [arg for _ in range(4) for arg in ("--node", f"127.0.0.1:{cluster.start_server().port}")]
    with postgres_database() as url:
        env = {"SESSIONPLANE_DATABASE_URL": url, "SESSIONPLANE_SAMPLE_INTERVAL_SECONDS": "1"}
        invoke(
            data_dir, "user", "add", "root", "--domain", "acme", "--admin", "--password-stdin", stdin=PASSWORD, env=env
        )
        project = invoke(data_dir, "project", "add", "p1", "--domain", "acme", env=env).stdout.strip()
        invoke(data_dir, "instance", "add", "cache", "--project", project, *nodes, env=env)
        with ServeProcess(data_dir, tmp_path / "serve.log", args=("--workers", "2"), **env) as serve:
            first = wait_for(lambda: len(pids := worker_pids(serve)) == 2 and pids, "two workers")
            # Each worker is a replica: the two divide the nodes to sample, two each.
            wait_for(
                lambda: sampled_by(url) == {pid: 2 for pid in first},
                "each worker to sample two nodes",
                observed=lambda: (sampled_by(url), worker_pids(serve)),
            )
            token = sign_in(serve.url, domain="acme", name="root", password=PASSWORD, project_id=project)
            assert all(instances(serve.url, project, token).status_code == 200 for _ in range(10))

            os.kill(first[0], signal.SIGKILL)
            replaced = wait_for(
                lambda: len(pids := worker_pids(serve)) == 2 and first[0] not in pids and pids, "a replacement"
            )
            assert first[1] in replaced
            wait_for(
                lambda: sampled_by(url) == {pid: 2 for pid in replaced},
                "the replacement to take its share",
                observed=lambda: (sampled_by(url), worker_pids(serve)),
            )
            assert all(instances(serve.url, project, token).status_code == 200 for _ in range(10))

            # A password changed in the store: the old token is refused by every worker at once.
            cli(
                data_dir,
                "user",
                "passwd",
                "root",
                "--domain",
                "acme",
                "--password-stdin",
                stdin="N3w-password",
                env=env,
            )
            for _ in range(10):
                refused = instances(serve.url, project, token)
                assert (refused.status_code, refused.json()["error_code"]) == (401, "APIG.0307")


@pytest.mark.postgres
def test_each_worker_listens_on_its_own_socket_and_new_connections_reach_both(tmp_path):
    with (
        postgres_database() as url,
        ServeProcess(
            tmp_path / "data", tmp_path / "serve.log", args=("--workers", "2"), SESSIONPLANE_DATABASE_URL=url
        ) as serve,
    ):
        pids = wait_for(lambda: len(p := worker_pids(serve)) == 2 and p, "two workers")
        listening = wait_for(
            lambda: all(ls := [held_on_port(pid, serve.port, LISTEN) for pid in pids]) and ls, "both workers to listen"
        )
        assert [len(inodes) for inodes in listening] == [1, 1]
        assert listening[0] != listening[1]  # two sockets (SO_REUSEPORT), not one shared
        assert serve.process is not None
        assert held_on_port(serve.process.pid, serve.port, LISTEN) == set()  # the supervisor only reserves the port
        # Each worker builds its app in WorkerConfig.load and freezes it (server.settled), like serve.
        assert gauge(serve.url, "sessionplane_gc_frozen_objects") > 50_000

        connections = [socket.create_connection(("127.0.0.1", serve.port)) for _ in range(40)]
        try:
            # The kernel hands each new connection to one listener by hash: 40 land on both workers.
            held = wait_for(
                lambda: sum(c := [len(held_on_port(pid, serve.port, ESTABLISHED)) for pid in pids]) == 40 and c,
                "the 40 connections to be accepted",
            )
            assert all(held), held
        finally:
            for connection in connections:
                connection.close()


@pytest.mark.postgres
def test_workers_refuse_a_port_another_so_reuseport_server_listens_on(tmp_path):
    with postgres_database() as url, socket.socket() as taken:
        # What another `serve --workers` on this port holds: a SO_REUSEPORT listener of the same user.
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "sessionplane", "serve", "--workers", "2", "--port", str(port)],
            capture_output=True,
            text=True,
            env={**os.environ, "SESSIONPLANE_DATA_DIR": str(tmp_path / "data"), "SESSIONPLANE_DATABASE_URL": url},
            timeout=120,  # without the check it would serve, sharing the port
        )
    assert result.returncode == 3
    assert f"ERROR sessionplane.server: cannot listen on 127.0.0.1:{port} (Address already in use)" in result.stderr
