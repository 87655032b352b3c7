"""The close-rule domain: rule changes (each audited) and one run of a rule.

A run reads every node of the rule's instance (one CLIENT LIST each, at most
``fanout_concurrency`` at once). ``report`` only counts. ``enforce`` writes its audit record
(actor ``rule:<rule_id>``) before anything is closed, then closes the ``max_per_run`` longest idle
matching sessions across the nodes through ``SessionService.kill``: the same protections as every
close. A node that fails is recorded with its error and the others go on. A rule whose instance
is gone, or has no nodes left, is disabled with the reason. Each run is kept, runs older than
``rule_run_retention_days`` are pruned, and enforcing runs get reconnect tracking.
"""

from __future__ import annotations

import heapq
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

from sessionplane import ids
from sessionplane.audit.trail import AuditSubject, AuditTrail
from sessionplane.auth.principal import Principal, RequestMeta
from sessionplane.errors import InternalError, InvalidParameter, SessionplaneError
from sessionplane.iam.actions import DELETE_SESSION
from sessionplane.inventory.records import Instance
from sessionplane.inventory.store import InventoryStore
from sessionplane.nodes.client_list import ClientList
from sessionplane.rules.model import DEFAULTS, NodeRun, Rule, RuleRun, RuleSpec
from sessionplane.rules.store import RuleStore
from sessionplane.schema import utcnow
from sessionplane.sessions.fanout import bounded
from sessionplane.sessions.selector import Selector
from sessionplane.sessions.service import NodeOutcome, NodeRead, SessionService, close_outcome
from sessionplane.settings import Settings

T = TypeVar("T")
MAX_RULES_PER_INSTANCE = 100
RULE_ACTIONS = {op: f"sessionplane:closeRule:{op}" for op in ("create", "update", "delete")}


class RuleService:
    def __init__(
        self,
        *,
        store: RuleStore,
        inventory: InventoryStore,
        sessions: SessionService,
        audit: AuditTrail,
        settings: Settings,
    ) -> None:
        self._store = store
        self._inventory = inventory
        self._sessions = sessions
        self._audit = audit
        self._settings = settings

    # -- changes (the caller has authorised deleteSession on the instance) ------------------------

    async def create(self, *, meta: RequestMeta, instance: Instance, spec: RuleSpec) -> Rule:
        _, count = await self._store.rules(project_id=instance.project_id, instance_id=instance.id, limit=1)
        if count >= MAX_RULES_PER_INSTANCE:
            raise InvalidParameter(f"Invalid parameter: an instance has at most {MAX_RULES_PER_INSTANCE} close rules.")
        fields = {**DEFAULTS, "exclude": {}, **spec.given()}
        rule_id = ids.plain_id()
        return await self._audited(
            meta,
            "create",
            instance,
            {"rule_id": rule_id, "rule": fields},
            lambda: self._store.create(
                rule_id=rule_id, project_id=instance.project_id, instance_id=instance.id, fields=fields
            ),
        )

    async def update(self, *, meta: RequestMeta, instance: Instance, rule: Rule, spec: RuleSpec) -> Rule:
        changes = spec.given()
        updated = await self._audited(
            meta,
            "update",
            instance,
            {"rule_id": rule.id, "changes": changes},
            lambda: self._store.update(rule.id, changes),
        )
        return updated or rule

    async def delete(self, *, meta: RequestMeta, instance: Instance, rule: Rule) -> None:
        await self._audited(
            meta, "delete", instance, {"rule_id": rule.id, "name": rule.name}, lambda: self._store.delete(rule.id)
        )

    async def _audited(
        self,
        meta: RequestMeta,
        operation: str,
        instance: Instance,
        parameters: dict[str, Any],
        change: Callable[[], Awaitable[T]],
    ) -> T:
        """Record the change, make it, complete the record (if the first write fails, nothing changes)."""
        subject = AuditSubject(RULE_ACTIONS[operation], instance.id, None, parameters)
        event = await self._audit.begin(meta, subject)
        try:
            result = await change()
        except Exception:
            await self._audit.finish(event, outcome="failed", error_code=InternalError.code, node_results=[])
            raise
        await self._audit.finish(event, outcome="succeeded", error_code=None, node_results=[])
        return result

    # -- runs ---------------------------------------------------------------------------------------

    async def run(self, rule: Rule) -> RuleRun | None:
        """One run of ``rule`` (claimed by the scheduler); None when the rule was disabled instead."""
        instance = await self._inventory.instance(project_id=rule.project_id, instance_id=rule.instance_id)
        if instance is None:
            await self._store.disable(rule.id, f"instance {rule.instance_id} no longer exists")
            return None
        if not instance.nodes:
            await self._store.disable(rule.id, f"instance {rule.instance_id} has no nodes")
            return None
        try:
            selector = rule.selector()
        except InvalidParameter as exc:
            await self._store.disable(rule.id, f"its selector is not valid: {exc.message}")
            return None
        run_id, started = ids.plain_id(), utcnow()
        reads, failures = await self._read(instance, selector)
        outcomes: dict[str, NodeOutcome] = {}
        audit_id = None
        if rule.mode == "enforce":
            outcomes, audit_id = await self._enforce(rule, instance, selector, reads, failures, run_id)
        run = RuleRun(
            id=run_id,
            rule_id=rule.id,
            started_at=started,
            finished_at=utcnow(),
            mode=rule.mode,
            matched=sum(len(r.selected) for r in reads),
            closed=sum(o.closed for o in outcomes.values()),
            reconnected=None,
            nodes=_node_runs(instance, reads, failures, outcomes),
            audit_id=audit_id,
        )
        return await self._keep(run, reads, outcomes)

    async def _keep(self, run: RuleRun, reads: Sequence[NodeRead], outcomes: dict[str, NodeOutcome]) -> RuleRun:
        if not await self._store.add_run(run):
            return run  # the rule was deleted during its run
        retention = timedelta(days=self._settings.rule_run_retention_days)
        await self._store.prune_runs(before=utcnow() - retention, rule_id=run.rule_id)
        if run.audit_id is not None:
            then = partial(self._store.set_run_reconnected, run.id)
            self._sessions.track_reconnects(run.audit_id, [r.node for r in reads], list(outcomes.values()), then=then)
        return run

    async def _read(
        self, instance: Instance, selector: Selector
    ) -> tuple[list[NodeRead], dict[str, SessionplaneError]]:
        results = await self._bounded(self._sessions.read(instance, n, selector) for n in instance.nodes)
        reads, failures = [], {}
        for node, result in zip(instance.nodes, results, strict=True):
            if isinstance(result, NodeRead):
                reads.append(result)
            elif isinstance(result, SessionplaneError):
                failures[node.id] = result
            else:
                raise result  # a bug, not a node failure
        return reads, failures

    async def _enforce(
        self,
        rule: Rule,
        instance: Instance,
        selector: Selector,
        reads: Sequence[NodeRead],
        failures: dict[str, SessionplaneError],
        run_id: str,
    ) -> tuple[dict[str, NodeOutcome], str | None]:
        parameters = {"rule_id": rule.id, "selector": selector.as_json(), "max_per_run": rule.max_per_run}
        subject = AuditSubject(DELETE_SESSION.name, instance.id, None, parameters)
        try:
            event = await self._audit.begin(await self._principal(rule, run_id), subject)
        except InternalError as exc:  # no record, no close
            return {r.node.id: NodeOutcome(r.node.id, error=exc) for r in reads}, None
        picks = pick_longest_idle([(r.listing, r.selected) for r in reads], rule.max_per_run)
        results = await self._bounded(self._sessions.kill(r, lines) for r, lines in zip(reads, picks, strict=True))
        outcomes: dict[str, NodeOutcome] = {}
        for read, lines, result in zip(reads, picks, results, strict=True):
            if isinstance(result, NodeOutcome):
                outcomes[read.node.id] = result
            elif isinstance(result, SessionplaneError):
                outcomes[read.node.id] = NodeOutcome(read.node.id, matched=len(lines), error=result)
            else:
                raise result
        failed = [NodeOutcome(node_id, error=error) for node_id, error in failures.items()]
        await self._audit.finish(event, **close_outcome([*outcomes.values(), *failed]))
        return outcomes, event

    async def _principal(self, rule: Rule, run_id: str) -> RequestMeta:
        project = await self._inventory.project(rule.project_id)
        principal = Principal(
            user_id=rule.id,
            user_name=f"rule:{rule.id}",
            account_id=project.account_id if project else "",
            account_name="",
            project_id=rule.project_id,
            project_name=project.name if project else "",
            is_admin=True,  # authorised when the rule was created or last changed
            method="rule",
        )
        return RequestMeta(request_id=run_id, principal=principal)

    async def _bounded(self, works: Iterable[Awaitable[T]]) -> list[T | BaseException]:
        return await bounded(works, limit=self._settings.fanout_concurrency)


def pick_longest_idle(listings: Sequence[tuple[ClientList, Sequence[int]]], limit: int) -> list[list[int]]:
    """Per listing, the lines to close: the ``limit`` longest idle among all of them (ties: the older client ID)."""
    candidates = []
    for n, (listing, lines) in enumerate(listings):
        idle, client_ids = listing.column("idle"), listing.ids
        candidates += [(-_whole(idle[i]), client_ids[i], n, i) for i in lines]
    picked: list[list[int]] = [[] for _ in listings]
    for _idle, _id, n, i in heapq.nsmallest(limit, candidates):
        picked[n].append(i)
    return picked


def _whole(value: str) -> int:
    return int(value) if value.isdigit() else 0


def _node_runs(
    instance: Instance,
    reads: Sequence[NodeRead],
    failures: dict[str, SessionplaneError],
    outcomes: dict[str, NodeOutcome],
) -> tuple[NodeRun, ...]:
    matched = {r.node.id: len(r.selected) for r in reads}
    runs = []
    for node in instance.nodes:
        outcome = outcomes.get(node.id)
        error = failures.get(node.id) or (outcome.error if outcome else None)
        runs.append(
            NodeRun(
                node_id=node.id,
                matched=matched.get(node.id, 0),
                closed=outcome.closed if outcome else 0,
                error_code=error.code if error else None,
                error_msg=error.message if error else None,
            )
        )
    return tuple(runs)
