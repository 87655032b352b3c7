"""The sessions domain: read one node's client sessions, and the GeminiDB operations built on it.

Callers (the HTTP handlers, the CLI, the fleet operations, rules) have already found the instance
and authorised the caller; functions here take the records, talk to nodes through the adapter,
and write the audit trail. Every node operation is bounded by the adapter's node deadline.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

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
from sessionplane.nodes.adapter import KillIds, NodeAdapter, NodeListing
from sessionplane.nodes.client_list import ClientList
from sessionplane.sessions import selection
from sessionplane.sessions.fanout import bounded
from sessionplane.sessions.known_users import KnownUsers
from sessionplane.sessions.reconnects import Counted, ReconnectTracker, closed_on
from sessionplane.sessions.selection import ClientSessions, KillPlan, Protection, Statistics
from sessionplane.sessions.selector import Criteria, Selector
from sessionplane.settings import Settings

_USABLE_INSTANCE_STATES = frozenset({"normal", "abnormal"})
ID_SLICE = 1000  # session IDs listed and closed per slice of a close by IDs (NodeAdapter.kill_in_slices)
# The first slice is smaller: the first kill waits for its decision (and for the audit record), so a small one
# is decided soonest (where the record is written before the node has listed more, the node kills sooner).
FIRST_ID_SLICE = 200


@dataclass(frozen=True)
class NodeRead:
    """One node's CLIENT LIST, what is shielded on it, and the lines a selector picked."""

    instance: Instance
    node: Node
    listing: ClientList
    shielded: frozenset[int]
    sessions: Sequence[int]  # every client session
    selected: Sequence[int]  # the client sessions the selector picked


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
    """What a close did on one node: sessions closed, or the error; who was closed (for reconnects)."""

    node_id: str
    matched: int = 0
    closed: int = 0
    error: SessionplaneError | None = None
    # The listings and the lines of each that it closed: who they were, and the newest client ID they
    # showed, are worked out by reconnect tracking, in the background, after the answer (columns and
    # a count over thousands of lines).
    closed_lines: tuple[tuple[ClientList, Sequence[int]], ...] = field(default=(), repr=False)

    def closed_identities(self) -> Counter[tuple[str, str, str]]:
        """(ip, name, user) of each session this close closed."""
        return sum((selection.identities(listing, lines) for listing, lines in self.closed_lines), Counter())

    @property
    def newest_id(self) -> int:
        """The newest client ID the close's listings showed (reconnect tracking's line)."""
        return max((max(listing.ids, default=0) for listing, _lines in self.closed_lines), default=0)

    def audit(self) -> dict[str, Any]:
        if self.error:
            return {"node_id": self.node_id, "error_code": self.error.code, "error": self.error.message}
        return {"node_id": self.node_id, "closed": self.closed}


class SessionService:
    def __init__(
        self,
        *,
        nodes: NodeAdapter,
        audit: AuditTrail,
        settings: Settings,
        reconnects: ReconnectTracker | None = None,
    ) -> None:
        self._nodes = nodes
        self._audit = audit
        self._settings = settings
        self._reconnects = reconnects
        self._fanout = settings.fanout_concurrency  # nodes of one instance read or closed at once
        self._known_users = KnownUsers()
        # What a listing shows under one instance's protections, worked out once for every request that shares
        # the listing (``NodeAdapter.client_list``): each would otherwise scan the megabytes of the reply for
        # protected users again. Kept as long as the listing is (weakly: the memo never keeps a reply alive).
        self._client_sessions: WeakKeyDictionary[ClientList, dict[Protection, ClientSessions]] = WeakKeyDictionary()

    # -- one node ----------------------------------------------------------------------------

    async def read(self, instance: Instance, node: Node, selector: Selector | None = None) -> NodeRead:
        """The node's client sessions and, among them, those ``selector`` picks (all when None)."""
        self.require_usable(instance, node)
        return self._node_read(instance, node, await self._client_list(node, selector), selector)

    def _node_read(
        self,
        instance: Instance,
        node: Node,
        reply: NodeListing,
        selector: Selector | None,
        *,
        closing_all: bool = False,
    ) -> NodeRead:
        listing = reply.parsed()
        if closing_all:  # it reads the users (to remember them, to kill by user): first, so the protections by
            listing.column("user")  # user scan that column instead of the whole reply (``ids_with_value``)
        shielded, sessions = self._sessions_of(reply, self.protection(instance))
        selected = selector.lines(listing, sessions) if selector else sessions
        return NodeRead(instance, node, listing, shielded, sessions, selected)

    def _sessions_of(self, reply: NodeListing, protection: Protection) -> ClientSessions:
        """The IDs shielded on a listing and the lines of its client sessions (``_client_sessions``)."""
        listing = reply.parsed()
        known = self._client_sessions.setdefault(listing, {})
        found = known.get(protection)
        if found is None:
            shielded = protection.shielded(listing, reply.own)  # ``reply.own`` is the same for every sharer
            found = known[protection] = ClientSessions(
                frozenset(shielded), tuple(selection.client_sessions(listing, shielded))
            )
        return found

    async def kill(self, read: NodeRead, lines: Sequence[int], *, everything: bool = False) -> NodeOutcome:
        """Close ``lines`` of a read; ``everything``: they are every client session of the node."""
        plan = selection.plan_close(
            read.listing,
            lines,
            shielded=read.shielded,
            everything=everything,
            per_user=self._settings.per_user_kill,
        )
        closed = await self._execute(read.node, plan)
        return NodeOutcome(
            read.node.id,
            matched=len(lines),
            closed=closed,
            closed_lines=((read.listing, lines),),
        )

    def track_reconnects(
        self, audit_id: str, nodes: Sequence[Node], outcomes: Sequence[NodeOutcome], *, then: Counted | None = None
    ) -> None:
        """After a close: count, in the background, the closed sessions that come back (never delays the caller)."""
        if self._reconnects is not None:
            self._reconnects.track(audit_id, closed_on(nodes, outcomes), then=then)

    async def _execute(self, node: Node, plan: KillPlan) -> int:
        return await self._nodes.kill(node, ids=plan.ids, pubsub_ids=plan.pubsub_ids, users=plan.users)

    async def _client_list(self, node: Node, selector: Selector | None) -> NodeListing:
        if selector is not None and selector.session_ids is not None:
            return await self._nodes.client_list(node, args=("ID", *selector.session_ids))
        filters = await self._filters(node, selector)
        try:
            return await self._nodes.client_list(node, args=filters)
        except QuerySessionFailed:
            if not filters:
                raise
            # Valkey refuses some values its filters cannot match ("No such user", a DB number above
            # its databases) where the selector simply matches nothing: without the filters, the node's
            # whole list filtered here gives the same answer. A node that cannot list at all fails again.
            return await self._nodes.client_list(node)

    async def _filters(self, node: Node, selector: Selector | None) -> tuple[Any, ...]:
        if selector is None:
            return ()
        filters = server_side_filters(selector)
        if not filters or not self._settings.node_server_side_filters:
            return ()
        capabilities = await self._nodes.capabilities(node)
        return filters if capabilities.client_list_filters else ()

    def protection(self, instance: Instance) -> Protection:
        s = self._settings
        return Protection(
            names=frozenset((*s.protected_client_names, *instance.protected_names)),
            users=frozenset((*s.protected_users, *instance.protected_users)),
        )

    def require_usable(self, instance: Instance, node: Node | None) -> None:
        if instance.status not in _USABLE_INSTANCE_STATES:
            raise NodeUnavailable(f"Instance {instance.id} is {instance.status}; its sessions cannot be managed now.")
        if node is not None and node.status == "abnormal":  # the health probe's verdict: answer now, never wait
            raise NodeUnavailable(f"Node {node.id} is abnormal: it does not answer the health probe.")

    # -- GeminiDB: list and statistics -----------------------------------------------------------

    async def list_node(
        self, *, instance: Instance, node: Node, offset: int, limit: int, addr_prefix: str | None
    ) -> SessionPage:
        read = await self.read(instance, node, _addr_selector(addr_prefix))
        page = selection.newest_first(read.listing, read.selected, offset=offset, limit=limit)
        return SessionPage(total_count=len(read.selected), sessions=[selection.session_view(c) for c in page])

    async def list_instance(self, *, instance: Instance, node_id: str | None) -> list[NodeSessions]:
        targets = target_nodes(instance, node_id)
        results = await bounded((self._node_sessions(instance, n) for n in targets), limit=self._fanout)
        _raise_failures(targets, results, QuerySessionFailed, single=node_id is not None)
        return [r for r in results if isinstance(r, NodeSessions)]

    async def _node_sessions(self, instance: Instance, node: Node) -> NodeSessions:
        read = await self.read(instance, node)
        page = selection.newest_first(read.listing, read.selected, offset=0, limit=len(read.selected))
        return NodeSessions(node.id, len(read.selected), [selection.session_view(c) for c in page])

    async def statistics(self, *, instance: Instance, node: Node) -> Statistics:
        read = await self.read(instance, node)
        threshold = self._settings.active_idle_threshold_seconds
        return selection.statistics(read.listing, read.selected, idle_threshold=threshold)

    # -- GeminiDB: closes ------------------------------------------------------------------------

    async def preview_close(self, *, instance: Instance, node: Node, selector: Selector) -> list[dict[str, str]]:
        """dry_run: what a close with this selector would close now; closes nothing."""
        read = await self.read(instance, node, selector)
        return [selection.session_view(read.listing.client(i)) for i in read.selected]

    async def close_node(
        self,
        *,
        meta: RequestMeta,
        instance: Instance,
        node: Node,
        selector: Selector,
        parameters: Mapping[str, object] | None = None,
    ) -> int:
        """``parameters``: ``audit_parameters(selector)`` where the caller built them already (to authorize)."""
        self.require_usable(instance, node)
        recorded = asyncio.ensure_future(self._audit.begin(meta, _subject(instance, node.id, selector, parameters)))
        if selector.session_ids is not None:
            outcome = await self._close_ids(instance, node, selector, recorded)
        else:
            outcome = await self._close_one(instance, node, selector, recorded, width=1)
        event = await recorded
        await self._finish(event, [outcome])
        self.track_reconnects(event, [node], [outcome])
        if outcome.error:
            raise outcome.error
        return outcome.closed

    async def close_instance(self, *, meta: RequestMeta, instance: Instance, node_id: str | None) -> list[NodeOutcome]:
        """Close every client session of every targeted node, concurrently; a failed node does not stop the others."""
        targets = target_nodes(instance, node_id)
        self.require_usable(instance, None)
        everything = Selector()
        recorded = asyncio.ensure_future(self._audit.begin(meta, _subject(instance, node_id, everything)))
        results = await bounded(
            (self._close_one(instance, n, everything, recorded, width=len(targets)) for n in targets),
            limit=self._fanout,
        )
        event = await recorded  # an audit failure surfaces here; no node was closed then
        outcomes = [r for r in results if isinstance(r, NodeOutcome)]
        if len(outcomes) != len(results):
            raise next(r for r in results if isinstance(r, BaseException))
        await self._finish(event, outcomes)
        self.track_reconnects(event, targets, outcomes)
        failed = [o for o in outcomes if o.error]
        if node_id is not None and failed:
            raise failed[0].error  # type: ignore[misc]
        if failed:
            details = "; ".join(f"node {o.node_id}: {o.error.message}" for o in failed if o.error)
            raise KillSessionFailed(f"Kill session failed on {len(failed)} of {len(outcomes)} nodes. {details}")
        return outcomes

    async def _close_one(
        self, instance: Instance, node: Node, selector: Selector, recorded: Awaitable[str], *, width: int
    ) -> NodeOutcome:
        """Read, then close once the audit record is durable (``recorded``); its failure propagates.
        ``width``: how many nodes the close targets."""
        everything = selector.selects_everything
        if everything and (users := self._users_ahead(instance, node)):
            # A node listing while the record is written saves its listing's time where the server waits
            # for the record. A wide close keeps the server busy past the write: there each node's listing
            # ahead would only cost a write of its own and a wake-up for its early reply. Measured on 64 x 100
            # (serve's CPU from /proc, five alternating pairs): 48-64 ms per close listed ahead, 38-47 ms with
            # the kills; on one node of 5,000, listing ahead is the faster (115-131 ms against 149-150 ms).
            list_ahead = width <= self._settings.close_list_ahead_max_nodes
            return await self._close_all_with_users_ahead(instance, node, users, recorded, list_ahead=list_ahead)
        try:
            read = await self.read(instance, node, selector)
        except SessionplaneError as exc:
            return _unread(node, exc)
        if everything:
            self._remember_users(node, read)
        await recorded
        try:
            return await self.kill(read, read.selected, everything=everything)
        except SessionplaneError as exc:
            return NodeOutcome(node.id, matched=len(read.selected), error=exc)

    def _users_ahead(self, instance: Instance, node: Node) -> tuple[str, ...]:
        """The users a close-all of ``node`` may kill before it has listed the node: those its last close-all
        found, less the protected users and our own. None where a name is protected: a protected session may
        sit under any user, and only a listing shows where (then the users are killed after it)."""
        protection = self.protection(instance)
        if not self._settings.per_user_kill or protection.names:
            return ()
        own = node.username or "default"  # our connections' user: the node's default user without a name
        return tuple(sorted(self._known_users.of(node.id) - protection.users - {own}))

    def _remember_users(self, node: Node, read: NodeRead) -> None:
        user = read.listing.column("user")
        self._known_users.remember(node.id, {user[i] for i in read.sessions} - {""})

    async def _close_all_with_users_ahead(
        self, instance: Instance, node: Node, users: Sequence[str], recorded: Awaitable[str], *, list_ahead: bool
    ) -> NodeOutcome:
        """Close-all in one round trip: the node's listing and the kills of ``users`` in one pipeline
        (``NodeAdapter.list_then_kill_users``); then, from that listing, decided while the node kills, what
        those users did not cover (a user new since the last close-all, by user or ID as ``plan_close``
        decides), on the same connection."""
        try:
            self.require_usable(instance, node)
        except SessionplaneError as exc:
            return _unread(node, exc)
        reads: list[NodeRead] = []  # the last is the listing the kills went by (a retried connection reads again)
        killed = set(users)

        def rest(reply: NodeListing) -> tuple[Sequence[int], Sequence[int], Sequence[str]]:
            read = self._node_read(instance, node, reply, None, closing_all=True)
            reads.append(read)
            self._remember_users(node, read)
            user = read.listing.column("user")
            others = [i for i in read.sessions if user[i] not in killed]  # whole users: each user's every session
            plan = selection.plan_close(
                read.listing, others, shielded=read.shielded, everything=True, per_user=self._settings.per_user_kill
            )
            return plan.ids, plan.pubsub_ids, plan.users

        try:
            # Nothing is killed before the audit record is durable; the node lists while it is written.
            closed = await self._nodes.list_then_kill_users(
                node, users, ready=recorded, then=rest, list_ahead=list_ahead
            )
        except SessionplaneError as exc:
            return _unread(node, exc)
        read = reads[-1]
        return NodeOutcome(
            node.id,
            matched=len(read.sessions),
            closed=closed,
            closed_lines=((read.listing, read.sessions),),
        )

    async def _close_ids(
        self, instance: Instance, node: Node, selector: Selector, recorded: asyncio.Future[str]
    ) -> NodeOutcome:
        """``_close_one`` for a close by session IDs, in slices of ``ID_SLICE``: the node lists the first slices
        while the audit record is written, then each next one ahead of the kills before it
        (``NodeAdapter.kill_in_slices``), so thousands of IDs are not all parsed before the first kill."""
        ids = selector.session_ids or ()
        slices = [ids[:FIRST_ID_SLICE]] + [ids[i : i + ID_SLICE] for i in range(FIRST_ID_SLICE, len(ids), ID_SLICE)]
        reads: dict[int, NodeRead] = {}  # by slice: a retried connection reads a slice again

        def decide(n: int, reply: NodeListing) -> KillIds:
            read = reads[n] = self._node_read(instance, node, reply, selector)
            plan = selection.plan_close(
                read.listing, read.selected, shielded=read.shielded, everything=False, per_user=False
            )
            return plan.ids, plan.pubsub_ids

        try:
            closed = await self._nodes.kill_in_slices(node, slices, decide, ready=recorded)
        except SessionplaneError as exc:
            return NodeOutcome(node.id, matched=sum(len(r.selected) for r in reads.values()), error=exc)
        return NodeOutcome(
            node.id,
            matched=sum(len(r.selected) for r in reads.values()),
            closed=closed,
            closed_lines=tuple((r.listing, r.selected) for r in reads.values()),
        )

    async def _finish(self, event: str, outcomes: Sequence[NodeOutcome]) -> None:
        await self._audit.finish(event, **close_outcome(outcomes))


def _unread(node: Node, error: SessionplaneError) -> NodeOutcome:
    """A close that could not read its node: a node that answered but would not list its clients
    failed the close there, for the caller."""
    if isinstance(error, QuerySessionFailed):
        error = KillSessionFailed(f"{KillSessionFailed.default_message} {error.message}")
    return NodeOutcome(node.id, error=error)


def close_outcome(outcomes: Sequence[NodeOutcome]) -> dict[str, Any]:
    """The audit record's completion: overall outcome, first error code, per-node results."""
    failed = sum(1 for o in outcomes if o.error)
    outcome = "succeeded" if not failed else ("failed" if failed == len(outcomes) else "partial")
    first_error = next((o.error.code for o in outcomes if o.error), None)
    return {"outcome": outcome, "error_code": first_error, "node_results": [o.audit() for o in outcomes]}


def server_side_filters(selector: Selector) -> tuple[Any, ...]:
    """CLIENT LIST filters (Valkey 8.1+) that narrow the reply to a superset of what ``selector.match``
    picks: single exact values only (the node's filters take one value each). The selector is still
    applied to the reply, so the answer is the same with or without them."""
    m = selector.match
    args: list[Any] = []
    for name, glob in (("NAME", m.name), ("USER", m.user), ("LIB-NAME", m.lib_name)):
        literal = glob.literal if glob else None
        if literal:
            args += [name, literal]
    if m.db is not None and len(m.db) == 1:
        args += ["DB", next(iter(m.db))]
    if m.ip is not None and len(m.ip) == 1:
        args += ["IP", next(iter(m.ip))]
    if m.min_idle_seconds:
        args += ["IDLE", m.min_idle_seconds]
    return tuple(args)


def _addr_selector(addr_prefix: str | None) -> Selector | None:
    return Selector(match=Criteria(addr_prefix=addr_prefix)) if addr_prefix else None


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


def _subject(
    instance: Instance, node_id: str | None, selector: Selector, parameters: Mapping[str, object] | None = None
) -> AuditSubject:
    return AuditSubject(DELETE_SESSION.name, instance.id, node_id, parameters or audit_parameters(selector))


def audit_parameters(selector: Selector) -> dict[str, object]:
    """A GeminiDB close's parameters as the audit trail records them."""
    parameters: dict[str, object] = {"is_all": selector.session_ids is None}
    if selector.session_ids is not None:
        parameters["session_ids"] = [str(i) for i in selector.session_ids]
    parameters.update(selector.match.as_json())
    return parameters
