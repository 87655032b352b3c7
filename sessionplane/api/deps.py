"""Request-scoped dependencies: the services, and the authenticated caller of a /v3/{project_id} path."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from sessionplane.auth.authenticate import RequestView
from sessionplane.auth.principal import RequestMeta
from sessionplane.errors import Forbidden
from sessionplane.services import Services

ProjectId = Annotated[str, Path(description="Project ID of the tenant", max_length=64)]


def services(request: Request) -> Services:
    return request.app.state.services


async def request_view(request: Request) -> RequestView:
    return RequestView(
        method=request.method,
        path=request.url.path,
        query=tuple(request.query_params.multi_items()),
        headers=request.headers,
        body=await request.body(),
        path_project_id=request.path_params.get("project_id"),
        client_ip=request.client.host if request.client else None,
        secure=request.url.scheme == "https",
    )


async def caller(request: Request, project_id: ProjectId) -> RequestMeta:
    """Authenticate (401), then check the credentials are scoped to the path's project (403)."""
    svc = services(request)
    principal = await svc.authenticator.authenticate(await request_view(request))
    if principal.project_id != project_id:
        raise Forbidden(f"The credentials are scoped to project {principal.project_id}, not {project_id}.")
    return RequestMeta(request_id=request.state.request_id, principal=principal)


Caller = Annotated[RequestMeta, Depends(caller)]
Svc = Annotated[Services, Depends(services)]
