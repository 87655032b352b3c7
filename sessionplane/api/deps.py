"""Request-scoped dependencies: the services, and the authenticated caller of a /v3/{project_id} path.

Authentication comes before the body is read: a token is checked from the headers alone; an AK/SK
signature covers the body, so only then is the body read (bounded by ``BodyGuard``) to verify it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import APIKeyHeader

from sessionplane.api.middleware import declares_body
from sessionplane.audit.trail import AuditSubject
from sessionplane.auth.authenticate import RequestView, signs_body
from sessionplane.auth.principal import RequestMeta
from sessionplane.errors import Forbidden
from sessionplane.iam.actions import DELETE_SESSION
from sessionplane.services import Services

# The Huawei SDK's Java types bound offsets to a 32-bit int; a larger one names nothing anyway.
MAX_OFFSET = 2**31 - 1

ProjectId = Annotated[str, Path(description="Project ID of the tenant", max_length=64)]
InstanceId = Annotated[str, Path(description="Instance ID", max_length=64)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="0 starts from the newest")]

# The X-Auth-Token scheme as OpenAPI declares it on every route that needs ``caller`` or ``closer``
# ("Try it out" sends it). Declared by ``api.openapi``, not as a dependency: a FastAPI security
# dependency is resolved on every request (a fifteenth of a small call) for a header the
# authenticator reads anyway.
auth_token = APIKeyHeader(
    name="X-Auth-Token",
    scheme_name="X-Auth-Token",
    description="IAM token from POST /v3/auth/tokens (X-Subject-Token). AK/SK-signed requests are accepted too.",
    auto_error=False,
)


async def services(request: Request) -> Services:
    # async: FastAPI runs a plain ``def`` dependency in a thread pool, a thread hop per request.
    return _services(request)


def _services(request: Request) -> Services:
    return request.app.state.services


async def request_view(request: Request) -> RequestView:
    scope = request.scope  # path and scheme read from the scope: ``request.url`` rebuilds the whole URL
    # A dict, read in one pass (the first of repeated names wins, as in Starlette's ``Headers``): a signature
    # looks up a dozen names, each a scan of the header list in ``Headers``. ASGI servers send names lower-cased.
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in reversed(scope["headers"])}
    signed = signs_body(headers)
    return RequestView(
        method=request.method,
        path=scope["path"],
        # Only a signature covers the query; most signed calls have none to parse.
        query=tuple(request.query_params.multi_items()) if signed and scope["query_string"] else (),
        headers=headers,
        body=await request.body() if signed and declares_body(headers) else b"",
        path_project_id=request.path_params.get("project_id"),
        client_ip=request.client.host if request.client else None,
        secure=scope.get("scheme") == "https",
    )


async def _authenticated(request: Request) -> RequestMeta:
    """Authenticate (401), then count the request against the rate limits (429, counted for known callers only)."""
    svc = _services(request)
    principal = await svc.authenticator.authenticate(await request_view(request))
    await svc.rate_limits.check(principal)
    return RequestMeta(request_id=request.state.request_id, principal=principal)


def _wrong_project(meta: RequestMeta, project_id: str) -> Forbidden:
    return Forbidden(f"The credentials are scoped to project {meta.principal.project_id}, not {project_id}.")


async def caller(request: Request, project_id: ProjectId) -> RequestMeta:
    """Authenticate (401), then check the credentials are scoped to the path's project (403)."""
    meta = await _authenticated(request)
    if meta.principal.project_id != project_id:
        raise _wrong_project(meta, project_id)
    return meta


async def closer(request: Request, project_id: ProjectId) -> RequestMeta:
    """``caller`` for the close routes: a close refused by the project check is a denied close, audited."""
    meta = await _authenticated(request)
    if meta.principal.project_id != project_id:
        await _services(request).audit.denied(meta, _denied_close(request, project_id), error_code=Forbidden.code)
        raise _wrong_project(meta, project_id)
    return meta


def _denied_close(request: Request, project_id: str) -> AuditSubject:
    """What the close asked for, as far as known without its body (values not validated yet: cut short)."""
    path, query = request.path_params, request.query_params
    instance_id, node_id = path.get("instance_id"), path.get("node_id") or query.get("node_id")
    parameters: dict[str, object] = {"path_project_id": project_id}
    if instance_id:
        parameters["is_all"] = True  # an instance close has no body: it closes everything
    if "dry_run" in query:
        parameters["dry_run"] = query["dry_run"][:16]
    return AuditSubject(DELETE_SESSION.name, _cut(instance_id), _cut(node_id), parameters)


def _cut(value: str | None) -> str | None:
    return value[:64] if value else None


AUTHENTICATED = (caller, closer)  # routes depending on one declare ``auth_token`` (api.openapi); routes that
# call one themselves declare it with their parameters (api.params)
Caller = Annotated[RequestMeta, Depends(caller)]
Closer = Annotated[RequestMeta, Depends(closer)]
Svc = Annotated[Services, Depends(services)]
