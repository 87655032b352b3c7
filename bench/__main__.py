"""``make bench``: four figures, each a ratio of sessionplane's time to raw redis-py's on the same nodes.

1. close 5,000 sessions by ID on one node      baseline: a redis-py pipeline of CLIENT KILL ID (IDs known)
2. close all 5,000 sessions of one node        baseline: redis-py client_list() + pipelined CLIENT KILL ID
3. close all sessions of 16 nodes x 500        baseline: (2) on every node concurrently (asyncio.gather)
4. first page (limit 100), node with 5,000     baseline: redis-py client_list()

Each figure is the median of several rounds; sessions are re-opened before every round. The API is
timed end to end over HTTP (token check, store lookup, nodes, JSON), the baseline on an asyncio
redis-py client with hiredis. Targets: <= 1.2, <= 1.5, <= 1.5, <= 0.8.
"""

from __future__ import annotations

import asyncio
import resource
import secrets
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from redis.asyncio import Redis

from sessionplane import admin
from sessionplane.demo.servers import LocalCluster, RedisServer
from sessionplane.inventory.records import Instance, NodeSpec
from sessionplane.settings import Settings
from tests.live import LiveService

ROUNDS = 5
BENCH_PASSWORD = secrets.token_urlsafe(16)  # a throwaway user in a throwaway store


def raise_open_file_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def open_sessions(server: RedisServer, count: int) -> list[socket.socket]:
    return [socket.create_connection((server.host, server.port)) for _ in range(count)]


def close_all(sockets: list[socket.socket]) -> None:
    for s in sockets:
        s.close()


async def client_ids(client: Redis) -> list[int]:
    return [int(c["id"]) for c in await client.client_list() if c["name"] != "sessionplane"]


async def kill_ids(client: Redis, ids: list[int]) -> None:
    async with client.pipeline(transaction=False) as pipe:
        for client_id in ids:
            pipe.client_kill_filter(_id=client_id, skipme=True)
        await pipe.execute()


async def list_then_kill(client: Redis) -> None:
    me = await client.client_id()
    await kill_ids(
        client,
        [int(c["id"]) for c in await client.client_list() if int(c["id"]) != me and not set(c["flags"]) & {"M", "S"}],
    )


async def timed(work: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started


class Bench:
    def __init__(self, live: LiveService, token: str, project_id: str) -> None:
        self.live = live
        self.http = httpx.AsyncClient(base_url=live.url, headers={"X-Auth-Token": token}, timeout=600)
        self.project_id = project_id

    async def api(self, method: str, path: str, **kwargs: object) -> None:
        response = await self.http.request(method, f"/v3/{self.project_id}{path}", **kwargs)  # type: ignore[arg-type]
        response.raise_for_status()

    async def rounds(
        self,
        setup: Callable[[], list[socket.socket]],
        api: Callable[[], Awaitable[object]],
        baseline: Callable[[], Awaitable[object]],
        prepare: Callable[[], Awaitable[object]] | None = None,
    ) -> tuple[float, float]:
        """Median times of ``api`` and ``baseline``, each on freshly opened sessions (``prepare`` untimed)."""
        api_times, base_times = [], []
        for _ in range(ROUNDS):
            for times, work in ((base_times, baseline), (api_times, api)):
                held = setup()
                try:
                    if prepare:
                        await prepare()
                    times.append(await timed(work))
                finally:
                    close_all(held)
        return statistics.median(api_times), statistics.median(base_times)


def register(live: LiveService, project_id: str, servers: list[RedisServer], name: str) -> Instance:
    specs = [NodeSpec(host=s.host, port=s.port) for s in servers]
    return live.call(admin.adopt_instance(live.services.inventory, project_id=project_id, name=name, nodes=specs))


async def scenarios(
    bench: Bench, one: Instance, one_server: RedisServer, many: Instance, many_servers: list[RedisServer]
) -> list[tuple[str, float, float, float]]:
    node = one.nodes[0].id
    raw = Redis(host=one_server.host, port=one_server.port)
    raws = [Redis(host=s.host, port=s.port) for s in many_servers]
    results = []
    ids: list[int] = []

    async def by_id_api() -> None:
        await bench.api(
            "DELETE", f"/redis/nodes/{node}/sessions", json={"is_all": False, "session_ids": [str(i) for i in ids]}
        )

    async def learn_ids() -> None:
        ids[:] = await client_ids(raw)
        ids.remove(await raw.client_id())

    api_t, base_t = await bench.rounds(
        lambda: open_sessions(one_server, 5000), by_id_api, lambda: kill_ids(raw, ids), prepare=learn_ids
    )
    results.append(("close 5,000 sessions by ID, one node", api_t, base_t, 1.2))

    api_t, base_t = await bench.rounds(
        lambda: open_sessions(one_server, 5000),
        lambda: bench.api("DELETE", f"/redis/nodes/{node}/sessions", json={"is_all": True}),
        lambda: list_then_kill(raw),
    )
    results.append(("close all 5,000 sessions of one node", api_t, base_t, 1.5))

    api_t, base_t = await bench.rounds(
        lambda: [s for server in many_servers for s in open_sessions(server, 500)],
        lambda: bench.api("DELETE", f"/instances/{many.id}/sessions"),
        lambda: asyncio.gather(*(list_then_kill(r) for r in raws)),
    )
    results.append(("close all sessions, 16 nodes x 500", api_t, base_t, 1.5))

    held = open_sessions(one_server, 5000)
    try:
        api_t, base_t = await bench.rounds(
            lambda: [],
            lambda: bench.api("GET", f"/redis/nodes/{node}/sessions", params={"limit": 100}),
            lambda: raw.client_list(),
        )
    finally:
        close_all(held)
    results.append(("first page (limit 100) of a node with 5,000", api_t, base_t, 0.8))
    for r in (raw, *raws):
        await r.aclose()
    return [(name, a, b, target) for name, a, b, target in results]


async def main(
    live: LiveService,
    token: str,
    project_id: str,
    one: Instance,
    one_server: RedisServer,
    many: Instance,
    many_servers: list[RedisServer],
) -> list[tuple[str, float, float, float]]:
    bench = Bench(live, token, project_id)
    try:
        return await scenarios(bench, one, one_server, many, many_servers)
    finally:
        await bench.http.aclose()


def report(rows: list[tuple[str, float, float, float]]) -> None:
    print(f"\n{'scenario':<48} {'sessionplane':>13} {'redis-py':>10} {'ratio':>7} {'target':>7}")
    for name, api_t, base_t, target in rows:
        ratio = api_t / base_t
        verdict = "ok" if ratio <= target else "MISSED"
        print(f"{name:<48} {api_t * 1000:>10.1f} ms {base_t * 1000:>7.1f} ms {ratio:>6.2f}x {target:>6.1f}x  {verdict}")


def run() -> int:
    limit = raise_open_file_limit()
    print(f"open-file limit raised to {limit}; {ROUNDS} rounds per figure, medians")
    with LocalCluster() as cluster, tempfile.TemporaryDirectory() as data_dir:
        one_server = cluster.start_server()
        many_servers = [cluster.start_server() for _ in range(16)]
        with LiveService(Settings(data_dir=Path(data_dir))) as live:
            inventory = live.services.inventory
            live.call(admin.add_user(inventory, domain="bench", name="bench", password=BENCH_PASSWORD, is_admin=True))
            project = live.call(admin.add_project(inventory, domain="bench", name="bench"))
            one = register(live, project.id, [one_server], "one")
            many = register(live, project.id, many_servers, "many")
            token = _login(live, project.id)
            rows = asyncio.run(main(live, token, project.id, one, one_server, many, many_servers))
    report(rows)
    return 0


def _login(live: LiveService, project_id: str) -> str:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": "bench", "password": BENCH_PASSWORD, "domain": {"name": "bench"}}},
            },
            "scope": {"project": {"id": project_id}},
        }
    }
    return httpx.post(f"{live.url}/v3/auth/tokens", json=body).headers["X-Subject-Token"]


if __name__ == "__main__":
    sys.exit(run())
