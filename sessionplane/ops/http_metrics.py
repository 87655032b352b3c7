"""Pure-ASGI middleware: count and time every HTTP request by route template, method and status.

The route is the template the router matched (``/v3/{project_id}/redis/nodes/{node_id}/sessions``),
read from the scope after the app ran, never the raw path: IDs in paths would make the label set
grow without bound. Requests that match no route are counted under ``unmatched``.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sessionplane.ops.metrics import UNMATCHED_ROUTE, Metrics


class HttpMetricsMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
            self.metrics.observe_request(
                route=route, method=scope["method"], status=status, seconds=time.perf_counter() - started
            )
