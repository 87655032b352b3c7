"""Extensions section 2: an instance's session history and its groups ranked by growth (leak suspects).

Same edge as every route: authenticate and scope (``Caller``), look the instance up in the
caller's project (another project's reads as 404), authorise ``listSession`` on it, call the
history domain, serialise. Bad parameters answer 400 DBS.200001 naming the parameter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from sessionplane.api import schemas
from sessionplane.api.deps import Caller, InstanceId, ProjectId, Svc
from sessionplane.errors import InstanceNotFound
from sessionplane.history.series import number
from sessionplane.history.service import GroupBy
from sessionplane.history.timespec import parse_duration, parse_since
from sessionplane.iam.actions import LIST_SESSION
from sessionplane.inventory.records import Instance
from sessionplane.services import Services

router = APIRouter(prefix="/sessionplane/v1/{project_id}", tags=["sessionplane: session history"])

GroupByQuery = Annotated[
    GroupBy, Query(description="total (total/active/idle_over), a dimension (name, user, lib_name, ip), or node")
]


class HistorySeries(BaseModel):
    key: str = Field(description="The group: a name, user, lib_name, ip, node ID, '(other)', or total/active/idle_over")
    points: list[tuple[int, int | float | None]] = Field(
        description="[bucket start (unix seconds), sessions]; null: a node could not be read then (a gap, not zero)"
    )


class SessionHistory(BaseModel):
    instance_id: str
    group_by: str
    since: str
    until: str
    step: int
    series: list[HistorySeries]


class GrowthGroup(BaseModel):
    key: str
    start: int | float
    end: int | float
    growth: int | float
    peak: int | float


class SessionGrowth(BaseModel):
    instance_id: str
    group_by: str
    window: str
    since: str
    until: str
    step: int
    gap_buckets: int
    groups: list[GrowthGroup]


async def _instance(svc: Services, project_id: str, instance_id: str) -> Instance:
    instance = await svc.inventory.instance(project_id=project_id, instance_id=instance_id)
    if instance is None:
        raise InstanceNotFound(f"Instance {instance_id} does not exist.")
    return instance


@router.get(
    "/instances/{instance_id}/session-history",
    response_model=SessionHistory,
    responses=schemas.ERROR_RESPONSES,
    summary="Session counts of an instance over time",
)
async def session_history(
    project_id: ProjectId,
    instance_id: InstanceId,
    meta: Caller,
    svc: Svc,
    group_by: GroupByQuery = "total",
    since: Annotated[str, Query(max_length=64, description="ISO 8601 time, or back from now: -1h, -7d")] = "-1h",
    step: Annotated[int | None, Query(ge=1, le=86400, description="Seconds per point; default: about 240")] = None,
) -> dict:
    start = parse_since(since, now=svc.history.now())
    instance = await _instance(svc, project_id, instance_id)
    await svc.authorizer.require(meta, LIST_SESSION, instance)
    found = await svc.history.history(instance_id=instance.id, group_by=group_by, since=start, step=step)
    return {
        "instance_id": instance.id,
        "group_by": group_by,
        "since": _iso(found.since),
        "until": _iso(found.until),
        "step": found.step,
        "series": [{"key": s.key, "points": [(t, number(v)) for t, v in s.points]} for s in found.series],
    }


@router.get(
    "/instances/{instance_id}/session-growth",
    response_model=SessionGrowth,
    responses=schemas.ERROR_RESPONSES,
    summary="Groups of an instance ranked by session growth (leak suspects)",
)
async def session_growth(
    project_id: ProjectId,
    instance_id: InstanceId,
    meta: Caller,
    svc: Svc,
    group_by: GroupByQuery = "name",
    window: Annotated[str, Query(max_length=16, description="How far back: 90s, 15m, 1h, 7d")] = "1h",
) -> dict:
    window_seconds = parse_duration(window, parameter="window")
    instance = await _instance(svc, project_id, instance_id)
    await svc.authorizer.require(meta, LIST_SESSION, instance)
    report = await svc.history.growth(instance_id=instance.id, group_by=group_by, window_seconds=window_seconds)
    return {
        "instance_id": instance.id,
        "group_by": group_by,
        "window": window,
        "since": _iso(report.since),
        "until": _iso(report.until),
        "step": report.step,
        "gap_buckets": report.gap_buckets,
        "groups": [
            {
                "key": g.key,
                "start": number(g.start),
                "end": number(g.end),
                "growth": number(g.growth),
                "peak": number(g.peak),
            }
            for g in report.groups
        ],
    }


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
