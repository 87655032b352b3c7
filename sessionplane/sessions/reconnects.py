"""Reconnect tracking (extensions §4): did the sessions a close closed come straight back?

After every close, one background look at each node where something was closed, once
``reconnect_window_seconds`` have passed. A session is *new* (connected after the close) when

- the node gave it a client ID above the newest ID the close's listing showed (IDs only grow
  while a node runs) and it is not older than the window (a listing narrowed to some IDs or by a
  server-side filter does not show every older session), or
- it is clearly younger than the window, whatever its ID (a node restarted meanwhile starts its
  IDs over).

Ages are whole seconds, hence a margin of 2 s both ways: a session of a closed identity that
connected less than that before a narrowed close may be counted. ``reconnected`` is counted per
(ip, name, user) of the closed sessions: for each identity, the new sessions with it, at most as
many as were closed with it; summed over the nodes looked at, so a client that comes back
through another node of the same close counts too.

The look never delays the close's response, and a failure in it is logged, never raised: a node
that cannot be read contributes nothing (when none can be, ``reconnected`` stays null).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from sessionplane.audit.store import AuditStore
from sessionplane.inventory.records import Node
from sessionplane.nodes.adapter import NodeAdapter
from sessionplane.nodes.client_list import ClientList
from sessionplane.sessions import selection
from sessionplane.sessions.fanout import bounded
from sessionplane.settings import Settings

if TYPE_CHECKING:
    from sessionplane.sessions.service import NodeOutcome

log = logging.getLogger(__name__)
Identity = tuple[str, str, str]  # (ip, name, user)
Counted = Callable[[int], Awaitable[object]]
_MARGIN_SECONDS = 2  # ages are whole seconds, and the close's moment is known to us, not to the node


@dataclass(frozen=True)
class ClosedOnNode:
    """What one close closed on one node, and the newest client ID the node had then."""

    node: Node
    outcome: NodeOutcome

    @property
    def newest_id(self) -> int:
        return self.outcome.newest_id

    @cached_property
    def identities(self) -> Counter[Identity]:
        return self.outcome.closed_identities()


def new_identities(listing: ClientList, shielded: set[int], *, newest_id: int, elapsed: float) -> Counter[Identity]:
    """(ip, name, user) of the client sessions that connected after the close (pure)."""
    ids, ages = listing.ids, [_whole(a) for a in listing.column("age")]
    fresh = [
        i
        for i, client_id in enumerate(ids)
        if client_id not in shielded
        and (ages[i] + _MARGIN_SECONDS < elapsed or (client_id > newest_id and ages[i] <= elapsed + _MARGIN_SECONDS))
    ]
    return selection.identities(listing, fresh)


def count_reconnected(closed: Counter[Identity], new: Counter[Identity]) -> int:
    """Per identity, the new sessions, at most as many as were closed (pure)."""
    return sum(min(count, new[identity]) for identity, count in closed.items())


def _whole(value: str) -> int:
    return int(value) if value.isdigit() else 0


class ReconnectTracker:
    def __init__(self, *, nodes: NodeAdapter, audit: AuditStore, settings: Settings) -> None:
        self._nodes = nodes
        self._audit = audit
        self._settings = settings
        self._tasks: set[asyncio.Task[int | None]] = set()

    def track(self, audit_id: str, closed: Sequence[ClosedOnNode], *, then: Counted | None = None) -> None:
        """Start watching in the background; ``then`` also gets the count (a rule run records it too)."""
        started = asyncio.get_running_loop().time()
        task = asyncio.create_task(self._watch(audit_id, closed, started, then), name=f"reconnects-{audit_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> int:
        """Wait for every watch in progress (the CLI, before it exits); the sum of their counts."""
        results = await asyncio.gather(*list(self._tasks), return_exceptions=True)
        return sum(r for r in results if isinstance(r, int))

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _watch(
        self, audit_id: str, closed: Sequence[ClosedOnNode], started: float, then: Counted | None
    ) -> int | None:
        try:
            if closed:
                await asyncio.sleep(self._settings.reconnect_window_seconds)
            count = await self.count(closed, started=started)
            if count is None:
                log.warning("reconnect tracking of audit record %s could read none of its nodes", audit_id)
                return None
            await self._audit.set_reconnected(audit_id, count)
            if then is not None:
                await then(count)
            return count
        except Exception:
            log.exception("reconnect tracking of audit record %s failed", audit_id)
            return None

    async def count(self, closed: Sequence[ClosedOnNode], *, started: float) -> int | None:
        """Reconnects over the nodes that could be read; None when sessions were closed but no node could be."""
        found = await bounded((self._new_on(c, started) for c in closed), limit=self._settings.fanout_concurrency)
        new: Counter[Identity] = Counter()
        read = 0
        for entry, result in zip(closed, found, strict=True):
            if isinstance(result, Counter):
                new.update(result)
                read += 1
            else:
                log.warning("reconnect tracking could not read node %s: %s", entry.node.id, result)
        if closed and not read:
            return None
        return count_reconnected(sum((c.identities for c in closed), Counter()), new)

    async def _new_on(self, entry: ClosedOnNode, started: float) -> Counter[Identity]:
        reply = await self._nodes.client_list(entry.node)
        listing = reply.parsed()
        # replication links and our own connections are never reconnects (a protected session was never closed,
        # so its identity cannot come back)
        shielded = selection.Protection().shielded(listing, reply.own)
        elapsed = asyncio.get_running_loop().time() - started
        return new_identities(listing, shielded, newest_id=entry.newest_id, elapsed=elapsed)


def closed_on(nodes: Iterable[Node], outcomes: Iterable[NodeOutcome]) -> list[ClosedOnNode]:
    """The nodes where a close closed something, from its per-node outcomes."""
    by_id = {n.id: n for n in nodes}
    return [ClosedOnNode(by_id[o.node_id], o) for o in outcomes if o.closed and o.node_id in by_id]
