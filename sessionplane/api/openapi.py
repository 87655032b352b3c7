"""The OpenAPI document: FastAPI's, plus the schemas of the bodies that routes read themselves.

Those routes declare their body by ``$ref`` (``schemas.json_body``), because the body is read only
after authentication and under the size limits, never by FastAPI before the handler runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from sessionplane.api.schemas import SCHEMA_REF


def install(app: FastAPI, *, body_models: Sequence[type[BaseModel]]) -> None:
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
        return doc

    app.openapi = document  # type: ignore[method-assign]
