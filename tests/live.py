"""Run the real service (uvicorn, real HTTP) in a background thread, and reach into its event loop.

Tests, the demo and the benchmarks talk to it over TCP exactly as a user would; ``call`` runs a
coroutine on the service's own loop for set-up (registering instances, users) through the same
stores the service uses.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvicorn

from sessionplane.app import create_app
from sessionplane.demo.servers import free_port
from sessionplane.server import server_config
from sessionplane.services import Services
from sessionplane.settings import Settings

T = TypeVar("T")


class LiveService:
    def __init__(self, settings: Settings, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.settings = settings
        self.host = host
        self.port = port or free_port()
        self.services = Services.build(settings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LiveService:
        app = create_app(self.settings, services=self.services)
        config = server_config(app, self.settings, host=self.host, port=self.port)
        self._server = uvicorn.Server(config)
        ready = threading.Event()
        new_loop = config.get_loop_factory() or asyncio.new_event_loop  # uvloop, as in production

        def serve() -> None:
            self._loop = new_loop()
            asyncio.set_event_loop(self._loop)
            self._loop.call_soon(ready.set)
            self._loop.run_until_complete(self._server.serve())  # type: ignore[union-attr]
            self._loop.close()

        self._thread = threading.Thread(target=serve, name="sessionplane-live", daemon=True)
        self._thread.start()
        ready.wait()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the service failed to start")
            self._thread.join(0.01)
        return self

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def stop(self) -> None:
        if self._server and self._thread:
            self._server.should_exit = True
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> LiveService:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
