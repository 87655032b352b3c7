"""Real Redis topologies for the discovery tests: a Redis Cluster, a primary with replicas, a Sentinel.

Everything is started from the ``redis-server`` binary (``redis-cli --cluster create`` forms the
cluster) on free ports of 127.0.0.1, in one temporary directory, and stopped by ``stop()``.
Waits poll the servers until a state holds, with a generous deadline that guards against a hang;
they never assert how long anything took.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

from sessionplane.demo.servers import RedisServer, ServerGroup, free_port, redis_server_binary, start_on_free_port

LIVENESS_DEADLINE_SECONDS = 60.0


def wait_until(condition: Callable[[], bool], what: str, deadline: float = LIVENESS_DEADLINE_SECONDS) -> None:
    """Poll ``condition`` until it holds; fail (not a timing assertion: a hang guard) after ``deadline``."""
    give_up = time.monotonic() + deadline
    while True:
        try:
            if condition():
                return
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() > give_up:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


@dataclass
class ConfiguredServer(RedisServer):
    """A redis-server started with extra arguments (cluster mode), or as a Sentinel from a config file."""

    extra_args: tuple[str, ...] = ()
    sentinel_config: str | None = field(default=None, repr=False)

    def start(self) -> ConfiguredServer:
        if self.sentinel_config is not None:
            config = self.workdir / "sentinel.conf"
            config.write_text(self.sentinel_config)
            args = [redis_server_binary(), str(config), "--sentinel"]
        else:
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
                "--protected-mode",
                "no",
                # A replica's first sync starts at once (the default waits 5 s for more replicas to join it).
                "--repl-diskless-sync-delay",
                "0",
                *self.extra_args,
            ]
            if self.password:
                args += ["--requirepass", self.password, "--masterauth", self.password]
            if self.replica_of:
                args += ["--replicaof", self.replica_of.host, str(self.replica_of.port)]
        args += ["--logfile", str(self.workdir / "redis.log")]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_until_ready()
        return self


class Topologies(ServerGroup[ConfiguredServer]):
    """Owns every process the discovery tests start; a context manager that stops and removes them."""

    def __init__(self, *, password: str) -> None:
        super().__init__(prefix="sessionplane-topology-")
        self.password = password

    def _server(self, **options: object) -> ConfiguredServer:
        options.setdefault("password", self.password)

        def server(port: int, workdir: Path) -> ConfiguredServer:
            return ConfiguredServer(port=port, workdir=workdir, **options)  # type: ignore[arg-type]

        return start_on_free_port(server, root=self.root, owned=self.servers)

    # -- a primary with replicas -----------------------------------------------------------

    def primary_with_replicas(self, replicas: int = 2) -> tuple[ConfiguredServer, list[ConfiguredServer]]:
        primary = self._server()
        followers = [self.replica_of(primary) for _ in range(replicas)]
        return primary, followers

    def replica_of(self, primary: RedisServer) -> ConfiguredServer:
        replica = self._server(replica_of=primary)
        # Both sides: the replica reports its link up a moment before the primary lists it online (what
        # discovery reads to call a replica healthy)
        synced = f"replica {replica.port} to sync with {primary.port}"
        wait_until(lambda: link_up(replica) and online_on(primary, replica), synced)
        return replica

    # -- Redis Cluster ---------------------------------------------------------------------

    def redis_cluster(self, primaries: int = 3, replicas_per_primary: int = 1) -> list[ConfiguredServer]:
        nodes = [self._server(extra_args=_cluster_args()) for _ in range(primaries * (1 + replicas_per_primary))]
        addresses = [f"{n.host}:{n.port}" for n in nodes]
        subprocess.run(
            ["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas", str(replicas_per_primary)]
            + ["--cluster-yes"],
            check=True,
            capture_output=True,
            env={"REDISCLI_AUTH": self.password, "PATH": "/usr/bin:/bin:/usr/local/bin"},
        )
        self.wait_cluster_settled(nodes, primaries, replicas_per_primary)
        return nodes

    @staticmethod
    def wait_cluster_settled(nodes: list[ConfiguredServer], primaries: int, replicas_per_primary: int) -> None:
        wait_until(
            lambda: all(cluster_settled(n, primaries, replicas_per_primary) for n in nodes), "the cluster to settle"
        )

    # -- Sentinel --------------------------------------------------------------------------

    def sentinel(self, primary: RedisServer, *, name: str, password: str, replicas: int) -> ConfiguredServer:
        port = free_port()
        config = "\n".join(
            [
                f"port {port}",
                f"bind {primary.host}",
                f"dir {self.root}",
                "protected-mode no",
                f"requirepass {password}",
                f"sentinel monitor {name} {primary.host} {primary.port} 1",
                f"sentinel auth-pass {name} {self.password}",
                f"sentinel down-after-milliseconds {name} 2000",
                f"sentinel failover-timeout {name} 20000",
                "",
            ]
        )
        workdir = self.root / str(port)
        workdir.mkdir()
        sentinel = ConfiguredServer(port=port, workdir=workdir, password=password, sentinel_config=config)
        self.servers.append(sentinel)
        sentinel.start()
        wait_until(lambda: sentinel_settled(sentinel, name, replicas), "the sentinel to see the primary and replicas")
        return sentinel


def _cluster_args() -> tuple[str, ...]:
    # The bus port is chosen too: the default (port + 10000) may not exist for a high free port.
    return ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port", str(free_port()))


# -- what the servers say ------------------------------------------------------------------


def info(server: RedisServer, section: str) -> dict:
    with server.client() as client:
        return client.info(section)


def link_up(replica: RedisServer) -> bool:
    return info(replica, "replication").get("master_link_status") == "up"


def online_on(primary: RedisServer, replica: RedisServer) -> bool:
    """The primary lists ``replica`` with ``state=online`` in its INFO replication."""
    listed = [v for k, v in info(primary, "replication").items() if k.startswith("slave") and isinstance(v, dict)]
    return any(int(r.get("port", 0)) == replica.port and r.get("state") == "online" for r in listed)


def role(server: RedisServer) -> str:
    return info(server, "replication")["role"]


def cluster_settled(node: RedisServer, primaries: int, replicas_per_primary: int) -> bool:
    """The node sees the whole cluster (every primary with slots, every replica, nothing failing), and
    a replica's link to its primary is up."""
    if cluster_state(node) != "ok":
        return False
    with node.client() as client:
        view = list(client.execute_command("CLUSTER NODES").values())
    flags = [set(n["flags"].split(",")) for n in view]
    serving = sum(1 for n, f in zip(view, flags, strict=True) if "master" in f and n["slots"])
    replicas = sum(1 for f in flags if "slave" in f)
    if (
        serving != primaries
        or replicas != primaries * replicas_per_primary
        or any({"fail", "fail?"} & f for f in flags)
    ):
        return False
    return role(node) == "master" or link_up(node)


def cluster_state(node: RedisServer) -> str:
    with node.client() as client:
        state = client.execute_command("CLUSTER", "INFO").decode()
    return dict(line.split(":", 1) for line in state.split() if ":" in line)["cluster_state"]


def cluster_node_id(node: RedisServer) -> str:
    with node.client() as client:
        return client.execute_command("CLUSTER", "MYID").decode()


def sentinel_settled(sentinel: RedisServer, name: str, replicas: int) -> bool:
    """The Sentinel sees the primary and ``replicas`` replicas, all up and connected."""
    with sentinel.client() as client:
        primary = client.sentinel_master(name)
        seen = client.sentinel_slaves(name)
    healthy = [n for n in (primary, *seen) if n["flags"] in ("master", "slave")]
    return len(seen) == replicas and len(healthy) == replicas + 1


def sentinel_primary(sentinel: RedisServer, name: str) -> tuple[str, int]:
    with sentinel.client() as client:
        host, port = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)
    return host.decode(), int(port)


def replication_link_ids(server: RedisServer) -> set[int]:
    """Client IDs of the replication links on a node (flags M: its primary; S: a replica)."""
    with server.client() as client:
        return {int(c["id"]) for c in client.client_list() if set(c["flags"]) & {"M", "S"}}
