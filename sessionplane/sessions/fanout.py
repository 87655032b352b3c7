"""Concurrent work over many nodes, at most ``limit`` at a time.

Every fan-out over nodes goes through here: an unbounded ``gather`` over 256 nodes opens 256
connections (file descriptors) at once and lets one request crowd out the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def bounded(works: Iterable[Awaitable[T]], *, limit: int) -> list[T | BaseException]:
    """Await every work, ``limit`` at once; results in order, exceptions returned in place."""
    gate = asyncio.Semaphore(limit)

    async def one(work: Awaitable[T]) -> T:
        async with gate:
            return await work

    return await asyncio.gather(*(one(w) for w in works), return_exceptions=True)
