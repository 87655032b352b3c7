"""Close rules (extensions §4) of one instance: list, create, show, update, delete, and their runs.

Listing, showing and runs need ``listSession`` on the instance; creating, changing and deleting
need ``deleteSession`` (a denial is audited). Bodies are validated before anything is looked up
(400 DBS.200001 naming the field); another project's instance or rule reads as missing (404).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from sessionplane.api import rules_schemas as schemas
from sessionplane.api.bodies import json_object
from sessionplane.api.deps import Caller, InstanceId, ProjectId, Svc
from sessionplane.api.schemas import ERROR_RESPONSES, json_body
from sessionplane.api.sessions import _instance
from sessionplane.api.times import iso
from sessionplane.errors import RuleNotFound
from sessionplane.iam.actions import DELETE_SESSION, LIST_SESSION
from sessionplane.inventory.records import Instance
from sessionplane.rules.model import Rule, RuleRun, parse_rule
from sessionplane.services import Services

router = APIRouter(
    prefix="/sessionplane/v1/{project_id}/instances/{instance_id}/close-rules", tags=["sessionplane: close rules"]
)
RuleId = Annotated[str, Path(description="Close rule ID", max_length=64)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


@router.get("", response_model=schemas.RuleList, responses=ERROR_RESPONSES, summary="List an instance's close rules")
async def list_rules(
    project_id: ProjectId,
    instance_id: InstanceId,
    meta: Caller,
    svc: Svc,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> dict:
    instance = await _instance(svc, project_id, instance_id)
    await svc.authorizer.require(meta, LIST_SESSION, instance)
    rules, total = await svc.rule_store.rules(
        project_id=project_id, instance_id=instance.id, offset=offset, limit=limit
    )
    return {"total_count": total, "rules": [rule_json(r) for r in rules]}


@router.post(
    "",
    status_code=201,
    response_model=schemas.Rule,
    responses=ERROR_RESPONSES,
    openapi_extra=json_body(schemas.RuleBody),
    summary="Create a close rule (report counts; enforce closes)",
)
async def create_rule(request: Request, project_id: ProjectId, instance_id: InstanceId, meta: Caller, svc: Svc) -> dict:
    spec = parse_rule(json_object(await request.body()), partial=False)
    instance = await _instance(svc, project_id, instance_id)
    parameters = {"close_rule": "create", "rule": spec.given()}
    await svc.authorizer.require(meta, DELETE_SESSION, instance, parameters=parameters)
    return rule_json(await svc.rules.create(meta=meta, instance=instance, spec=spec))


@router.get("/{rule_id}", response_model=schemas.Rule, responses=ERROR_RESPONSES, summary="Show a close rule")
async def show_rule(project_id: ProjectId, instance_id: InstanceId, rule_id: RuleId, meta: Caller, svc: Svc) -> dict:
    instance = await _instance(svc, project_id, instance_id)
    await svc.authorizer.require(meta, LIST_SESSION, instance)
    return rule_json(await _rule(svc, instance, rule_id))


@router.patch(
    "/{rule_id}",
    response_model=schemas.Rule,
    responses=ERROR_RESPONSES,
    openapi_extra=json_body(schemas.RulePatch),
    summary="Change a close rule (enable or disable, mode, selector, interval, max_per_run)",
)
async def update_rule(
    request: Request, project_id: ProjectId, instance_id: InstanceId, rule_id: RuleId, meta: Caller, svc: Svc
) -> dict:
    spec = parse_rule(json_object(await request.body()), partial=True)
    instance = await _instance(svc, project_id, instance_id)
    parameters = {"close_rule": "update", "rule_id": rule_id, "changes": spec.given()}
    await svc.authorizer.require(meta, DELETE_SESSION, instance, parameters=parameters)
    rule = await _rule(svc, instance, rule_id)
    return rule_json(await svc.rules.update(meta=meta, instance=instance, rule=rule, spec=spec))


@router.delete(
    "/{rule_id}", status_code=204, response_class=Response, responses=ERROR_RESPONSES, summary="Delete a close rule"
)
async def delete_rule(
    project_id: ProjectId, instance_id: InstanceId, rule_id: RuleId, meta: Caller, svc: Svc
) -> Response:
    instance = await _instance(svc, project_id, instance_id)
    parameters = {"close_rule": "delete", "rule_id": rule_id}
    await svc.authorizer.require(meta, DELETE_SESSION, instance, parameters=parameters)
    await svc.rules.delete(meta=meta, instance=instance, rule=await _rule(svc, instance, rule_id))
    return Response(status_code=204)


@router.get(
    "/{rule_id}/runs",
    response_model=schemas.RunList,
    responses=ERROR_RESPONSES,
    summary="A close rule's runs, newest first",
)
async def list_runs(
    project_id: ProjectId,
    instance_id: InstanceId,
    rule_id: RuleId,
    meta: Caller,
    svc: Svc,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> dict:
    instance = await _instance(svc, project_id, instance_id)
    await svc.authorizer.require(meta, LIST_SESSION, instance)
    rule = await _rule(svc, instance, rule_id)
    runs, total = await svc.rule_store.runs(rule.id, offset=offset, limit=limit)
    return {"total_count": total, "runs": [run_json(r) for r in runs]}


async def _rule(svc: Services, instance: Instance, rule_id: str) -> Rule:
    rule = await svc.rule_store.rule(project_id=instance.project_id, instance_id=instance.id, rule_id=rule_id)
    if rule is None:
        raise RuleNotFound(f"Close rule {rule_id} does not exist on instance {instance.id}.")
    return rule


def rule_json(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "instance_id": rule.instance_id,
        "name": rule.name,
        "match": dict(rule.match),
        "exclude": dict(rule.exclude),
        "interval_seconds": rule.interval_seconds,
        "mode": rule.mode,
        "max_per_run": rule.max_per_run,
        "enabled": rule.enabled,
        "disabled_reason": rule.disabled_reason,
        "created_at": iso(rule.created_at),
        "updated_at": iso(rule.updated_at),
        "next_run_at": iso(rule.next_run_at),
    }


def run_json(run: RuleRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "rule_id": run.rule_id,
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "mode": run.mode,
        "matched": run.matched,
        "closed": run.closed,
        "reconnected": run.reconnected,
        "nodes": [n.__dict__ for n in run.nodes],
        "audit_id": run.audit_id,
    }
