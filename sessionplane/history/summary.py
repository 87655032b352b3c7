"""One node's client sessions reduced to what the history keeps: total, active, idle-over, top-k groups.

The sampler runs this on every node every interval, so it must be cheap (the target is 2 % of one
core for 64 nodes x 500 sessions at 15 s): it reads the columns it needs from the reply in one
C-level pass (``ClientList.columns``), never a dict per line.

Group keys come from clients (names, users, library names are set by the client): they are
truncated to ``MAX_KEY_LENGTH`` characters and only the top ``top_k`` per dimension are kept, the
rest summed as ``(other)``, so that what is stored and exported stays bounded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sessionplane.nodes.client_list import ClientList
from sessionplane.sessions.selection import active_lines

DIMENSIONS = {"name": "name", "user": "user", "lib_name": "lib-name", "ip": "ip"}  # each one's CLIENT LIST field
OTHER = "(other)"
MAX_KEY_LENGTH = 128


@dataclass(frozen=True)
class NodeCounts:
    """A reachable node at one moment. ``groups``: dimension -> key -> sessions (top-k and ``(other)``)."""

    total: int
    active: int
    idle_over: int
    groups: dict[str, dict[str, int]]


def summarize(
    listing: ClientList,
    lines: Sequence[int],
    *,
    idle_threshold: int,
    idle_over_seconds: int,
    top_k: int,
) -> NodeCounts:
    """Count the client sessions ``lines`` of one reply (the others are not client sessions)."""
    # Every column read here, in one pass over the reply (``active_lines`` reads idle, flags and multi).
    idle, _flags, _multi, *keys = listing.columns("idle", "flags", "multi", *DIMENSIONS.values())
    groups = {
        dimension: fold(top_groups([column[i] for i in lines]), top_k)
        for dimension, column in zip(DIMENSIONS, keys, strict=True)
    }
    return NodeCounts(
        total=len(lines),
        active=sum(active_lines(listing, lines, idle_threshold)),
        idle_over=sum(1 for i in lines if int(idle[i] or 0) >= idle_over_seconds),
        groups=groups,
    )


def top_groups(keys: Sequence[str]) -> Counter[str]:
    counter = Counter(keys)  # counted in C; client-set keys are bounded afterwards, when one is too long
    if not any(len(key) > MAX_KEY_LENGTH for key in counter):
        return counter
    bounded: Counter[str] = Counter()
    for key, count in counter.items():
        bounded[key[:MAX_KEY_LENGTH]] += count
    return bounded


def fold(counter: Counter[str] | dict[str, int], top_k: int) -> dict[str, int]:
    """The ``top_k`` largest groups (ties by key, so stable), the rest summed as ``(other)``."""
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = dict(ranked[:top_k])
    rest = sum(count for _key, count in ranked[top_k:])
    if rest:
        kept[OTHER] = kept.get(OTHER, 0) + rest
    return kept
