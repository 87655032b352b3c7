"""Durable audit events (spec section 7): written before the response, read by the account's admins."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, insert, select, update

from sessionplane import ids
from sessionplane.audit.records import AuditEvent, AuditFilter, Outcome
from sessionplane.audit.tables import AuditEventRow
from sessionplane.db import Database
from sessionplane.schema import utcnow

_TABLE = AuditEventRow.__table__
# Built once, their values given at execute time: a statement built per write with ``.values(...)`` is
# coerced and keyed for the compiled cache anew each time, 0.2-0.6 ms of CPU per write (measured in-process
# on SQLite, 500 writes of each, alternated: the three writes of a close 3.4-4.0 against 2.4-2.5 ms).
_INSERT = insert(_TABLE)
_UPDATE_BY_ID = update(_TABLE).where(_TABLE.c.id == bindparam("event_id"))
_COLUMNS = frozenset(_TABLE.c.keys())


class AuditStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # A close waits for its two writes (the record before the kill, the outcome before the answer), and
    # reconnect tracking writes a third after it, so all three are Core statements (``Database.write``): no
    # ORM session or unit of work, 0.3-0.5 ms less each, and on SQLite one hop to the writer's thread.
    # audit_events is untracked (revision.py), so bypassing the session's revision hook misses nothing.

    async def append(self, **fields: Any) -> str:
        event_id = ids.plain_id()
        row = {"parameters": {}, "node_results": [], **fields, "id": event_id, "at": fields.get("at") or utcnow()}
        if unknown := row.keys() - _COLUMNS:  # an INSERT given its values at execute time would drop them unsaid
            raise TypeError(f"not audit columns: {sorted(unknown)}")
        await self._db.write(_INSERT, row)
        return event_id

    async def complete(
        self, event_id: str, *, outcome: str, error_code: str | None, node_results: Sequence[Mapping[str, Any]]
    ) -> None:
        results = [dict(r) for r in node_results]
        completion = {
            "event_id": event_id,
            "outcome": outcome,
            "error_code": error_code,
            "node_results": results,
            "closed": _closed(results) if results else None,
        }
        if await self._db.write(_UPDATE_BY_ID, completion) != 1:
            raise LookupError(f"audit event {event_id} does not exist")

    async def set_reconnected(self, event_id: str, count: int) -> None:
        """Reconnect tracking's answer, once its window has passed."""
        await self._db.write(_UPDATE_BY_ID, {"event_id": event_id, "reconnected": count})

    async def mark_interrupted(self, *, begun_before: datetime) -> list[str]:
        """Pending records begun before ``begun_before`` become ``interrupted``; returns their IDs.

        One conditional UPDATE: safe when several processes sweep at once, and a close that completes
        later still overwrites the mark with its real outcome.
        """
        stale = (AuditEventRow.outcome == Outcome.PENDING.value, AuditEventRow.at < begun_before)
        marked = (
            update(AuditEventRow).where(*stale).values(outcome=Outcome.INTERRUPTED.value).returning(AuditEventRow.id)
        )
        async with self._db.transaction() as s:
            return list(await s.scalars(marked))

    async def events(self, *, account_id: str | None, where: AuditFilter = AuditFilter()) -> list[AuditEvent]:
        query = select(AuditEventRow).order_by(AuditEventRow.at.desc(), AuditEventRow.id.desc())
        query = query.where(*_conditions(account_id, where)).offset(where.offset).limit(where.limit)
        async with self._db.sessions() as s:
            rows = await s.scalars(query)
            return [_event(r) for r in rows]

    async def count(self, *, account_id: str | None, where: AuditFilter = AuditFilter()) -> int:
        query = select(func.count()).select_from(AuditEventRow).where(*_conditions(account_id, where))
        async with self._db.sessions() as s:
            return int(await s.scalar(query) or 0)


def _conditions(account_id: str | None, where: AuditFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if account_id is not None:
        conditions.append(AuditEventRow.account_id == account_id)
    if where.since:
        conditions.append(AuditEventRow.at >= where.since)
    if where.until:
        conditions.append(AuditEventRow.at <= where.until)
    for column, value in (
        (AuditEventRow.user_name, where.user_name),
        (AuditEventRow.instance_id, where.instance_id),
        (AuditEventRow.outcome, where.outcome),
        (AuditEventRow.project_id, where.project_id),
    ):
        if value is not None:
            conditions.append(column == value)
    if where.actor is not None:
        conditions.append(_actor_condition(where.actor))
    return conditions


def _actor_condition(actor: str) -> ColumnElement[bool]:
    if not actor.endswith("*"):
        return AuditEventRow.actor == actor
    prefix = actor[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return AuditEventRow.actor.like(prefix + "%", escape="\\")


def _closed(node_results: Sequence[Mapping[str, Any]]) -> int:
    return sum(int(r.get("closed", 0) or 0) for r in node_results)


def _event(row: AuditEventRow) -> AuditEvent:
    at: datetime = row.at
    return AuditEvent(
        id=row.id,
        at=at,
        request_id=row.request_id,
        account_id=row.account_id,
        user_id=row.user_id,
        user_name=row.user_name,
        project_id=row.project_id,
        source_ip=row.source_ip,
        action=row.action,
        instance_id=row.instance_id,
        node_id=row.node_id,
        parameters=dict(row.parameters or {}),
        outcome=row.outcome,
        error_code=row.error_code,
        node_results=tuple(row.node_results or ()),
        actor=row.actor,
        closed=row.closed if row.closed is not None else (_closed(row.node_results) if row.node_results else None),
        reconnected=row.reconnected,
    )
