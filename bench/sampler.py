"""The sampler's CPU cost: 64 nodes x 500 sessions at a 15 s interval, as process CPU time over 2 minutes.

Target (issue 8, item 7): at most 2 % of one core. The sampler runs in this process exactly as in
``sessionplane serve`` (its loop, the inventory read, one CLIENT LIST per node, the summary, one
store write per round, SQLite); the sessions are idle sockets held by this process, which cost no
CPU, and the nodes are separate redis-server processes, which are not counted.

Then, on the same nodes in the same run (extensions section 7), CPU seconds per round of:
  sessionplane   one sampler round (store write included)
  redis-py way   client_list() on every node concurrently, then the same counts from its dicts
  fastest raw    raw CLIENT LIST bytes on every node concurrently, the needed fields extracted by
                 one regex pass over the bytes, then the same counts
Both ratios are printed; the one against the fastest raw way is the one that counts.

    python -m bench.sampler                       # the full measurement (about 3 minutes)
    python -m bench.sampler --nodes 2 --sessions 20 --seconds 3 --interval 1 --rounds 2   # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

from redis.asyncio import Redis

from bench.harness import hold, raise_open_file_limit, release, use_uvloop
from sessionplane import admin
from sessionplane.demo.servers import LocalCluster, RedisServer
from sessionplane.inventory.records import NodeSpec
from sessionplane.ops.periodic import Periodic
from sessionplane.services import Services
from sessionplane.settings import Settings

OWN_NAME = "sessionplane"
# One pass per reply: the fields in the order Redis writes them (lib-name only on 7.2+).
_RAW_LINE = re.compile(
    rb"^id=\d+ addr=([^ ]*) .*? name=([^ ]*) age=\d+ idle=(\d+) flags=([^ ]*) .*? multi=(-?\d+) .*? user=([^ \n]*)"
    rb"(?: .*? lib-name=([^ \n]*))?",
    re.MULTILINE,
)


def counts(rows: list[tuple[str, str, int, str, str, str, str]], idle_over: int) -> tuple[int, int, int, list[Counter]]:
    """total, active, idle-over and the four group counters, from (addr, name, idle, flags, multi, user, lib)."""
    kept = [r for r in rows if r[1] != OWN_NAME and not set(r[3]) & {"M", "S"}]
    active = sum(1 for r in kept if r[2] < 1 or "b" in r[3] or "x" in r[3] or r[4] != "-1")
    groups = [Counter(r[1] for r in kept), Counter(r[5] for r in kept), Counter(r[6] for r in kept)]
    groups.append(Counter(r[0].rpartition(":")[0] for r in kept))
    return len(kept), active, sum(1 for r in kept if r[2] >= idle_over), groups


async def redis_py_round(clients: list[Redis]) -> None:
    replies = await asyncio.gather(*(c.client_list() for c in clients))
    for reply in replies:
        rows = [
            (c["addr"], c["name"], int(c["idle"]), c["flags"], c["multi"], c.get("user", ""), c.get("lib-name", ""))
            for c in reply
        ]
        counts(rows, 300)


async def raw_round(clients: list[Redis]) -> None:
    replies = await asyncio.gather(*(c.execute_command("CLIENT", "LIST") for c in clients))
    for reply in replies:
        rows = [
            (a.decode(), n.decode(), int(i), f.decode(), m.decode(), u.decode(), (lib or b"").decode())
            for a, n, i, f, m, u, lib in _RAW_LINE.findall(reply)
        ]
        counts(rows, 300)


async def cpu_per_round(work: Callable[[], Awaitable[object]], rounds: int) -> float:
    spent = []
    for _ in range(rounds):
        started = time.process_time()
        await work()
        spent.append(time.process_time() - started)
    return statistics.median(spent)


async def measure(servers: list[RedisServer], data_dir: Path, args: argparse.Namespace) -> None:
    settings = Settings(
        data_dir=data_dir, sample_interval_seconds=args.interval, probe_interval_seconds=0, own_client_name=OWN_NAME
    )
    services = Services.build(settings)
    await services.start()
    clients: list[Redis] = []
    try:
        await admin.add_project(services.inventory, domain="bench", name="bench", project_id="b" * 32)
        specs = [NodeSpec(host=s.host, port=s.port) for s in servers]
        await admin.adopt_instance(services.inventory, project_id="b" * 32, name="fleet", nodes=specs)
        await services.sampler.sample_round()  # connections opened and warmed once, as a serving process has them

        loop = Periodic("sampler", args.interval, services.sampler.sample_round)
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        loop.start()
        await asyncio.sleep(args.seconds)
        await loop.stop()
        cpu, wall = time.process_time() - cpu_before, time.perf_counter() - wall_before
        share = 100 * cpu / wall

        clients = [Redis(host=s.host, port=s.port, client_name="bench-baseline") for s in servers]
        await asyncio.gather(*(c.ping() for c in clients))
        ours = await cpu_per_round(services.sampler.sample_round, args.rounds)
        redis_py = await cpu_per_round(lambda: redis_py_round(clients), args.rounds)
        raw = await cpu_per_round(lambda: raw_round(clients), args.rounds)
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
        await services.close()

    print(f"sampler, {len(servers)} nodes x {args.sessions} sessions, every {args.interval:g} s:")
    print(f"  process CPU {cpu:.2f} s over {wall:.1f} s = {share:.2f} % of one core (target <= 2 %)")
    print(f"  CPU per round (median of {args.rounds}):")
    print(f"    sessionplane round      {ours * 1000:8.1f} ms")
    print(f"    redis-py client_list()  {redis_py * 1000:8.1f} ms   ratio {ours / redis_py:.2f}x")
    print(f"    fastest raw way         {raw * 1000:8.1f} ms   ratio {ours / raw:.2f}x  (the one that counts)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=64)
    parser.add_argument("--sessions", type=int, default=500, help="idle client sessions per node")
    parser.add_argument("--seconds", type=float, default=120.0, help="how long the sampler loop is measured")
    parser.add_argument("--interval", type=float, default=15.0, help="sample_interval_seconds")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per figure in the per-round comparison")
    args = parser.parse_args()
    use_uvloop()  # the sampler runs here as it does in `serve`
    raise_open_file_limit()
    with LocalCluster() as cluster, tempfile.TemporaryDirectory(prefix="sessionplane-bench-") as data_dir:
        servers = [cluster.start_server() for _ in range(args.nodes)]
        # The sessions live in separate processes (bench.holder): tens of thousands of them fit no
        # single process's open-file limit, and their CPU is not the sampler's.
        holders = hold(servers, args.sessions, user=None)
        try:
            asyncio.run(measure(servers, Path(data_dir), args))
        finally:
            release(holders)


if __name__ == "__main__":
    main()
