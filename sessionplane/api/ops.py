"""Operations routes outside the project prefix: /healthz, /readyz (unauthenticated) and /metrics.

Not in the OpenAPI document: they are for load balancers and scrapers, not API clients.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException as StarletteHTTPException

from sessionplane.api.deps import Svc
from sessionplane.errors import AuthenticationFailed
from sessionplane.ops.access import bearer_matches, metrics_access
from sessionplane.settings import Settings

router = APIRouter(tags=["Operations"], include_in_schema=False)


@router.get("/healthz")
async def healthz() -> dict:
    """The process is alive and serving."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(svc: Svc) -> JSONResponse:
    """Ready when the store answers."""
    if await svc.readiness.store_reachable():
        return JSONResponse({"status": "ready", "store": "ok"})
    return JSONResponse({"status": "unavailable", "store": "unreachable"}, status_code=503)


@router.get("/metrics")
async def metrics(request: Request, svc: Svc) -> Response:
    access = metrics_access(svc.settings)
    if access == "off":
        raise StarletteHTTPException(404)  # answered as an unknown path, as when it does not exist
    if access == "token" and not _bearer_ok(request, svc.settings):
        raise AuthenticationFailed("Incorrect authentication information: /metrics needs its bearer token.")
    return Response(svc.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


def _bearer_ok(request: Request, settings: Settings) -> bool:
    token = settings.metrics_bearer_token
    return token is not None and bearer_matches(request.headers.get("authorization"), token.get_secret_value())
