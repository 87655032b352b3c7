"""The one error table of the edge: domain error -> HTTP status, and every failure -> Huawei's envelope.

Authentication errors (answered by Huawei's API gateway) also carry ``request_id`` in the body.
Unexpected faults answer DBS.200998 with the request id, never a traceback.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match, Mount

from sessionplane import errors as e

log = logging.getLogger(__name__)

STATUS: dict[type[e.SessionplaneError], int] = {
    e.InvalidParameter: 400,
    e.InvalidSessionId: 400,
    e.AuthenticationFailed: 401,
    e.TokenRevoked: 401,
    e.Forbidden: 403,
    e.InstanceNotFound: 404,
    e.NodeNotFound: 404,
    e.NodeUnavailable: 403,
    e.QuerySessionFailed: 400,
    e.KillSessionFailed: 400,
    e.Throttled: 429,
    e.TooManySessions: 409,
    e.PayloadTooLarge: 413,
    e.RequestTimeout: 408,
    e.RuleNotFound: 404,
    e.InternalError: 500,
}
_GATEWAY_ERRORS = (e.AuthenticationFailed, e.TokenRevoked, e.Throttled, e.PayloadTooLarge, e.RequestTimeout)


def request_id_of(request: Request) -> str:
    return getattr(request.state, "request_id", "")


def envelope(request: Request, error: e.SessionplaneError) -> JSONResponse:
    body = {"error_code": error.code, "error_msg": error.message}
    if isinstance(error, _GATEWAY_ERRORS):
        body["request_id"] = request_id_of(request)
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, e.Throttled) else None
    return JSONResponse(body, status_code=STATUS.get(type(error), 500), headers=headers)


def _describe(error: dict) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path"))
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid"))


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, e.SessionplaneError)
    if isinstance(exc, e.InternalError):
        log.error("request %s failed: %s", request_id_of(request), exc.message, exc_info=exc.__cause__)
    return envelope(request, exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = "; ".join(_describe(err) for err in exc.errors())
    return envelope(request, e.InvalidParameter(f"Invalid parameter: {details}"))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = None
    if exc.status_code == 405:
        body = {"error_code": "APIG.0101", "error_msg": "The API does not support this method."}
        headers = {"Allow": ", ".join(allowed_methods(request))}
    else:
        body = {"error_code": "APIG.0101", "error_msg": "The API does not exist or has not been published."}
    return JSONResponse(body | {"request_id": request_id_of(request)}, status_code=exc.status_code, headers=headers)


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves on this path (the router's 405 names only the first route's methods)."""
    routes = [route for route in request.app.routes if not isinstance(route, Mount)]
    allowed = [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    ]
    return allowed or ["GET", "HEAD"]  # no route matched: the 405 came from the static files (the docs' assets)


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client hung up mid-request: nobody is left to answer, and nothing is wrong with the server."""
    log.info("client disconnected before the request was read, request %s", request_id_of(request))
    return Response(status_code=499)  # never sent; the access log shows nginx's "client closed request"


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = request_id_of(request)
    log.error("unexpected fault in request %s", request_id, exc_info=exc)
    response = envelope(request, e.InternalError(f"Internal error. Request id: {request_id}"))
    # Starlette answers unhandled exceptions outside every middleware, so the id is added here.
    response.headers["X-Request-Id"] = request_id
    return response


def install(app: FastAPI) -> None:
    app.add_exception_handler(e.SessionplaneError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(Exception, _unexpected)
