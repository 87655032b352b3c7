"""GET /sessionplane/v1/{project_id}/permissions[?instance_id=]: what the caller may do, by its policies.

Any authenticated caller of the project may ask about itself (no action guards the question, and
nothing is audited); the answers are ``iam.permissions``'. Another project's instance, or one
that does not exist, is 404 as everywhere.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from sessionplane.api.deps import Caller, ProjectId, Svc
from sessionplane.api.schemas import ERROR_RESPONSES
from sessionplane.api.sessions import _instance
from sessionplane.iam import permissions
from sessionplane.iam.permissions import Permission

router = APIRouter(prefix="/sessionplane/v1/{project_id}", tags=["sessionplane: permissions"])


class PermissionAnswer(BaseModel):
    action: str = Field(description="The IAM action that guards it")
    allowed: bool
    instances_allowed: int | None = Field(
        description="Project scope, instance actions: on how many of the project's instances it is allowed"
    )
    instances_total: int | None = Field(description="Project scope, instance actions: the project's instances")


class Capabilities(BaseModel):
    list: PermissionAnswer = Field(description="List sessions, statistics, history, rules and runs")
    close: PermissionAnswer = Field(description="Close sessions")
    rules: PermissionAnswer = Field(description="Create, change and delete close rules")
    audit: PermissionAnswer = Field(description="Read the project's audit trail")


class Permissions(BaseModel):
    project_id: str
    instance_id: str | None
    permissions: Capabilities


@router.get(
    "/permissions",
    response_model=Permissions,
    responses=ERROR_RESPONSES,
    summary="What the caller may do (list, close, rules, audit) on the project or on one instance",
)
async def show_permissions(
    project_id: ProjectId,
    meta: Caller,
    svc: Svc,
    instance_id: Annotated[
        str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Answer for this instance only")
    ] = None,
) -> dict:
    if instance_id is None:
        answers = await permissions.on_project(authorizer=svc.authorizer, inventory=svc.inventory, meta=meta)
    else:
        instance = await _instance(svc, project_id, instance_id)
        answers = await permissions.on_instance(authorizer=svc.authorizer, meta=meta, instance=instance)
    return {"project_id": project_id, "instance_id": instance_id, "permissions": _json(answers)}


def _json(answers: list[Permission]) -> dict[str, dict]:
    return {
        p.capability: {
            "action": p.action,
            "allowed": p.allowed,
            "instances_allowed": p.instances_allowed,
            "instances_total": p.instances_total,
        }
        for p in answers
    }
