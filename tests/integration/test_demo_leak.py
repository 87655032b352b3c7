"""The demo's leaking client: connections under one name pile up across the nodes, and go when it stops."""

from __future__ import annotations

import time

from sessionplane.demo.leak import LEAKY_NAME, LeakingClient
from tests.background import eventually
from tests.support import client_names


def leaked_on(servers) -> list[int]:
    return [client_names(server).count(LEAKY_NAME) for server in servers]


def test_the_leak_grows_round_robin_up_to_its_limit_and_is_closed_on_stop(cluster):
    servers = [cluster.start_server() for _ in range(2)]
    leak = LeakingClient(servers, every_seconds=0.05, limit=6).start()
    try:
        eventually(lambda: leaked_on(servers) == [3, 3])
        time.sleep(0.5)  # ten more periods: the limit holds, nothing more is opened
        assert leaked_on(servers) == [3, 3] and len(leak.leaked) == 6
    finally:
        leak.stop()
    eventually(lambda: leaked_on(servers) == [0, 0])
