"""The hand-packed CLIENT KILL batches are byte-for-byte what redis-py would send, and ask for one reply per command."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from redis.connection import Connection

from sessionplane.nodes.adapter import IdKills, pack_kills


@given(st.lists(st.integers(0, 2**63 - 1), max_size=50), st.sampled_from(["normal", "pubsub"]))
def test_packed_kills_match_redis_py(ids, kind):
    pack = Connection().pack_command
    expected = b"".join(pack("CLIENT", "KILL", "ID", i, "TYPE", kind, "SKIPME", "yes")[0] for i in ids)
    assert pack_kills(ids, kind) == expected


@given(
    st.lists(st.integers(0, 2**63 - 1), max_size=60),
    st.lists(st.integers(0, 2**63 - 1), max_size=20),
    st.sampled_from([1, 2, 7, 1000]),
)
def test_id_kills_name_per_kill_ids_to_a_command_in_order(normal, pubsub, per_kill):
    pack = Connection().pack_command
    groups = [
        (ids[i : i + per_kill], kind)
        for ids, kind in ((normal, "normal"), (pubsub, "pubsub"))
        for i in range(0, len(ids), per_kill)
    ]
    expected = b"".join(pack("CLIENT", "KILL", "ID", *g, "TYPE", kind, "SKIPME", "yes")[0] for g, kind in groups)
    kills = IdKills(normal, pubsub, per_kill)
    assert kills.payload == expected
    assert kills.replies == len(groups)
