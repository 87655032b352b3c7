"""Path and query parameters that a handler binds itself, declared in OpenAPI from the same models.

FastAPI binds every declared parameter and dependency through its dependency layer on each
request: listing a ten-session node spent a fifth of the server's instructions there (performance
log, "A small call without FastAPI's dependency layer"). The Connection Management routes, the
API's hot path, take the ``Request`` and bind it here instead, one pydantic validation per model.
A value that does not validate raises FastAPI's own ``RequestValidationError`` (loc ``path`` or
``query``): the answer is the 400 envelope FastAPI's binding gives (``api.errors``).

Their router's ``SelfBoundRoute`` then calls each handler with the ``Request`` alone, and sends the
``Response`` it returns: FastAPI's request handler would still solve an empty set of dependencies
and look the answer over on every call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, TypeVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, ValidationError

from sessionplane.api.deps import MAX_OFFSET, auth_token

P = TypeVar("P", bound=BaseModel)
Q = TypeVar("Q", bound=BaseModel)


class ProjectPath(BaseModel):
    project_id: Annotated[str, Field(max_length=64, description="Project ID of the tenant")]


class NodePath(BaseModel):
    node_id: Annotated[str, Field(max_length=64, description="Node ID")]


class InstancePath(BaseModel):
    instance_id: Annotated[str, Field(max_length=64, description="Instance ID")]


class NodeFilter(BaseModel):
    node_id: Annotated[str, Field(max_length=64)] | None = Field(None, description="Only this node of the instance")


class PageQuery(BaseModel):
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="0 starts from the newest")
    limit: int = Field(50, ge=1, le=100)
    addr_prefix: Annotated[str, Field(max_length=256)] | None = Field(
        None, description="Prefix of the client's ip:port"
    )


class NoQuery(BaseModel):
    """A route that reads nothing from the query (anything there is ignored, as FastAPI ignores it)."""


class DryRunQuery(BaseModel):
    dry_run: bool = Field(False, description="List what would be closed; close nothing")


class SelfBoundRoute(APIRoute):
    """A route whose handler takes the ``Request`` alone and returns its ``Response``: called as it is.

    FastAPI's hook for a route's own request handling (``get_route_handler``). Everything around the
    handler stays FastAPI's: the routing, the error handlers, the OpenAPI operation (``declared``), and,
    where OpenTelemetry is configured, the request's span; only the operation spans FastAPI opens
    inside its own handler (dependencies, endpoint, serialisation) do not come for these routes.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        d = self.dependant
        bound_by_fastapi = (d.path_params, d.query_params, d.header_params, d.cookie_params, d.body_params)
        if any(bound_by_fastapi) or d.dependencies or d.request_param_name is None:
            raise TypeError(f"{self.name} must take the Request alone, and bind the rest itself (api.params)")

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        return self.endpoint


def project_id(request: Request) -> str:
    """The path's project ID, checked before authentication (its length: a bounded check)."""
    bound, errors = _validate(ProjectPath, request.path_params, "path")
    if errors:
        raise RequestValidationError(errors)
    assert bound is not None
    return bound.project_id


def bind(request: Request, path: type[P], query: type[Q]) -> tuple[P, Q]:
    """The route's own path and query parameters; every problem with either reported in one 400."""
    bound_path, path_errors = _validate(path, request.path_params, "path")
    bound_query, query_errors = _validate(query, request.query_params, "query")
    if path_errors or query_errors:
        raise RequestValidationError([*path_errors, *query_errors])
    assert bound_path is not None and bound_query is not None
    return bound_path, bound_query


def _validate(model: type[P], values: Mapping[str, str], where: str) -> tuple[P | None, list[dict[str, Any]]]:
    try:
        # Of a repeated query parameter the last value, as FastAPI binds it (``QueryGuard`` refuses two different).
        return model.model_validate(dict(values)), []
    except ValidationError as exc:
        return None, [{**error, "loc": (where, *error["loc"])} for error in exc.errors(include_url=False)]


def declared(path: type[BaseModel], query: type[BaseModel] | None = None) -> dict[str, Any]:
    """A route's ``openapi_extra``: the project ID, ``path`` and ``query`` as OpenAPI parameters, as
    FastAPI declares a signature's, and the token scheme (every such route authenticates its caller)."""
    parameters = [
        *_parameters(ProjectPath, "path"),
        *_parameters(path, "path"),
        *(_parameters(query, "query") if query else ()),
    ]
    return {"parameters": parameters, "security": [{auth_token.scheme_name: []}]}


def _parameters(model: type[BaseModel], where: str) -> list[dict[str, Any]]:
    properties = model.model_json_schema()["properties"]
    parameters = []
    for name, field in model.model_fields.items():
        schema = properties[name]
        if schema.get("default", 0) is None:
            del schema["default"]  # FastAPI leaves a null default out
        parameter = {"name": name, "in": where, "required": field.is_required(), "schema": schema}
        if field.description:
            parameter["description"] = field.description
        parameters.append(parameter)
    return parameters
