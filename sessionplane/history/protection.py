"""Which CLIENT LIST lines the history must not count: api.md section 3, decided by ``sessions.selection``.

The sampler reaches the protection rules only through these two functions, so that they can be
re-pointed when ``sessions.selection`` changes shape; the rules themselves live there, once.
"""

from __future__ import annotations

from sessionplane.inventory.records import Instance
from sessionplane.nodes.client_list import ClientIndex
from sessionplane.sessions.selection import Protection
from sessionplane.settings import Settings


def protection_for(settings: Settings, instance: Instance) -> Protection:
    """The same protection the sessions domain applies to this instance (global and per-instance lists)."""
    return Protection(
        own_name=settings.own_client_name,
        names=frozenset((*settings.protected_client_names, *instance.protected_names)),
        users=frozenset((*settings.protected_users, *instance.protected_users)),
    )


def excluded_lines(index: ClientIndex, protection: Protection) -> set[int]:
    """Line numbers of replication links, sessionplane's own and protected sessions."""
    return protection.shielded(index)
