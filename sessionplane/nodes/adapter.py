"""The node adapter: the only code that speaks to a node.

One pool per node (``nodes.pool``), created on first use and replaced when the node's address or
credentials change. Pools unused for ``node_pool_idle_seconds`` are closed by ``sweep_idle`` (a
background loop of the serving process), then forgotten once the IDs of their closed connections
no longer need filtering out of listings: the open connections (file descriptors) follow the nodes
in use, not every node ever touched.

Every operation runs under one deadline (``node_deadline_seconds``): connect, handshake, command
and replies together, so a frozen node costs a caller that long and no more.
A command that fails on a pooled connection because the node dropped it is retried once on a new
connection, inside the same deadline.

Operations per request are bounded: one listing per node (``CLIENT LIST TYPE normal`` and ``TYPE
pubsub`` pipelined: the node leaves out replication links itself), and a close is one pipelined batch.
Concurrent unfiltered listings of one node are one listing, sent after each of them asked, and one parse
of its reply (``SharedReads``, ``NodeListing.parsed``).
"""

from __future__ import annotations

import asyncio
import collections
import re
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

import hiredis

from sessionplane.inventory.records import Node
from sessionplane.nodes.client_list import ClientList
from sessionplane.nodes.errors import CommandFailed, Operation, mapped_errors
from sessionplane.nodes.pool import PRE_AUTH_USER, NodePool, OpenConnections, OwnConnections
from sessionplane.nodes.shared_reads import SharedReads
from sessionplane.nodes.wire import Endpoint, NodeConnection, ReplyError, tls_context
from sessionplane.settings import Settings

T = TypeVar("T")
KillIds = tuple[Sequence[int], Sequence[int]]  # normal clients' IDs, pub/sub clients' IDs
Kills = tuple[Sequence[int], Sequence[int], Sequence[str]]  # normal IDs, pub/sub IDs, whole ACL users
# Slices of a close by IDs listed before its audit record is durable (``NodeAdapter.kill_in_slices``): about
# the node's listing time for the record's write (8 ms for the first 3,200 IDs, against 5-9 ms, measured).
LISTINGS_AHEAD = 4
# IDs per CLIENT KILL where a node takes several (Valkey 8.1+): each kill is one scan of the node's clients, so
# 5,000 IDs cost the node 37-39 ms in one or five kills, against 244 ms in 5,000 (Valkey 9.1, measured).
IDS_PER_KILL = 1000


@dataclass(frozen=True)
class Capabilities:
    server: str  # "redis" | "valkey" | what INFO calls it
    version: tuple[int, ...]

    @property
    def client_list_filters(self) -> bool:
        """CLIENT LIST USER/NAME/IDLE/DB/IP/LIB-NAME/FLAGS filters (Valkey 8.1+)."""
        return self._valkey_8_1

    @property
    def ids_per_kill(self) -> int:
        """How many client IDs one ``CLIENT KILL ID`` may name: several on Valkey 8.1+, else one."""
        return IDS_PER_KILL if self._valkey_8_1 else 1

    @property
    def _valkey_8_1(self) -> bool:
        return self.server == "valkey" and self.version >= (8, 1)


UNKNOWN_SERVER = Capabilities("unknown", (0,))  # one ID per kill, no filters: what every server takes


@dataclass(frozen=True)
class NodeListing:
    """A CLIENT LIST reply and our own connections that it may show (``OwnConnections``).

    ``links_excluded``: the node filtered by TYPE, so the reply holds no replication link (types master
    and replica); otherwise the reader finds them by their flags. The pub/sub clients are then the
    reply's last ``pubsub_tail`` lines: the node's own word for the TYPE a kill names.
    """

    reply: bytes
    own: OwnConnections
    links_excluded: bool = False
    pubsub_tail: int | None = None  # typed: the reply's last lines are the node's pub/sub clients, this many

    def parsed(self) -> ClientList:
        """The reply's reader, one for every caller that shares this listing (``SharedReads``): what it reads
        of the reply (lines, IDs, columns) is read once. It only ever adds to what it has read."""
        return self._reader

    @cached_property
    def _reader(self) -> ClientList:
        return ClientList(self.reply, links_excluded=self.links_excluded, pubsub_tail=self.pubsub_tail)


class NodeAdapter:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pools: dict[str, NodePool] = {}
        self._capabilities: dict[str, Capabilities] = {}
        self._untyped: set[str] = set()  # nodes that refused CLIENT LIST TYPE (a proxy, an old server)
        self._open = OpenConnections()
        self._listings: SharedReads[NodeListing] = SharedReads(patience=settings.node_deadline_seconds)
        self._tls = tls_context(str(settings.node_tls_ca_file) if settings.node_tls_ca_file else None)

    @property
    def deadline(self) -> float:
        return self._settings.node_deadline_seconds

    async def client_list(self, node: Node, *, args: Sequence[Any] = ()) -> NodeListing:
        """CLIENT LIST [filters...]; ``args`` are extra filters (``ID ...``, Valkey's ``USER u``...).

        Without filters, the node lists its normal and pub/sub clients (two TYPE listings in one round
        trip): it leaves out the replication links, which then cost no search of the reply here. Callers
        that ask for that listing of one node at once share one, sent after each of them asked
        (``SharedReads``). Ten clients paging one node of 1,000 sessions got 807 and 916 requests per
        second through one worker, against 463-630 before, the node running one listing per 4.3-4.7
        requests, not one per request (runs BN and BO against BK, BL and BM: README, Performance).
        """
        typed = not args and node.id not in self._untyped

        async def run(pool: NodePool, connection: NodeConnection) -> NodeListing:
            if typed:
                normal, pubsub = await connection.batch(_TYPED_LISTING, 2)
                if isinstance(normal, bytes) and isinstance(pubsub, bytes):  # else refused: asked plainly below
                    return _typed_listing(normal, pubsub, await pool.settled())
            reply = _checked(await connection.call("CLIENT", "LIST", *args))
            if typed:
                self._untyped.add(node.id)  # it lists its clients, but not by TYPE: ask it plainly from now on
            return NodeListing(reply, await pool.settled())

        if args:  # filtered (IDs, Valkey's filters): each caller its own
            return await self._run(node, "query", run)
        # The node's pool stands for its address and credentials: a node moved or given a new password
        # gets a new pool, and its callers are never handed a listing made with the old ones.
        with mapped_errors(node.id, "query", self.deadline):  # a shared read's caller waits as long, no longer
            return await self._listings.read(self._pool(node), lambda: self._run(node, "query", run))

    async def kill(
        self, node: Node, *, ids: Sequence[int] = (), pubsub_ids: Sequence[int] = (), users: Sequence[str] = ()
    ) -> int:
        """Close the given client IDs (normal clients, and pub/sub clients), and every normal and pub/sub
        client of the given ACL users, in one pipelined write; returns how many clients the node closed.
        The IDs go several to a kill where the node takes them (``Capabilities.ids_per_kill``).

        Every kill names the client's TYPE, so no command here can close a replication link (type
        master/replica), whatever the listing said; an ID whose kill missed it (its TYPE changed since the
        listing) is killed by the TYPE it has now (``_kill_retyped``). Our own connections: SKIPME spares the
        sending one, and a kill of the user ours are until their AUTH waits out our handshakes
        (``NodePool.handshakes_held_off``).
        """
        if not (ids or pubsub_ids or users):
            return 0
        if ids or pubsub_ids:
            await self.capabilities(node)  # known before the kills, which are packed by what is ``_known``

        async def run(pool: NodePool, connection: NodeConnection) -> int:
            per_kill = self._known(node).ids_per_kill  # here: a retry may have forgotten the server
            by_id = IdKills(ids, pubsub_ids, per_kill)
            payload, count = pack_user_kills(users) + by_id.payload, 2 * len(users) + by_id.replies
            async with _user_kills_safe(pool, users):
                replies = await connection.batch(payload, count)
            closed = sum(_checked(r) for r in replies[: 2 * len(users)]) + by_id.closed(replies[2 * len(users) :])
            return closed + await _kill_retyped(connection, by_id.missed, per_kill)

        return await self._run(node, "kill", run)

    async def list_then_kill_users(
        self,
        node: Node,
        users: Sequence[str],
        *,
        ready: Awaitable[object],
        then: Callable[[NodeListing], Kills],
        list_ahead: bool = True,
    ) -> int:
        """The typed listing (as ``client_list``), then every normal and pub/sub client of ``users``, in one
        pipeline: the node runs it in order with no round trip between, so a close-all whose users are
        known ahead costs one round trip, and the listing shows the sessions its kills closed.

        The kills are sent only once ``ready`` (the audit record) is done. With ``list_ahead`` the listing is
        sent at once, so that the node lists while the record is written; without, it goes with the kills,
        in one write. Waiting for ``ready`` counts against the node deadline; a failed ``ready`` raises here,
        and nothing was killed.

        ``then(listing)`` decides, while the node is still killing, what else to close (normal IDs, pub/sub
        IDs, users: what those users did not cover); its kills follow on the same connection. Returns how
        many clients the node closed. A user the node no longer has ("No such user") has no client to close.
        A node that refuses the typed listing is asked plainly after the kills (and from then on, as in
        ``client_list``): the count stays exact, the listing comes late.
        """
        kills = pack_user_kills(users)

        async def run(pool: NodePool, connection: NodeConnection) -> int:
            if list_ahead:
                connection.send(_TYPED_LISTING, 2)  # read-only: safe before the record is durable
            await asyncio.shield(ready)  # the deadline must not cancel the record's write itself
            async with _user_kills_safe(pool, users):
                if list_ahead:
                    connection.send(kills, 2 * len(users))
                else:
                    connection.send(_TYPED_LISTING + kills, 2 + 2 * len(users))
                normal, pubsub = await connection.replies(2)
                if isinstance(normal, bytes) and isinstance(pubsub, bytes):
                    listing = _typed_listing(normal, pubsub, await pool.settled())
                    unread = 2 * len(users)  # the kills' replies: read after ``then``, which runs while they run
                    closed = 0
                else:
                    closed = sum(_user_kill_count(r) for r in await connection.replies(2 * len(users)))
                    self._untyped.add(node.id)
                    listing = NodeListing(_checked(await connection.call("CLIENT", "LIST")), await pool.settled())
                    unread = 0
                ids, pubsub_ids, more_users = then(listing)
                # Rarely any IDs here (a user with a shielded session): not worth asking the server ahead for them.
                per_kill = self._known(node).ids_per_kill
                by_id = IdKills(ids, pubsub_ids, per_kill)
                rest = pack_user_kills(more_users) + by_id.payload
                count = 2 * len(more_users) + by_id.replies
                # ``more_users`` were not killed above: a held-off handshake is never entered twice.
                async with _user_kills_safe(pool, more_users):
                    connection.send(rest, count)
                    replies = await connection.replies(unread + count)
            by_user = unread + 2 * len(more_users)
            closed += sum(_user_kill_count(r) for r in replies[:unread])
            closed += sum(_checked(r) for r in replies[unread:by_user]) + by_id.closed(replies[by_user:])
            return closed + await _kill_retyped(connection, by_id.missed, per_kill)

        return await self._run(node, "kill", run)

    async def kill_in_slices(
        self,
        node: Node,
        slices: Sequence[Sequence[int]],
        decide: Callable[[int, NodeListing], KillIds],
        *,
        ready: asyncio.Future[Any],
    ) -> int:
        """Close, slice after slice, what ``decide(n, listing)`` picks (normal, pub/sub client IDs) from
        ``CLIENT LIST ID <slices[n]>``; returns how many clients the node closed.

        One connection, pipelined. The listings of the first ``LISTINGS_AHEAD`` slices go at once, ahead of
        the audit record (``ready``): a listing is read-only, so the node lists while the record is written,
        and nothing is killed before it is durable (a failed ``ready`` raises here, and nothing was killed).
        From then on each slice's kills go as soon as it is decided, the next slice's listing ahead of
        them, so that ``decide`` works on a slice while the node still kills the one before: thousands of
        IDs close in about the node's time for its listings and kills plus one slice's parsing.
        Each ID is listed before it is killed, and each kill names the client's TYPE, as in ``kill``. A node
        known to take filters together (Valkey 8.1+) lists each slice as ``client_list`` lists a node, by TYPE
        normal and pubsub: it leaves out the links and says which are pub/sub clients, where other nodes'
        listings are searched for both (a flag of each line): about half of deciding a slice (0.7-0.9 ms of the
        server's CPU per 1,000 IDs, measured).
        """
        await self.capabilities(node)  # known before the kills, which are packed by what is ``_known``

        async def run(pool: NodePool, connection: NodeConnection) -> int:
            server = self._known(node)  # here: a retry may have forgotten the server
            per_kill, typed = server.ids_per_kill, server.client_list_filters
            expected: collections.deque[IdKills | None] = collections.deque()  # in send order: None for a
            listed = closed = 0  # listing, else a batch of kills
            missed: list[int] = []

            def list_next() -> None:
                nonlocal listed
                command = ("CLIENT", "LIST", "ID", *slices[listed])
                if typed:  # the node leaves out the links and says which are pub/sub clients: no search of them here
                    connection.send(b"".join(hiredis.pack_command((*command, "TYPE", t)) for t in _TYPES), 2)
                else:
                    connection.send(hiredis.pack_command(command), 1)
                expected.append(None)
                listed += 1

            async def read_kills(kills: IdKills) -> None:
                nonlocal closed
                closed += kills.closed(await connection.replies(kills.replies))
                missed.extend(kills.missed)

            async def next_listing() -> NodeListing:
                while (kills := expected.popleft()) is not None:  # the kills sent before this listing
                    await read_kills(kills)
                if not typed:
                    (reply,) = await connection.replies(1)
                    return NodeListing(_checked(reply), await pool.settled())
                normal, pubsub = map(_checked, await connection.replies(2))
                return _typed_listing(normal, pubsub, await pool.settled())

            while listed < min(LISTINGS_AHEAD, len(slices)):
                list_next()
            for n in range(len(slices)):
                normal, pubsub = decide(n, await next_listing())
                # Waited for idle: the record is written on the store's thread, which needs the GIL at every
                # step; deciding the slices listed meanwhile would hold it (the write took 11-23 ms, not 5-8).
                await asyncio.shield(ready)  # the deadline must not cancel the record's write itself
                if listed == n + 1 and listed < len(slices):
                    list_next()  # ahead of the kills: decided while the node kills
                by_id = IdKills(normal, pubsub, per_kill)
                connection.send(by_id.payload, by_id.replies)
                expected.append(by_id)
            for kills in expected:  # only kills are left
                assert kills is not None
                await read_kills(kills)
            return closed + await _kill_retyped(connection, missed, per_kill)

        return await self._run(node, "kill", run)

    async def ping(self, node: Node) -> None:
        async def run(_pool: NodePool, connection: NodeConnection) -> None:
            _checked(await connection.call("PING"))

        await self._run(node, "probe", run)

    async def capabilities(self, node: Node) -> Capabilities:
        """What the node's server is (HELLO: no grant beyond the documented ones); unknown if it will not say."""
        known = self._capabilities.get(node.id)
        if known is None:

            async def run(_pool: NodePool, connection: NodeConnection) -> Capabilities:
                return parse_hello(await connection.call("HELLO"))

            known = self._capabilities[node.id] = await self._run(node, "query", run)
        return known

    def _known(self, node: Node) -> Capabilities:
        """What ``node``'s server is as far as known now (IDs per kill, filters taken together): an unknown server
        where it is not, and it is forgotten when the node drops our connections (``_run``), so that a node
        restarted as an older server between our reads is never sent a kill or a listing it cannot parse."""
        return self._capabilities.get(node.id, UNKNOWN_SERVER)

    async def own(self, node: Node) -> OwnConnections:
        pool = self._pools.get(node.id)
        return await pool.settled() if pool else OwnConnections()

    @property
    def open_connections(self) -> int:
        """Connections open to nodes right now, over every pool: the process's file descriptors on nodes."""
        return self._open.count

    @property
    def pool_count(self) -> int:
        return len(self._pools)

    async def sweep_idle(self) -> int:
        """Close the pools unused for ``node_pool_idle_seconds``; the connections it closed.

        A closed pool is kept (empty) while the IDs of its closed connections may still show in a
        listing the node has not caught up on, then dropped with its capabilities.
        """
        now = asyncio.get_running_loop().time()
        idle_after = self._settings.node_pool_idle_seconds
        closed = 0
        for node_id, pool in list(self._pools.items()):
            if pool.idle_for(now) < idle_after:
                continue
            if pool.open_count:
                closed += pool.open_count
                pool.close()
            elif not pool.own:
                del self._pools[node_id]
                self._capabilities.pop(node_id, None)
                self._untyped.discard(node_id)
        return closed

    async def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()

    async def _run(
        self, node: Node, operation: Operation, work: Callable[[NodePool, NodeConnection], Awaitable[T]]
    ) -> T:
        pool = self._pool(node)
        with mapped_errors(node.id, operation, self.deadline):
            async with asyncio.timeout(self.deadline):
                for attempt in (1, 2):
                    async with pool.connection() as (connection, fresh):
                        try:
                            return await work(pool, connection)
                        except (OSError, EOFError):
                            connection.broken = True
                            # It dropped our connection: it may have restarted as another server (version).
                            self._capabilities.pop(node.id, None)
                            if fresh or attempt == 2:  # a stale pooled connection gets one retry...
                                raise
                            pool.drop_idle()  # ...on a new connection, not on another stale one
        raise AssertionError("unreachable")

    def _pool(self, node: Node) -> NodePool:
        endpoint = Endpoint(node.host, node.port, node.username, node.password, node.tls)
        pool = self._pools.get(node.id)
        if pool is not None and pool.endpoint == endpoint:
            return pool
        if pool is not None:  # the node moved or its credentials changed
            pool.close()
            self._capabilities.pop(node.id, None)
            self._untyped.discard(node.id)
        s = self._settings
        pool = NodePool(
            endpoint,
            size=s.node_pool_size,
            client_name=s.own_client_name,
            ssl_context=self._tls,
            connect_timeout=s.node_connect_timeout_seconds,
            tally=self._open,
        )
        self._pools[node.id] = pool
        return pool


_TYPES = ("normal", "pubsub")  # every client but the replication links (types master and replica)
_TYPED_LISTING = b"".join(hiredis.pack_command(("CLIENT", "LIST", "TYPE", t)) for t in _TYPES)


def _user_kills_safe(pool: NodePool, users: Sequence[str]) -> AbstractAsyncContextManager[object]:
    """Where the kills name the user our connections are until their AUTH, none of ours may be in its handshake."""
    return pool.handshakes_held_off() if PRE_AUTH_USER in users else nullcontext()


def _typed_listing(normal: bytes, pubsub: bytes, own: OwnConnections) -> NodeListing:
    """A node's ``TYPE normal`` and ``TYPE pubsub`` listings as one: no replication link, the pub/sub clients last."""
    return NodeListing(_lines(normal) + _lines(pubsub), own, links_excluded=True, pubsub_tail=_count(pubsub))


def _lines(reply: bytes) -> bytes:
    """A listing ending with its line's newline (every server writes one; joined listings need it)."""
    return reply if not reply or reply.endswith(b"\n") else reply + b"\n"


def _count(reply: bytes) -> int:
    return _lines(reply).count(b"\n")


def _user_kill_count(reply: Any) -> int:
    """A per-user kill's count; a user deleted since it was known (the node: "No such user") closed nothing."""
    if isinstance(reply, ReplyError) and str(reply).startswith("ERR No such user"):
        return 0
    return int(_checked(reply))


def _checked(reply: Any) -> Any:
    if isinstance(reply, ReplyError):
        raise CommandFailed(reply)
    return reply


def parse_hello(reply: Any) -> Capabilities:
    """HELLO's map (a flat list in RESP2): ``server`` redis|valkey, ``version`` x.y.z. An error reply or
    another shape (a proxy) reads as an unknown server, which gets no server-side filters."""
    if not isinstance(reply, list):
        return UNKNOWN_SERVER
    fields = {k.decode(): v.decode() for k, v in zip(reply[::2], reply[1::2], strict=False) if isinstance(v, bytes)}
    version = tuple(int(p) for p in re.findall(r"\d+", fields.get("version", "0"))[:3]) or (0,)
    return Capabilities(fields.get("server", "unknown"), version)


class IdKills:
    """The kills of normal clients' and pub/sub clients' IDs, ``per_kill`` IDs to a command, each naming its TYPE:
    the payload, and how many replies it asks for (each the number of clients that command closed).

    ``closed(replies)`` counts what they closed and keeps in ``missed`` the IDs of the commands that closed
    fewer clients than they named (every ID of such a command, where it names several)."""

    def __init__(self, normal: Sequence[int], pubsub: Sequence[int], per_kill: int) -> None:
        self.payload, self.replies = b"", 0
        self.missed: list[int] = []
        self._by_type, self._per_kill = (normal, pubsub), per_kill
        for ids, kind in ((normal, "normal"), (pubsub, "pubsub")):
            if per_kill == 1:
                self.payload += pack_kills(ids, kind)
                self.replies += len(ids)
                continue
            groups = [ids[i : i + per_kill] for i in range(0, len(ids), per_kill)]
            self.payload += b"".join(pack_grouped_kill(group, kind) for group in groups)
            self.replies += len(groups)

    def closed(self, replies: Sequence[Any]) -> int:
        counts = [_checked(r) for r in replies]
        closed = sum(counts)
        if closed < sum(map(len, self._by_type)):  # each ID closes one client at most: else none was missed
            step = self._per_kill
            commands = (ids[i : i + step] for ids in self._by_type for i in range(0, len(ids), step))
            self.missed = [i for ids, n in zip(commands, counts, strict=True) if n < len(ids) for i in ids]
        return closed


async def _kill_retyped(connection: NodeConnection, missed: Sequence[int], per_kill: int) -> int:
    """Kill again, by the TYPE they have now, the ``missed`` IDs the node still has: a client listed as normal
    that subscribed before its kill (or a subscriber that unsubscribed) is of the other TYPE, which its kill
    did not name. One listing of those IDs tells which are still there and what they are now; most
    are simply gone (they left by themselves). A replication link among them (a client that ran PSYNC
    since) stays. Returns how many this closed; a node that will not list them closes nothing more here."""
    if not missed:
        return 0
    reply = await connection.call("CLIENT", "LIST", "ID", *missed)
    if not isinstance(reply, bytes):
        return 0
    listing = ClientList(reply)
    links = listing.ids_with_replication_flag()
    normal, pubsub = listing.ids_by_type(i for i in range(len(listing)) if listing.id_of(i) not in links)
    again = IdKills(normal, pubsub, per_kill)
    if not again.replies:
        return 0
    return again.closed(await connection.batch(again.payload, again.replies))


def pack_grouped_kill(ids: Sequence[int], kind: str) -> bytes:
    """``CLIENT KILL ID <id> <id>... TYPE <kind> SKIPME yes`` (Valkey 8.1+): one scan of the node's clients for all."""
    return hiredis.pack_command(("CLIENT", "KILL", "ID", *map(int, ids), "TYPE", kind, "SKIPME", "yes"))


def pack_kills(ids: Sequence[int], kind: str = "normal") -> bytes:
    """``CLIENT KILL ID <id> TYPE <kind> SKIPME yes`` for every ID, as one RESP payload.

    Hand-packed: a homogeneous batch is one template joined around each ID's digits, where generic
    packing of 5,000 commands costs more than the node takes to run them.
    """
    if not ids:
        return b""
    head = "*8\r\n$6\r\nCLIENT\r\n$4\r\nKILL\r\n$2\r\nID\r\n$"
    tail = f"\r\n$4\r\nTYPE\r\n${len(kind)}\r\n{kind}\r\n$6\r\nSKIPME\r\n$3\r\nyes\r\n"
    digits = [str(int(client_id)) for client_id in ids]
    return (head + (tail + head).join([f"{len(d)}\r\n{d}" for d in digits]) + tail).encode()


def pack_user_kills(users: Sequence[str]) -> bytes:
    """``CLIENT KILL TYPE normal|pubsub USER <u> SKIPME yes``: every client session of a user, in one pass of the node.

    TYPE excludes replication links (types master/replica); SKIPME spares the sending connection.
    """
    return b"".join(
        hiredis.pack_command(("CLIENT", "KILL", "TYPE", kind, "USER", user, "SKIPME", "yes"))
        for user in users
        for kind in ("normal", "pubsub")
    )
