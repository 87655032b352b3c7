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

How the counters are written (an asyncpg pool of the limiter's own on PostgreSQL): ``counters.py``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from sessionplane.auth.principal import Principal
from sessionplane.db import Database
from sessionplane.errors import Throttled
from sessionplane.limits.counters import Counters, PostgresCounters, SqlCounters


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
        postgres = db.engine.dialect.name == "postgresql"
        self._counters: Counters = PostgresCounters(db.url) if postgres else SqlCounters(db.engine)

    async def close(self) -> None:
        await self._counters.close()

    async def check(self, principal: Principal) -> None:
        """Count this request; ``Throttled`` when the caller or its project is over its limit in this window."""
        if not self.limits.on:
            return
        now = self._clock()
        window = int(now // self.limits.window_seconds)
        wanted = _subjects(principal, self.limits)
        counts = await self._counters.bump(list(wanted), window)
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
        return await self._counters.prune(int(self._clock() // self.limits.window_seconds))


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
