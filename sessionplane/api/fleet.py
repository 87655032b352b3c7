"""sessionplane's own fleet routes (extensions §1-2): search, summarise and close across any scope.

Bodies are a selector (``scope``, ``match``, ``exclude``) plus each operation's own fields; the
selector parser names the first wrong field (400 DBS.200001). Authorization is per instance in
scope, inside the fleet service: listSession for search and summary, deleteSession for close.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from sessionplane.api import fleet_schemas as schemas
from sessionplane.api.bodies import json_object
from sessionplane.api.deps import Caller, Closer, ProjectId, Svc
from sessionplane.api.responses import JsonAnswer
from sessionplane.api.schemas import json_body
from sessionplane.errors import InvalidParameter
from sessionplane.sessions.fleet import GROUPS, SORTS
from sessionplane.sessions.selector import parse_selector

router = APIRouter(prefix="/sessionplane/v1/{project_id}", tags=["sessionplane: fleet sessions"])
_SELECTOR_FIELDS = {"scope", "match", "exclude"}


@router.post(
    "/sessions/search",
    response_model=schemas.SearchResult,
    responses=schemas.ERROR_RESPONSES,
    openapi_extra=json_body(schemas.SearchBody),
    summary="Search client sessions across nodes, instances or the whole project",
)
async def search(request: Request, project_id: ProjectId, meta: Caller, svc: Svc) -> JsonAnswer:
    document = json_object(await request.body())
    selector, options = _split(document, {"sort", "offset", "limit"})
    return JsonAnswer(
        await svc.fleet.search(
            meta=meta,
            selector=selector,
            sort=_choice(options, "sort", SORTS, "age"),
            offset=_integer(options, "offset", 0, 0, 10**6),
            limit=_integer(options, "limit", 100, 1, 1000),
        )
    )


@router.post(
    "/sessions/summary",
    response_model=schemas.SummaryResult,
    responses=schemas.ERROR_RESPONSES,
    openapi_extra=json_body(schemas.SummaryBody),
    summary="Count client sessions by source IP, name, user, library, DB, node or command",
)
async def summary(request: Request, project_id: ProjectId, meta: Caller, svc: Svc) -> JsonAnswer:
    document = json_object(await request.body())
    selector, options = _split(document, {"group_by", "top"})
    return JsonAnswer(
        await svc.fleet.summary(
            meta=meta,
            selector=selector,
            group_by=_choice(options, "group_by", GROUPS, "ip"),
            top=_integer(options, "top", 20, 1, 100),
        )
    )


@router.post(
    "/sessions/close",
    response_model=schemas.FleetCloseResult | schemas.FleetPreview,
    responses=schemas.CLOSE_ERROR_RESPONSES,
    openapi_extra=json_body(schemas.FleetCloseBody),
    summary="Close the client sessions a selector matches (dry_run previews; expect_at_most guards)",
)
async def close(request: Request, project_id: ProjectId, meta: Closer, svc: Svc) -> JsonAnswer:
    document = json_object(await request.body())
    selector, options = _split(document, {"dry_run", "expect_at_most", "sort", "limit"})
    dry_run = options.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise InvalidParameter("Invalid parameter: dry_run must be a boolean.")
    expect = options.get("expect_at_most")
    return JsonAnswer(
        await svc.fleet.close(
            meta=meta,
            selector=selector,
            dry_run=dry_run,
            expect_at_most=None if expect is None else _integer(options, "expect_at_most", 0, 0, 10**9),
            sort=_choice(options, "sort", SORTS, "age"),
            limit=_integer(options, "limit", 100, 1, 1000),
        )
    )


def _split(document: dict[str, Any], own: set[str]) -> tuple[Any, dict[str, Any]]:
    unknown = sorted(set(document) - _SELECTOR_FIELDS - own)
    if unknown:
        raise InvalidParameter(f"Invalid parameter: {unknown[0][:64]} is not a known field.")
    selector = parse_selector({k: v for k, v in document.items() if k in _SELECTOR_FIELDS})
    return selector, {k: v for k, v in document.items() if k in own}


def _integer(options: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidParameter(f"Invalid parameter: {name} must be an integer from {low} to {high}.")
    return value


def _choice(options: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = options.get(name, default)
    if value not in allowed:
        raise InvalidParameter(f"Invalid parameter: {name} must be one of {', '.join(allowed)}.")
    return value
