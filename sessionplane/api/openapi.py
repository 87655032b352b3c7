"""The OpenAPI document: FastAPI's, plus the schemas of the bodies that routes read themselves, less
the 422 answers FastAPI lists and this API never gives.

Those routes declare their body by ``$ref`` (``schemas.json_body``), because the body is read only
after authentication and under the size limits, never by FastAPI before the handler runs. Routes
that bind their own parameters declare them the same way (``api.params.declared``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from sessionplane.api import deps
from sessionplane.api.schemas import SCHEMA_REF


def install(app: FastAPI, *, body_models: Sequence[type[BaseModel]], routers: Sequence[APIRouter]) -> None:
    build = app.openapi

    def document() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        doc = build()  # FastAPI caches it in app.openapi_schema
        if fresh:
            components = doc.setdefault("components", {}).setdefault("schemas", {})
            for model in body_models:
                schema = model.model_json_schema(ref_template=SCHEMA_REF)
                components.update(schema.pop("$defs", {}))
                components[model.__name__] = schema
            _declare_token_scheme(routers, doc)
            _drop_unanswered_422(doc)
        return doc

    app.openapi = document  # type: ignore[method-assign]


def _declare_token_scheme(routers: Sequence[APIRouter], doc: dict[str, Any]) -> None:
    """``security: X-Auth-Token`` on every operation that authenticates its caller (``deps.AUTHENTICATED``).

    The routers are included without a prefix: their routes' paths are the document's.
    """
    scheme = deps.auth_token
    schemes = doc["components"].setdefault("securitySchemes", {})
    schemes[scheme.scheme_name] = scheme.model.model_dump(mode="json", by_alias=True, exclude_none=True)
    for route in (r for router in routers for r in router.routes):
        if isinstance(route, APIRoute) and route.include_in_schema and _authenticates(route.dependant):
            for method in route.methods:
                doc["paths"][route.path_format][method.lower()]["security"] = [{scheme.scheme_name: []}]


def _authenticates(dependant: Dependant) -> bool:
    return any(d.call in deps.AUTHENTICATED or _authenticates(d) for d in dependant.dependencies)


def _drop_unanswered_422(doc: dict[str, Any]) -> None:
    """FastAPI lists a 422 on every operation with parameters or a body; this API never answers one (a value
    that does not validate is Huawei's 400, ``api.errors``), so the document does not promise it either."""
    for operation in (op for methods in doc["paths"].values() for op in methods.values()):
        operation.get("responses", {}).pop("422", None)
    for unused in ("HTTPValidationError", "ValidationError"):
        doc["components"]["schemas"].pop(unused, None)
