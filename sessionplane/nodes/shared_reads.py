"""Concurrent reads of one thing share one read that starts after each of them asked.

Ten callers listing the same node at once need not cost the node ten listings, nor the server ten
parses of the reply: a caller that asks while a read of the same key is in flight waits for it to
end, then shares the next one with every caller that asked meanwhile. Each caller's answer thus comes
from a read sent after it asked, never from one already on its way when it arrived (a client that
connected, then asked to see its session, is in the listing it gets). At most one read per key is in
flight, and one more is gathering callers. A caller alone reads in its own task, as if unshared.

Written here because asyncio's single-flight helpers (async-lru's, for one: concurrent calls share one call)
hand a newcomer the call already in flight, whose answer may predate its question.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SharedReads(Generic[T]):
    def __init__(self, patience: float) -> None:
        self._patience = patience  # how long a caller waits for a shared read: the reads' own deadline
        self._gathering: dict[Hashable, asyncio.Task[T]] = {}  # the next read of a key, not started yet
        self._in_flight: dict[Hashable, asyncio.Future[None]] = {}  # done when that key's read ends

    async def read(self, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
        """``fetch()``'s result, or that of a read of ``key`` started after this call (``TimeoutError`` past
        ``patience``). Callers of one key must fetch the same thing: a shared read is its first caller's."""
        if key in self._in_flight or key in self._gathering:
            return await self._join(key, fetch)
        return await self._fetch(key, fetch)  # alone: in the caller's own task, as if unshared

    async def _join(self, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
        task = self._gathering.get(key)
        if task is None:
            task = self._gathering[key] = asyncio.ensure_future(self._next(key, fetch))
            task.add_done_callback(_retrieve)
        async with asyncio.timeout(self._patience):
            return await asyncio.shield(task)  # a caller that gives up leaves the read to the others

    async def _next(self, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
        try:
            if (previous := self._in_flight.get(key)) is not None:
                await previous  # only ever done with None, whatever that read's outcome (its callers')
        finally:
            del self._gathering[key]  # from here on, a newcomer may have asked after this read went out
        return await self._fetch(key, fetch)

    async def _fetch(self, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
        ended = self._in_flight[key] = asyncio.get_running_loop().create_future()
        try:
            return await fetch()
        finally:
            del self._in_flight[key]
            ended.set_result(None)

    def __len__(self) -> int:
        """Keys with a read in flight or gathering callers (none once every read is done)."""
        return len(self._gathering.keys() | self._in_flight.keys())


def _retrieve(task: asyncio.Task[object]) -> None:
    """A shared read whose callers all gave up: its error is nobody's to log (each saw its own deadline)."""
    if not task.cancelled():
        task.exception()
