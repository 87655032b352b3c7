"""create_app: the whole request path in one ordered list.

RequestIdMiddleware (X-Request-Id, access log)
  -> router: /v3/auth/tokens | /v3/{project_id}/... sessions | /v3/{project_id}/instances
             | /sessionplane/v1/{project_id}/instances (account admin: adopt by discovery)
     -> handler: parse -> authenticate+scope (deps.caller) -> look up -> authorize -> domain -> serialise
  -> /console: the operator console's static files (web.routes), a client of the API above
  -> one error table (api.errors) turns every failure into Huawei's envelope
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from sessionplane.api import admin, errors, fleet, instances, sessions, tokens
from sessionplane.api.middleware import RequestIdMiddleware
from sessionplane.inventory.discovery import RefreshSchedule
from sessionplane.services import Services
from sessionplane.settings import Settings
from sessionplane.web.routes import console_app


def create_app(settings: Settings, *, services: Services | None = None) -> FastAPI:
    svc = services or Services.build(settings)

    refresh = RefreshSchedule(svc.discovery, svc.settings.discovery_refresh_interval_seconds)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await svc.start()
        refresh.start()
        try:
            yield
        finally:
            await refresh.stop()
            await svc.close()

    app = FastAPI(
        title="sessionplane",
        summary="GeminiDB Redis v3 Connection Management API over your own Redis-compatible nodes",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.services = svc
    app.add_middleware(RequestIdMiddleware)
    for router in (tokens.router, sessions.router, instances.router, fleet.router, admin.router):
        app.include_router(router)
    app.mount("/console", console_app())
    errors.install(app)
    return app
