"""What every benchmark shares: nodes, a `sessionplane serve` process, a lean HTTP client, timed rounds.

- The server runs as deployed: a separate ``sessionplane serve`` process (uvicorn, uvloop,
  httptools) over a SQLite store in a temporary directory, seeded before it starts.
- The HTTP client is a minimal keep-alive HTTP/1.1 client over asyncio streams (hand-written:
  httpx costs several hundred microseconds per request, which would be charged to the server).
  The bench's own loops run on uvloop too (``use_uvloop``), so the raw baselines are not measured on
  a slower loop than the server's.
- A round times the API and its baselines on freshly prepared nodes; the order of the contenders
  rotates every round; each contender is warmed up before the first round; every close is
  verified on the node afterwards. Medians, minima and maxima are reported.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hiredis
import uvloop

from bench.cpu import METER, CpuSpent
from sessionplane import admin
from sessionplane.demo.servers import LocalCluster, RedisServer, free_port
from sessionplane.inventory.records import Instance, NodeSpec
from sessionplane.nodes.grants import OWN_USER_RULES
from sessionplane.services import Services
from sessionplane.settings import Settings

# 9 rounds: with 5, single medians moved by 10-30% between runs on this 2-core host (a close case by a
# third when anything else ran), and most targets sit within that.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "15"))
# Cases whose round is a call or two with nothing to prepare (listings, statistics, small calls): on a
# noisy host their medians move by a third between runs at 9 rounds; more rounds cost seconds here.
QUICK_ROUNDS = int(os.environ.get("BENCH_QUICK_ROUNDS", "31"))
OWN_USER, OWN_PASSWORD = "sessionplane", secrets.token_urlsafe(12)
APP_USER, APP_PASSWORD = "app", secrets.token_urlsafe(12)
ADMIN_PASSWORD = secrets.token_urlsafe(16)
RAW_NAME = "bench-raw"  # the baselines' connections: protected by name where sessionplane shares their user
OWN_GRANTS = [*OWN_USER_RULES, "+info"]
# BENCH_PIN=1: the nodes and the holders of their sessions on the machine's last core, the server and the
# baselines' client on the others. In a deployment the nodes run on machines of their own; unpinned (the
# default), dozens of nodes and the server compete for two cores, and every millisecond of the server's
# CPU is one the nodes' kills wait for. Pinned, the HTTP client shares the server's core (where redis-py's
# client has its own, the node's being apart): read a pinned run for the node-bound cases, the closes.
PINNED = os.environ.get("BENCH_PIN") == "1"
_CORES = sorted(os.sched_getaffinity(0))
NODE_CORES, CLIENT_CORES = {_CORES[-1]}, set(_CORES[:-1]) or {_CORES[-1]}


def pin(pid: int, cores: set[int]) -> None:
    """With ``BENCH_PIN=1``, run process ``pid`` (0: this one) on ``cores`` only."""
    if PINNED:
        os.sched_setaffinity(pid, cores)


def pinning() -> str:
    if not PINNED:
        return "nodes and server share every core (BENCH_PIN=1 pins them apart)"
    return f"nodes and their sessions' holders pinned to core {_cores(NODE_CORES)}, the rest to {_cores(CLIENT_CORES)}"


def _cores(cores: set[int]) -> str:
    return ",".join(map(str, sorted(cores)))


# The server's own background work: the sampler's listings, the health probe's pings, and reconnect tracking's
# listing of each closed node a window after its close. The node, fleet and scale groups run `serve` as
# deployed, all three on, so they fall into whichever rounds they fall into (noise, not bias: the order
# rotates); BENCH_QUIET=1 turns them off there too, to tell a case's own cost from that background. The
# inventory and workers groups, which close nothing and measure the store and the HTTP path, always do.
BACKGROUND_OFF = {
    "SESSIONPLANE_SAMPLE_INTERVAL_SECONDS": "0",
    "SESSIONPLANE_PROBE_INTERVAL_SECONDS": "0",
    "SESSIONPLANE_RECONNECT_WINDOW_SECONDS": "86400",  # the longest allowed: no watch wakes during a run
}
QUIET = os.environ.get("BENCH_QUIET") == "1"


def background() -> str:
    if QUIET:
        return "the server's sampler, probe and reconnect tracking off (BENCH_QUIET=1)"
    return "the server's sampler, probe and reconnect tracking on, as deployed (BENCH_QUIET=1 turns them off)"


def use_uvloop() -> None:
    """Every ``asyncio.run`` of the bench on uvloop, the loop the server runs on: the raw baselines' client, the
    API's HTTP client and the load generators then pay no more per wake-up than the server does."""
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def raise_open_file_limit() -> int:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# -- raw RESP over one socket: the fastest raw way, and what opens client sessions -------------------


class Raw:
    """One raw connection to a node: packed commands out, hiredis replies in. No pool, no timeouts."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = hiredis.Reader()

    @classmethod
    async def open(cls, server: RedisServer, *, user: str | None = None, password: str | None = None) -> Raw:
        """A connection named ``RAW_NAME``, as the default user: every instance protects one or the other."""
        raw = cls(*await asyncio.open_connection(server.host, server.port))
        secret = password if password is not None else server.password
        if secret:
            await raw.call("AUTH", *((user,) if user else ()), secret)
        await raw.call("CLIENT", "SETNAME", RAW_NAME)
        return raw

    async def call(self, *args: Any) -> Any:
        return (await self.batch(hiredis.pack_command(args), 1))[0]

    async def batch(self, payload: bytes, count: int) -> list[Any]:
        self.writer.write(payload)
        replies: list[Any] = []
        while len(replies) < count:
            reply = self.parser.gets()
            if reply is False:
                data = await self.reader.read(1 << 20)
                if not data:
                    raise ConnectionError("the node closed the raw connection")
                self.parser.feed(data)
                continue
            if isinstance(reply, hiredis.ReplyError):
                raise RuntimeError(str(reply))
            replies.append(reply)
        return replies

    def close(self) -> None:
        self.writer.close()


def listed_kill_payload(user: str) -> bytes:
    """The node's two TYPE listings, then its kills of ``user``, in one pipeline: the raw floor of a
    close-all that knows the node's users and must still say whom it closed."""
    listings = [("CLIENT", "LIST", "TYPE", kind) for kind in ("normal", "pubsub")]
    kills = [("CLIENT", "KILL", "TYPE", kind, "USER", user, "SKIPME", "yes") for kind in ("normal", "pubsub")]
    return b"".join(hiredis.pack_command(c) for c in (*listings, *kills))


class Holder:
    """Client sessions held open by a separate process (``bench.holder``), ``per_node`` on each server."""

    def __init__(self, servers: Sequence[RedisServer], per_node: int, *, user: str | None, password: str | None):
        spec = [[s.host, s.port, per_node, user, password if password is not None else s.password] for s in servers]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.holder"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        pin(self.process.pid, NODE_CORES)
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps(spec) + "\n")
        self.process.stdin.flush()
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the session holder failed")

    def release(self) -> None:
        assert self.process.stdin
        try:
            self.process.stdin.write("\n")
            self.process.stdin.close()
        except BrokenPipeError:
            pass
        self.process.wait(60)


def hold(servers: Sequence[RedisServer], per_node: int, *, user: str | None = APP_USER, password: str | None = None):
    """Open ``per_node`` sessions on every server (in processes of at most 15,000 sessions each)."""
    password = APP_PASSWORD if user == APP_USER and password is None else password
    chunk = max(1, 15_000 // per_node)
    return [
        Holder(servers[i : i + chunk], per_node, user=user, password=password) for i in range(0, len(servers), chunk)
    ]


def release(holders: Sequence[Holder]) -> None:
    for holder in holders:
        holder.release()


# -- the server under test ----------------------------------------------------------------------

Groups = dict[str, tuple[list[RedisServer], bool]]  # instance name -> (its servers, sessionplane's own ACL user?)


@dataclass
class Deployment:
    """A `sessionplane serve` process with a project, an admin token, an AK/SK and registered instances."""

    url: str
    host: str
    port: int
    project_id: str
    token: str
    ak: str
    sk: str
    instances: dict[str, Instance]
    process: subprocess.Popen[bytes]
    data_dir: Path

    def __enter__(self) -> Deployment:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop `serve`. Its data directory (the store, the keyring, serve.log) goes with it, unless the bench
        is failing (an exception on its way out, here or in a ``finally``) or `serve` had died by itself:
        then it stays for a look, and the bench says where."""
        METER.servers.discard(self.process.pid)
        died = self.process.poll() is not None
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        if died or sys.exc_info()[0] is not None:
            print(f"serve's store, keyring and log kept in {self.data_dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.data_dir, ignore_errors=True)


Seeder = Callable[[Services, str], Awaitable[object]]  # more rows for the store: (services, project id)


async def _seed(settings: Settings, groups: Groups, more: Seeder | None = None) -> tuple[str, dict, Any]:
    services = Services.build(settings)
    await services.start()
    try:
        user = await admin.add_user(
            services.inventory, domain="bench", name="bench", password=ADMIN_PASSWORD, is_admin=True
        )
        project = await admin.add_project(services.inventory, domain="bench", name="bench")
        instances = {}
        for name, (servers, own_user) in groups.items():
            specs = [
                NodeSpec(
                    host=s.host,
                    port=s.port,
                    username=OWN_USER if own_user else None,
                    password=OWN_PASSWORD if own_user else s.password,
                )
                for s in servers
            ]
            instances[name] = await admin.adopt_instance(
                services.inventory,
                project_id=project.id,
                name=name,
                nodes=specs,
                # As the README recommends, protected by ACL user where sessionplane has its own: the bench's
                # several records of one server, and the workers, are then never each other's sessions, and
                # the baselines' raw connections (the default user) are never closed. Where sessionplane
                # shares the clients' user, only the raw connections' name can tell them apart.
                protected_names=[] if own_user else [RAW_NAME],
                protected_users=[OWN_USER, "default"] if own_user else [],
            )
        key = await services.iam.create_access_key(user_id=user.id)
        if more is not None:
            await more(services, project.id)
        return project.id, instances, key
    finally:
        await services.close()


def start_deployment(
    groups: Groups,
    *,
    extra_args: Sequence[str] = (),
    database_url: str | None = None,
    seed: Seeder | None = None,
    env: dict[str, str] | None = None,
) -> Deployment:
    """Seed a store (SQLite in a temporary directory unless ``database_url``), then start `serve` over it."""
    data_dir = Path(tempfile.mkdtemp(prefix="sessionplane-bench-"))
    port = free_port()
    settings = Settings(data_dir=data_dir, database_url=database_url)
    project_id, instances, key = asyncio.run(_seed(settings, groups, seed))
    env = {
        **os.environ,
        "SESSIONPLANE_DATA_DIR": str(data_dir),
        "SESSIONPLANE_LOG_LEVEL": os.environ.get("BENCH_SERVE_LOG_LEVEL", "WARNING"),
        **({"SESSIONPLANE_DATABASE_URL": database_url} if database_url else {}),
        **(BACKGROUND_OFF if QUIET else {}),
        **(env or {}),
    }
    with (data_dir / "serve.log").open("ab") as log:  # kept for a failed run (Deployment.stop)
        process = subprocess.Popen(
            [sys.executable, "-m", "sessionplane", "serve", "--port", str(port), *extra_args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    pin(process.pid, CLIENT_CORES)
    METER.servers.add(process.pid)
    _wait_listening("127.0.0.1", port, process)
    token = asyncio.run(_login(f"http://127.0.0.1:{port}", project_id))
    return Deployment(
        f"http://127.0.0.1:{port}",
        "127.0.0.1",
        port,
        project_id,
        token,
        key.id,
        key.secret or "",
        instances,
        process,
        data_dir,
    )


def _wait_listening(host: str, port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError("sessionplane serve exited")
        with socket.socket() as probe:
            if probe.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("sessionplane serve did not start")


async def _login(url: str, project_id: str) -> str:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": "bench", "password": ADMIN_PASSWORD, "domain": {"name": "bench"}}},
            },
            "scope": {"project": {"id": project_id}},
        }
    }
    host, port = url.removeprefix("http://").split(":")
    client = await Http.open(host, int(port))
    try:
        response = await client.request("POST", "/v3/auth/tokens", json.dumps(body).encode(), {})
        return response.headers["x-subject-token"]
    finally:
        client.close()


# -- a lean HTTP/1.1 client -----------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Http:
    """Keep-alive HTTP/1.1 over one connection: a request, its response (Content-Length bodies only)."""

    def __init__(self, host: str, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.host, self.port, self.reader, self.writer = host, port, reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Http:
        return cls(host, port, *await asyncio.open_connection(host, port))

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Response:
        """One request; if the server had closed the idle connection (keep-alive timeout), reconnect once."""
        try:
            return await self._exchange(method, path, body, headers or {})
        except (asyncio.IncompleteReadError, ConnectionError):
            self.writer.close()
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            return await self._exchange(method, path, body, headers or {})

    async def _exchange(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Response:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        if body:
            lines.append("Content-Type: application/json")
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parsed = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                parsed[name.strip().lower()] = value.strip()
        data = await self.reader.readexactly(int(parsed.get("content-length", "0")))
        return Response(int(status_line.split(" ")[1]), parsed, data)

    def close(self) -> None:
        self.writer.close()


# -- timing ---------------------------------------------------------------------------------------


@dataclass
class Contender:
    """One way to do the job: ``prepare`` (untimed) then ``run`` (timed), then ``verify`` (untimed)."""

    label: str
    run: Callable[[], Awaitable[object]]
    prepare: Callable[[], Awaitable[object]] | None = None
    verify: Callable[[], Awaitable[object]] | None = None
    cleanup: Callable[[], Awaitable[object]] | None = None
    times: list[float] = field(default_factory=list)
    cpu: list[CpuSpent] = field(default_factory=list)  # per timed round (bench.cpu)
    round_numbers: list[int] = field(default_factory=list)  # per timed round: which of the run's rounds it ran in

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def median_cpu(self) -> CpuSpent:
        parts = ("client", "server", "nodes")
        return CpuSpent(*(statistics.median(getattr(c, part) for c in self.cpu) for part in parts))


_ROUND_NUMBERS = itertools.count(1)  # unique in the run: a contender timed in two cases' rounds (the token
# call, in the small call's and in AK/SK's) pairs with each case's other contenders by round, not by position


async def rounds(contenders: Sequence[Contender], *, count: int = ROUNDS, warmups: int = 1) -> None:
    """Each contender ``warmups`` times untimed, then ``count`` timed rounds, the order rotated each round."""
    for contender in contenders:
        for _ in range(warmups):
            await _once(contender, timed=False)
    for n in range(count):
        order = list(contenders[n % len(contenders) :]) + list(contenders[: n % len(contenders)])
        round_number = next(_ROUND_NUMBERS)
        for contender in order:
            await _once(contender, timed=True)
            contender.round_numbers.append(round_number)


async def _once(contender: Contender, *, timed: bool) -> None:
    if contender.prepare:
        await contender.prepare()
    try:
        cpu_begun = METER.begin()
        started = time.perf_counter()
        await contender.run()
        elapsed = time.perf_counter() - started
        cpu = METER.spent(cpu_begun)
        if contender.verify:
            try:
                await contender.verify()
            except AssertionError as exc:
                raise AssertionError(f"{contender.label}: {exc}") from None
        if timed:
            contender.times.append(elapsed)
            contender.cpu.append(cpu)
    finally:
        if contender.cleanup:
            await contender.cleanup()


@dataclass
class Row:
    """One case: the API, the fastest raw way, and other baselines (the raw way with the API's semantics
    where they differ, redis-py where an issue names it).

    The ratio that counts is to whichever baseline was fastest in the run (``floor``): usually
    ``fastest``, but a baseline that does more on paper can beat it on the node (a close by IDs
    listed first did, in some runs), and a ratio is never taken to a slower way than one measured.
    """

    case: str
    api: Contender
    fastest: Contender
    others: Sequence[Contender] = ()
    target: float | None = None
    note: str = ""

    @property
    def floor(self) -> Contender:
        return min((self.fastest, *self.others), key=lambda c: c.median)

    @property
    def ratio(self) -> float:
        return self.api.median / self.floor.median

    def paired_ratios(self) -> list[float]:
        """The API's time over the floor's in each round both ran in, seconds apart: what the host was doing
        in that round (a neighbour, reclaimed pages coming back) weighs on both, so their spread is the noise
        a ratio of medians hides, and their median is robust to the host speeding up or slowing down."""
        floor = dict(zip(self.floor.round_numbers, self.floor.times, strict=True))
        return [t / floor[n] for n, t in zip(self.api.round_numbers, self.api.times, strict=True) if n in floor]


def _ms(c: Contender) -> str:
    return f"{c.median * 1000:.2f} ms [{min(c.times) * 1000:.2f}-{max(c.times) * 1000:.2f}]"


def _cpu(c: Contender) -> str:
    """Median CPU per round, in ms: the bench's client, the server, the nodes (bench.cpu)."""
    spent = c.median_cpu
    return f"cpu {spent.client * 1000:.1f} / {spent.server * 1000:.1f} / {spent.nodes * 1000:.1f}"


def report(rows: Sequence[Row]) -> str:
    out = [
        "medians [min-max]; 'cpu' is the median CPU per round in ms of the bench's client / the server / "
        "all nodes (their sum over the cores bounds a round from below when they share them)"
    ]
    for row in rows:
        verdict = "" if row.target is None else ("  ok" if row.ratio <= row.target else "  MISSED")
        target = f" (target <= {row.target:.2f}x)" if row.target else ""
        out.append(f"{row.case}")
        out.append(f"    sessionplane          {_ms(row.api)}   {_cpu(row.api)}")
        for baseline in (row.fastest, *row.others):
            ratio = row.api.median / baseline.median
            out.append(f"    {baseline.label:<21} {_ms(baseline)}   {_cpu(baseline)}   ratio {ratio:.2f}x")
        beat = "" if row.floor is row.fastest else f", faster this run than {row.fastest.label}"
        out.append(f"    ratio to the fastest ({row.floor.label}{beat}): {row.ratio:.2f}x{target}{verdict}")
        if len(paired := row.paired_ratios()) >= 4:
            low, middle, high = statistics.quantiles(paired, n=4)
            spread = f"middle half {low:.2f}-{high:.2f}x of {len(paired)} rounds"
            out.append(f"    round by round: median {middle:.2f}x, {spread}")
        if row.note:
            out.append(f"    {row.note}")
    return "\n".join(out)


def acl(server: RedisServer) -> None:
    """sessionplane's own ACL user (what the README recommends) and the clients' user."""
    with server.client() as client:
        client.execute_command("ACL", "SETUSER", OWN_USER, "on", f">{OWN_PASSWORD}", *OWN_GRANTS)
        client.execute_command("ACL", "SETUSER", APP_USER, "on", f">{APP_PASSWORD}", "+@all", "~*", "&*")


@contextmanager
def cluster_of(count: int, *, password: str | None = None, kind: str = "redis") -> Iterator[list[RedisServer]]:
    """``count`` servers on the node cores, each with the bench's ACL users, counted as nodes in the CPU
    figures while they run; stopped (and no longer counted) on leaving."""
    cluster = LocalCluster(password=password, kind=kind)
    pids: set[int] = set()
    try:
        servers = [cluster.start_server() for _ in range(count)]
        for server in servers:
            assert server.process is not None
            pin(server.process.pid, NODE_CORES)
            pids.add(server.process.pid)
            acl(server)
        METER.nodes |= pids
        yield servers
    finally:
        METER.nodes -= pids
        cluster.stop()
