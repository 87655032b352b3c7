"""GET /sessionplane/v1/{project_id}/audit: the project's audit trail, newest first, with filters and paging.

Only the path's project's records are read (another project's are invisible); the action is
``sessionplane:audit:list`` (the account's admin has it; a policy can grant it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from sessionplane.api.deps import Caller, ProjectId, Svc
from sessionplane.api.schemas import ERROR_RESPONSES
from sessionplane.api.times import iso, parse_moment
from sessionplane.audit.records import AuditEvent, AuditFilter, Outcome
from sessionplane.iam.actions import AUDIT_LIST
from sessionplane.schema import utcnow

router = APIRouter(prefix="/sessionplane/v1/{project_id}", tags=["sessionplane: audit"])
_ACTOR = "user:<name>, rule:<rule id>, cli:<os user>; a trailing * matches a prefix (rule:*)"
Moment = Annotated[str | None, Query(max_length=64, description="ISO 8601 time (UTC if no zone) or -30m, -1h, -7d")]


class NodeResult(BaseModel):
    node_id: str
    closed: int | None
    error_code: str | None
    error_msg: str | None


class AuditRecord(BaseModel):
    id: str
    time: str
    request_id: str
    actor: str | None
    source_ip: str | None
    action: str
    instance_id: str | None
    node_id: str | None
    parameters: dict[str, Any]
    outcome: str
    error_code: str | None
    closed: int | None
    reconnected: int | None
    nodes: list[NodeResult]


class AuditPage(BaseModel):
    total_count: int
    records: list[AuditRecord]


@router.get(
    "/audit",
    response_model=AuditPage,
    responses=ERROR_RESPONSES,
    summary="The project's audit trail: closes, denied closes, rule changes and rule runs, newest first",
)
async def list_audit(
    project_id: ProjectId,
    meta: Caller,
    svc: Svc,
    since: Moment = None,
    until: Moment = None,
    outcome: Annotated[Outcome | None, Query(description="Only records with this outcome")] = None,
    actor: Annotated[str | None, Query(pattern=r"^[^\x00-\x1f\x7f]{1,200}$", description=_ACTOR)] = None,
    instance_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict:
    await svc.authorizer.require(meta, AUDIT_LIST, None)
    now = utcnow()
    where = AuditFilter(
        since=parse_moment(since, field="since", now=now) if since else None,
        until=parse_moment(until, field="until", now=now) if until else None,
        outcome=outcome.value if outcome else None,
        actor=actor,
        instance_id=instance_id,
        project_id=project_id,
        offset=offset,
        limit=limit,
    )
    records = await svc.audit_store.events(account_id=None, where=where)
    total = await svc.audit_store.count(account_id=None, where=where)
    return {"total_count": total, "records": [record_json(e) for e in records]}


def record_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "time": iso(event.at),
        "request_id": event.request_id,
        "actor": event.actor,
        "source_ip": event.source_ip,
        "action": event.action,
        "instance_id": event.instance_id,
        "node_id": event.node_id,
        "parameters": dict(event.parameters),
        "outcome": event.outcome,
        "error_code": event.error_code,
        "closed": event.closed,
        "reconnected": event.reconnected,
        "nodes": [_node_result(r) for r in event.node_results],
    }


def _node_result(result: Mapping[str, object]) -> dict[str, object]:
    return {
        "node_id": result.get("node_id", ""),
        "closed": result.get("closed"),
        "error_code": result.get("error_code"),
        "error_msg": result.get("error"),
    }
