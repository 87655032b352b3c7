"""GET first page throughput with ``serve --workers 2`` against ``--workers 1``, on PostgreSQL (target >= 1.6x).

Two `sessionplane serve` processes over two fresh PostgreSQL databases, each with the same real node
(``SESSIONS`` client sessions held by a separate process); the sampler and the probe off in both, so
that only requests use the workers. A round is ``SECONDS`` of ``CLIENTS`` concurrent keep-alive
clients asking for the node's first page; rounds alternate between the two deployments (order
rotated), after one warm-up round each; the figure is the ratio of median rates. The load generator
runs on the same 2 cores as the workers and the node: its share is the same for both deployments.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import time

from bench.harness import BACKGROUND_OFF, ROUNDS, Deployment, Http, hold, release, start_deployment
from sessionplane.demo.servers import RedisServer
from tests.databases import create_postgres_database, drop_postgres_database
from tests.tcp_table import ESTABLISHED, held_on_port

SESSIONS = 100
CLIENTS = 10
SECONDS = 3.0


def spread(deployment: Deployment) -> list[int]:
    """Established HTTP connections held by each child process of the serve process (Linux /proc)."""
    children = subprocess.run(["pgrep", "-P", str(deployment.process.pid)], capture_output=True, text=True)
    held = [held_on_port(int(pid), deployment.port, ESTABLISHED) for pid in children.stdout.split()]
    return sorted((len(h) for h in held if h), reverse=True)


async def rate(deployment: Deployment, node_id: str, seen: list[list[int]] | None = None) -> float:
    clients = [await Http.open(deployment.host, deployment.port) for _ in range(CLIENTS)]
    path = f"/v3/{deployment.project_id}/redis/nodes/{node_id}/sessions?limit=100"
    headers = {"X-Auth-Token": deployment.token}
    done = 0
    deadline = time.perf_counter() + SECONDS

    async def client(http: Http) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            response = await http.request("GET", path, b"", headers)
            assert response.status == 200, response.body[:300]
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(h) for h in clients))
    elapsed = time.perf_counter() - started
    if seen is not None:
        seen.append(spread(deployment))
    for http in clients:
        http.close()
    return done / elapsed


def run(server: RedisServer) -> list[str]:
    holders = hold([server], SESSIONS)
    deployments: dict[int, tuple[Deployment, str]] = {}
    try:
        for workers in (1, 2):
            url = create_postgres_database("sessionplane_bench")
            deployment = start_deployment(
                {"real": ([server], True)}, database_url=url, env=BACKGROUND_OFF, extra_args=["--workers", str(workers)]
            )
            deployments[workers] = (deployment, url)
        rates: dict[int, list[float]] = {1: [], 2: []}
        seen: dict[int, list[list[int]]] = {1: [], 2: []}

        async def rounds() -> None:
            for deployment, _url in deployments.values():  # warm-up: every worker's caches
                await rate(deployment, deployment.instances["real"].nodes[0].id)
            for n in range(ROUNDS):
                order = (1, 2) if n % 2 == 0 else (2, 1)
                for workers in order:
                    deployment = deployments[workers][0]
                    node_id = deployment.instances["real"].nodes[0].id
                    rates[workers].append(await rate(deployment, node_id, seen[workers]))

        asyncio.run(rounds())
    finally:
        for deployment, url in deployments.values():
            deployment.stop()
            drop_postgres_database(url)
        release(holders)
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    verdict = "ok" if two / one >= 1.6 else "MISSED"
    ranges = {w: f"[{min(r):.0f}-{max(r):.0f}]" for w, r in rates.items()}
    return [
        f"GET first page ({SESSIONS} sessions), {CLIENTS} clients, PostgreSQL, req/s"
        f" (median of {ROUNDS} rounds of {SECONDS:g} s)",
        f"    --workers 1  {one:.0f} {ranges[1]}",
        f"    --workers 2  {two:.0f} {ranges[2]}   ratio {two / one:.2f}x (target >= 1.6x)  {verdict}",
        f"    the {CLIENTS} client connections per worker process, each round: {seen[2]}",
    ]
