"""The store revision: one counter that moves with every change the in-process caches depend on.

Small calls are served from process memory (a principal's identity, access keys, policies,
instance and node lookups), yet a change made anywhere (this process, the CLI, another replica on
the same PostgreSQL) must be refused by the very next request. So:

- every ORM write to a tracked table bumps ``revisions.value`` in the same transaction. A session
  hook does it, so that no write path (including ones added later) can forget it; every table is
  tracked except the few that no cache reads (``UNTRACKED_TABLES``);
- each request reads that one value once, at authentication (``begin_request``), and every cache
  is dropped when it moved; later lookups of the same request reuse that read. Anything else
  (the CLI, background work) reads it on each cached lookup (``ensure_fresh``).

A value loaded while the revision moved is not cached (``Cache.get``), so a slow load cannot put
stale data back after a drop.
"""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from collections.abc import Awaitable, Callable, Hashable
from itertools import chain
from typing import Any, Generic, TypeVar

from sqlalchemy import BigInteger, String, Table, event, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column

from sessionplane.revision_readers import reader_for
from sessionplane.schema import Base

STORE = "store"
# Append-only, or written on paths that bump explicitly (AK lockouts), or the counter itself.
UNTRACKED_TABLES = frozenset(
    {
        "audit_events",
        "auth_lockouts",
        "revisions",
        "session_samples",
        "session_rollups",
        "close_rules",
        "close_rule_runs",
        "node_leases",  # renewed by every replica every sampler round: tracked, they would drop every cache
        "sampler_replicas",
        "rate_counters",  # one upsert per request when rate limits are on
    }
)

V = TypeVar("V")


class RevisionRow(Base):
    __tablename__ = "revisions"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


_table: Table = RevisionRow.__table__  # type: ignore[assignment]
_BUMP = update(_table).where(_table.c.name == STORE).values(value=_table.c.value + 1)
_READ = select(_table.c.value).where(_table.c.name == STORE)


async def bump(session: AsyncSession) -> None:
    """Move the revision inside ``session``'s transaction (for writes to untracked tables that caches read)."""
    await session.run_sync(_bump)


# -- the write hook ------------------------------------------------------------------------


class TrackedSession(Session):
    """The sync session behind every ``AsyncSession`` of ``Database``: writes to tracked tables bump the revision.

    ``info["revision"]`` (set by ``Database``) is this process's ``StoreRevision``: once a transaction
    that moved the revision commits, this process drops its caches at once, without waiting for a read.
    """


def _tracked(table: Any) -> bool:
    return getattr(table, "name", None) not in UNTRACKED_TABLES


def _bump(session: Session) -> None:
    session.connection().execute(_BUMP)
    session.info["revision_moved"] = True


@event.listens_for(TrackedSession, "before_flush")
def _bump_on_flush(session: Session, _context: Any, _instances: Any) -> None:
    changed = chain(session.new, session.dirty, session.deleted)
    if any(_tracked(type(row).__table__) for row in changed):
        _bump(session)


@event.listens_for(TrackedSession, "do_orm_execute")
def _bump_on_bulk_write(state: ORMExecuteState) -> None:
    if (state.is_insert or state.is_update or state.is_delete) and _tracked(getattr(state.statement, "table", None)):
        _bump(state.session)


@event.listens_for(TrackedSession, "after_commit")
def _forget_own_changes(session: Session) -> None:
    revision = session.info.get("revision")
    if session.info.pop("revision_moved", False) and revision is not None:
        revision.forget()


@event.listens_for(TrackedSession, "after_rollback")
def _nothing_moved(session: Session) -> None:
    session.info.pop("revision_moved", None)


# -- the read side -------------------------------------------------------------------------

# (task, revision) that read the revision at the start of the request running in that task. Tasks
# spawned from the request inherit the variable but are other tasks, so they read for themselves.
_request_read: contextvars.ContextVar[tuple[weakref.ref[asyncio.Task[Any]], StoreRevision] | None] = (
    contextvars.ContextVar("sessionplane_request_revision", default=None)
)


class StoreRevision:
    def __init__(self, engine: AsyncEngine) -> None:
        self._reader = reader_for(engine, _READ)
        self._seen: int | None = None
        self.reads = 0  # revision reads started, for observability
        self._last_applied = 0
        self.generation = 0
        self._caches: list[Cache[Any]] = []

    def cache(self, *, max_entries: int = 10_000) -> Cache[Any]:
        cache: Cache[Any] = Cache(self, max_entries)
        self._caches.append(cache)
        return cache

    async def begin_request(self) -> None:
        """Read the revision for the request running in this task; its later lookups reuse this read."""
        await self._read()
        task = asyncio.current_task()
        _request_read.set((weakref.ref(task), self) if task else None)

    async def ensure_fresh(self) -> None:
        bound = _request_read.get()
        if bound is not None and bound[1] is self and bound[0]() is asyncio.current_task():
            return
        await self._read()

    async def _read(self) -> None:
        self.reads += 1
        ticket = self.reads
        value = await self._reader.read()
        # Reads may complete out of order: only a newer read than the last applied one decides.
        if ticket < self._last_applied:
            return
        self._last_applied = ticket
        if value != self._seen:
            self._seen = value
            self.forget()

    def forget(self) -> None:
        """This process committed a change: drop every cache now (the next read sees the change too)."""
        self.generation += 1
        for cache in self._caches:
            cache.clear()

    async def close(self) -> None:
        await self._reader.close()


class Cache(Generic[V]):
    """Values keyed by lookup arguments, dropped whenever the store revision moves; misses are not kept.

    Hand-written: the point is invalidation by the store revision, which no caching library does;
    the container itself is a dict capped at ``max_entries`` (oldest evicted first).
    """

    def __init__(self, revision: StoreRevision, max_entries: int) -> None:
        self._revision = revision
        self._max_entries = max_entries
        self._entries: dict[Hashable, V] = {}

    async def get(self, key: Hashable, load: Callable[[], Awaitable[V | None]]) -> V | None:
        await self._revision.ensure_fresh()
        if key in self._entries:
            return self._entries[key]
        generation = self._revision.generation
        value = await load()
        if value is not None and generation == self._revision.generation:
            if len(self._entries) >= self._max_entries:
                del self._entries[next(iter(self._entries))]
            self._entries[key] = value
        return value

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
