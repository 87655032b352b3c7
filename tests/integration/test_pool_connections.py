"""Node pools against a real node, through the adapter the service uses: our own connections, the idle
sweep, stale connections, a restart.

A swept pool's connections are closed at once, but the node may still list them for a moment: the
IDs stay in the pool's own IDs, so a listing taken right after the sweep never shows our closed
connection as a client session. A pool in use is never swept. After a restart, the IDs of our
closed connections belong to other clients: only the address the node saw ours from tells them apart.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sessionplane.demo.servers import AclUser, LocalCluster, RedisServer
from sessionplane.inventory.records import Node
from sessionplane.nodes.adapter import NodeAdapter, NodeListing
from sessionplane.nodes.grants import OWN_USER_RULES
from sessionplane.sessions.selection import Protection, client_sessions
from sessionplane.settings import Settings
from tests.support import RawSession

IDLE = 0.2


def node_of(server: RedisServer) -> Node:
    return Node("n1", "i1", "g1", "node_1", "master", "normal", server.host, server.port, False)


@asynccontextmanager
async def open_adapter(tmp_path) -> AsyncIterator[NodeAdapter]:
    adapter = NodeAdapter(Settings(data_dir=tmp_path, node_pool_idle_seconds=IDLE))
    try:
        yield adapter
    finally:
        await adapter.close()


def session_ids(reply: NodeListing) -> set[int]:
    """The IDs of a listing's client sessions: every line but our own connections (and links)."""
    listing = reply.parsed()
    return {listing.ids[i] for i in client_sessions(listing, Protection().shielded(listing, reply.own))}


def test_a_swept_pool_closes_its_connection_and_still_filters_its_id(tmp_path, cluster):
    node = node_of(cluster.start_server())

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
    node = node_of(server)

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
    node = node_of(server)

    async def scenario() -> None:
        async with open_adapter(tmp_path) as adapter:
            await asyncio.gather(*(adapter.client_list(node) for _ in range(4)))
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
    node = node_of(server)

    async def scenario() -> None:
        async with open_adapter(tmp_path) as adapter:
            await asyncio.gather(*(adapter.client_list(node) for _ in range(4)))
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
                await asyncio.gather(*(adapter.client_list(node) for _ in range(3)))
                reply = await adapter.client_list(node)
                assert reply.own.open and set(reply.own.open) <= set(reply.parsed().ids)
                assert not session_ids(reply) & reply.own.open
                await asyncio.sleep(IDLE * 1.5)
                assert await adapter.sweep_idle() == len(reply.own.open)
                assert set((await adapter.own(node)).closed.values()) == {None}  # no address to go by

        asyncio.run(scenario())
