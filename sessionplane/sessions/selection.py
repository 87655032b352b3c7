"""Pure rules over an indexed CLIENT LIST reply: which lines are client sessions, filters, pages, statistics.

A *client session* is every connection except (spec section 3) replication links (flags ``M``
master link / ``S`` replica link), sessionplane's own connections (by client name), and the
operator's protected sessions (by client name or ACL user, per instance and global).
Functions work on line numbers of a ``ClientIndex`` and parse only the lines they must return.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sessionplane.nodes.client_list import Client, ClientIndex

SESSION_FIELDS = ("id", "addr", "name", "cmd", "age", "idle", "db", "fd", "sub", "psub", "multi")
REPLICATION_FLAGS = "MS"


@dataclass(frozen=True)
class Protection:
    own_name: str
    names: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()

    def shielded(self, index: ClientIndex) -> set[int]:
        return (
            index.lines_with_flag(REPLICATION_FLAGS)
            | index.lines_with_name({self.own_name, *self.names})
            | index.lines_with_user(self.users)
        )


@dataclass(frozen=True)
class CloseCriteria:
    """Which client sessions one close request targets. ``ids=None`` means every session."""

    ids: tuple[int, ...] | None
    min_idle_seconds: int | None = None
    addr_prefix: str | None = None

    def audit_parameters(self) -> dict[str, object]:
        """The request's parameters as the audit trail records them."""
        parameters: dict[str, object] = {"is_all": self.ids is None}
        if self.ids is not None:
            parameters["session_ids"] = [str(i) for i in self.ids]
        if self.min_idle_seconds is not None:
            parameters["min_idle_seconds"] = self.min_idle_seconds
        if self.addr_prefix:
            parameters["addr_prefix"] = self.addr_prefix
        return parameters


def client_sessions(index: ClientIndex, protection: Protection, addr_prefix: str | None = None) -> list[int]:
    """Line numbers of the client sessions, optionally only those whose addr starts with ``addr_prefix``."""
    shielded = protection.shielded(index)
    candidates = sorted(index.lines_with_addr_prefix(addr_prefix)) if addr_prefix else range(len(index))
    return [i for i in candidates if i not in shielded]


def close_targets(index: ClientIndex, protection: Protection, criteria: CloseCriteria) -> list[int]:
    lines = client_sessions(index, protection, criteria.addr_prefix)
    if criteria.min_idle_seconds is None:
        return lines
    return [i for i in lines if index.client(i).idle >= criteria.min_idle_seconds]


def newest_first(index: ClientIndex, lines: Sequence[int], *, offset: int, limit: int) -> list[Client]:
    """The page [offset, offset+limit) in descending ID order, without sorting (or parsing) everything."""
    top = heapq.nlargest(offset + limit, lines, key=index.ids.__getitem__)[offset:]
    return [index.client(i) for i in top]


def session_view(client: Client) -> dict[str, str]:
    fields = client.fields()
    return {name: fields.get(name, "") for name in SESSION_FIELDS}


def is_active(client: Client, idle_threshold: int) -> bool:
    """Idle less than the threshold, blocked (flag b), or inside MULTI (flag x or multi >= 0)."""
    return client.idle < idle_threshold or "b" in client.flags or "x" in client.flags or client.multi not in ("-1", "")


@dataclass(frozen=True)
class Statistics:
    total_connection_count: int
    active_connection_count: int
    top_source_ips: list[tuple[str, int]]
    top_dbs: list[tuple[str, int]]


def statistics(sessions: Sequence[Client], *, idle_threshold: int, top: int = 10) -> Statistics:
    return Statistics(
        total_connection_count=len(sessions),
        active_connection_count=sum(1 for c in sessions if is_active(c, idle_threshold)),
        top_source_ips=_top(Counter(c.ip for c in sessions), top),
        top_dbs=_top(Counter(c.db for c in sessions), top),
    )


def _top(counter: Counter[str], n: int) -> list[tuple[str, int]]:
    # Ties broken by key so the answer is stable between calls.
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
