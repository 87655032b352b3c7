"""The sessions domain: list, statistics and close, on one node or fanned out over an instance.

Callers (the HTTP handlers, the CLI) have already found the instance and authorised the caller;
functions here take the records, talk to nodes through the adapter, and write the audit trail.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sessionplane.audit.trail import AuditSubject, AuditTrail
from sessionplane.auth.principal import RequestMeta
from sessionplane.errors import (
    KillSessionFailed,
    NodeNotFound,
    NodeUnavailable,
    QuerySessionFailed,
    SessionplaneError,
)
from sessionplane.iam.actions import DELETE_SESSION
from sessionplane.inventory.records import Instance, Node
from sessionplane.nodes.adapter import NodeAdapter
from sessionplane.nodes.client_list import ClientIndex
from sessionplane.sessions import selection
from sessionplane.sessions.selection import CloseCriteria, Protection, Statistics
from sessionplane.settings import Settings

_USABLE_INSTANCE_STATES = frozenset({"normal", "abnormal"})
_EVERY_SESSION = 2**31  # "no limit" for instance listings, which are not paged


@dataclass(frozen=True)
class SessionPage:
    total_count: int
    sessions: list[dict[str, str]]


@dataclass(frozen=True)
class NodeSessions:
    node_id: str
    total_count: int
    sessions: list[dict[str, str]]


@dataclass
class NodeOutcome:
    node_id: str
    closed: int = 0
    error: SessionplaneError | None = None
    would_close: list[dict[str, str]] = field(default_factory=list)

    def audit(self) -> dict[str, Any]:
        if self.error:
            return {"node_id": self.node_id, "error_code": self.error.code, "error": self.error.message}
        return {"node_id": self.node_id, "closed": self.closed}


class SessionService:
    def __init__(self, *, nodes: NodeAdapter, audit: AuditTrail, settings: Settings) -> None:
        self._nodes = nodes
        self._audit = audit
        self._settings = settings

    # -- reading ---------------------------------------------------------------------------

    async def list_node(
        self, *, instance: Instance, node: Node, offset: int, limit: int, addr_prefix: str | None
    ) -> SessionPage:
        _require_usable(instance, node)
        index = await self._nodes.client_list(node)
        lines = selection.client_sessions(index, self._protection(instance), addr_prefix)
        page = selection.newest_first(index, lines, offset=offset, limit=limit)
        return SessionPage(total_count=len(lines), sessions=[selection.session_view(c) for c in page])

    async def list_instance(self, *, instance: Instance, node_id: str | None) -> list[NodeSessions]:
        targets = target_nodes(instance, node_id)
        results = await asyncio.gather(*(self._node_sessions(instance, n) for n in targets), return_exceptions=True)
        _raise_failures(targets, results, QuerySessionFailed, single=node_id is not None)
        return [r for r in results if isinstance(r, NodeSessions)]

    async def statistics(self, *, instance: Instance, node: Node) -> Statistics:
        _require_usable(instance, node)
        index = await self._nodes.client_list(node)
        sessions = [index.client(i) for i in selection.client_sessions(index, self._protection(instance))]
        return selection.statistics(sessions, idle_threshold=self._settings.active_idle_threshold_seconds)

    async def _node_sessions(self, instance: Instance, node: Node) -> NodeSessions:
        page = await self.list_node(instance=instance, node=node, offset=0, limit=_EVERY_SESSION, addr_prefix=None)
        return NodeSessions(node.id, page.total_count, page.sessions)

    # -- closing ---------------------------------------------------------------------------

    async def preview_close(self, *, instance: Instance, node: Node, criteria: CloseCriteria) -> list[dict[str, str]]:
        """dry_run: what a close with these criteria would close now; closes nothing."""
        _require_usable(instance, node)
        index, lines = await self._select(instance, node, criteria)
        return [selection.session_view(index.client(i)) for i in lines]

    async def close_node(self, *, meta: RequestMeta, instance: Instance, node: Node, criteria: CloseCriteria) -> int:
        _require_usable(instance, node)
        recorded = asyncio.ensure_future(self._audit.begin(meta, _subject(instance, node.id, criteria)))
        outcome = await self._close_one(instance, node, criteria, recorded)
        await self._finish(await recorded, [outcome])
        if outcome.error:
            raise outcome.error
        return outcome.closed

    async def close_instance(self, *, meta: RequestMeta, instance: Instance, node_id: str | None) -> list[NodeOutcome]:
        """Close every client session of every targeted node, concurrently; a failed node does not stop the others."""
        targets = target_nodes(instance, node_id)
        _require_usable(instance, None)
        recorded = asyncio.ensure_future(self._audit.begin(meta, _subject(instance, node_id, CloseCriteria(ids=None))))
        closes = (self._close_one(instance, n, CloseCriteria(ids=None), recorded) for n in targets)
        results = await asyncio.gather(*closes, return_exceptions=True)
        event = await recorded  # an audit failure surfaces here; no node was closed then
        outcomes = [r for r in results if isinstance(r, NodeOutcome)]
        if len(outcomes) != len(results):
            raise next(r for r in results if isinstance(r, BaseException))
        await self._finish(event, outcomes)
        failed = [o for o in outcomes if o.error]
        if node_id is not None and failed:
            raise failed[0].error  # type: ignore[misc]
        if failed:
            details = "; ".join(f"node {o.node_id}: {o.error.message}" for o in failed if o.error)
            raise KillSessionFailed(f"Kill session failed on {len(failed)} of {len(outcomes)} nodes. {details}")
        return outcomes

    async def _close_one(
        self, instance: Instance, node: Node, criteria: CloseCriteria, recorded: Awaitable[str]
    ) -> NodeOutcome:
        """List, then close once the audit record is durable (``recorded``); its failure propagates."""
        try:
            _require_usable(instance, node)
            index, lines = await self._select(instance, node, criteria)
        except QuerySessionFailed as exc:
            # The node answered but would not list its clients: for the caller, the close failed there.
            return NodeOutcome(node.id, error=KillSessionFailed(f"{KillSessionFailed.default_message} {exc.message}"))
        except SessionplaneError as exc:
            return NodeOutcome(node.id, error=exc)
        await recorded
        try:
            return NodeOutcome(node.id, closed=await self._nodes.kill(node, [index.ids[i] for i in lines]))
        except SessionplaneError as exc:
            return NodeOutcome(node.id, error=exc)

    async def _select(self, instance: Instance, node: Node, criteria: CloseCriteria) -> tuple[ClientIndex, list[int]]:
        index = await self._nodes.client_list(node, ids=criteria.ids)
        return index, selection.close_targets(index, self._protection(instance), criteria)

    async def _finish(self, event: str, outcomes: Sequence[NodeOutcome]) -> None:
        failed = sum(1 for o in outcomes if o.error)
        outcome = "succeeded" if not failed else ("failed" if failed == len(outcomes) else "partial")
        first_error = next((o.error.code for o in outcomes if o.error), None)
        await self._audit.finish(
            event, outcome=outcome, error_code=first_error, node_results=[o.audit() for o in outcomes]
        )

    def _protection(self, instance: Instance) -> Protection:
        s = self._settings
        return Protection(
            own_name=s.own_client_name,
            names=frozenset((*s.protected_client_names, *instance.protected_names)),
            users=frozenset((*s.protected_users, *instance.protected_users)),
        )


def _require_usable(instance: Instance, node: Node | None) -> None:
    if instance.status not in _USABLE_INSTANCE_STATES:
        raise NodeUnavailable(f"Instance {instance.id} is {instance.status}; its sessions cannot be managed now.")
    if node is not None and node.status == "abnormal":  # the health probe's verdict: answer now, never wait on it
        raise NodeUnavailable(f"Node {node.id} is abnormal: it does not answer the health probe.")


def target_nodes(instance: Instance, node_id: str | None) -> tuple[Node, ...]:
    """Every node of the instance, or just ``node_id`` (which must be one of them)."""
    if node_id is None:
        return instance.nodes
    node = instance.node(node_id)
    if node is None:
        raise NodeNotFound(f"Node {node_id} does not exist in instance {instance.id}.")
    return (node,)


def _raise_failures(
    targets: Sequence[Node], results: Sequence[object], failure: type[SessionplaneError], *, single: bool
) -> None:
    errors = [(n, r) for n, r in zip(targets, results, strict=True) if isinstance(r, BaseException)]
    for _node, error in errors:
        if not isinstance(error, SessionplaneError):
            raise error  # a bug, not a node failure: let the edge report it as such
    if single and errors:
        raise errors[0][1]
    if errors:
        details = "; ".join(f"node {n.id}: {e}" for n, e in errors)
        raise failure(f"{failure.default_message} {len(errors)} of {len(targets)} nodes failed. {details}")


def _subject(instance: Instance, node_id: str | None, criteria: CloseCriteria) -> AuditSubject:
    return AuditSubject(DELETE_SESSION.name, instance.id, node_id, criteria.audit_parameters())
