"""Routes 2.1-2.5: close, list and count sessions of a node or of every node of an instance.

Each handler parses, looks the resource up in the caller's project, authorises the action named
beside the route, calls the sessions domain, and serialises.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from sessionplane.api import schemas
from sessionplane.api.bodies import parse_close_body
from sessionplane.api.deps import Caller, Closer, Offset, ProjectId, Svc
from sessionplane.api.responses import JsonAnswer
from sessionplane.errors import InstanceNotFound, NodeNotFound
from sessionplane.iam.actions import DELETE_SESSION, LIST_SESSION
from sessionplane.inventory.records import Instance, Node
from sessionplane.services import Services
from sessionplane.sessions.selector import Selector
from sessionplane.sessions.service import audit_parameters

router = APIRouter(prefix="/v3/{project_id}", tags=["Connection Management"])

NodeId = Annotated[str, Path(description="Node ID", max_length=64)]
InstanceId = Annotated[str, Path(description="Instance ID", max_length=64)]
NodeFilter = Annotated[str | None, Query(description="Only this node of the instance", max_length=64)]


async def _node(svc: Services, project_id: str, node_id: str) -> tuple[Instance, Node]:
    instance = await svc.inventory.instance_of_node(project_id=project_id, node_id=node_id)
    node = instance.node(node_id) if instance else None
    if instance is None or node is None:
        raise NodeNotFound(f"Node {node_id} does not exist.")
    return instance, node


async def _instance(svc: Services, project_id: str, instance_id: str) -> Instance:
    instance = await svc.inventory.instance(project_id=project_id, instance_id=instance_id)
    if instance is None:
        raise InstanceNotFound(f"Instance {instance_id} does not exist.")
    return instance


@router.delete(
    "/redis/nodes/{node_id}/sessions",
    response_model=schemas.Empty | schemas.DryRunResult,
    responses=schemas.ERROR_RESPONSES,
    openapi_extra=schemas.json_body(schemas.CloseNodeSessionsBody),
    summary="Close sessions of a node",
)
async def close_node_sessions(
    request: Request,
    project_id: ProjectId,
    node_id: NodeId,
    meta: Closer,
    svc: Svc,
    dry_run: Annotated[bool, Query(description="List what would be closed; close nothing")] = False,
) -> dict:
    selector = parse_close_body(await request.body())  # read after authentication, bounded by BodyGuard
    instance, node = await _node(svc, project_id, node_id)
    parameters = audit_parameters(selector) | ({"dry_run": True} if dry_run else {})
    await svc.authorizer.require(meta, DELETE_SESSION, instance, node_id=node.id, parameters=parameters)
    if dry_run:
        return {"sessions": await svc.sessions.preview_close(instance=instance, node=node, selector=selector)}
    await svc.sessions.close_node(meta=meta, instance=instance, node=node, selector=selector, parameters=parameters)
    return {}


@router.delete(
    "/instances/{instance_id}/sessions",
    response_model=schemas.Empty,
    responses=schemas.ERROR_RESPONSES,
    summary="Close sessions of all nodes of an instance",
)
async def close_instance_sessions(
    project_id: ProjectId, instance_id: InstanceId, meta: Closer, svc: Svc, node_id: NodeFilter = None
) -> dict:
    instance = await _instance(svc, project_id, instance_id)
    parameters = audit_parameters(Selector())
    await svc.authorizer.require(meta, DELETE_SESSION, instance, node_id=node_id, parameters=parameters)
    await svc.sessions.close_instance(meta=meta, instance=instance, node_id=node_id)
    return {}


@router.get(
    "/redis/nodes/{node_id}/sessions",
    response_model=schemas.NodeSessionsPage,
    responses=schemas.ERROR_RESPONSES,
    summary="List sessions of a node",
)
async def list_node_sessions(
    project_id: ProjectId,
    node_id: NodeId,
    meta: Caller,
    svc: Svc,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    addr_prefix: Annotated[str | None, Query(max_length=256, description="Prefix of the client's ip:port")] = None,
) -> JsonAnswer:
    instance, node = await _node(svc, project_id, node_id)
    await svc.authorizer.require(meta, LIST_SESSION, instance)
    page = await svc.sessions.list_node(
        instance=instance, node=node, offset=offset, limit=limit, addr_prefix=addr_prefix
    )
    return JsonAnswer({"total_count": page.total_count, "sessions": page.sessions})


@router.get(
    "/instances/{instance_id}/sessions",
    response_model=schemas.InstanceSessions,
    responses=schemas.ERROR_RESPONSES,
    summary="List sessions of every node of an instance",
)
async def list_instance_sessions(
    project_id: ProjectId, instance_id: InstanceId, meta: Caller, svc: Svc, node_id: NodeFilter = None
) -> JsonAnswer:
    instance = await _instance(svc, project_id, instance_id)
    await svc.authorizer.require(meta, LIST_SESSION, instance)
    nodes = await svc.sessions.list_instance(instance=instance, node_id=node_id)
    return JsonAnswer(
        {"node_sessions": [{"node_id": n.node_id, "total_count": n.total_count, "sessions": n.sessions} for n in nodes]}
    )


@router.get(
    "/redis/nodes/{node_id}/session-statistics",
    response_model=schemas.SessionStatistics,
    responses=schemas.ERROR_RESPONSES,
    summary="Session statistics of a node",
)
async def node_session_statistics(project_id: ProjectId, node_id: NodeId, meta: Caller, svc: Svc) -> JsonAnswer:
    instance, node = await _node(svc, project_id, node_id)
    await svc.authorizer.require(meta, LIST_SESSION, instance)
    stats = await svc.sessions.statistics(instance=instance, node=node)
    return JsonAnswer(
        {
            "total_connection_count": stats.total_connection_count,
            "active_connection_count": stats.active_connection_count,
            "top_source_ips": [{"client_ip": ip, "connection_count": n} for ip, n in stats.top_source_ips],
            "top_dbs": [{"db": db, "connection_count": n} for db, n in stats.top_dbs],
        }
    )
