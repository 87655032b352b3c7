"""``LeasedNodes``: replicas on one PostgreSQL store divide the nodes to sample through leases in the store.

Each sampler round a replica, in one transaction:

1. renews its heartbeat in ``sampler_replicas``: the live replicas are those whose heartbeat has
   not expired, and each holds ``nodes // live`` or ``ceil(nodes / live)`` nodes (its share);
2. renews the leases it still holds (``owner = me``, whether or not they lapsed meanwhile: nobody
   took them). While a live replica holds fewer than ``nodes // live`` (one joined), those above
   that give the rest back (expired at once), for the short one to claim;
3. claims free nodes (no lease, or an expired one) up to its share, with one conditional upsert.
   A node left free for a whole interval is claimed whatever the share (a safety net should the
   count of live replicas be wrong);
4. samples what it holds.

Rounds of different replicas never overlap (a PostgreSQL advisory lock held by the transaction):
two rounds locking lease rows in different orders would deadlock, and a round takes milliseconds
once per interval. The upserts stay conditional all the same.

Leases and heartbeats last one interval from the round that renewed them. A replica that dies
stops renewing: its leases lapse at most one interval after its last round, and the first round of
another replica after that (at most one interval later) claims them. So its nodes are sampled
again within two intervals of their last sample. While replicas join, the nodes handed over miss
at most one round.

Times are this replica's clock, as for rule leases: replicas need clocks in step (NTP), well
within an interval. Both tables are untracked by the store revision (they churn every round).
"""

from __future__ import annotations

import math
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, literal, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from sessionplane.db import Database
from sessionplane.history.tables import NodeLeaseRow, SamplerReplicaRow
from sessionplane.ops.fleet import Target
from sessionplane.schema import UTCDateTime, utcnow

_leases: Table = NodeLeaseRow.__table__  # type: ignore[assignment]
_replicas: Table = SamplerReplicaRow.__table__  # type: ignore[assignment]
_FORGET_REPLICAS_AFTER = timedelta(hours=1)  # a dead replica's heartbeat row is pruned this long after
_ROUND_LOCK = 0x5E55_1012  # a PostgreSQL advisory lock key of our own (db.py's migration lock is 0x5E551011)


@dataclass(frozen=True)
class Lease:
    owner: str
    expires_at: datetime


class LeasedNodes:
    def __init__(
        self,
        db: Database,
        *,
        interval_seconds: float,
        owner: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self._duration = timedelta(seconds=interval_seconds)
        self.owner = owner or replica_name()  # this replica, as its leases name it
        self._clock = clock

    async def claim(self, targets: Sequence[Target]) -> Sequence[Target]:
        """The subset of ``targets`` this replica samples this round (its leases renewed or newly taken)."""
        now = self._clock()
        node_ids = sorted({t.node.id for t in targets})
        async with self._db.transaction() as s:
            if self._db.engine.dialect.name == "postgresql":  # one round at a time, across replicas
                await s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ROUND_LOCK})
            await s.execute(self._upsert(_replicas, [{"owner": self.owner}], now, index=_replicas.c.owner))
            live = await self._live_replicas(s, now)
            leases = await self._leases(s)
            held = await self._renew_and_release(s, node_ids, leases, live, now)
            held |= await self._take_free(s, node_ids, leases, live, len(held), now)
            await self._prune(s, node_ids, now)
        return [t for t in targets if t.node.id in held]

    async def release_all(self) -> None:
        """On a clean shutdown: give every lease back at once, for the other replicas' next rounds."""
        async with self._db.transaction() as s:
            await s.execute(delete(_leases).where(_leases.c.owner == self.owner))
            await s.execute(delete(_replicas).where(_replicas.c.owner == self.owner))

    # -- one round's steps ------------------------------------------------------------------------

    async def _live_replicas(self, s: AsyncSession, now: datetime) -> set[str]:
        rows = await s.execute(select(_replicas.c.owner).where(_replicas.c.expires_at > _at(now)))
        return {row.owner for row in rows} | {self.owner}

    async def _leases(self, s: AsyncSession) -> dict[str, Lease]:
        rows = await s.execute(select(_leases.c.node_id, _leases.c.owner, _leases.c.expires_at))
        return {row.node_id: Lease(row.owner, row.expires_at) for row in rows}

    async def _renew_and_release(
        self, s: AsyncSession, node_ids: list[str], leases: dict[str, Lease], live: set[str], now: datetime
    ) -> set[str]:
        mine = [n for n in node_ids if n in leases and leases[n].owner == self.owner]
        fewest = len(node_ids) // len(live)  # what every replica holds at least, once balanced
        if len(mine) > fewest and self._someone_short(node_ids, leases, live, fewest, now):
            # Expired now, not deleted: free for the short replica, yet not "abandoned" to whoever comes first.
            given_back = _leases.c.owner == self.owner, _leases.c.node_id.in_(mine[fewest:])
            await s.execute(update(_leases).where(*given_back).values(expires_at=_at(now)))
            mine = mine[:fewest]
        if not mine:
            return set()
        renew = (
            update(_leases)
            .where(_leases.c.owner == self.owner, _leases.c.node_id.in_(mine))
            .values(expires_at=_at(now + self._duration))
            .returning(_leases.c.node_id)
        )
        return set((await s.execute(renew)).scalars())

    def _someone_short(
        self, node_ids: list[str], leases: dict[str, Lease], live: set[str], fewest: int, now: datetime
    ) -> bool:
        """A live replica holds fewer than ``fewest``: hand over what is above it (not otherwise: no churn).

        Leases that lapsed within the last interval still count as held: a live replica renews them
        at its next round, and a moment between its rounds must not look like a shortage.
        """
        counts = dict.fromkeys(live - {self.owner}, 0)
        for node_id in node_ids:
            lease = leases.get(node_id)
            if lease is not None and lease.owner in counts and lease.expires_at > now - self._duration:
                counts[lease.owner] += 1
        return any(count < fewest for count in counts.values())

    async def _take_free(
        self,
        s: AsyncSession,
        node_ids: list[str],
        leases: dict[str, Lease],
        live: set[str],
        holding: int,
        now: datetime,
    ) -> set[str]:
        free = [n for n in node_ids if n not in leases or leases[n].expires_at <= now]
        free = [n for n in free if n not in leases or leases[n].owner != self.owner]  # ours were renewed above
        room = max(0, _share(len(node_ids), len(live)) - holding)
        # Replicas try free nodes in different orders, so that two claiming at once rarely collide.
        free.sort(key=lambda n: uuid.uuid5(uuid.NAMESPACE_OID, self.owner + n))
        abandoned = [n for n in free[room:] if n in leases and leases[n].expires_at <= now - self._duration]
        wanted = sorted(free[:room] + abandoned)
        if not wanted:
            return set()
        rows = [{"node_id": n, "owner": self.owner} for n in wanted]
        claim = self._upsert(_leases, rows, now, index=_leases.c.node_id, only_expired=True)
        return set((await s.execute(claim.returning(_leases.c.node_id))).scalars())

    async def _prune(self, s: AsyncSession, node_ids: list[str], now: datetime) -> None:
        gone = _leases.c.expires_at <= _at(now)
        if node_ids:
            gone = gone & _leases.c.node_id.not_in(node_ids)  # nodes removed from the inventory
        await s.execute(delete(_leases).where(gone))
        await s.execute(delete(_replicas).where(_replicas.c.expires_at <= _at(now - _FORGET_REPLICAS_AFTER)))

    def _upsert(
        self, table: Table, rows: list[dict[str, str]], now: datetime, *, index: Any, only_expired: bool = False
    ) -> Any:
        """Insert the rows expiring one interval from now; on a clash take the row over (when expired, if asked)."""
        dialect = sqlite if self._db.engine.dialect.name == "sqlite" else postgresql
        expires_at = now + self._duration
        statement = dialect.insert(table).values([dict(row, expires_at=expires_at) for row in rows])
        taken_over = {"owner": statement.excluded.owner, "expires_at": statement.excluded.expires_at}
        where = table.c.expires_at <= _at(now) if only_expired else None
        return statement.on_conflict_do_update(index_elements=[index], set_=taken_over, where=where)


def replica_name() -> str:
    """``host:pid:random``: an operator reading ``node_leases`` sees which process samples a node."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _share(nodes: int, replicas: int) -> int:
    return math.ceil(nodes / max(replicas, 1))


def _at(moment: datetime) -> Any:
    return literal(moment, UTCDateTime)
