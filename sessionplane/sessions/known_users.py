"""The ACL users each node's last close-all found client sessions under: what the next one closes ahead.

A close-all lists a node and then kills whole users; knowing the users from the previous close-all
lets the next one send its kills in the same pipeline as its listing (``NodeAdapter.list_then_kill_users``),
one round trip instead of two. It is a hint, never a permission: the service removes protected users and
our own user at every use, and the listing taken with the kills shows any user the hint missed.
"""

from __future__ import annotations

from collections.abc import Iterable


class KnownUsers:
    """By node ID, bounded: past ``limit`` nodes the oldest entry is forgotten (its next close-all lists first)."""

    def __init__(self, limit: int = 100_000) -> None:
        self._users: dict[str, frozenset[str]] = {}
        self._limit = limit

    def of(self, node_id: str) -> frozenset[str]:
        return self._users.get(node_id, frozenset())

    def remember(self, node_id: str, users: Iterable[str]) -> None:
        self._users.pop(node_id, None)
        if len(self._users) >= self._limit:
            del self._users[next(iter(self._users))]
        self._users[node_id] = frozenset(users)
