"""Rate limits: at most N requests per window per caller (access key or user) and per project, across replicas.

Checked right after authentication, so that only known callers are counted (an unauthenticated
flood is the lockouts' business and never writes here). Off unless a limit is set.

The mechanism: fixed-window counters in the store, one upsert per request. The caller's and the
project's counters of the current window are bumped in one ``INSERT .. ON CONFLICT DO UPDATE ..
RETURNING`` (one round trip, atomic per row), and the request is refused when either count is over
its limit, with ``Retry-After`` the seconds left in the window. Every replica on one PostgreSQL store
counts into the same rows, so the limits hold for the service as a whole. A fixed window lets a
caller send up to twice the limit across a window boundary; a sliding window would need the
previous window's count as well (a second row per subject to read), for a burst bound that matters
little at per-minute limits. Old windows are pruned by a background loop.

On PostgreSQL the counters are written over connections of their own with ``synchronous_commit``
off: a commit then returns without waiting for the WAL to reach the disk (an fsync, milliseconds
on a loaded machine), and a crash of the database may forget the last fraction of a second of
counts, which a rate limit can afford. Nothing else is written over these connections.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, delete, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from sessionplane.auth.principal import Principal
from sessionplane.db import Database
from sessionplane.errors import Throttled
from sessionplane.limits.tables import RateCounterRow

_table: Table = RateCounterRow.__table__  # type: ignore[assignment]

# Bump one or two counters of one window, creating them at 1; their counts after. SQL text, the same on
# PostgreSQL and SQLite: SQLAlchemy does not cache the compiled form of an ON CONFLICT insert, and
# compiling it anew on every request took longer than the round trip to the database.
_UPSERT = {
    1: text(
        'INSERT INTO rate_counters (subject, "window", hits) VALUES (:subject_0, :window, 1) '
        'ON CONFLICT (subject, "window") DO UPDATE SET hits = rate_counters.hits + 1 RETURNING subject, hits'
    ),
    2: text(
        'INSERT INTO rate_counters (subject, "window", hits) VALUES (:subject_0, :window, 1), (:subject_1, :window, 1) '
        'ON CONFLICT (subject, "window") DO UPDATE SET hits = rate_counters.hits + 1 RETURNING subject, hits'
    ),
}


@dataclass(frozen=True)
class Limits:
    per_caller: int | None  # requests per window per access key (AK/SK) or user (token); None: no limit
    per_project: int | None
    window_seconds: int

    @property
    def on(self) -> bool:
        return self.per_caller is not None or self.per_project is not None


class RateLimiter:
    def __init__(self, db: Database, limits: Limits, *, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self.limits = limits
        self._clock = clock
        self._dialect: Any = sqlite if db.engine.dialect.name == "sqlite" else postgresql
        self._engine: AsyncEngine | None = None  # made on first use: no pool while the limits are off

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            if self._dialect is sqlite:
                self._engine = self._db.engine  # one process, one file: the store's own engine
            else:
                # One round trip per request: autocommit (no BEGIN, no COMMIT), no pre-ping (a connection the
                # server dropped fails one request and is thrown away), no wait for the WAL's fsync.
                no_fsync_wait = {"server_settings": {"synchronous_commit": "off"}}
                self._engine = create_async_engine(
                    self._db.url, isolation_level="AUTOCOMMIT", connect_args=no_fsync_wait
                )
        return self._engine

    async def close(self) -> None:
        if self._engine is not None and self._engine is not self._db.engine:
            await self._engine.dispose()
        self._engine = None

    async def check(self, principal: Principal) -> None:
        """Count this request; ``Throttled`` when the caller or its project is over its limit in this window."""
        if not self.limits.on:
            return
        now = self._clock()
        window = int(now // self.limits.window_seconds)
        wanted = _subjects(principal, self.limits)
        parameters = {f"subject_{n}": subject for n, subject in enumerate(wanted)} | {"window": window}
        async with self.engine.begin() as connection:  # Core, not the ORM: this runs on every request
            counts = {subject: hits for subject, hits in await connection.execute(_UPSERT[len(wanted)], parameters)}
        over = [(subject, limit) for subject, limit in wanted.items() if counts.get(subject, 0) > limit]
        if over:
            subject, limit = over[0]
            policy = subject.split(":", 1)[0]  # as Huawei's gateway words it: which policy, its limit and time
            message = (
                f"The throttling threshold has been reached: policy {policy} over ratelimit, "
                f"limit:{limit}, time:{self.limits.window_seconds} seconds"
            )
            retry_after = math.ceil((window + 1) * self.limits.window_seconds - now)
            raise Throttled(message, retry_after=max(retry_after, 1))

    async def prune(self) -> int:
        """Drop the counters of finished windows (the background loop's work)."""
        current = int(self._clock() // self.limits.window_seconds)
        async with self.engine.begin() as connection:
            result = await connection.execute(delete(_table).where(_table.c.window < current))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _subjects(principal: Principal, limits: Limits) -> dict[str, int]:
    """The counters this request moves, with their limits."""
    subjects = {}
    if limits.per_caller is not None:
        signed = principal.method == "aksk" and principal.access_key_id
        caller = f"ak:{principal.access_key_id}" if signed else f"user:{principal.user_id}"
        subjects[f"caller:{caller}"] = limits.per_caller
    if limits.per_project is not None:
        subjects[f"project:{principal.project_id}"] = limits.per_project
    return subjects
