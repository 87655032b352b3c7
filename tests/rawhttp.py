"""A raw HTTP/1.1 client on one socket, for what httpx will not send and what it hides.

It sends bodies shorter than their Content-Length, heads of any size, bodies that never end, and it
shows whether the server closed the connection after answering.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import repeat

MiB = 1024 * 1024
_CHUNK = 64 * 1024


def head(method: str, path: str, headers: Mapping[str, str | int] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def filler(total: int) -> Iterable[bytes]:
    """``total`` bytes in 64 KiB pieces, produced as they are sent (the client never holds them)."""
    yield from repeat(b"x" * _CHUNK, total // _CHUNK)
    if total % _CHUNK:
        yield b"x" * (total % _CHUNK)


def chunked(pieces: Iterable[bytes]) -> Iterable[bytes]:
    """The pieces in chunked transfer coding, without the final empty chunk (the body never ends)."""
    for piece in pieces:
        yield b"%x\r\n%s\r\n" % (len(piece), piece)


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


class RawHttp:
    def __init__(self, host: str, port: int, *, timeout: float = 30.0) -> None:
        # The timeout is a liveness guard (a hung server fails the test), never a speed assertion.
        self.sock = socket.create_connection((host, port), timeout=timeout)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_in_background(self, pieces: Iterable[bytes]) -> threading.Thread:
        """Send while the caller reads the answer; stops quietly once the server closes the connection."""

        def pump() -> None:
            try:
                for piece in pieces:
                    self.sock.sendall(piece)
            except OSError:
                pass

        sender = threading.Thread(target=pump, daemon=True)
        sender.start()
        return sender

    def answer(self, method: str = "GET") -> Answer:
        response = http.client.HTTPResponse(self.sock, method=method)
        response.begin()
        return Answer(response.status, response.headers, response.read())

    def closed_by_server(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        # shutdown() first: close() alone leaves the connection open while a response's file object lives on.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    def __enter__(self) -> RawHttp:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
