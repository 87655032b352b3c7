"""Is the store reachable? One ``SELECT 1`` with a timeout, shared by every /readyz call within a second.

/readyz is unauthenticated, so the work a caller can cause must stay bounded: concurrent and
repeated calls reuse the answer of the last check for ``reuse_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import text

from sessionplane.db import Database

log = logging.getLogger(__name__)


class Readiness:
    def __init__(self, db: Database, *, timeout_seconds: float = 2.0, reuse_seconds: float = 1.0) -> None:
        self._db = db
        self._timeout = timeout_seconds
        self._reuse = reuse_seconds
        self._lock = asyncio.Lock()
        self._checked_at = -float("inf")
        self._ready = False

    async def store_reachable(self) -> bool:
        async with self._lock:
            if time.monotonic() - self._checked_at >= self._reuse:
                self._ready = await self._check()
                self._checked_at = time.monotonic()
            return self._ready

    async def _check(self) -> bool:
        try:
            async with asyncio.timeout(self._timeout), self._db.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as exc:  # any failure means "not ready"; the type is enough for the log
            log.warning("readiness: the store is unreachable (%s)", type(exc).__name__)
            return False
        return True
