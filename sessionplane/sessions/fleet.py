"""Fleet operations: search, summarise and close client sessions across every node a selector scopes.

Scope (extensions §1): empty means every instance of the caller's project that the caller may act
on (the others are skipped, not reported); a named instance or node it may not act on is 403 and
nothing happens. Nodes are read concurrently, at most ``fanout_concurrency`` at a time, one
CLIENT LIST each. A node that cannot be read is reported in ``failed_nodes``: an answer never
hides a failure. A close writes one audit record (the selector is its parameters) before any
session is touched, and closes by ID exactly what the listing matched.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sessionplane.audit.records import Outcome
from sessionplane.audit.trail import AuditSubject, AuditTrail
from sessionplane.auth.principal import RequestMeta
from sessionplane.errors import InstanceNotFound, NodeNotFound, SessionplaneError, TooManySessions
from sessionplane.iam.actions import DELETE_SESSION, LIST_SESSION, Action
from sessionplane.iam.authorize import Authorizer
from sessionplane.inventory.records import Instance, Node
from sessionplane.inventory.store import InventoryStore
from sessionplane.sessions import selection
from sessionplane.sessions.fanout import bounded
from sessionplane.sessions.selector import Scope, Selector
from sessionplane.sessions.service import NodeOutcome, NodeRead, SessionService, close_outcome
from sessionplane.settings import Settings

T = TypeVar("T")
SORTS = ("age", "-age", "idle", "-idle", "addr", "-addr", "name", "-name", "db", "-db")
GROUPS = ("ip", "name", "user", "lib_name", "db", "node", "cmd")
_INSTANCE_PAGE = 100


@dataclass(frozen=True)
class Target:
    instance: Instance
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class FailedNode:
    node_id: str
    instance_id: str
    error: SessionplaneError

    def as_json(self) -> dict[str, str]:
        return {
            "node_id": self.node_id,
            "instance_id": self.instance_id,
            "error_code": self.error.code,
            "error_msg": self.error.message,
        }


@dataclass(frozen=True)
class Reads:
    reads: list[NodeRead]
    failed: list[FailedNode]

    @property
    def total(self) -> int:
        return sum(len(r.selected) for r in self.reads)

    def failed_json(self) -> list[dict[str, str]]:
        return [f.as_json() for f in self.failed]


class FleetService:
    def __init__(
        self,
        *,
        sessions: SessionService,
        inventory: InventoryStore,
        authorizer: Authorizer,
        audit: AuditTrail,
        settings: Settings,
    ) -> None:
        self._sessions = sessions
        self._inventory = inventory
        self._authorizer = authorizer
        self._audit = audit
        self._settings = settings

    # -- the three operations ------------------------------------------------------------------

    async def search(self, *, meta: RequestMeta, selector: Selector, sort: str, offset: int, limit: int) -> dict:
        found = await self._read(meta, selector, LIST_SESSION)
        return {
            "total_count": found.total,
            "sessions": self._page(found.reads, sort=sort, offset=offset, limit=limit),
            "failed_nodes": found.failed_json(),
        }

    async def summary(self, *, meta: RequestMeta, selector: Selector, group_by: str, top: int) -> dict:
        found = await self._read(meta, selector, LIST_SESSION)
        counts: Counter[str] = Counter()
        active: Counter[str] = Counter()
        idle_over: Counter[str] = Counter()
        threshold, over = self._settings.active_idle_threshold_seconds, self._settings.idle_over_seconds
        for read in found.reads:
            keys = group_keys(read, group_by)
            idle = read.listing.column("idle")
            flags = selection.active_lines(read.listing, read.selected, threshold)
            for i, is_active in zip(read.selected, flags, strict=True):
                key = keys(i)
                counts[key] += 1
                active[key] += is_active
                idle_over[key] += int(idle[i] or 0) >= over
        groups = selection.top_counts(counts, top)
        return {
            "total_count": found.total,
            "groups": [
                {"key": key, "count": count, "active": active[key], "idle_over": idle_over[key]}
                for key, count in groups
            ],
            "other": found.total - sum(count for _, count in groups),
            "failed_nodes": found.failed_json(),
        }

    async def close(
        self,
        *,
        meta: RequestMeta,
        selector: Selector,
        dry_run: bool,
        expect_at_most: int | None,
        sort: str = "age",
        limit: int = 100,
    ) -> dict:
        targets = await self._targets(meta, selector, DELETE_SESSION, write=not dry_run)
        if dry_run:
            found = await self._read_targets(targets, selector)
            return {
                "would_close": found.total,
                "sessions": self._page(found.reads, sort=sort, offset=0, limit=limit),
                "failed_nodes": found.failed_json(),
            }
        subject = _subject(targets, selector, expect_at_most)
        recorded = asyncio.ensure_future(self._audit.begin(meta, subject))
        found = await self._read_targets(targets, selector)
        event = await recorded  # durable before anything is closed; its failure propagates
        if expect_at_most is not None and found.total > expect_at_most:
            await self._audit.finish(event, outcome=Outcome.REFUSED, error_code=TooManySessions.code, node_results=[])
            raise TooManySessions(
                f"{found.total} sessions match, more than expect_at_most ({expect_at_most}); nothing was closed."
            )
        outcomes = await self._kill_all(found)
        await self._audit.finish(event, **close_outcome(outcomes))
        self._sessions.track_reconnects(event, [r.node for r in found.reads], outcomes)
        return {
            "closed": sum(o.closed for o in outcomes),
            "nodes": [_node_json(o) for o in outcomes],
            "failed_nodes": [_node_json(o) for o in outcomes if o.error],
            "audit_id": event,
        }

    # -- scope, reads, kills ----------------------------------------------------------------------

    async def _read(self, meta: RequestMeta, selector: Selector, action: Action) -> Reads:
        return await self._read_targets(await self._targets(meta, selector, action, write=False), selector)

    async def _targets(self, meta: RequestMeta, selector: Selector, action: Action, *, write: bool) -> list[Target]:
        """The instances and nodes in scope that the caller may act on (403 for a named one it may not)."""
        scope = selector.scope
        project_id = meta.principal.project_id
        if scope.implicit:
            instances = await self._all_instances(project_id)
            allowed = [i for i in instances if await self._authorizer.allows(meta, action, i)]
            return [Target(i, i.nodes) for i in allowed]
        chosen = await self._named(project_id, scope)
        parameters = {"selector": selector.as_json()} if write else None
        for instance, _nodes in chosen:
            await self._authorizer.require(meta, action, instance, parameters=parameters)
        return [Target(instance, nodes) for instance, nodes in chosen]

    async def _all_instances(self, project_id: str) -> list[Instance]:
        instances: list[Instance] = []
        while True:
            page, total = await self._inventory.instances(
                project_id=project_id, offset=len(instances), limit=_INSTANCE_PAGE
            )
            instances += page
            if not page or len(instances) >= total:
                return instances

    async def _named(self, project_id: str, scope: Scope) -> list[tuple[Instance, tuple[Node, ...]]]:
        chosen: dict[str, tuple[Instance, dict[str, Node]]] = {}
        for instance_id in scope.instance_ids:
            instance = await self._inventory.instance(project_id=project_id, instance_id=instance_id)
            if instance is None:
                raise InstanceNotFound(f"Instance {instance_id} does not exist.")
            chosen[instance.id] = (instance, {n.id: n for n in instance.nodes})
        for node_id in scope.node_ids:
            instance = await self._inventory.instance_of_node(project_id=project_id, node_id=node_id)
            node = instance.node(node_id) if instance else None
            if instance is None or node is None:
                raise NodeNotFound(f"Node {node_id} does not exist.")
            chosen.setdefault(instance.id, (instance, {}))[1][node.id] = node
        return [(instance, tuple(nodes.values())) for instance, nodes in chosen.values()]

    async def _read_targets(self, targets: Sequence[Target], selector: Selector) -> Reads:
        pairs = [(t.instance, n) for t in targets for n in t.nodes]
        results = await self._bounded(self._sessions.read(i, n, selector) for i, n in pairs)
        reads, failed = [], []
        for (instance, node), result in zip(pairs, results, strict=True):
            if isinstance(result, NodeRead):
                reads.append(result)
            elif isinstance(result, SessionplaneError):
                failed.append(FailedNode(node.id, instance.id, result))
            else:
                raise result  # a bug, not a node failure
        return Reads(reads, failed)

    async def _kill_all(self, found: Reads) -> list[NodeOutcome]:
        results = await self._bounded(self._sessions.kill(r, r.selected) for r in found.reads)
        outcomes = [_failed_outcome(f) for f in found.failed]
        for read, result in zip(found.reads, results, strict=True):
            if isinstance(result, NodeOutcome):
                outcomes.append(result)
            elif isinstance(result, SessionplaneError):
                outcomes.append(NodeOutcome(read.node.id, matched=len(read.selected), error=result))
            else:
                raise result
        return outcomes

    async def _bounded(self, works: Iterable[Awaitable[T]]) -> list[T | BaseException]:
        return await bounded(works, limit=self._settings.fanout_concurrency)

    # -- pages ------------------------------------------------------------------------------------

    def _page(self, reads: Sequence[NodeRead], *, sort: str, offset: int, limit: int) -> list[dict[str, Any]]:
        """The page [offset, offset+limit) in ``sort`` order across nodes; only its lines are parsed."""
        descending, field = sort.startswith("-"), sort.lstrip("-")
        pick = heapq.nlargest if descending else heapq.nsmallest
        wanted = offset + limit
        candidates: list[tuple[Any, int, int]] = []
        for n, read in enumerate(reads):
            key = sort_key(read, field)
            for i in pick(wanted, read.selected, key=key):
                candidates.append((key(i), n, i))
        page = pick(wanted, candidates)[offset:]
        threshold = self._settings.active_idle_threshold_seconds
        return [
            selection.full_view(
                reads[n].listing.client(i),
                instance_id=reads[n].instance.id,
                node_id=reads[n].node.id,
                idle_threshold=threshold,
            )
            for _key, n, i in page
        ]


def sort_key(read: NodeRead, field: str) -> Callable[[int], Any]:
    """Key of a line for ``field``; ties broken by client ID (newer first for equal ages)."""
    ids = read.listing.ids
    if field == "age":  # newest first when ascending: a smaller age is a newer connection
        age = read.listing.column("age")
        return lambda i: (int(age[i] or 0), -ids[i])
    if field in ("idle", "db"):
        column = read.listing.column(field)
        return lambda i: (int(column[i] or 0), ids[i])
    column = read.listing.column(field)
    return lambda i: (column[i], ids[i])


def group_keys(read: NodeRead, group_by: str) -> Callable[[int], str]:
    if group_by == "node":
        node_id = read.node.id
        return lambda _i: node_id
    if group_by == "ip":
        ips = read.listing.column("ip")
        return lambda i: ips[i]
    column = read.listing.column(group_by.replace("_", "-"))
    return lambda i: column[i]


def _failed_outcome(failed: FailedNode) -> NodeOutcome:
    return NodeOutcome(failed.node_id, error=failed.error)


def _node_json(outcome: NodeOutcome) -> dict[str, Any]:
    return {
        "node_id": outcome.node_id,
        "closed": outcome.closed,
        "error_code": outcome.error.code if outcome.error else None,
        "error_msg": outcome.error.message if outcome.error else None,
    }


def _subject(targets: Sequence[Target], selector: Selector, expect_at_most: int | None) -> AuditSubject:
    parameters: dict[str, Any] = {
        "selector": selector.as_json(),
        "instance_ids": [t.instance.id for t in targets],
    }
    if expect_at_most is not None:
        parameters["expect_at_most"] = expect_at_most
    instance_id = targets[0].instance.id if len(targets) == 1 else None
    return AuditSubject(DELETE_SESSION.name, instance_id, None, parameters)
