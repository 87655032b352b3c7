"""Many-node cases: instance closes, fleet search/summary/close, and how an instance close scales with nodes."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from collections.abc import Sequence

import hiredis
from redis.asyncio import Redis

from bench.harness import (
    APP_USER,
    QUICK_ROUNDS,
    Contender,
    Deployment,
    Http,
    Raw,
    Row,
    hold,
    listed_kill_payload,
    release,
    rounds,
)
from sessionplane.demo.servers import RedisServer

_ID = re.compile(rb"\nid=(\d+)")


class Fleet:
    """The nodes of one instance (sessionplane with its own ACL user), a raw connection to each."""

    def __init__(self, deployment: Deployment, instance: str, servers: Sequence[RedisServer]) -> None:
        self.deployment, self.servers = deployment, list(servers)
        self.instance_id = deployment.instances[instance].id
        self.raws: list[Raw] = []
        self.http: Http | None = None
        self.holders: list = []

    async def open(self) -> None:
        self.raws = [await Raw.open(s) for s in self.servers]
        self.http = await Http.open(self.deployment.host, self.deployment.port)

    def close(self) -> None:
        for raw in self.raws:
            raw.close()
        if self.http:
            self.http.close()

    async def populate(self, per_node: int, *, settle: float = 0.0) -> None:
        self.holders = hold(self.servers, per_node)
        if settle:
            await asyncio.sleep(settle)

    async def drop(self) -> None:
        release(self.holders)
        self.holders = []

    async def verify_closed(self) -> None:
        replies = await asyncio.gather(*(r.call("CLIENT", "LIST", "TYPE", "normal") for r in self.raws))
        left = sum(line.count(b" user=app ") for line in replies)
        assert not left, f"{left} sessions survived"

    async def api(self, method: str, path: str, body: object | None = None) -> dict:
        assert self.http
        d = self.deployment
        data = json.dumps(body).encode() if body is not None else b""
        response = await self.http.request(method, path.format(p=d.project_id), data, {"X-Auth-Token": d.token})
        assert response.status == 200, response.body[:300]
        return response.json() if response.body else {}


async def _each(fleet: Fleet, work) -> list:
    return await asyncio.gather(*(work(raw) for raw in fleet.raws))


async def _kill_user(raw: Raw) -> None:
    await raw.batch(
        b"".join(
            hiredis.pack_command(("CLIENT", "KILL", "TYPE", kind, "USER", APP_USER, "SKIPME", "yes"))
            for kind in ("normal", "pubsub")
        ),
        2,
    )


async def _listed_kill(raw: Raw) -> None:
    await raw.batch(listed_kill_payload(APP_USER), 4)


async def _columns(raw: Raw, *fields: bytes) -> tuple[bytes, list[list[bytes]]]:
    reply = await raw.call("CLIENT", "LIST")
    return reply, [re.findall(rb" " + f + rb"=(\S*)", reply) for f in fields]


async def _list_kill(raw: Raw, *, min_idle: int = 0) -> None:
    """The raw way with the API's semantics: list, pick the clients' sessions in one pass, pipelined kills."""
    reply, (users, idles) = await _columns(raw, b"user", b"idle")
    ids = [
        int(i)
        for i, u, idle in zip(_ID.findall(b"\n" + reply), users, idles, strict=True)
        if u == APP_USER.encode() and int(idle) >= min_idle
    ]
    payload = b"".join(hiredis.pack_command(("CLIENT", "KILL", "ID", i, "SKIPME", "yes")) for i in ids)
    await raw.batch(payload, len(ids))


def instance_close(fleet: Fleet, per_node: int) -> Row:
    async def prepare() -> None:
        await fleet.populate(per_node)

    common = {"prepare": prepare, "verify": fleet.verify_closed, "cleanup": fleet.drop}
    nodes = len(fleet.servers)
    close_path = f"/v3/{{p}}/instances/{fleet.instance_id}/sessions"
    return Row(
        f"close all, {nodes} nodes x {per_node} (own ACL user)",
        Contender("sessionplane", lambda: fleet.api("DELETE", close_path), **common),
        Contender("concurrent KILL USER", lambda: _each(fleet, _kill_user), **common),
        [
            Contender("concurrent list+kill", lambda: _each(fleet, _list_kill), **common),
            Contender("LIST + KILL USER pipes", lambda: _each(fleet, _listed_kill), **common),
        ],
        target=1.3 if nodes <= 16 else 1.5,
    )


async def _raw_search(fleet: Fleet) -> list[bytes]:
    """Concurrent raw CLIENT LIST; id and idle extracted in one pass each; the 100 most idle lines parsed."""
    found = await _each(fleet, lambda raw: _columns(raw, b"idle"))
    candidates = []
    for n, (_reply, (idles,)) in enumerate(found):
        for i, idle in enumerate(idles):
            candidates.append((int(idle), n, i))
    top = sorted(candidates, reverse=True)[:100]
    return [found[n][0].split(b"\n")[i] for _idle, n, i in top]


async def _raw_summary(fleet: Fleet) -> Counter:
    found = await _each(fleet, lambda raw: _columns(raw, b"addr"))
    return Counter(a.rpartition(b":")[0] for _reply, (addrs,) in found for a in addrs)


def fleet_cases(fleet: Fleet) -> list[Row]:
    redis_pys = [Redis(host=s.host, port=s.port, password=s.password) for s in fleet.servers]

    async def redis_py_lists() -> None:
        await asyncio.gather(*(r.client_list() for r in redis_pys))

    scope = {"scope": {"instance_ids": [fleet.instance_id]}}
    nodes = len(fleet.servers)
    search = Row(
        f"search first page (limit 100, -idle), {nodes} nodes x 500",
        Contender(
            "sessionplane",
            lambda: fleet.api("POST", "/sessionplane/v1/{p}/sessions/search", {**scope, "sort": "-idle", "limit": 100}),
        ),
        Contender("raw LIST + one pass", lambda: _raw_search(fleet)),
        [Contender("redis-py client_list", redis_py_lists)],
        note="target <= 1.0x of redis-py's concurrent client_list()",
    )
    by_ip = {**scope, "group_by": "ip"}
    summary = Row(
        f"summary group_by=ip, {nodes} nodes x 500",
        Contender("sessionplane", lambda: fleet.api("POST", "/sessionplane/v1/{p}/sessions/summary", by_ip)),
        Contender("raw LIST + one pass", lambda: _raw_summary(fleet)),
        [Contender("redis-py client_list", redis_py_lists)],
        note="target <= 1.0x of redis-py's concurrent client_list()",
    )
    return [search, summary]


def fleet_close(fleet: Fleet, per_node: int) -> Row:
    async def prepare() -> None:
        await fleet.populate(per_node, settle=1.1)  # every session idle >= 1 s

    body = {"scope": {"instance_ids": [fleet.instance_id]}, "match": {"min_idle_seconds": 1}}
    common = {"prepare": prepare, "verify": fleet.verify_closed, "cleanup": fleet.drop}
    return Row(
        f"close min_idle_seconds, {len(fleet.servers)} nodes x {per_node}",
        Contender("sessionplane", lambda: fleet.api("POST", "/sessionplane/v1/{p}/sessions/close", body), **common),
        Contender("raw list + kill by ID", lambda: _each(fleet, lambda raw: _list_kill(raw, min_idle=1)), **common),
        target=1.2,
    )


async def run_fleet(fleets: dict[str, Fleet]) -> list[Row]:
    rows = []
    for fleet in fleets.values():
        await fleet.open()
    for name, per_node in (("f16", 500), ("f64", 100)):
        row = instance_close(fleets[name], per_node)
        await rounds([row.api, row.fastest, *row.others])
        rows.append(row)
    big = fleets["f64x500"]
    await big.populate(500)
    for row in fleet_cases(big):
        await rounds([row.api, row.fastest, *row.others], warmups=2, count=QUICK_ROUNDS)
        rows.append(row)
    await big.drop()
    row = fleet_close(big, 500)
    await rounds([row.api, row.fastest])
    rows.append(row)
    return rows


async def scale(fleets: dict[int, Fleet], per_node: int = 100) -> dict[int, tuple[float, float]]:
    """Median instance-close time at each node count, and the raw floor's (concurrent KILL USER on every
    node) in the same rounds: how a close grows with the fan-out, and how much of that the machine
    itself imposes (the nodes and the session holders share its cores)."""
    medians = {}
    for nodes, fleet in fleets.items():
        await fleet.open()
        row = instance_close(fleet, per_node)
        await rounds([row.api, row.fastest], count=5)
        medians[nodes] = (row.api.median, row.fastest.median)
        fleet.close()
    return medians


__all__ = ["Fleet", "run_fleet", "scale", "time"]
