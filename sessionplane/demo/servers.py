"""Local ``redis-server`` processes on free ports: the demo's nodes, and the tests' and benchmarks' too.

Each server lives in its own temporary directory, keeps nothing on disk, and is stopped and removed
by ``stop()`` (``LocalCluster`` stops all of them, also on Ctrl-C via its context manager).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis


def redis_server_binary() -> str:
    path = shutil.which("redis-server")
    if path is None:
        raise RuntimeError("redis-server is not installed (make run / make test install it)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RedisServer:
    port: int
    workdir: Path
    password: str | None = field(default=None, repr=False)
    replica_of: RedisServer | None = None
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        args = [
            redis_server_binary(),
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
        ]
        if self.password:
            args += ["--requirepass", self.password, "--masterauth", self.password]
        if self.replica_of:
            args += ["--replicaof", self.replica_of.host, str(self.replica_of.port)]
        # Our own argument list (the redis-server binary on PATH, numbers and paths we chose): no shell.
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        self._wait_until_ready()
        return self

    def _wait_until_ready(self, attempts: int = 200) -> None:
        for _ in range(attempts):
            try:
                with self.client() as client:
                    client.ping()
                return
            except redis.ConnectionError:
                if self.process and self.process.poll() is not None:
                    raise RuntimeError(
                        f"redis-server on port {self.port} exited; see {self.workdir}/redis.log"
                    ) from None
                time.sleep(0.025)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

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


class LocalCluster:
    """A set of local servers sharing one temporary directory; a context manager that cleans up."""

    def __init__(self, *, password: str | None = None) -> None:
        self.password = password
        self.root = Path(tempfile.mkdtemp(prefix="sessionplane-nodes-"))
        self.servers: list[RedisServer] = []

    def start_server(self, *, replica_of: RedisServer | None = None) -> RedisServer:
        port = free_port()
        workdir = self.root / str(port)
        workdir.mkdir()
        server = RedisServer(port=port, workdir=workdir, password=self.password, replica_of=replica_of)
        self.servers.append(server)
        return server.start()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self.servers.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
