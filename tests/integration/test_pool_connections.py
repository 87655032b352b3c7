"""Node pools against a real node, through the adapter the service uses: our own connections, the idle
sweep, stale connections, a restart.

A swept pool's connections are closed at once, but the node may still list them for a moment: the
IDs stay in the pool's own IDs, so a listing taken right after the sweep never shows our closed
connection as a client session. A pool in use is never swept. After a restart, the IDs of our
closed connections belong to other clients: only the address the node saw ours from tells them apart.
Until its AUTH, a connection of ours is the node's ``default`` user: a kill of that user never runs then.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from sessionplane.demo.servers import AclUser, LocalCluster, RedisServer
from sessionplane.inventory.records import Node
from sessionplane.nodes.adapter import NodeAdapter, NodeListing
from sessionplane.nodes.grants import OWN_USER_RULES
from sessionplane.settings import Settings
from tests.support import RawSession, client_ids, node_record, open_pool_connections, session_ids

IDLE = 0.2


@asynccontextmanager
async def open_adapter(tmp_path) -> AsyncIterator[NodeAdapter]:
    adapter = NodeAdapter(Settings(data_dir=tmp_path, node_pool_idle_seconds=IDLE))
    try:
        yield adapter
    finally:
        await adapter.close()


def test_a_swept_pool_closes_its_connection_and_still_filters_its_id(tmp_path, cluster):
    server = cluster.start_server()
    node = node_record(server.host, server.port)

    async def scenario() -> None:
        async with open_adapter(tmp_path) as adapter:
            first = await adapter.client_list(node)
            (ours,) = first.own.open
            assert adapter.open_connections == 1
            assert await adapter.sweep_idle() == 0  # used just now
            await asyncio.sleep(IDLE * 1.5)
            assert await adapter.sweep_idle() == 1
            assert adapter.open_connections == 0
            assert adapter.pool_count == 1  # kept while the closed connection's ID may still be listed
            again = await adapter.client_list(node)  # a new connection, on the same pool
            assert set(again.own.closed) == {ours}
            assert len(again.own.open) == 1 and ours not in again.own.open
            assert adapter.open_connections == 1

    asyncio.run(scenario())


def test_a_pool_in_use_is_not_swept(tmp_path, cluster):
    server = cluster.start_server()
    node = node_record(server.host, server.port)

    async def scenario() -> None:
        async with open_adapter(tmp_path) as adapter:
            await adapter.client_list(node)
            await asyncio.sleep(IDLE * 1.5)
            pool = adapter._pool(node)  # hold a connection as a long call would
            async with pool.connection():
                await asyncio.sleep(IDLE * 1.5)
                assert await adapter.sweep_idle() == 0
                assert adapter.open_connections == 1
            assert await adapter.sweep_idle() == 0  # just released: in use until now

    asyncio.run(scenario())


def test_a_call_after_the_node_dropped_every_pooled_connection_succeeds(tmp_path, cluster):
    """``CLIENT KILL USER`` of the user sessionplane shares with clients drops all its idle connections:
    the retry after the first stale one goes to a new connection, not to the next stale one."""
    server = cluster.start_server()
    node = node_record(server.host, server.port)

    async def scenario() -> None:
        async with open_adapter(tmp_path) as adapter:
            await open_pool_connections(adapter, node, 4)
            assert adapter.open_connections >= 2  # several idle pooled connections
            with server.client() as client:
                client.execute_command("CLIENT", "KILL", "TYPE", "normal", "USER", "default", "SKIPME", "yes")
            listing = await adapter.client_list(node)
            assert len(listing.own.open) == 1 and len(listing.own.closed) >= 2

    asyncio.run(scenario())


def test_after_a_restart_clients_given_the_ids_of_our_closed_connections_are_client_sessions(tmp_path, cluster):
    """A restarted node hands out client IDs from the start again: our connections' old IDs now name
    other clients. Ours are told apart by the address the node listed them from, so those clients are
    listed (and closable), not hidden as ours for the minute their IDs are remembered."""
    server = cluster.start_server()
    node = node_record(server.host, server.port)

    async def scenario() -> None:
        async with open_adapter(tmp_path) as adapter:
            await open_pool_connections(adapter, node, 4)
            before = (await adapter.own(node)).open
            assert len(before) >= 2
            server.stop()
            server.start()
            clients = [RawSession(server) for _ in range(12)]
            try:
                reused = before & {c.id for c in clients}
                assert reused  # the restart gave our old IDs to these clients: the case under test
                reply = await adapter.client_list(node)  # a stale connection fails, a new one lists
                assert reused <= set(reply.own.closed)
                listed = session_ids(reply)
                assert {c.id for c in clients} <= listed
                assert not listed & reply.own.open  # the connection that listed is still ours
            finally:
                for client in clients:
                    client.close()

    asyncio.run(scenario())


def test_without_client_info_our_connections_go_by_id_alone(tmp_path):
    """An ACL user without ``+client|info`` (the grants the README listed before it): the handshake
    still succeeds, and our connections are still never client sessions, known by ID alone."""
    grants = tuple(rule for rule in OWN_USER_RULES if rule != "+client|info")
    with LocalCluster(password="n0de-pa55", acl_user=AclUser("sp", "sp-pa55", grants)) as local:
        server = local.start_server()
        node = Node("n1", "i1", "g1", "node_1", "master", "normal", server.host, server.port, False, "sp", "sp-pa55")

        async def scenario() -> None:
            async with open_adapter(tmp_path) as adapter:
                await open_pool_connections(adapter, node, 3)
                reply = await adapter.client_list(node)
                assert reply.own.open and set(reply.own.open) <= set(reply.parsed().ids)
                assert not session_ids(reply) & reply.own.open
                await asyncio.sleep(IDLE * 1.5)
                assert await adapter.sweep_idle() == len(reply.own.open)
                assert set((await adapter.own(node)).closed.values()) == {None}  # no address to go by

        asyncio.run(scenario())


class HandshakeHolder:
    """A TCP proxy in front of a node that holds back the first bytes of its first connection (our
    handshake) for ``hold`` seconds: meanwhile the node has accepted that connection and lists it, as the
    ``default`` user. Later connections pass straight through."""

    def __init__(self, server: RedisServer, hold: float) -> None:
        self._server, self._hold = server, hold
        self.first_connected = asyncio.Event()
        self.upstream_addrs: list[str] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> tuple[str, int]:
        self._listener = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self._listener.sockets[0].getsockname()[:2]

    async def close(self) -> None:
        self._listener.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        first = not self.first_connected.is_set()
        node_reader, node_writer = await asyncio.open_connection(self._server.host, self._server.port)
        host, port = node_writer.get_extra_info("sockname")[:2]
        self.upstream_addrs.append(f"{host}:{port}")
        self.first_connected.set()
        for task in (
            self._pipe(client_reader, node_writer, self._hold if first else 0.0),
            self._pipe(node_reader, client_writer, 0.0),
        ):
            running = asyncio.ensure_future(task)
            self._tasks.add(running)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hold: float) -> None:
        try:
            while data := await reader.read(1 << 16):
                await asyncio.sleep(hold)
                hold = 0.0
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()


async def _kill_default(adapter: NodeAdapter, node: Node) -> int:
    return await adapter.kill(node, users=["default"])


async def _list_then_kill_default(adapter: NodeAdapter, node: Node) -> int:
    recorded = asyncio.get_running_loop().create_future()
    recorded.set_result("audit-id")
    return await adapter.list_then_kill_users(node, ["default"], ready=recorded, then=lambda _listing: ((), (), ()))


@asynccontextmanager
async def listing_in_its_handshake(
    server: RedisServer, adapter: NodeAdapter, watcher
) -> AsyncIterator[tuple[Node, HandshakeHolder, asyncio.Task[NodeListing]]]:
    """A listing of ``server`` (as the ACL user ``sp``) whose new connection the node has accepted and
    lists as ``default`` (``watcher`` sees it so), its handshake held back by a ``HandshakeHolder``."""
    holder = HandshakeHolder(server, hold=1.0)
    host, port = await holder.start()
    node = Node("n1", "i1", "g1", "node_1", "master", "normal", host, port, False, "sp", "sp-pa55")
    try:
        listing = asyncio.create_task(adapter.client_list(node))  # opens the held connection
        await holder.first_connected.wait()
        while not _listed_as_default(watcher, holder.upstream_addrs[0]):
            await asyncio.sleep(0.01)  # the case under test: the node lists ours as default
        yield node, holder, listing
    finally:
        await holder.close()


def _acl_cluster() -> LocalCluster:
    return LocalCluster(password="n0de-pa55", acl_user=AclUser("sp", "sp-pa55", OWN_USER_RULES))


@pytest.mark.parametrize("kill", [_kill_default, _list_then_kill_default], ids=["kill", "list-then-kill"])
def test_a_kill_of_the_default_user_never_closes_our_connection_in_its_handshake(tmp_path, kill):
    """sessionplane as its own ACL user, clients as ``default``: a close-all kills the user ``default``.
    A connection of ours that the node has accepted but not yet authenticated is ``default`` too; the
    kill waits for its handshake, so the call opening it succeeds and the connection is ours, open."""
    with _acl_cluster() as local:
        server = local.start_server()

        async def scenario() -> None:
            app = RawSession(server)  # the default user, with the node's password
            watcher = server.client()  # the default user too
            try:
                async with (
                    open_adapter(tmp_path) as adapter,
                    listing_in_its_handshake(server, adapter, watcher) as (node, _holder, listing),
                ):
                    closed = await kill(adapter, node)  # on a second connection

                    reply = await listing
                    assert closed == 2 and app.closed_by_node()  # the app and the watcher
                    assert len(reply.own.open) == 2 and reply.own.open <= client_ids(server)
                    assert not reply.own.closed  # no connection of ours was lost
            finally:
                app.close()
                watcher.close()

        asyncio.run(scenario())


def test_a_connection_another_process_killed_in_its_handshake_is_opened_again(tmp_path):
    """Another replica's close-all may kill ``default`` while a connection of ours is still that user: the
    node closes it in its handshake, and the call goes on, on a new connection."""
    with _acl_cluster() as local:
        server = local.start_server()

        async def scenario() -> None:
            other_replica = server.client()
            try:
                async with (
                    open_adapter(tmp_path) as adapter,
                    listing_in_its_handshake(server, adapter, other_replica) as (_node, holder, listing),
                ):
                    killed = other_replica.execute_command(
                        "CLIENT", "KILL", "TYPE", "normal", "USER", "default", "SKIPME", "yes"
                    )

                    reply = await listing
                    assert killed == 1 and len(holder.upstream_addrs) == 2  # ours, in its handshake; then again
                    assert len(reply.own.open) == 1 and reply.own.open <= client_ids(server)
            finally:
                other_replica.close()

        asyncio.run(scenario())


def test_no_handshake_starts_while_a_kill_of_the_default_user_runs(tmp_path, cluster):
    """The other order: a kill of ``default`` on the wire holds back the next handshake until it is answered."""
    server = cluster.start_server()
    node = node_record(server.host, server.port)

    async def scenario() -> None:
        async with open_adapter(tmp_path) as adapter:
            await adapter.client_list(node)
            pool = adapter._pool(node)
            async with pool.connection(), pool.handshakes_held_off():  # as a kill holds them
                second = asyncio.create_task(adapter.client_list(node))  # needs a new connection
                await asyncio.sleep(0.2)
                assert not second.done() and adapter.open_connections == 1
            assert len((await second).own.open) == 2

    asyncio.run(scenario())


def _listed_as_default(client, addr: str) -> bool:
    return any(c["addr"] == addr and c["user"] == "default" for c in client.client_list())
