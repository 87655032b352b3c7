"""A small pool of connections to one node, which always knows the client IDs of its connections.

Connections are opened on demand (up to ``size``) and kept while they work. ``own_ids`` is the
set of client IDs of every open connection; ``settled()`` waits while a connection is still in
its handshake (connected on the node, its ID not yet known to us), so that a CLIENT LIST reply is
only ever filtered once every connection of ours that it can show has a known ID.

A pool left unused for a while is closed by the adapter's sweep (``idle_for``): at hundreds of
nodes, a connection kept per node forever is a file descriptor per node forever. Every pool of
one adapter counts its open connections in one shared ``OpenConnections`` (the /metrics gauge).
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sessionplane.nodes.wire import Endpoint, NodeConnection

RETIRED_SECONDS = 60.0


class OpenConnections:
    """Node connections open across every pool of one adapter: each one is a file descriptor."""

    def __init__(self) -> None:
        self.count = 0


class NodePool:
    def __init__(
        self,
        endpoint: Endpoint,
        *,
        size: int,
        client_name: str,
        ssl_context: ssl.SSLContext | None,
        connect_timeout: float,
        tally: OpenConnections | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._connect_timeout = connect_timeout
        self._size = size
        self._client_name = client_name
        self._ssl_context = ssl_context
        self._idle: list[NodeConnection] = []
        self._open: set[NodeConnection] = set()
        self._retired: dict[int, float] = {}  # client ID -> when it was closed
        self._opening = 0
        self._settled = asyncio.Event()
        self._settled.set()
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        self._busy = 0  # connections handed out right now
        self._tally = tally or OpenConnections()
        self.last_used = _now()

    @property
    def own_ids(self) -> frozenset[int]:
        if self._retired:
            horizon = _now() - RETIRED_SECONDS
            self._retired = {i: at for i, at in self._retired.items() if at > horizon}
        return frozenset(c.client_id for c in self._open).union(self._retired)

    @property
    def open_count(self) -> int:
        return len(self._open)

    def idle_for(self, now: float) -> float:
        """Seconds since the pool was last used; 0 while anything is in use, opening or waiting."""
        if self._busy or self._opening or self._waiting:
            return 0.0
        return now - self.last_used

    async def settled(self) -> frozenset[int]:
        """The IDs of our connections, once none of them is half-open."""
        await self._settled.wait()
        return self.own_ids

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[tuple[NodeConnection, bool]]:
        """A connection and whether it is fresh; a connection left broken (error, deadline) is dropped.

        At most ``size`` connections exist; when all are busy, callers wait their turn (first come,
        first served). A plain list and futures rather than a semaphore: this runs on every request.
        """
        while not self._idle and len(self._open) + self._opening >= self._size:
            turn = asyncio.get_running_loop().create_future()
            self._waiting.append(turn)
            try:
                await turn
            except BaseException:
                self._pass_turn()  # a cancelled waiter must not swallow a free connection
                raise
        self.last_used = _now()
        fresh = not self._idle
        try:
            connection = self._idle.pop() if self._idle else await self._open_one()
        except BaseException:
            self._pass_turn()  # the slot it would have used is free again
            raise
        self._busy += 1
        try:
            yield connection, fresh
        finally:
            self._busy -= 1
            self.last_used = _now()
            if connection.broken:
                self._discard(connection)
            else:
                self._idle.append(connection)
            self._pass_turn()

    def _pass_turn(self) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return

    async def _open_one(self) -> NodeConnection:
        self._opening += 1
        self._settled.clear()
        try:
            async with asyncio.timeout(self._connect_timeout):
                connection = await NodeConnection.open(
                    self.endpoint, client_name=self._client_name, ssl_context=self._ssl_context
                )
            self._open.add(connection)
            self._tally.count += 1
            return connection
        finally:
            self._opening -= 1
            if not self._opening:
                self._settled.set()

    def _discard(self, connection: NodeConnection) -> None:
        connection.close()
        if connection in self._open:
            self._open.discard(connection)
            self._tally.count -= 1
        self._retired[connection.client_id] = _now()

    def drop_idle(self) -> None:
        """Close the idle connections: one was found dropped by the node, the others likely were too
        (a restart, a ``CLIENT KILL USER`` of the user we share with clients)."""
        for connection in self._idle:
            self._discard(connection)
        self._idle.clear()

    def close(self) -> None:
        """Close every connection (the pool stays usable: the next call opens a new one)."""
        for connection in list(self._open):
            self._discard(connection)
        self._idle.clear()


def _now() -> float:
    return asyncio.get_running_loop().time()
