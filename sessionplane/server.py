"""The one place that builds uvicorn's server config: uvloop, httptools with bounded request heads, our logging.

uvicorn's httptools protocol puts no bound on a request's head: a 64 MB header was buffered whole
before the app saw the request. h11 has a bound (``h11_max_incomplete_event_size``) but parses in
pure Python. Measured here on small keep-alive GETs (uvloop, a trivial Starlette app, CPU time per
request with the client in the same process, best of 5 x 3000): httptools 48-51 us, the subclass
below 55-59 us, h11 108-129 us. So the service keeps httptools and bounds the head in that small
subclass; the limits answer 431 in Huawei's envelope and close the connection.
"""

from __future__ import annotations

import gc
import json
import logging
import socket
import sys
import uuid
from typing import Any, ClassVar, TypeVar

import uvicorn
from starlette.types import ASGIApp
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

from sessionplane.settings import Settings

log = logging.getLogger(__name__)

App = TypeVar("App", bound=ASGIApp)
_BAD_REQUEST = (400, "APIG.0201", "API request error: the request is not valid HTTP.")
_HEAD_TOO_LARGE = (431, "APIG.0201", "Request headers too large.")


class _HeadOverLimit(Exception):
    """Raised from a parser callback: httptools then stops parsing and uvicorn answers the error."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing a request head over ``max_header_bytes`` or ``max_header_count``.

    A complete head is measured by what the parser hands over (request target, names and values). An
    incomplete one is measured by the raw bytes received since it began, because httptools gathers a
    header's whole value before handing it over: at most one read beyond the limit is ever buffered.
    """

    max_header_bytes: ClassVar[int] = 32 * 1024
    max_header_count: ClassVar[int] = 100

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0  # raw bytes received since the head began
        self._head_size = 0  # what the parser handed over
        self._header_count = 0
        self._head_refused = False

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self.max_header_bytes and not self.transport.is_closing():
            self._head_refused = True
            self.send_400_response("request head too large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes, self._head_size, self._header_count = True, 0, 0, 0

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._head_size += len(name) + len(value) + 4  # ": " and CRLF
        if self._header_count > self.max_header_count:
            self._refuse()
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_size > self.max_header_bytes:
            self._refuse()
        super().on_headers_complete()

    def _refuse(self) -> None:
        self._head_refused = True
        raise _HeadOverLimit  # uvicorn catches the parser error and calls send_400_response

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to every request it cannot parse (ours included): Huawei's envelope, then close."""
        status, code, message = _HEAD_TOO_LARGE if self._head_refused else _BAD_REQUEST
        request_id = uuid.uuid4().hex
        body = json.dumps({"error_code": code, "error_msg": message, "request_id": request_id}).encode()
        head = [STATUS_LINE[status]]
        head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"x-request-id: " + request_id.encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        if self._head_refused:
            log.warning("refused a request head over the limits (431) request_id=%s", request_id)
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def limited_httptools_protocol(*, max_header_bytes: int, max_header_count: int) -> type[LimitedHttpToolsProtocol]:
    """The protocol class with these limits (uvicorn instantiates the class itself, once per connection)."""
    return type(
        "LimitedHttpToolsProtocol",
        (LimitedHttpToolsProtocol,),
        {"max_header_bytes": max_header_bytes, "max_header_count": max_header_count},
    )


def _protocol(settings: Settings) -> type[LimitedHttpToolsProtocol]:
    return limited_httptools_protocol(
        max_header_bytes=settings.max_header_bytes, max_header_count=settings.max_header_count
    )


def _options(settings: Settings, host: str | None, port: int | None) -> dict[str, Any]:
    return {
        "host": host or settings.host,
        "port": settings.port if port is None else port,
        "loop": "uvloop",
        "ws": "none",  # no WebSocket routes: no upgrade path either
        "lifespan": "on",
        "log_config": None,  # the process configures logging once (configure_logging)
        "access_log": False,  # our middleware writes the access log, without query strings
        "server_header": False,
        # uvicorn believes X-Forwarded-For/-Proto from 127.0.0.1 (or $FORWARDED_ALLOW_IPS) by default: any
        # local process could then claim another source IP or HTTPS, which policies condition on.
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": settings.trusted_proxies,
        "workers": 1,  # explicit: uvicorn would otherwise read WEB_CONCURRENCY
    }


def settled(app: App) -> App:
    """``app``, with everything the process has built so far moved out of the garbage collector's way.

    The modules, routes, schemas and models built at startup (about 134,000 objects) live as long as
    the serving process, yet a full collection scanned them all: 40-58 ms with the event loop stopped,
    measured in ``serve`` after ten 64-node closes, against 5-9 ms once they are frozen (``gc.freeze``).
    Only for a process that serves: one that builds many apps (the tests) would keep each one's cyclic
    garbage for good.
    """
    gc.collect()  # what building left behind is freed, not frozen
    gc.freeze()
    return app


def server_config(
    app: ASGIApp, settings: Settings, *, host: str | None = None, port: int | None = None
) -> uvicorn.Config:
    return uvicorn.Config(app, http=_protocol(settings), **_options(settings, host, port))


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


class WorkerConfig(uvicorn.Config):
    """The config uvicorn's supervisor hands to each worker process: it carries the settings, not the app.

    Workers are spawned (a fresh interpreter), so the config is pickled: the app (its services hold
    an engine and a loop) and our protocol class (made by ``type()``, not importable by name) cannot
    be. Each worker builds both from the settings in ``load``, which uvicorn calls in the worker.
    """

    def __init__(self, settings: Settings, *, workers: int) -> None:
        super().__init__(None, **(_options(settings, None, None) | {"workers": workers}))  # type: ignore[arg-type]
        self.settings = settings

    def load(self) -> None:
        from sessionplane.app import create_app  # in the worker: the parent never builds the web stack

        configure_logging(self.settings.log_level)
        self.app = settled(create_app(self.settings))
        self.http = _protocol(self.settings)
        super().load()


class ReusePortSocket(socket.socket):
    """A TCP socket bound with SO_REUSEPORT that, pickled for a spawned worker, becomes a new one on its address.

    SO_REUSEPORT: each worker listens on its own socket and the kernel spreads new connections over
    them by hash; on one shared socket the worker that wins ``accept`` took most keep-alive clients.
    The supervisor's socket is bound but never listens: it reserves the port and fails at once when
    the port is taken, and the kernel hands connections only to listening sockets.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return reuseport_socket, (self.family, self.getsockname()[:2])


def reuseport_socket(family: socket.AddressFamily, address: tuple[str, int]) -> ReusePortSocket:
    sock = ReusePortSocket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    return sock


def reserve_port(host: str, port: int) -> ReusePortSocket:
    """The supervisor's socket on ``host:port``; OSError when the port is taken, by a SO_REUSEPORT server too.

    A SO_REUSEPORT bind alone would join another server of the same user already on the port, so a
    plain bind (SO_REUSEADDR only: old TIME_WAIT connections do not count) checks it first.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        address = probe.getsockname()[:2]  # port 0: the port the kernel picked
    return reuseport_socket(family, address)


def serve_workers(settings: Settings, *, workers: int) -> None:
    """N worker processes on one port, each a full replica (services, background loops).

    uvicorn's supervisor restarts a worker that dies and stops them all on SIGTERM/SIGINT; it hands
    each worker it starts the port's socket, which arrives as the worker's own (``ReusePortSocket``).
    The workers share the store like any replicas: PostgreSQL only (the caller checks).
    """
    config = WorkerConfig(settings, workers=workers)
    try:
        reserved = reserve_port(config.host, config.port)
    except OSError as exc:
        log.error("cannot listen on %s:%d (%s)", config.host, config.port, exc.strerror or exc)
        sys.exit(STARTUP_FAILURE)  # as uvicorn does when it cannot bind
    log.info("serving on http://%s:%d with %d workers", config.host, reserved.getsockname()[1], workers)
    Multiprocess(config, sockets=[reserved]).run()
