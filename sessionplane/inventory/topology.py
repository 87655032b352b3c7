"""What discovery sees, and how a refresh follows it: pure data and pure functions, no I/O.

A *seed* names where to look (a node of a Redis Cluster, a primary or replica, or a Sentinel); a
*topology* is what the seed's deployment says about itself: every primary and replica, grouped by
shard, with its role and health, addressed as the deployment announces it. ``plan_refresh`` turns
an instance's current nodes and a fresh topology into the changes a refresh makes.

Roles use Huawei's names for GeminiDB Redis and DCS nodes: ``master`` and ``slave`` (GeminiDB's
``ShowInstanceRole`` and DCS's node ``node_type`` use exactly these two values).

A node keeps its ID across refreshes: it is recognised by its cluster node ID where the
deployment has one (Redis Cluster), else by its announced ``host:port``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from sessionplane.errors import InvalidParameter
from sessionplane.inventory.records import Instance, Node

PRIMARY = "master"
REPLICA = "slave"
REDIS_CLUSTER = "RedisCluster"
REPLICATION = "Replication"

_DIRECT_SCHEMES = {"redis": False, "rediss": True}
_SENTINEL_SCHEMES = {"redis+sentinel": False, "rediss+sentinel": True}
MAX_SEED_LENGTH = 1024


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Seed:
    """Where discovery starts. ``sentinel_name`` is set for a Sentinel seed. Never holds a password."""

    endpoint: Endpoint
    tls: bool = False
    username: str | None = None
    sentinel_name: str | None = None

    @property
    def url(self) -> str:
        """The seed as a URL, without credentials: safe to store, log and show."""
        scheme = ("rediss" if self.tls else "redis") + ("+sentinel" if self.sentinel_name else "")
        path = f"/{self.sentinel_name}" if self.sentinel_name else ""
        return f"{scheme}://{self.endpoint}{path}"

    @property
    def default_instance_name(self) -> str:
        return self.sentinel_name or f"redis-{self.endpoint.host}-{self.endpoint.port}"


@dataclass(frozen=True)
class Credentials:
    """Given once, used for every node discovered (and every node a refresh adds)."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sentinel_password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SeenNode:
    """One primary or replica as the deployment announces it."""

    endpoint: Endpoint
    role: str  # PRIMARY or REPLICA
    shard: str  # the same for every node of one shard (group), unique across shards
    healthy: bool = True
    cluster_node_id: str | None = None

    @property
    def key(self) -> str:
        return self.cluster_node_id or str(self.endpoint)


@dataclass(frozen=True)
class Topology:
    mode: str  # REDIS_CLUSTER or REPLICATION
    version: str
    nodes: tuple[SeenNode, ...]  # shard by shard, each shard's primary first


def node_key(node: Node) -> str:
    return node.cluster_node_id or str(Endpoint(node.host, node.port))


def parse_seed(text: str, *, username: str | None = None) -> Seed:
    """``host:port``, ``redis[s]://[user@]host[:port]``, or ``redis[s]+sentinel://[user@]host[:port]/name``.

    A password in the URL is refused (URLs end up in argv, shell history and logs); the message
    never repeats the URL, which may hold it.
    """
    text = text.strip()
    if not text or len(text) > MAX_SEED_LENGTH:
        raise InvalidParameter(f"Invalid parameter: seed must be 1 to {MAX_SEED_LENGTH} characters.")
    try:
        url = urlsplit(text if "://" in text else f"redis://{text}")
        port = url.port
    except ValueError:
        raise InvalidParameter("Invalid parameter: seed is not a valid URL (bad host or port).") from None
    if url.password is not None:
        raise InvalidParameter(
            "Invalid parameter: the seed URL must not carry a password; give it separately "
            "(password field, --password-stdin, or SESSIONPLANE_NODE_PASSWORD)."
        )
    sentinel = url.scheme in _SENTINEL_SCHEMES
    if url.scheme not in _DIRECT_SCHEMES and not sentinel:
        raise InvalidParameter(
            f"Invalid parameter: seed scheme {url.scheme[:20]!r} is not one of redis://, rediss://, "
            "redis+sentinel://, rediss+sentinel://."
        )
    if not url.hostname:
        raise InvalidParameter("Invalid parameter: seed has no host.")
    if url.query or url.fragment:
        raise InvalidParameter("Invalid parameter: seed must not have a query string or fragment.")
    name = url.path.strip("/")
    endpoint = Endpoint(url.hostname, port or (26379 if sentinel else 6379))
    if sentinel and not name:
        raise InvalidParameter("Invalid parameter: a Sentinel seed names its primary: redis+sentinel://host:port/name.")
    if not sentinel and name and not name.isdigit():
        raise InvalidParameter(
            f"Invalid parameter: a redis:// seed has no path (for a Sentinel use redis+sentinel://{endpoint}/{name[:40]})."
        )
    return Seed(
        endpoint=endpoint,
        tls=(_SENTINEL_SCHEMES if sentinel else _DIRECT_SCHEMES)[url.scheme],
        username=unquote(url.username) if url.username else username,
        sentinel_name=unquote(name) if sentinel else None,
    )


# -- refresh planning ----------------------------------------------------------------------


@dataclass(frozen=True)
class Kept:
    """A known node the topology still has, as it should now be."""

    node: Node
    seen: SeenNode
    group_id: str


@dataclass(frozen=True)
class Added:
    """A node the topology has and the instance does not, and the group it joins."""

    seen: SeenNode
    group_id: str


@dataclass(frozen=True)
class RefreshPlan:
    kept: tuple[Kept, ...]
    added: tuple[Added, ...]
    removed: tuple[Node, ...]


def plan_refresh(current: Sequence[Node], topology: Topology, *, new_group_id: Callable[[], str]) -> RefreshPlan:
    """Match the topology's nodes to the current ones (by ``node_key``) and say what changes.

    A shard keeps the group ID of its members (its primary's first): failovers move roles, not
    groups. A shard none of whose members is known gets ``new_group_id()``.
    """
    by_key = {node_key(n): n for n in current}
    seen_keys = {s.key for s in topology.nodes}
    groups = _shard_groups(topology.nodes, by_key, new_group_id)
    kept: list[Kept] = []
    added: list[Added] = []
    for seen in topology.nodes:
        known = by_key.get(seen.key)
        if known is not None:
            kept.append(Kept(known, seen, groups[seen.shard]))
        else:
            added.append(Added(seen, groups[seen.shard]))
    removed = tuple(n for n in current if node_key(n) not in seen_keys)
    return RefreshPlan(kept=tuple(kept), added=tuple(added), removed=removed)


def _shard_groups(seen: Sequence[SeenNode], known: dict[str, Node], new_group_id: Callable[[], str]) -> dict[str, str]:
    groups: dict[str, str] = {}
    taken: set[str] = set()
    for node in sorted(seen, key=lambda s: s.role != PRIMARY):  # primaries decide first
        before = known.get(node.key)
        if node.shard not in groups and before and before.group_id not in taken:
            groups[node.shard] = before.group_id
            taken.add(before.group_id)
    for node in seen:
        if node.shard not in groups:
            groups[node.shard] = new_group_id()
    return groups


def status_of(seen: SeenNode) -> str:
    return "normal" if seen.healthy else "abnormal"


@dataclass(frozen=True)
class RefreshReport:
    """What a refresh did: nodes added, removed (deleted from the inventory), and changed (before, after)."""

    instance: Instance
    added: tuple[Node, ...]
    removed: tuple[Node, ...]
    changed: tuple[tuple[Node, Node], ...]

    @classmethod
    def between(cls, before: Instance, after: Instance) -> RefreshReport:
        old = {n.id: n for n in before.nodes}
        new = {n.id: n for n in after.nodes}
        return cls(
            instance=after,
            added=tuple(n for n in after.nodes if n.id not in old),
            removed=tuple(n for n in before.nodes if n.id not in new),
            changed=tuple((old[n.id], n) for n in after.nodes if n.id in old and _moved(old[n.id], n)),
        )


def _moved(before: Node, after: Node) -> bool:
    watched = ("role", "status", "host", "port", "group_id")
    return any(getattr(before, f) != getattr(after, f) for f in watched)
