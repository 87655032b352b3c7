"""Routes 2.1-2.5: close, list and count sessions of a node or of every node of an instance.

Each handler authenticates, binds its parameters (``api.params``: the API's hot path, bound without
FastAPI's dependency layer, each handler called as it is), looks the resource up in the caller's
project, authorises the action named beside the route, calls the sessions domain, and serialises.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import APIRouter, Request
from pydantic import BaseModel

from sessionplane.api import params, schemas
from sessionplane.api.bodies import parse_close_body
from sessionplane.api.deps import caller, closer, services
from sessionplane.api.params import DryRunQuery, InstancePath, NodeFilter, NodePath, NoQuery, PageQuery
from sessionplane.api.responses import JsonAnswer
from sessionplane.auth.principal import RequestMeta
from sessionplane.errors import InstanceNotFound, NodeNotFound
from sessionplane.iam.actions import DELETE_SESSION, LIST_SESSION
from sessionplane.inventory.records import Instance, Node
from sessionplane.services import Services
from sessionplane.sessions.selector import Selector
from sessionplane.sessions.service import audit_parameters

router = APIRouter(prefix="/v3/{project_id}", tags=["Connection Management"], route_class=params.SelfBoundRoute)

Q = TypeVar("Q", bound=BaseModel)


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


async def _node_read(request: Request, query: type[Q]) -> tuple[RequestMeta, Services, Instance, Node, Q]:
    """A node read's caller, services, instance, node and query, in the order of the answers: 400 for the
    project ID, 401/403, 400, 404."""
    project_id = params.project_id(request)
    meta = await caller(request, project_id)
    at, bound = params.bind(request, NodePath, query)
    svc = await services(request)
    instance, node = await _node(svc, project_id, at.node_id)
    return meta, svc, instance, node, bound


async def _instance_request(
    request: Request, *, authenticate: Callable[[Request, str], Awaitable[RequestMeta]]
) -> tuple[RequestMeta, Services, Instance, str | None]:
    """An instance route's caller (``caller``, or ``closer`` whose refusals are audited), services, instance
    and ``node_id`` filter, in the order of the answers: 400 for the project ID, 401/403, 400, 404."""
    project_id = params.project_id(request)
    meta = await authenticate(request, project_id)
    at, only = params.bind(request, InstancePath, NodeFilter)
    svc = await services(request)
    return meta, svc, await _instance(svc, project_id, at.instance_id), only.node_id


@router.delete(
    "/redis/nodes/{node_id}/sessions",
    response_model=schemas.Empty | schemas.DryRunResult,
    responses=schemas.ERROR_RESPONSES,
    openapi_extra=schemas.json_body(schemas.CloseNodeSessionsBody) | params.declared(NodePath, DryRunQuery),
    summary="Close sessions of a node",
)
async def close_node_sessions(request: Request) -> JsonAnswer:
    project_id = params.project_id(request)
    meta = await closer(request, project_id)
    at, query = params.bind(request, NodePath, DryRunQuery)
    selector = parse_close_body(await request.body())  # read after authentication, bounded by BodyGuard
    svc = await services(request)
    instance, node = await _node(svc, project_id, at.node_id)
    parameters = audit_parameters(selector) | ({"dry_run": True} if query.dry_run else {})
    await svc.authorizer.require(meta, DELETE_SESSION, instance, node_id=node.id, parameters=parameters)
    if query.dry_run:
        preview = await svc.sessions.preview_close(instance=instance, node=node, selector=selector)
        return JsonAnswer({"sessions": preview})
    await svc.sessions.close_node(meta=meta, instance=instance, node=node, selector=selector, parameters=parameters)
    return JsonAnswer({})


@router.delete(
    "/instances/{instance_id}/sessions",
    response_model=schemas.Empty,
    responses=schemas.ERROR_RESPONSES,
    openapi_extra=params.declared(InstancePath, NodeFilter),
    summary="Close sessions of all nodes of an instance",
)
async def close_instance_sessions(request: Request) -> JsonAnswer:
    meta, svc, instance, node_id = await _instance_request(request, authenticate=closer)
    parameters = audit_parameters(Selector())
    await svc.authorizer.require(meta, DELETE_SESSION, instance, node_id=node_id, parameters=parameters)
    await svc.sessions.close_instance(meta=meta, instance=instance, node_id=node_id)
    return JsonAnswer({})


@router.get(
    "/redis/nodes/{node_id}/sessions",
    response_model=schemas.NodeSessionsPage,
    responses=schemas.ERROR_RESPONSES,
    openapi_extra=params.declared(NodePath, PageQuery),
    summary="List sessions of a node",
)
async def list_node_sessions(request: Request) -> JsonAnswer:
    meta, svc, instance, node, page_of = await _node_read(request, PageQuery)
    await svc.authorizer.require(meta, LIST_SESSION, instance)
    page = await svc.sessions.list_node(
        instance=instance, node=node, offset=page_of.offset, limit=page_of.limit, addr_prefix=page_of.addr_prefix
    )
    return JsonAnswer({"total_count": page.total_count, "sessions": page.sessions})


@router.get(
    "/instances/{instance_id}/sessions",
    response_model=schemas.InstanceSessions,
    responses=schemas.ERROR_RESPONSES,
    openapi_extra=params.declared(InstancePath, NodeFilter),
    summary="List sessions of every node of an instance",
)
async def list_instance_sessions(request: Request) -> JsonAnswer:
    meta, svc, instance, node_id = await _instance_request(request, authenticate=caller)
    await svc.authorizer.require(meta, LIST_SESSION, instance)
    nodes = await svc.sessions.list_instance(instance=instance, node_id=node_id)
    return JsonAnswer(
        {"node_sessions": [{"node_id": n.node_id, "total_count": n.total_count, "sessions": n.sessions} for n in nodes]}
    )


@router.get(
    "/redis/nodes/{node_id}/session-statistics",
    response_model=schemas.SessionStatistics,
    responses=schemas.ERROR_RESPONSES,
    openapi_extra=params.declared(NodePath),
    summary="Session statistics of a node",
)
async def node_session_statistics(request: Request) -> JsonAnswer:
    meta, svc, instance, node, _ = await _node_read(request, NoQuery)
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
