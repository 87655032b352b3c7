"""One node's CLIENT LIST reduced to what the history keeps: total, active, idle-over, top-k groups.

The sampler runs this on every node every interval, so it must be cheap (the target is 2 % of one
core for 64 nodes x 500 sessions at 15 s). Instead of parsing each line into a dict of ~25
fields, each of the seven fields it needs is pulled out of the whole reply by one C-level regex
pass; the columns line up with the reply's lines because every line carries every field once. A
reply where they do not line up is parsed line by line instead, so the result never depends on
the shortcut (a property test compares both with ``sessions.selection``).

Group keys come from clients (names, users, library names are set by the client): they are
truncated to ``MAX_KEY_LENGTH`` characters and only the top ``top_k`` per dimension are kept, the
rest summed as ``(other)``, so that what is stored and exported stays bounded.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sessionplane.nodes.client_list import ClientIndex

DIMENSIONS = ("name", "user", "lib_name", "ip")
OTHER = "(other)"
MAX_KEY_LENGTH = 128

# Column -> the pattern that pulls it out of every line. " name=" cannot match inside " lib-name=",
# nor " addr=" inside " laddr=": the leading space is part of the pattern, and values never contain
# spaces. "ip" is the address up to its last colon, as ``Client.ip`` (IPv6 in brackets kept whole).
_PATTERNS = {
    "ip": re.compile(r" addr=([^ \r\n]*):[^ :\r\n]*(?=[ \r\n]|$)", re.MULTILINE),
    **{field: re.compile(rf" {field}=([^ \r\n]*)") for field in ("name", "idle", "flags", "multi", "user", "lib-name")},
}
# Fields that older servers do not report at all (lib-name: Redis 7.2+, user: 6.0+).
_OPTIONAL = frozenset({"user", "lib-name"})


@dataclass(frozen=True)
class NodeCounts:
    """A reachable node at one moment. ``groups``: dimension -> key -> sessions (top-k and ``(other)``)."""

    total: int
    active: int
    idle_over: int
    groups: dict[str, dict[str, int]]


def summarize(
    index: ClientIndex,
    excluded: set[int],
    *,
    idle_threshold: int,
    idle_over_seconds: int,
    top_k: int,
) -> NodeCounts:
    """Count the client sessions of one reply; ``excluded`` are the line numbers that are not client sessions."""
    columns = _columns(index)
    keep = [i for i in range(len(index)) if i not in excluded] if excluded else None
    idle = [int(seconds or 0) for seconds in _kept(columns["idle"], keep)]
    flags, multi = _kept(columns["flags"], keep), _kept(columns["multi"], keep)
    active = sum(
        1
        for seconds, line_flags, line_multi in zip(idle, flags, multi, strict=True)
        # the definition of sessions.selection.is_active, inlined: this loop runs for every session
        if seconds < idle_threshold or "b" in line_flags or "x" in line_flags or line_multi not in ("-1", "")
    )
    groups = {
        dimension: fold(top_groups(_kept(columns[field], keep)), top_k)
        for dimension, field in (("name", "name"), ("user", "user"), ("lib_name", "lib-name"), ("ip", "ip"))
    }
    return NodeCounts(
        total=len(idle),
        active=active,
        idle_over=sum(1 for seconds in idle if seconds >= idle_over_seconds),
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


def _ip(addr: str) -> str:
    """As ``Client.ip``: the address without its port; IPv6 kept whole, unix sockets as reported."""
    host, sep, _port = addr.rpartition(":")
    return host if sep else addr


def _kept(column: Sequence[str], keep: list[int] | None) -> Sequence[str]:
    return column if keep is None else [column[i] for i in keep]


def _columns(index: ClientIndex) -> dict[str, Sequence[str]]:
    return _fast_columns(index) or _parsed_columns(index)


def _fast_columns(index: ClientIndex) -> dict[str, Sequence[str]] | None:
    if not index.indexed:
        return None
    lines = len(index)
    columns: dict[str, Sequence[str]] = {}
    for field, pattern in _PATTERNS.items():
        values = pattern.findall(index.text)
        if not values and field in _OPTIONAL:
            values = [""] * lines
        if len(values) != lines:
            return None  # a value with a space, or a field twice: not the shape the shortcut assumes
        columns[field] = values
    return columns


def _parsed_columns(index: ClientIndex) -> dict[str, Sequence[str]]:
    parsed = [index.client(i).fields() for i in range(len(index))]
    columns: dict[str, Sequence[str]] = {field: [f.get(field, "") for f in parsed] for field in _PATTERNS}
    columns["ip"] = [_ip(f.get("addr", "")) for f in parsed]
    return columns
