"""Node pools against a real node, through the adapter the service uses: the idle sweep, stale connections.

A swept pool's connections are closed at once, but the node may still list them for a moment: the
IDs stay in the pool's own IDs, so a listing taken right after the sweep never shows our closed
connection as a client session. A pool in use is never swept.
"""

from __future__ import annotations

import asyncio

from sessionplane.demo.servers import RedisServer
from sessionplane.inventory.records import Node
from sessionplane.nodes.adapter import NodeAdapter
from sessionplane.settings import Settings

IDLE = 0.2


def node_of(server: RedisServer) -> Node:
    return Node("n1", "i1", "g1", "node_1", "master", "normal", server.host, server.port, False)


def adapter_for(tmp_path) -> NodeAdapter:
    return NodeAdapter(Settings(data_dir=tmp_path, node_pool_idle_seconds=IDLE))


def test_a_swept_pool_closes_its_connection_and_still_filters_its_id(tmp_path, cluster):
    node = node_of(cluster.start_server())

    async def scenario() -> None:
        adapter = adapter_for(tmp_path)
        try:
            first = await adapter.client_list(node)
            (ours,) = first.own_ids
            assert adapter.open_connections == 1
            assert await adapter.sweep_idle() == 0  # used just now
            await asyncio.sleep(IDLE * 1.5)
            assert await adapter.sweep_idle() == 1
            assert adapter.open_connections == 0
            assert adapter.pool_count == 1  # kept while the closed connection's ID may still be listed
            again = await adapter.client_list(node)  # a new connection, on the same pool
            assert ours in again.own_ids
            assert len(again.own_ids) == 2
            assert adapter.open_connections == 1
        finally:
            await adapter.close()

    asyncio.run(scenario())


def test_a_pool_in_use_is_not_swept(tmp_path, cluster):
    server = cluster.start_server()
    node = node_of(server)

    async def scenario() -> None:
        adapter = adapter_for(tmp_path)
        try:
            await adapter.client_list(node)
            await asyncio.sleep(IDLE * 1.5)
            pool = adapter._pool(node)  # hold a connection as a long call would
            async with pool.connection():
                await asyncio.sleep(IDLE * 1.5)
                assert await adapter.sweep_idle() == 0
                assert adapter.open_connections == 1
            assert await adapter.sweep_idle() == 0  # just released: in use until now
        finally:
            await adapter.close()

    asyncio.run(scenario())


def test_a_call_after_the_node_dropped_every_pooled_connection_succeeds(tmp_path, cluster):
    """``CLIENT KILL USER`` of the user sessionplane shares with clients drops all its idle connections:
    the retry after the first stale one goes to a new connection, not to the next stale one."""
    server = cluster.start_server()
    node = node_of(server)

    async def scenario() -> None:
        adapter = adapter_for(tmp_path)
        try:
            await asyncio.gather(*(adapter.client_list(node) for _ in range(4)))
            assert adapter.open_connections >= 2  # several idle pooled connections
            with server.client() as client:
                client.execute_command("CLIENT", "KILL", "TYPE", "normal", "USER", "default", "SKIPME", "yes")
            listing = await adapter.client_list(node)
            assert len(listing.own_ids) >= 2
        finally:
            await adapter.close()

    asyncio.run(scenario())
