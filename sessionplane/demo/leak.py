"""A client that leaks: it opens one connection under one name every few seconds and never closes it.

The demo runs it so that ``GET .../session-growth`` has a leak suspect to show after a few
minutes. It stops by itself at ``limit`` connections (the demo stays small) and closes every
connection it opened when stopped.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence

import redis

from sessionplane.demo.servers import RedisServer

LEAKY_NAME = "leaky-worker"


class LeakingClient:
    def __init__(
        self, servers: Sequence[RedisServer], *, name: str = LEAKY_NAME, every_seconds: float = 10.0, limit: int = 120
    ) -> None:
        self._servers = list(servers)
        self._name = name
        self._every = every_seconds
        self._limit = limit
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._leak, name="demo-leak", daemon=True)
        self.leaked: list[redis.Redis] = []

    def start(self) -> LeakingClient:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        for client in self.leaked:
            client.close()
        self.leaked.clear()

    def _leak(self) -> None:
        for server in itertools.islice(itertools.cycle(self._servers), self._limit):
            if self._stopping.wait(self._every):
                return
            client = server.client(client_name=self._name, single_connection_client=True)
            try:
                client.ping()
            except redis.RedisError:
                client.close()  # the node is gone (the demo is stopping): nothing to leak into
                continue
            self.leaked.append(client)
