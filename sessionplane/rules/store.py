"""The close-rule store: rules, their schedule and lease, and their runs.

Every tenant-facing lookup is scoped by project and instance, so another project's rule reads as
missing. Scheduling across replicas needs no coordination beyond the database: ``claim`` is one
conditional UPDATE (the rule is enabled, due, and nobody holds an unexpired lease on it) that
moves ``next_run_at`` one interval ahead and takes the lease in the same statement, so however
many replicas try, one wins each due time; ``release`` gives the lease back when the run is done,
and a replica that dies mid-run loses it when it expires.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from sessionplane import ids
from sessionplane.db import Database
from sessionplane.rules.model import NodeRun, Rule, RuleRun
from sessionplane.rules.tables import CloseRuleRow, CloseRuleRunRow
from sessionplane.schema import utcnow


class RuleStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- rules ----------------------------------------------------------------------------------

    async def create(
        self, *, project_id: str, instance_id: str, fields: Mapping[str, Any], rule_id: str | None = None
    ) -> Rule:
        """A new rule from complete ``fields``; its first run is due at once."""
        now = utcnow()
        row = CloseRuleRow(
            id=rule_id or ids.plain_id(),
            project_id=project_id,
            instance_id=instance_id,
            created_at=now,
            updated_at=now,
            next_run_at=now,
            **fields,
        )
        async with self._db.transaction() as s:
            s.add(row)
        return _rule(row)

    async def rule(self, *, project_id: str, instance_id: str, rule_id: str) -> Rule | None:
        async with self._db.sessions() as s:
            row = await s.get(CloseRuleRow, rule_id)
        if row is None or row.project_id != project_id or row.instance_id != instance_id:
            return None
        return _rule(row)

    async def rule_any_project(self, rule_id: str) -> Rule | None:
        """For the operator's CLI, which is not a tenant."""
        async with self._db.sessions() as s:
            row = await s.get(CloseRuleRow, rule_id)
        return _rule(row) if row else None

    async def rules(
        self, *, project_id: str, instance_id: str, offset: int = 0, limit: int = 100
    ) -> tuple[list[Rule], int]:
        where = (CloseRuleRow.project_id == project_id, CloseRuleRow.instance_id == instance_id)
        query = select(CloseRuleRow).where(*where).order_by(CloseRuleRow.created_at.desc(), CloseRuleRow.id)
        async with self._db.sessions() as s:
            total = await s.scalar(select(func.count()).select_from(CloseRuleRow).where(*where))
            rows = await s.scalars(query.offset(offset).limit(limit))
            return [_rule(r) for r in rows], int(total or 0)

    async def update(self, rule_id: str, changes: Mapping[str, Any]) -> Rule | None:
        """Apply ``changes``. Enabling clears the disabled reason and makes the rule due at once; a shorter
        interval brings the next run closer (it is never further away than one new interval)."""
        async with self._db.transaction() as s:
            row = await s.get(CloseRuleRow, rule_id)
            if row is None:
                return None
            for name, value in changes.items():
                setattr(row, name, value)
            now = utcnow()
            if changes.get("enabled") is True:
                row.disabled_reason = None
                row.next_run_at = now
            elif "interval_seconds" in changes:
                row.next_run_at = min(row.next_run_at, now + timedelta(seconds=row.interval_seconds))
            row.updated_at = now
        return _rule(row)

    async def disable(self, rule_id: str, reason: str) -> None:
        values = {"enabled": False, "disabled_reason": reason[:256], "updated_at": utcnow()}
        async with self._db.transaction() as s:
            await s.execute(update(CloseRuleRow).where(CloseRuleRow.id == rule_id).values(**values))

    async def delete(self, rule_id: str) -> bool:
        async with self._db.transaction() as s:
            await s.execute(delete(CloseRuleRunRow).where(CloseRuleRunRow.rule_id == rule_id))
            result = await s.execute(delete(CloseRuleRow).where(CloseRuleRow.id == rule_id))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    # -- schedule and lease -----------------------------------------------------------------------

    async def due(self, now: datetime, *, limit: int = 100) -> list[tuple[str, int]]:
        """(id, interval) of enabled rules due at ``now`` that nobody holds, most overdue first."""
        query = (
            select(CloseRuleRow.id, CloseRuleRow.interval_seconds)
            .where(*_claimable(now))
            .order_by(CloseRuleRow.next_run_at)
            .limit(limit)
        )
        async with self._db.sessions() as s:
            return [(rule_id, interval) for rule_id, interval in await s.execute(query)]

    async def claim(
        self, rule_id: str, *, owner: str, now: datetime, interval_seconds: int, lease_seconds: float
    ) -> Rule | None:
        """Take the rule for one run (the rule) or find that another replica has (None)."""
        values = {
            "next_run_at": now + timedelta(seconds=interval_seconds),
            "lease_owner": owner,
            "lease_expires_at": now + timedelta(seconds=lease_seconds),
        }
        statement = update(CloseRuleRow).where(CloseRuleRow.id == rule_id, *_claimable(now)).values(**values)
        async with self._db.transaction() as s:
            result = await s.execute(statement)
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            row = await s.get(CloseRuleRow, rule_id)
        return _rule(row) if row else None

    async def release(self, rule_id: str, *, owner: str) -> None:
        statement = (
            update(CloseRuleRow)
            .where(CloseRuleRow.id == rule_id, CloseRuleRow.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None)
        )
        async with self._db.transaction() as s:
            await s.execute(statement)

    # -- runs -------------------------------------------------------------------------------------

    async def add_run(self, run: RuleRun) -> bool:
        """Keep a run; False when its rule was deleted meanwhile (the run is dropped with it)."""
        row = CloseRuleRunRow(
            id=run.id,
            rule_id=run.rule_id,
            started_at=run.started_at,
            finished_at=run.finished_at,
            mode=run.mode,
            matched=run.matched,
            closed=run.closed,
            reconnected=run.reconnected,
            nodes=[_node_json(n) for n in run.nodes],
            audit_id=run.audit_id,
        )
        try:
            async with self._db.transaction() as s:
                if await s.get(CloseRuleRow, run.rule_id) is None:
                    return False
                s.add(row)
        except IntegrityError:
            return False
        return True

    async def set_run_reconnected(self, run_id: str, count: int) -> None:
        async with self._db.transaction() as s:
            await s.execute(update(CloseRuleRunRow).where(CloseRuleRunRow.id == run_id).values(reconnected=count))

    async def runs(self, rule_id: str, *, offset: int = 0, limit: int = 50) -> tuple[list[RuleRun], int]:
        """Newest first."""
        where = CloseRuleRunRow.rule_id == rule_id
        query = select(CloseRuleRunRow).where(where)
        query = query.order_by(CloseRuleRunRow.started_at.desc(), CloseRuleRunRow.id).offset(offset).limit(limit)
        async with self._db.sessions() as s:
            total = await s.scalar(select(func.count()).select_from(CloseRuleRunRow).where(where))
            return [_run(r) for r in await s.scalars(query)], int(total or 0)

    async def prune_runs(self, *, before: datetime, rule_id: str | None = None) -> int:
        """Drop runs that started before ``before`` (of one rule, or of all)."""
        statement = delete(CloseRuleRunRow).where(CloseRuleRunRow.started_at < before)
        if rule_id is not None:
            statement = statement.where(CloseRuleRunRow.rule_id == rule_id)
        async with self._db.transaction() as s:
            result = await s.execute(statement)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _claimable(now: datetime) -> tuple[Any, ...]:
    return (
        CloseRuleRow.enabled.is_(True),
        CloseRuleRow.next_run_at <= now,
        or_(CloseRuleRow.lease_expires_at.is_(None), CloseRuleRow.lease_expires_at < now),
    )


def _rule(row: CloseRuleRow) -> Rule:
    return Rule(
        id=row.id,
        project_id=row.project_id,
        instance_id=row.instance_id,
        name=row.name,
        match=dict(row.match or {}),
        exclude=dict(row.exclude or {}),
        interval_seconds=row.interval_seconds,
        mode=row.mode,
        max_per_run=row.max_per_run,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
        next_run_at=row.next_run_at,
    )


def _node_json(node: NodeRun) -> dict[str, Any]:
    return {
        "node_id": node.node_id,
        "matched": node.matched,
        "closed": node.closed,
        "error_code": node.error_code,
        "error_msg": node.error_msg,
    }


def _run(row: CloseRuleRunRow) -> RuleRun:
    return RuleRun(
        id=row.id,
        rule_id=row.rule_id,
        started_at=row.started_at,
        finished_at=row.finished_at,
        mode=row.mode,
        matched=row.matched,
        closed=row.closed,
        reconnected=row.reconnected,
        nodes=tuple(NodeRun(**n) for n in row.nodes or ()),
        audit_id=row.audit_id,
    )
