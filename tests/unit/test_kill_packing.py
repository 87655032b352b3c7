"""The hand-packed CLIENT KILL batch is byte-for-byte what redis-py would send."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from redis.connection import Connection

from sessionplane.nodes.adapter import pack_kills


@given(st.lists(st.integers(0, 2**63 - 1), max_size=50), st.sampled_from(["normal", "pubsub"]))
def test_packed_kills_match_redis_py(ids, kind):
    pack = Connection().pack_command
    expected = b"".join(pack("CLIENT", "KILL", "ID", i, "TYPE", kind, "SKIPME", "yes")[0] for i in ids)
    assert pack_kills(ids, kind) == expected
