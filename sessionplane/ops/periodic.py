"""A coroutine run every ``interval`` seconds in the serving process, until stopped.

Rounds never overlap: a round that overruns its interval is followed at once by the next. A
failing round is logged and the loop goes on (a sampler that stops on the first store hiccup
would leave holes nobody notices).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)
_CANCEL_AGAIN_SECONDS = 1.0


class Periodic:
    def __init__(self, name: str, interval: float, work: Callable[[], Awaitable[object]]) -> None:
        self.name = name
        self._interval = interval
        self._work = work
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        while not task.done():
            task.cancel()
            # A cancel can be lost inside a round: redis-py (discovery) sends through asyncio.wait_for,
            # which on Python 3.11 can drop a cancel that lands as the send completes, and code may turn
            # one into an error that the loop logs as a failed round before going on. Awaiting the task
            # after a single cancel then waits forever: a CI run hung on it at a test service's shutdown.
            await asyncio.wait({task}, timeout=_CANCEL_AGAIN_SECONDS)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            try:
                await self._work()
            except Exception:
                log.exception("%s: round failed", self.name)
            due = max(due + self._interval, loop.time())
            await asyncio.sleep(due - loop.time())
