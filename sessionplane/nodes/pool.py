"""A small pool of connections to one node, which always knows the client IDs of its connections.

Connections are opened on demand (up to ``size``) and kept while they work. ``own`` knows every
connection of ours a listing may show (``OwnConnections``); ``settled()`` waits while a connection
is still in its handshake (connected on the node, its ID not yet known to us), so that a CLIENT
LIST reply is only ever filtered once every connection of ours that it can show has a known ID.
``handshakes_held_off()`` keeps handshakes and kills of the node's ``default`` user apart: until its
AUTH, a connection of ours is that user, and such a kill would close it.

A pool left unused for a while is closed by the adapter's sweep (``idle_for``): at hundreds of
nodes, a connection kept per node forever is a file descriptor per node forever. Every pool of
one adapter counts its open connections in one shared ``OpenConnections`` (the /metrics gauge).
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sessionplane.nodes.client_list import ClientList
from sessionplane.nodes.wire import Endpoint, NodeConnection

RETIRED_SECONDS = 60.0
PRE_AUTH_USER = "default"  # the ACL user a node lists a connection as until its AUTH (Redis, Valkey)


@dataclass(frozen=True)
class OwnConnections:
    """Our connections to one node, as a listing of the node may show them.

    ``open``: the client IDs of the connections open now. ``closed``: the connections closed in the
    last minute (a listing may show one until the node has caught up), client ID -> the address the
    node listed it from. A restarted node hands those IDs to other clients, so a closed one is ours
    only on the line with its address (or by ID alone where the node would not say, ``None``). Open
    connections go by ID alone: one that a restart broke fails at its next use, and the pool then
    closes every idle one (``drop_idle``); an address check of each would cost a search of megabytes.
    What remains is a connection busy at the restart, known by ID alone until its read fails.
    """

    open: frozenset[int] = frozenset()
    closed: Mapping[int, str | None] = field(default_factory=dict)

    def ids_in(self, listing: ClientList) -> set[int]:
        """The IDs of the lines of ``listing`` that are ours."""
        ours = {listing.id_of(line) for line in listing.lines_of(self.open)}
        for line in listing.lines_of(self.closed):
            client_id = listing.id_of(line)
            if self.closed[client_id] in (None, listing.client(line).addr):  # rare: a retired ID still listed
                ours.add(client_id)
        return ours

    def __bool__(self) -> bool:
        return bool(self.open or self.closed)


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
        self._retired: dict[int, tuple[str | None, float]] = {}  # client ID -> (address, when it was closed)
        self._opening = 0
        self._settled = asyncio.Event()
        self._settled.set()
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        self._busy = 0  # connections handed out right now
        self._pre_auth_kills = 0  # kills of PRE_AUTH_USER running now: no handshake may start meanwhile
        self._no_pre_auth_kill = asyncio.Event()
        self._no_pre_auth_kill.set()
        self._tally = tally or OpenConnections()
        self.last_used = _now()

    @property
    def own(self) -> OwnConnections:
        if self._retired:
            horizon = _now() - RETIRED_SECONDS
            self._retired = {i: closed for i, closed in self._retired.items() if closed[1] > horizon}
        return OwnConnections(
            frozenset(c.client_id for c in self._open), {i: address for i, (address, _) in self._retired.items()}
        )

    @property
    def open_count(self) -> int:
        return len(self._open)

    def idle_for(self, now: float) -> float:
        """Seconds since the pool was last used; 0 while anything is in use, opening or waiting."""
        if self._busy or self._opening or self._waiting:
            return 0.0
        return now - self.last_used

    async def settled(self) -> OwnConnections:
        """Our connections (``own``), once none of them is half-open."""
        await self._settled.wait()
        return self.own

    @asynccontextmanager
    async def handshakes_held_off(self) -> AsyncIterator[None]:
        """Run a kill of ``PRE_AUTH_USER`` with no handshake of ours under way on the node.

        The node lists a connection as ``default`` from its accept until it runs our AUTH: a ``CLIENT KILL
        USER default`` it runs meanwhile closes a connection of ours (and fails the call opening it). So
        the kill waits for the handshakes under way, and new ones wait until the node has answered it.
        """
        while self._opening:
            await self._settled.wait()
        self._pre_auth_kills += 1
        self._no_pre_auth_kill.clear()
        try:
            yield
        finally:
            self._pre_auth_kills -= 1
            if not self._pre_auth_kills:
                self._no_pre_auth_kill.set()

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
        while self._pre_auth_kills:
            await self._no_pre_auth_kill.wait()
        self._opening += 1
        self._settled.clear()
        try:
            async with asyncio.timeout(self._connect_timeout):
                connection = await self._connect()
            self._open.add(connection)
            self._tally.count += 1
            return connection
        finally:
            self._opening -= 1
            if not self._opening:
                self._settled.set()

    async def _connect(self) -> NodeConnection:
        """A new connection, handshake done; one closed by the node during its handshake is tried once more.

        Until its AUTH a connection is the node's ``default`` user, and another process (another replica's
        close-all) may kill that user meanwhile: no sign of trouble with the node. Twice is.
        """
        for attempt in (1, 2):
            try:
                return await NodeConnection.open(
                    self.endpoint, client_name=self._client_name, ssl_context=self._ssl_context
                )
            except (EOFError, ConnectionResetError):
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _discard(self, connection: NodeConnection) -> None:
        connection.close()
        if connection in self._open:
            self._open.discard(connection)
            self._tally.count -= 1
        self._retired[connection.client_id] = (connection.address, _now())

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
