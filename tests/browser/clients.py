"""A client that comes back when the node closes it, as a pool with retry does."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from sessionplane.demo.servers import RedisServer
from tests.support import RawSession


class ReconnectingClient:
    """One named session on a node; when the node closes it (its socket reads EOF), it connects once
    more from the same IP with the same name, ``after`` seconds later. ``came_back`` is set once it has."""

    def __init__(self, server: RedisServer, *, name: str, after: float = 0.0) -> None:
        self.server = server
        self.name = name
        self.after = after
        self.first = RawSession(server, name=name)
        self.again: RawSession | None = None
        self.came_back = threading.Event()
        self._stopping = False
        self._watcher = threading.Thread(target=self._watch, name=f"reconnect-{name}", daemon=True)
        self._watcher.start()

    @property
    def id(self) -> int:
        return self.first.id

    def _watch(self) -> None:
        try:
            closed = self.first.sock.recv(1, socket.MSG_PEEK) == b""  # blocks until the node speaks or closes
        except ConnectionResetError:
            closed = True
        except OSError:
            closed = False
        if closed and not self._stopping:
            time.sleep(self.after)
            self.again = RawSession(self.server, name=self.name)
            self.came_back.set()

    def stop(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):  # already closed by the node
            self.first.sock.shutdown(socket.SHUT_RDWR)  # wakes the watcher's blocking read
        self._watcher.join()
        self.first.close()
        if self.again:
            self.again.close()
