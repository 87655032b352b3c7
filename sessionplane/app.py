"""create_app: the whole request path in one ordered list.

(uvicorn, sessionplane.server: request heads over max_header_bytes / max_header_count -> 431)
HttpMetricsMiddleware (requests by route template)
  -> RequestIdMiddleware (X-Request-Id, access log)
  -> SecurityHeaders (nosniff, a deny-all CSP unless the response brings its own)
  -> BodyGuard (bodies bounded in size and read time; an unread body closes the connection)
  -> QueryGuard (a query parameter repeated with different values -> 400)
  -> router: /v3/auth/tokens | /v3/{project_id}/... sessions | /v3/{project_id}/instances | /docs
             | /sessionplane/v1/{project_id}/sessions/search|summary|close
             | /sessionplane/v1/{project_id}/instances (account admin: adopt by discovery)
             | /sessionplane/v1/{project_id}/instances/{instance_id}/session-history|growth|close-rules
             | /sessionplane/v1/{project_id}/audit | .../permissions (what the caller may do)
             | /metrics /healthz /readyz
     -> handler: authenticate+scope (deps.caller / deps.closer) -> parse -> look up -> authorize -> domain -> serialise
  -> /console: the operator console's static files (web.routes), a client of the API above
  -> one error table (api.errors) turns every failure into Huawei's envelope
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware import Middleware

from sessionplane.api import (
    admin,
    audit,
    docs,
    errors,
    fleet,
    fleet_schemas,
    history,
    instances,
    openapi,
    ops,
    permissions,
    rules,
    rules_schemas,
    schemas,
    sessions,
    tokens,
)
from sessionplane.api.middleware import BodyGuard, QueryGuard, RequestIdMiddleware, SecurityHeaders
from sessionplane.ops.http_metrics import HttpMetricsMiddleware
from sessionplane.services import Services
from sessionplane.settings import Settings
from sessionplane.web.routes import console_app


def create_app(settings: Settings, *, services: Services | None = None) -> FastAPI:
    svc = services or Services.build(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await svc.start()
        svc.start_background()
        try:
            yield
        finally:
            await svc.close()

    body_guard = Middleware(
        BodyGuard,
        max_bytes=settings.max_body_bytes,
        path_limits={tokens.SIGN_IN_PATH: settings.max_signin_body_bytes},
        read_timeout=settings.body_read_timeout_seconds,
    )
    app = FastAPI(
        title="sessionplane",
        summary="GeminiDB Redis v3 Connection Management API over your own Redis-compatible nodes",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by api.docs from vendored assets
        redoc_url=None,
        middleware=[
            Middleware(HttpMetricsMiddleware, metrics=svc.metrics),
            Middleware(RequestIdMiddleware),
            Middleware(SecurityHeaders),
            body_guard,
            Middleware(QueryGuard),
        ],
    )
    app.state.services = svc
    modules = (tokens, sessions, instances, fleet, history, rules, audit, permissions, admin, ops, docs)
    routers = [m.router for m in modules]
    for router in routers:
        # Flat on the app, as ``include_router`` built them before FastAPI 0.137: an included router is now
        # a node that resolves its routes again on every request: 7% of a small call's instructions (performance log).
        # Prefix, tags and responses are each route's own already (``APIRouter.add_api_route``).
        app.router.routes.extend(router.routes)
    docs.mount_assets(app)
    body_models = (*schemas.BODY_MODELS, *fleet_schemas.BODY_MODELS, *rules_schemas.BODY_MODELS)
    openapi.install(app, body_models=body_models, routers=routers)
    app.mount("/console", console_app())
    errors.install(app)
    return app
