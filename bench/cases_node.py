"""One-node cases: closes, listings and small calls, each against the fastest raw way on the same node."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import subprocess
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import hiredis
from redis.asyncio import Redis

from bench.harness import (
    APP_USER,
    OWN_USER,
    QUICK_ROUNDS,
    Contender,
    Deployment,
    Holder,
    Http,
    Raw,
    Row,
    hold,
    listed_kill_payload,
    release,
    rounds,
)
from sessionplane.demo.servers import RedisServer
from tests.support import command_calls

_ID = re.compile(rb"\nid=(\d+)")
_USER = re.compile(rb" user=(\S*)")
SMALL_CALLS = 200  # per round: small calls are timed as the mean of many


class Node:
    """One node of a deployment: its server, node ID, a raw connection (the baselines) and sessions."""

    def __init__(self, deployment: Deployment, instance: str, server: RedisServer, *, own_user: bool) -> None:
        self.deployment, self.server, self.own_user = deployment, server, own_user
        self.node_id = deployment.instances[instance].nodes[0].id
        self.instance_id = deployment.instances[instance].id
        self.raw: Raw | None = None
        self.http: Http | None = None
        self.holders: list[Holder] = []
        self.ids: list[int] = []

    @property
    def client_user(self) -> str:
        return APP_USER if self.own_user else "default"

    async def open(self) -> None:
        self.raw = await Raw.open(self.server)
        self.http = await Http.open(self.deployment.host, self.deployment.port)

    def close(self) -> None:
        for c in (self.raw, self.http):
            if c:
                c.close()

    async def populate(self, count: int) -> None:
        self.holders = hold([self.server], count, user=APP_USER if self.own_user else None)
        self.ids = await self.client_ids()

    async def drop(self) -> None:
        release(self.holders)
        self.holders = []

    async def client_ids(self) -> list[int]:
        return [client_id for client_id, _line in await self._client_lines()]

    async def _client_lines(self) -> list[tuple[int, bytes]]:
        """The clients' sessions (ID, CLIENT LIST line): unnamed (ours are named), of the clients' user, not
        this raw connection, and past their first command. Each session of the holders has had its AUTH or
        PING answered; a connection with none yet (``cmd=NULL``) is sessionplane's own between its connect
        and its handshake, which names it. Where sessionplane shares the clients' user, its health probe or
        sampler may open one at any moment (after a raw ``KILL USER default`` closed its pooled ones)."""
        assert self.raw
        me = await self.raw.call("CLIENT", "ID")
        reply = await self.raw.call("CLIENT", "LIST", "TYPE", "normal")
        user = b" user=" + self.client_user.encode() + b" "
        return [
            (client_id, line)
            for line in reply.split(b"\n")
            if (m := re.match(rb"id=(\d+) ", line))
            and b" name= " in line
            and user in line
            and b" cmd=NULL " not in line
            and (client_id := int(m.group(1))) != me
        ]

    async def verify_closed(self) -> None:
        left = await self._client_lines()
        assert not left, f"{len(left)} sessions survived the close, such as {[line for _id, line in left[:3]]}"

    async def api(self, method: str, path: str, body: object | None = None, *, signed: bool = False):
        assert self.http
        d = self.deployment
        data = json.dumps(body).encode() if body is not None else b""
        full = f"/v3/{d.project_id}{path}"
        headers = self._signature(method, full, data) if signed else {"X-Auth-Token": d.token}
        response = await self.http.request(method, full, data, headers)
        assert response.status == 200, response.body[:300]
        return response

    def _signature(self, method: str, path: str, body: bytes) -> dict[str, str]:
        """The headers of a call signed now, as the SDK signs it (SDK-HMAC-SHA256, four signed headers).

        Written out for the bench's own calls (plain paths, no query): the general ``sign_request`` walks
        every header through the canonical-form helpers, several times this cost on a call's path, which
        would be charged to the server. Every call is signed afresh; the server verifies every one."""
        d = self.deployment
        assert _PLAIN_PATH.fullmatch(path), path  # nothing to percent-encode, no query
        date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        canonical = (
            f"{method}\n{path}/\n\ncontent-type:application/json\nhost:{d.host}:{d.port}\n"
            f"x-project-id:{d.project_id}\nx-sdk-date:{date}\n\n{_SIGNED}\n{hashlib.sha256(body).hexdigest()}"
        )
        to_sign = f"SDK-HMAC-SHA256\n{date}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        signature = hmac.new(d.sk.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
        return {
            "Content-Type": "application/json",
            "X-Project-Id": d.project_id,
            "X-Sdk-Date": date,
            "Authorization": f"SDK-HMAC-SHA256 Access={d.ak}, SignedHeaders={_SIGNED}, Signature={signature}",
        }


_PLAIN_PATH = re.compile(r"[A-Za-z0-9_.~/-]*")
_SIGNED = "content-type;host;x-project-id;x-sdk-date"


def _kill_payload(ids: Sequence[int]) -> bytes:
    return b"".join(
        b"*6\r\n$6\r\nCLIENT\r\n$4\r\nKILL\r\n$2\r\nID\r\n$%d\r\n%d\r\n$6\r\nSKIPME\r\n$3\r\nyes\r\n" % (len(str(i)), i)
        for i in ids
    )


async def raw_list_then_kill(node: Node) -> None:
    """The raw way with the API's semantics: CLIENT LIST, the client sessions' IDs in one pass, pipelined kills."""
    assert node.raw
    reply = await node.raw.call("CLIENT", "LIST")
    me = await node.raw.call("CLIENT", "ID")
    users = _USER.findall(reply)
    flags = re.findall(rb" flags=(\S*)", reply)
    ids = [
        int(i)
        for i, u, f in zip(_ID.findall(b"\n" + reply), users, flags, strict=True)
        if u == node.client_user.encode() and not set(f.decode()) & {"M", "S"} and int(i) != me
    ]
    await node.raw.batch(_kill_payload(ids), len(ids))


def close_by_id(node: Node, count: int, *, grouped: bool = False) -> Row:
    """``grouped``: the node takes many IDs per ``CLIENT KILL`` (Valkey 8.1+), and the fastest raw way is then one
    kill per thousand IDs, one scan of the node's clients each (the issue's target is for Redis 7.0: none here)."""

    async def api() -> None:
        await node.api("DELETE", f"/redis/nodes/{node.node_id}/sessions", {"is_all": False, "session_ids": node.ids})

    async def fastest() -> None:
        assert node.raw
        await node.raw.batch(payload[0], len(node.ids))

    async def listed() -> None:
        assert node.raw
        await node.raw.batch(listing[0] + payload[0], 1 + len(node.ids))

    async def listed_typed() -> None:
        assert node.raw
        await node.raw.batch(listing[0] + typed[0], 1 + len(node.ids))

    async def grouped_kills() -> None:
        assert node.raw
        await node.raw.batch(groups[0], -(-len(node.ids) // 1000))

    payload, listing, typed, groups = [b""], [b""], [b""], [b""]

    async def prepare() -> None:
        await node.populate(count)
        payload[0] = _kill_payload(node.ids)
        listing[0] = _pack("CLIENT", "LIST", "ID", *node.ids)
        typed[0] = b"".join(_pack("CLIENT", "KILL", "ID", i, "TYPE", "normal", "SKIPME", "yes") for i in node.ids)
        chunks = [node.ids[i : i + 1000] for i in range(0, len(node.ids), 1000)]
        groups[0] = b"".join(_pack("CLIENT", "KILL", "ID", *chunk, "SKIPME", "yes") for chunk in chunks)

    common = {"prepare": prepare, "verify": node.verify_closed, "cleanup": node.drop}
    single = Contender("pre-packed KILL ID", fastest, **common)
    # The floor of a close that must say whom it closed (and spare what it must not): the node lists
    # the IDs, then kills them, in one pipeline; nothing waits on the listing.
    listed_pipes = [
        Contender("LIST ID + KILL ID pipe", listed, **common),
        # The same, each kill naming the client's TYPE as the API's do (so that a client that became a
        # replica since it was listed is not closed): the node checks every client's type on every scan.
        Contender("LIST ID + typed KILL", listed_typed, **common),
    ]
    server = "Valkey" if grouped else "own ACL user" if node.own_user else "shared user"
    return Row(
        f"close {count:,} by ID, one node ({server})",
        Contender("sessionplane", api, **common),
        Contender("grouped KILL ID", grouped_kills, **common) if grouped else single,
        [single, *listed_pipes] if grouped else listed_pipes,
        target=None if grouped else 1.15,
    )


def close_all(node: Node, count: int) -> Row:
    async def api() -> None:
        await node.api("DELETE", f"/redis/nodes/{node.node_id}/sessions", {"is_all": True})

    async def fastest() -> None:
        assert node.raw
        user = node.client_user
        await node.raw.batch(
            b"".join(
                _pack("CLIENT", "KILL", "TYPE", kind, "USER", user, "SKIPME", "yes") for kind in ("normal", "pubsub")
            ),
            2,
        )

    async def same() -> None:
        await raw_list_then_kill(node)

    async def listed_kill() -> None:
        assert node.raw
        await node.raw.batch(listed_kill_payload(node.client_user), 4)

    async def prepare() -> None:
        await node.populate(count)

    common = {"prepare": prepare, "verify": node.verify_closed, "cleanup": node.drop}
    deployment = "own ACL user" if node.own_user else "shared user"
    others = [Contender("list + kill by ID", same, **common)]
    if node.own_user:  # what a close-all sends once it knows the node's users: its floor
        others.append(Contender("LIST + KILL USER pipe", listed_kill, **common))
    return Row(
        f"close all {count:,} of a node ({deployment})",
        Contender("sessionplane", api, **common),
        Contender(f"KILL USER {node.client_user}", fastest, **common),
        others,
        target=1.3 if node.own_user else None,
    )


def _pack(*args: object) -> bytes:
    return hiredis.pack_command(args)


async def raw_first_page(node: Node, limit: int = 100) -> list[dict[bytes, bytes]]:
    """CLIENT LIST, the `limit` highest IDs found in one pass, only those lines parsed (into their fields)."""
    assert node.raw
    reply = await node.raw.call("CLIENT", "LIST")
    lines = reply.split(b"\n")
    ids = list(map(int, _ID.findall(b"\n" + reply)))
    top = sorted(range(len(ids)), key=ids.__getitem__, reverse=True)[:limit]
    return [dict(field.split(b"=", 1) for field in lines[i].split(b" ")) for i in top]


async def raw_statistics(node: Node) -> tuple[Counter, Counter, int]:
    """CLIENT LIST and the statistics' counts in one pass over the columns they need."""
    assert node.raw
    reply = await node.raw.call("CLIENT", "LIST")
    addr = re.findall(rb" addr=(\S*)", reply)
    db = re.findall(rb" db=(\S*)", reply)
    idle = re.findall(rb" idle=(\S*)", reply)
    flags = re.findall(rb" flags=(\S*)", reply)
    multi = re.findall(rb" multi=(\S*)", reply)
    ips = Counter(a.rpartition(b":")[0] for a in addr)
    dbs = Counter(db)
    active = sum(
        1 for i, f, m in zip(idle, flags, multi, strict=True) if int(i) < 1 or b"b" in f or b"x" in f or m != b"-1"
    )
    return ips, dbs, active


def first_page(node: Node) -> Row:
    async def api() -> None:
        await node.api("GET", f"/redis/nodes/{node.node_id}/sessions?limit=100")

    redis_py = Redis(host=node.server.host, port=node.server.port, password=node.server.password)
    return Row(
        "first page (limit 100) of a node with 5,000",
        Contender("sessionplane", api),
        Contender("raw LIST + top 100", lambda: raw_first_page(node)),
        [Contender("redis-py client_list", redis_py.client_list)],
        target=1.5,
        note="the node's list is rotated (clientsCron), not in ID order: 'the last 100 lines' is not the first page",
    )


def statistics_case(node: Node) -> Row:
    async def api() -> None:
        await node.api("GET", f"/redis/nodes/{node.node_id}/session-statistics")

    redis_py = Redis(host=node.server.host, port=node.server.port, password=node.server.password)
    return Row(
        "statistics of a node with 5,000",
        Contender("sessionplane", api),
        Contender("raw LIST + one pass", lambda: raw_statistics(node)),
        [Contender("redis-py client_list", redis_py.client_list)],
        target=1.3,
    )


def _repeat(work, times: int = SMALL_CALLS):
    async def run() -> None:
        for _ in range(times):
            await work()

    return run


def small_calls(node: Node) -> list[Row]:
    path = f"/redis/nodes/{node.node_id}/sessions"
    redis_py = Redis(host=node.server.host, port=node.server.port, password=node.server.password)

    def token() -> Contender:
        return Contender("sessionplane (token)", _repeat(lambda: node.api("GET", path)))

    signed = Contender("sessionplane (AK/SK)", _repeat(lambda: node.api("GET", path, signed=True)))
    plain = Contender("redis-py client_list", _repeat(redis_py.client_list))
    # A token contender of each row's own: the rows run one after the other, and a contender shared by
    # both would hold the rounds of both, so each ratio would set one period's median against two's.
    return [
        Row(f"small list call (10 sessions), x{SMALL_CALLS}", token(), plain, target=4.0),
        Row(f"AK/SK small call vs token, x{SMALL_CALLS}", signed, token(), target=1.15),
    ]


@dataclass(frozen=True)
class ThroughputRound:
    api_rate: float  # GET first page, req/s
    node_rate: float  # the node's own CLIENT LIST rate, req/s
    # The node's CLIENT LIST commands in the API's window, per request (a listing is two: TYPE normal, pubsub):
    # concurrent requests share listings (``SharedReads``), so the API is not bound to one listing per request.
    listings_per_request: float

    @property
    def share(self) -> float:
        return self.api_rate / self.node_rate


async def throughput(node: Node, *, rounds: int = 3) -> list[ThroughputRound]:
    """A round per sample, the order of the API and the node rotated each round. One 3-second window
    is one sample of a noisy host: a round's two rates are taken back to back, so their ratio is fair."""
    await _api_rate(node, seconds=1.0)  # warm-up: the clients' connections, the server's caches
    samples = []
    for n in range(rounds):
        if n % 2:
            node_rate = _node_list_rate(node)
            api_rate, per_request = await _api_rate(node)
        else:
            api_rate, per_request = await _api_rate(node)
            node_rate = _node_list_rate(node)
        samples.append(ThroughputRound(api_rate, node_rate, per_request))
    return samples


async def _api_rate(node: Node, clients: int = 10, seconds: float = 3.0) -> tuple[float, float]:
    """GET first page at ``clients`` concurrent keep-alive clients: req/s, and the node's CLIENT LIST
    commands per request meanwhile (its command statistics)."""
    d = node.deployment
    https = [await Http.open(d.host, d.port) for _ in range(clients)]
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker(http: Http) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            r = await http.request(
                "GET",
                f"/v3/{d.project_id}/redis/nodes/{node.node_id}/sessions?limit=100",
                b"",
                {"X-Auth-Token": d.token},
            )
            assert r.status == 200
            done += 1

    listings_before = command_calls(node.server, "client|list")  # outside the timed window
    started = time.perf_counter()
    await asyncio.gather(*(worker(h) for h in https))
    rate = done / (time.perf_counter() - started)
    listings = command_calls(node.server, "client|list") - listings_before
    for h in https:
        h.close()
    return rate, listings / done


def _node_list_rate(node: Node, clients: int = 10) -> float:
    """The node's own CLIENT LIST rate at ``clients`` connections (redis-benchmark, C), req/s."""
    args = ["redis-benchmark", "-h", node.server.host, "-p", str(node.server.port), "-c", str(clients)]
    if node.server.password:
        args += ["-a", node.server.password]
    out = subprocess.run(
        [*args, "-n", "3000", "-q", "CLIENT", "LIST"], capture_output=True, text=True, check=True
    ).stdout
    return float(re.findall(r"([\d.]+) requests per second", out)[-1])


def redis_cli_loop(node: Node) -> float:
    """What a user would otherwise write: one redis-cli process per ID (``node`` populated by the caller)."""
    started = time.perf_counter()
    for client_id in node.ids:
        subprocess.run(
            ["redis-cli", "-h", node.server.host, "-p", str(node.server.port), "CLIENT", "KILL", "ID", str(client_id)],
            capture_output=True,
            check=True,
        )
    return time.perf_counter() - started


async def run_all(nodes: dict[str, Node]) -> list[Row]:
    own, shared, valkey = nodes["own"], nodes["shared"], nodes["valkey"]
    for node in nodes.values():
        await node.open()
    rows = []
    rows_by_node = (
        close_by_id(own, 5000),
        close_all(own, 5000),
        close_all(shared, 5000),
        close_by_id(valkey, 5000, grouped=True),
    )
    for row in rows_by_node:
        await rounds([row.api, row.fastest, *row.others])
        rows.append(row)
    await own.populate(5000)
    for row in (first_page(own), statistics_case(own)):
        await rounds([row.api, row.fastest, *row.others], warmups=3, count=QUICK_ROUNDS)
        rows.append(row)
    await own.drop()
    small = nodes["small"]
    await small.populate(10)
    for row in small_calls(small):
        await rounds([row.api, row.fastest, *row.others], warmups=2, count=QUICK_ROUNDS)
        rows.append(row)
    await small.drop()
    return rows


__all__ = ["Node", "OWN_USER", "ThroughputRound", "raw_list_then_kill", "redis_cli_loop", "run_all", "throughput"]
