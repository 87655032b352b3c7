"""Test helpers: client sessions on real nodes over raw sockets, so a test can see its socket close."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sessionplane.demo.servers import RedisServer
from sessionplane.inventory.records import Node
from sessionplane.nodes.adapter import NodeAdapter, NodeListing
from sessionplane.sessions.selection import Protection, client_sessions


def _encode(*args: object) -> bytes:
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class RawSession:
    """One client connection to a node, speaking just enough RESP for the tests."""

    def __init__(
        self,
        server: RedisServer,
        *,
        name: str | None = None,
        db: int = 0,
        user: str | None = None,
        password: str | None = None,
        source_ip: str | None = None,
    ) -> None:
        source = (source_ip, 0) if source_ip else None
        self.sock = socket.create_connection((server.host, server.port), source_address=source)
        self._buffer = b""
        self.name = name
        try:
            self._hello(server, name=name, db=db, user=user, password=password)
        except BaseException:
            self.sock.close()
            raise

    def _hello(self, server: RedisServer, *, name: str | None, db: int, user: str | None, password: str | None) -> None:
        secret = password if password is not None else server.password
        if secret:
            self.call(*(("AUTH", user, secret) if user else ("AUTH", secret)))
        if name:
            self.call("CLIENT", "SETNAME", name)
        if db:
            self.call("SELECT", db)
        self.id = int(self.call("CLIENT", "ID"))

    @property
    def addr(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"{host}:{port}"

    def call(self, *args: object) -> Any:
        """One command's reply: bytes, or a list of replies for an array (SUBSCRIBE's confirmation)."""
        self.sock.sendall(_encode(*args))
        return self._read_reply()

    def _read_line(self) -> bytes:
        while b"\r\n" not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the node")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line

    def _read_reply(self) -> Any:
        line = self._read_line()
        kind, rest = line[:1], line[1:]
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b"*":
            return [self._read_reply() for _ in range(int(rest))]
        if kind == b"$":
            size = int(rest)
            while len(self._buffer) < size + 2:
                self._buffer += self.sock.recv(65536)
            data, self._buffer = self._buffer[:size], self._buffer[size + 2 :]
            return data
        return rest

    def closed_by_node(self, *, wait: bool = True) -> bool:
        """True when the node closed this socket: a read returns EOF (or a reset). ``wait=False``: look
        without waiting (a socket with nothing to read is open)."""
        self.sock.settimeout(10 if wait else 0)  # a liveness guard, not a speed assertion
        try:
            return self.sock.recv(1, socket.MSG_PEEK) == b""
        except ConnectionResetError:
            return True
        except (TimeoutError, BlockingIOError):
            return False
        finally:
            self.sock.settimeout(None)

    def alive(self) -> bool:
        try:
            return self.call("PING") == b"PONG"
        except (ConnectionError, OSError):
            return False

    def close(self) -> None:
        self.sock.close()


@contextmanager
def stopped(server: RedisServer) -> Iterator[None]:
    """The node's process stopped (SIGSTOP) for the block: the kernel still accepts connections and takes
    in commands, and the node answers none until it goes on (SIGCONT)."""
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


def client_ids(server: RedisServer) -> set[int]:
    with server.client() as client:
        return {int(c["id"]) for c in client.client_list()}


def kill_calls(server: RedisServer) -> int:
    """How many CLIENT KILL commands the node has run (its command statistics)."""
    return command_calls(server, "client|kill")


async def open_pool_connections(nodes: NodeAdapter, node: Node, count: int) -> None:
    """``count`` listings at once, all started before any ends: the node's pool opens up to ``count``
    connections of ours. Filtered (``TYPE normal``), because concurrent unfiltered listings of one node
    share one listing on one connection (``SharedReads``); a filtered one is each caller's own."""
    await asyncio.gather(*(nodes.client_list(node, args=("TYPE", "normal")) for _ in range(count)))


def command_calls(server: RedisServer, command: str) -> int:
    """How many times the node has run ``command`` (``client|list``, ...), from its command statistics."""
    with server.client() as client:
        return int(client.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0))


def client_names(server: RedisServer) -> list[str]:
    with server.client() as client:
        return [c["name"] for c in client.client_list()]


# A probe connection named like this is protected by the ``service`` fixture: never listed, counted or closed.
PROBE_NAME = "guardian"


def node_view(server: RedisServer, ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """CLIENT LIST ID ... as the node reports it, by client ID (from a protected probe connection)."""
    with server.client(client_name=PROBE_NAME) as probe:
        return {int(c["id"]): c for c in probe.client_list(client_id=list(ids))}


def wait_until_idle(server: RedisServer, sessions: Iterable[RawSession], *, seconds: int) -> None:
    """Wait until the node reports every session idle at least ``seconds`` (idle only grows until the next command)."""
    ids = [s.id for s in sessions]
    for _ in range(400):  # a liveness guard (40 s), not a speed assertion
        view = node_view(server, ids)
        if all(int(view[i]["idle"]) >= seconds for i in ids):
            return
        time.sleep(0.1)
    raise AssertionError(f"sessions {ids} never reached {seconds} s idle on the node")


@dataclass(frozen=True)
class Tenant:
    domain: str
    project_id: str
    admin_name: str
    admin_password: str


def replica_link_ids(primary: RedisServer, replica: RedisServer) -> set[int]:
    """Client IDs of the replication links on ``primary``, once ``replica``'s link is up."""
    with replica.client() as r:
        for _ in range(200):  # a liveness guard (10 s), not a speed assertion
            if r.info("replication").get("master_link_status") == "up":
                break
            time.sleep(0.05)
    with primary.client() as p:
        return {int(c["id"]) for c in p.client_list() if "S" in c["flags"]}


def session_ids(reply: NodeListing) -> set[int]:
    """The IDs of a listing's client sessions: every line but our own connections (and links)."""
    listing = reply.parsed()
    return {listing.ids[i] for i in client_sessions(listing, Protection().shielded(listing, reply.own))}


def node_record(host: str, port: int) -> Node:
    """A node record for tests that drive the node adapter directly, without a store."""
    return Node(
        id="n1",
        instance_id="i1",
        group_id="g1",
        name="n1",
        role="primary",
        status="normal",
        host=host,
        port=port,
        tls=False,
    )
