"""The wired object graph, built once by ``create_app`` (or the CLI) and passed down explicitly."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import timedelta

from sessionplane.audit import recovery
from sessionplane.audit.store import AuditStore
from sessionplane.audit.trail import AuditTrail
from sessionplane.auth.authenticate import Authenticator
from sessionplane.auth.lockout import LockoutRule, Lockouts
from sessionplane.auth.passwords import Passwords
from sessionplane.db import HISTORY_MAINTENANCE_LOCK, Database
from sessionplane.health.probe import HealthProbe
from sessionplane.health.registry import HealthRegistry
from sessionplane.health.store import NodeStatusStore
from sessionplane.history.assignment import EveryNode, NodeAssignment
from sessionplane.history.leases import LeasedNodes
from sessionplane.history.maintenance import maintain
from sessionplane.history.sampler import Sampler
from sessionplane.history.service import HistoryService
from sessionplane.history.store import HistoryStore
from sessionplane.iam.authorize import Authorizer
from sessionplane.iam.store import IamStore
from sessionplane.inventory.discovery import Discovery
from sessionplane.inventory.store import InventoryStore
from sessionplane.keyring import Keyring
from sessionplane.limits.service import Limits, RateLimiter
from sessionplane.nodes.adapter import NodeAdapter
from sessionplane.nodes.discovery import TopologyReader
from sessionplane.ops.allocator import keep_freed_memory
from sessionplane.ops.limits import raise_open_file_limit
from sessionplane.ops.metrics import FleetCollector, Metrics, NodeConnectionsCollector
from sessionplane.ops.periodic import Periodic
from sessionplane.ops.readiness import Readiness
from sessionplane.rules.scheduler import RuleScheduler
from sessionplane.rules.service import RuleService
from sessionplane.rules.store import RuleStore
from sessionplane.schema import utcnow
from sessionplane.sessions.fleet import FleetService
from sessionplane.sessions.reconnects import ReconnectTracker
from sessionplane.sessions.service import SessionService
from sessionplane.settings import Settings


@dataclass
class Services:
    settings: Settings
    db: Database
    keyring: Keyring
    inventory: InventoryStore
    iam: IamStore
    audit_store: AuditStore
    audit: AuditTrail
    nodes: NodeAdapter
    passwords: Passwords
    lockouts: Lockouts
    authenticator: Authenticator
    authorizer: Authorizer
    sessions: SessionService
    fleet: FleetService
    discovery: Discovery
    metrics: Metrics
    readiness: Readiness
    history_store: HistoryStore
    history: HistoryService
    sampler: Sampler
    health: HealthRegistry
    probe: HealthProbe
    reconnects: ReconnectTracker
    assignment: NodeAssignment
    rate_limits: RateLimiter
    rule_store: RuleStore
    rules: RuleService
    scheduler: RuleScheduler
    background: list[Periodic] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        db = Database(settings.resolved_database_url)
        keyring = Keyring.load_or_create(settings.resolved_keyring_file)
        inventory = InventoryStore(db, keyring)
        iam = IamStore(db, keyring)
        audit_store = AuditStore(db)
        metrics = Metrics()
        audit = AuditTrail(audit_store, on_close=metrics.record_close, on_write=metrics.observe_audit_write)
        nodes = NodeAdapter(settings)
        authorizer = Authorizer(iam=iam, audit=audit, region=settings.region)
        reconnects = ReconnectTracker(nodes=nodes, audit=audit_store, settings=settings)
        sessions = SessionService(nodes=nodes, audit=audit, settings=settings, reconnects=reconnects)
        rule_store = RuleStore(db)
        rules = RuleService(store=rule_store, inventory=inventory, sessions=sessions, audit=audit, settings=settings)
        history_store = HistoryStore(db)
        assignment = _assignment(db, settings)
        sampler = Sampler(
            inventory=inventory,
            sessions=sessions,
            store=history_store,
            settings=settings,
            assignment=assignment,
            observe_round=metrics.observe_sampler_round,
        )
        health = HealthRegistry(failures_before_abnormal=settings.probe_failures_before_abnormal)
        metrics.watch(FleetCollector(latest_samples=sampler.latest, health=health.snapshot))
        metrics.watch(NodeConnectionsCollector(nodes))
        lockouts = Lockouts(
            db,
            password_rule=LockoutRule(
                locks_at=settings.password_lockout_failures,
                window=timedelta(seconds=settings.password_lockout_window_seconds),
                lock=timedelta(seconds=settings.password_lockout_seconds),
            ),
        )
        return cls(
            settings=settings,
            db=db,
            keyring=keyring,
            inventory=inventory,
            iam=iam,
            audit_store=audit_store,
            audit=audit,
            nodes=nodes,
            passwords=Passwords(concurrency=settings.password_hash_concurrency),
            lockouts=lockouts,
            authenticator=Authenticator(
                inventory=inventory,
                iam=iam,
                keyring=keyring,
                lockouts=lockouts,
                revision=db.revision,
                max_skew=timedelta(seconds=settings.sdk_date_max_skew_seconds),
            ),
            authorizer=authorizer,
            sessions=sessions,
            fleet=FleetService(
                sessions=sessions, inventory=inventory, authorizer=authorizer, audit=audit, settings=settings
            ),
            discovery=Discovery(inventory=inventory, reader=TopologyReader(settings)),
            metrics=metrics,
            readiness=Readiness(db),
            history_store=history_store,
            history=HistoryService(store=history_store, settings=settings),
            sampler=sampler,
            health=health,
            probe=HealthProbe(
                inventory=inventory, nodes=nodes, statuses=NodeStatusStore(db), registry=health, settings=settings
            ),
            reconnects=reconnects,
            assignment=assignment,
            rate_limits=RateLimiter(
                db,
                Limits(
                    per_caller=settings.rate_limit_per_caller,
                    per_project=settings.rate_limit_per_project,
                    window_seconds=settings.rate_limit_window_seconds,
                ),
            ),
            rule_store=rule_store,
            rules=rules,
            scheduler=RuleScheduler(
                store=rule_store, rules=rules, settings=settings, observe_run=metrics.observe_rule_run
            ),
        )

    async def start(self) -> None:
        await self.db.migrate()
        await recovery.mark_interrupted(self.audit_store, limit=recovery.close_time_limit(self.settings))

    def start_background(self) -> None:
        """The serving process's loops (the CLI builds the same services without them): health probe, sampler
        and close-rule scheduler (each off at 0 s), history roll-up and retention, the sweep of interrupted
        closes, discovery refresh (off unless configured), the sweep of idle node pools."""
        s = self.settings
        raise_open_file_limit()  # node connections are file descriptors: take what the system allows
        keep_freed_memory(s.keep_freed_memory_mb)  # megabyte replies: no fresh pages for each one
        loops = []
        if s.probe_interval_seconds:
            loops.append(Periodic("health-probe", s.probe_interval_seconds, self.probe.probe_round))
        if s.sample_interval_seconds:
            loops.append(Periodic("sampler", s.sample_interval_seconds, self.sampler.sample_round))
        loops.append(Periodic("history-maintenance", 60.0, self._maintain_history))  # retention holds either way
        sweep = min(recovery.close_time_limit(s).total_seconds(), 60.0)
        loops.append(Periodic("audit-recovery", sweep, lambda: recovery.mark_old_enough(self.audit_store, s)))
        if s.rule_tick_seconds:
            loops.append(Periodic("close-rules", s.rule_tick_seconds, self.scheduler.tick))
        if self.rate_limits.limits.on:
            loops.append(Periodic("rate-limit-prune", s.rate_limit_window_seconds, self.rate_limits.prune))
        if s.discovery_refresh_interval_seconds:
            loops.append(
                Periodic("discovery-refresh", s.discovery_refresh_interval_seconds, self.discovery.refresh_all)
            )
        # A pool is closed between idle_seconds and 1.5 x idle_seconds after its last use (60 s late at most).
        pool_sweep = min(s.node_pool_idle_seconds / 2, 60.0)
        loops.append(Periodic("node-pool-sweep", pool_sweep, self.nodes.sweep_idle))
        for loop in loops:
            loop.start()
        self.background += loops

    async def _maintain_history(self) -> None:
        # One replica at a time: two rewriting the same roll-up buckets at once would clash on their keys.
        async with self.db.exclusively(HISTORY_MAINTENANCE_LOCK) as ours:
            if ours:
                await maintain(self.history_store, settings=self.settings, now=utcnow())

    async def close(self) -> None:
        sampled = any(loop.name == "sampler" for loop in self.background)
        for loop in self.background:
            await loop.stop()
        self.background.clear()
        if sampled and isinstance(self.assignment, LeasedNodes):
            with contextlib.suppress(Exception):  # unreleased, the leases lapse within one interval anyway
                await self.assignment.release_all()  # the other replicas take the nodes at their next round
        await self.reconnects.close()
        await self.rate_limits.close()
        await self.nodes.close()
        self.passwords.close()
        await self.db.dispose()


def _assignment(db: Database, settings: Settings) -> NodeAssignment:
    """PostgreSQL may serve many replicas: they divide the nodes through leases. SQLite serves one: every node."""
    if db.engine.dialect.name == "sqlite":
        return EveryNode()
    return LeasedNodes(db, interval_seconds=settings.sample_interval_seconds or 1.0)
