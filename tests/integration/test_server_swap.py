"""A node restarted as another server at the same address: the kills follow the server it is now.

Valkey 8.1+ takes many IDs per ``CLIENT KILL``; Redis 7.0 reads ``CLIENT KILL ID 1 2 ...`` as a syntax
error. The adapter learns the server once (``HELLO``) and forgets it when the node drops our
connections, so the first kill after a Valkey node comes back as Redis names one ID per command.
"""

from __future__ import annotations

import asyncio

from sessionplane.demo.servers import LocalCluster, RedisServer
from sessionplane.nodes.adapter import NodeAdapter
from tests.conftest import settings_for
from tests.support import RawSession, client_ids, kill_calls, node_record


def test_kills_by_id_follow_a_node_restarted_from_valkey_as_redis(tmp_path):
    with LocalCluster(kind="valkey") as valkeys:
        valkey = valkeys.start_server()
        adapter = NodeAdapter(settings_for(tmp_path / "settings"))
        node = node_record(valkey.host, valkey.port)

        async def kill(ids: list[int]) -> int:
            return await adapter.kill(node, ids=ids)

        loop = asyncio.new_event_loop()
        opened: list[RawSession] = []

        def session(server: RedisServer, name: str) -> RawSession:
            opened.append(RawSession(server, name=name))
            return opened[-1]

        try:
            before = [session(valkey, "before") for _ in range(3)]
            assert loop.run_until_complete(kill([s.id for s in before])) == 3
            assert kill_calls(valkey) == 1  # one kill for the three IDs: the node is Valkey 8.1+

            valkey.stop()  # the same port, now a Redis 7.0 server
            (tmp_path / "redis").mkdir()
            redis = RedisServer(port=valkey.port, workdir=tmp_path / "redis").start()
            try:
                after = [session(redis, "after") for _ in range(3)]
                keep = session(redis, "keep")

                assert loop.run_until_complete(kill([s.id for s in after])) == 3

                assert all(s.closed_by_node() for s in after)
                assert not {s.id for s in after} & client_ids(redis)
                assert keep.alive()
                assert kill_calls(redis) == 3  # one per ID, as Redis takes them
            finally:
                redis.stop()
        finally:
            for raw in opened:
                raw.close()
            loop.run_until_complete(adapter.close())
            loop.close()
