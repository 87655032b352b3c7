"""The node adapter: the only code that speaks to a node (redis-py asyncio, hiredis parser).

One small connection pool per node, every connection named ``own_client_name`` so that the
domain can recognise, and never close, sessionplane's own sessions. A pool is filled up front,
before its first command: redis-py names a connection with a CLIENT SETNAME that follows the
connect, and a connection opened while another request reads CLIENT LIST would show up unnamed
for that moment. With full pools no connection is opened mid-flight (a lost one is re-opened
under the retry policy).

Commands per request are bounded: at most one CLIENT LIST per node, and closes pipelined.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sessionplane.inventory.records import Node
from sessionplane.nodes.client_list import ClientIndex
from sessionplane.nodes.errors import mapped_errors
from sessionplane.settings import Settings

_PoolKey = tuple[str, str, int, str | None, str | None, bool]


class NodeAdapter:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._clients: dict[str, tuple[_PoolKey, Redis]] = {}
        self._warming: dict[str, asyncio.Lock] = {}

    async def client_list(self, node: Node, *, ids: Sequence[int] | None = None) -> ClientIndex:
        """CLIENT LIST (or CLIENT LIST ID ... for just those clients), indexed."""
        args: list[object] = ["CLIENT", "LIST"]
        if ids is not None:
            if not ids:
                return ClientIndex(b"")
            args += ["ID", *ids]
        with mapped_errors(node, "query"):
            client = await self._client(node)
            # Sent as two words so that redis-py's own CLIENT LIST parser is skipped.
            reply = await client.execute_command(*args)
        return ClientIndex(reply)

    async def ping(self, node: Node) -> None:
        """PING (the health probe): returns when the node answers; the caller bounds the wait."""
        with mapped_errors(node, "query"):
            await (await self._client(node)).execute_command("PING")

    async def kill(self, node: Node, ids: Sequence[int]) -> int:
        """Close the given client IDs in one pipelined write; returns how many the node closed."""
        if not ids:
            return 0
        with mapped_errors(node, "kill"):
            pool = (await self._client(node)).connection_pool
            connection = await pool.get_connection()
            try:
                await connection.send_packed_command(pack_kills(ids))
                replies = [await connection.read_response() for _ in ids]
            except BaseException:
                await connection.disconnect()  # replies may be left unread: never reuse it
                raise
            finally:
                await pool.release(connection)
        return sum(int(r) for r in replies)

    async def close(self) -> None:
        clients = [c for _, c in self._clients.values()]
        self._clients.clear()
        await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)

    async def _client(self, node: Node) -> Redis:
        key: _PoolKey = (node.id, node.host, node.port, node.username, node.password, node.tls)
        known = self._clients.get(node.id)
        if known and known[0] == key:
            return known[1]
        lock = self._warming.setdefault(node.id, asyncio.Lock())
        async with lock:
            known = self._clients.get(node.id)
            if known and known[0] == key:
                return known[1]
            client = Redis.from_pool(self._pool(node))
            try:
                await _fill(client.connection_pool, self._settings.node_pool_size)
            except BaseException:
                await client.aclose()
                raise
            self._clients[node.id] = (key, client)
            if known:
                await known[1].aclose()
            return client

    def _pool(self, node: Node) -> BlockingConnectionPool:
        s = self._settings
        options: dict[str, object] = {
            "host": node.host,
            "port": node.port,
            "username": node.username,
            "password": node.password,
            "client_name": s.own_client_name,
            "socket_connect_timeout": s.node_connect_timeout_seconds,
            "socket_timeout": s.node_command_timeout_seconds,
            "retry": Retry(ExponentialBackoff(cap=0.1, base=0.01), retries=1),
            "retry_on_error": [RedisConnectionError, RedisTimeoutError],
            "max_connections": s.node_pool_size,
            "timeout": s.node_command_timeout_seconds,
        }
        if node.tls:
            from redis.asyncio.connection import SSLConnection

            options["connection_class"] = SSLConnection
            options["ssl_cert_reqs"] = ssl.CERT_REQUIRED
            options["ssl_ca_certs"] = str(s.node_tls_ca_file) if s.node_tls_ca_file else None
        return BlockingConnectionPool(**options)


_KILL = b"*6\r\n$6\r\nCLIENT\r\n$4\r\nKILL\r\n$2\r\nID\r\n$%d\r\n%b\r\n$6\r\nSKIPME\r\n$3\r\nyes\r\n"


def pack_kills(ids: Sequence[int]) -> bytes:
    """``CLIENT KILL ID <id> SKIPME yes`` for every ID, as one RESP payload.

    Hand-packed because redis-py encodes each pipelined command through generic code, which
    costs more than a fifth of a 5,000-session close; a homogeneous batch is one bytes template.
    """
    encoded = [b"%d" % client_id for client_id in ids]
    return b"".join(_KILL % (len(e), e) for e in encoded)


async def _fill(pool: BlockingConnectionPool, size: int) -> None:
    """Open every connection of the pool now (see the module docstring for why)."""
    connections = []
    try:
        for _ in range(size):
            connection = await pool.get_connection()
            connections.append(connection)
            await connection.connect()
    finally:
        for connection in connections:
            await pool.release(connection)
