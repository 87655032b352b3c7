"""``SelfBoundRoute`` calls its handler with the Request alone: a handler that asks FastAPI for more is refused."""

from __future__ import annotations

import pytest
from fastapi import Depends, Request

from sessionplane.api.params import SelfBoundRoute
from sessionplane.api.responses import JsonAnswer


async def takes_the_request(request: Request) -> JsonAnswer:
    return JsonAnswer({})


async def takes_a_path_parameter(request: Request, node_id: str) -> JsonAnswer:
    return JsonAnswer({"node_id": node_id})


async def takes_a_query_parameter(request: Request, limit: int = 50) -> JsonAnswer:
    return JsonAnswer({"limit": limit})


async def takes_a_dependency(request: Request, who: str = Depends(lambda: "x")) -> JsonAnswer:
    return JsonAnswer({"who": who})


async def takes_nothing() -> JsonAnswer:
    return JsonAnswer({})


def test_a_handler_of_the_request_alone_is_its_own_route_handler() -> None:
    route = SelfBoundRoute("/v3/{project_id}/redis/nodes/{node_id}/sessions", takes_the_request)
    assert route.get_route_handler() is takes_the_request


@pytest.mark.parametrize(
    "handler", [takes_a_path_parameter, takes_a_query_parameter, takes_a_dependency, takes_nothing]
)
def test_a_handler_that_would_need_fastapi_to_bind_something_is_refused(handler) -> None:
    # Called with the Request alone, such a handler would never get its value: refused when the route is built.
    with pytest.raises(TypeError, match="must take the Request alone"):
        SelfBoundRoute("/v3/{project_id}/redis/nodes/{node_id}/sessions", handler)
