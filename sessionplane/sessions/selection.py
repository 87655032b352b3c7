"""Pure rules over one node's CLIENT LIST: which lines are client sessions, pages, statistics, close plans.

A *client session* is every connection except (api.md section 3) replication links (flags ``M``
master link / ``S`` replica link), sessionplane's own connections (by client ID: a name anyone can
take), and the operator's protected sessions (by client name or ACL user, per instance and
global). Functions work on line numbers of a ``ClientList`` and parse only the lines they return.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass
from typing import NamedTuple

from sessionplane.nodes.client_list import Client, ClientList, int_or_zero
from sessionplane.nodes.pool import OwnConnections

SESSION_FIELDS = ("id", "addr", "name", "cmd", "age", "idle", "db", "fd", "sub", "psub", "multi")


@dataclass(frozen=True)
class Protection:
    """What is never listed, counted or closed on one instance's nodes."""

    names: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()

    def shielded(self, listing: ClientList, own: OwnConnections) -> set[int]:
        """IDs of the lines that are not client sessions.

        Our own connections are this process's, by client ID (and address: ``OwnConnections``). Other
        sessionplane processes on the same node (replicas, workers, the CLI) are known only by what
        cannot be forged: the operator protects the ACL user they all log in as (README, "Give
        sessionplane its own ACL user"). Never by our client name, which any client can take.
        """
        return (
            own.ids_in(listing)
            | listing.ids_with_replication_flag()
            | listing.ids_with_value("name", self.names)
            | listing.ids_with_value("user", self.users)
        )


class ClientSessions(NamedTuple):
    """What one listing shows under one instance's protections."""

    shielded: frozenset[int]  # the IDs that are not client sessions (``Protection.shielded``)
    sessions: tuple[int, ...]  # the lines of the client sessions (``client_sessions``)


def client_sessions(listing: ClientList, shielded: Set[int]) -> list[int]:
    """Line numbers of the client sessions."""
    sessions = list(range(len(listing)))
    for line in sorted(listing.lines_of(shielded), reverse=True):  # few: deleting them beats a pass over all
        del sessions[line]
    return sessions


def newest_first(listing: ClientList, lines: Sequence[int], *, offset: int, limit: int) -> list[Client]:
    """The page [offset, offset+limit) in descending ID order (newest first); only those lines are parsed."""
    ids = listing.ids
    # Nearly sorted already (the node's list is rotated, not shuffled): timsort's cheapest case.
    ordered = sorted(lines, key=ids.__getitem__, reverse=True)
    return [listing.client(i) for i in ordered[offset : offset + limit]]


def session_view(client: Client) -> dict[str, str]:
    """A session as the GeminiDB API shows it: eleven fields, all strings."""
    return {name: client.fields.get(name, "") for name in SESSION_FIELDS}


def full_view(client: Client, *, instance_id: str, node_id: str, idle_threshold: int) -> dict[str, object]:
    """A session as sessionplane's search shows it: every field the node reports, dashes as underscores."""
    view: dict[str, object] = {k.replace("-", "_"): v for k, v in client.fields.items()}
    view.update(instance_id=instance_id, node_id=node_id, active=is_active(client, idle_threshold))
    return view


def is_active(client: Client, idle_threshold: int) -> bool:
    return active(client.idle, client.flags, client.multi, idle_threshold)


def active(idle: int, flags: str, multi: str, idle_threshold: int) -> bool:
    """Idle less than the threshold, blocked (flag ``b``), or inside MULTI (flag ``x`` or ``multi`` >= 0)."""
    return idle < idle_threshold or "b" in flags or "x" in flags or multi not in ("-1", "")


def active_lines(listing: ClientList, lines: Iterable[int], idle_threshold: int) -> list[bool]:
    """``active`` for each of ``lines``, computed on the columns (strings compared, not parsed)."""
    idle, flags, multi = listing.column("idle"), listing.column("flags"), listing.column("multi")
    recent = {str(s) for s in range(idle_threshold)} if idle_threshold <= 10_000 else None
    if recent is None:
        return [active(int(idle[i] or 0), flags[i], multi[i], idle_threshold) for i in lines]
    return [idle[i] in recent or multi[i] not in ("-1", "") or "b" in flags[i] or "x" in flags[i] for i in lines]


@dataclass(frozen=True)
class Statistics:
    total_connection_count: int
    active_connection_count: int
    top_source_ips: list[tuple[str, int]]
    top_dbs: list[tuple[str, int]]


def active_count(listing: ClientList, lines: Sequence[int], idle_threshold: int) -> int:
    """``sum(active_lines(...))``, counted on the columns' distinct values when no line is blocked or
    inside MULTI (the usual node): then idle time alone decides, and idle takes few distinct values."""
    flags, multi = _distinct(listing, "flags", lines), _distinct(listing, "multi", lines)
    if any("b" in f or "x" in f for f in flags) or not multi <= {"-1", ""}:
        return sum(active_lines(listing, lines, idle_threshold))
    return sum(n for idle, n in _values(listing, "idle", lines).items() if int_or_zero(idle) < idle_threshold)


def _values(listing: ClientList, field: str, lines: Sequence[int]) -> Counter[str]:
    """How many of ``lines`` have each value of ``field``."""
    column = listing.column(field)
    return Counter(column) if len(lines) == len(column) else Counter(map(column.__getitem__, lines))


def _distinct(listing: ClientList, field: str, lines: Sequence[int]) -> set[str]:
    """The values of ``field`` among ``lines`` (a set: less than half a ``Counter``'s cost)."""
    column = listing.column(field)
    return set(column) if len(lines) == len(column) else set(map(column.__getitem__, lines))


def statistics(listing: ClientList, lines: Sequence[int], *, idle_threshold: int, top: int = 10) -> Statistics:
    listing.columns("idle", "flags", "multi", "ip", "db")  # every one is read below: in one pass of the reply
    return Statistics(
        total_connection_count=len(lines),
        active_connection_count=active_count(listing, lines, idle_threshold),
        top_source_ips=top_counts(_values(listing, "ip", lines), top),
        top_dbs=top_counts(_values(listing, "db", lines), top),
    )


def top_counts(counter: Counter[str], n: int) -> list[tuple[str, int]]:
    # Ties broken by key so the answer is stable between calls.
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


@dataclass(frozen=True)
class KillPlan:
    """How to close a set of sessions on one node: whole ACL users where that is exact, IDs otherwise."""

    users: tuple[str, ...] = ()
    ids: tuple[int, ...] = ()  # normal clients
    pubsub_ids: tuple[int, ...] = ()


def plan_close(
    listing: ClientList, targets: Sequence[int], *, shielded: Set[int], everything: bool, per_user: bool
) -> KillPlan:
    """Kill by ID, or, when ``targets`` hold every client session of each of their users (``everything``:
    a close-all, or what is left of one) and ``per_user`` is allowed, by user: ``CLIENT KILL TYPE
    normal|pubsub USER u`` closes each user's sessions in one pass of the node instead of one pass per
    ID (quadratic on Redis 7.0).

    A user qualifies only if none of its lines is shielded by ID or name (our own connections,
    protected names); protected users are never targets, so they never qualify. Replication links
    do not disqualify their user: TYPE normal/pubsub never matches them.
    """
    users: tuple[str, ...] = ()
    if everything and per_user and targets:
        user = listing.column("user")
        links = listing.ids_with_replication_flag()
        blocked = {user[i] for i in listing.lines_of(shielded - links)}
        target_users = set(map(user.__getitem__, targets))
        users = tuple(sorted(target_users - blocked - {""}))
        if len(users) == len(target_users):
            targets = []  # every target goes with its user
        else:
            whole = set(users)
            targets = [i for i in targets if user[i] not in whole]
    normal, pubsub = listing.ids_by_type(targets)
    return KillPlan(users=users, ids=tuple(normal), pubsub_ids=tuple(pubsub))


def identities(listing: ClientList, lines: Iterable[int]) -> Counter[tuple[str, str, str]]:
    """(ip, name, user) of each line: what reconnect tracking compares after a close."""
    ips, name, user = listing.columns("ip", "name", "user")
    return Counter((ips[i], name[i], user[i]) for i in lines)
