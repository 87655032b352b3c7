"""One connection to a node: asyncio streams, commands packed and replies parsed by hiredis.

Hand-written over redis-py's connection because a close is a batch of thousands of replies:
redis-py reads each reply through a timeout context and builds an error string per read, which
costs a third of a 5,000-session close; here a whole batch is written once and its replies are
parsed from one buffer by ``hiredis.Reader`` (C), under the one deadline the caller sets.

The connection knows its own client ID (``CLIENT ID`` in the handshake), which is how the domain
recognises sessionplane's connections: a name anyone can take, an ID no one else can while the
node runs. A restarted node hands the IDs out again, so the connection also learns the address the
node sees it from (``CLIENT INFO``): an ID is ours only on the line with that address.
Errors are raw here (``OSError``, ``ReplyError``, ``ProtocolError``, ``EOFError``); ``nodes.errors`` maps them.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from typing import Any

import hiredis

from sessionplane.nodes.client_list import parse_line

ReplyError = hiredis.ReplyError
ProtocolError = hiredis.ProtocolError  # the peer does not speak RESP (an HTTP server at a node's address)


@dataclass(frozen=True)
class Endpoint:
    """Where and how to reach a node. The password never appears in a repr."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False


class HandshakeRefused(Exception):
    """The node refused our credentials (or the commands our ACL user needs)."""


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Certificates and host names verified, whatever the library defaults are."""
    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


class NodeConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._parser = hiredis.Reader()
        self.client_id = 0
        self.address: str | None = None  # as the node lists us (``addr``); None if it would not say
        self.broken = False
        self._unread = 0  # replies sent for and not read yet

    @classmethod
    async def open(
        cls, endpoint: Endpoint, *, client_name: str, ssl_context: ssl.SSLContext | None = None
    ) -> NodeConnection:
        """Connect, authenticate, name the connection, learn its client ID and address: one round trip after connect."""
        tls = ssl_context if endpoint.tls else None
        reader, writer = await asyncio.open_connection(
            endpoint.host, endpoint.port, ssl=tls, server_hostname=endpoint.host if tls else None
        )
        connection = cls(reader, writer)
        try:
            await connection._handshake(endpoint, client_name)
        except BaseException:
            connection.close()
            raise
        return connection

    async def _handshake(self, endpoint: Endpoint, client_name: str) -> None:
        commands: list[tuple[Any, ...]] = []
        if endpoint.password is not None:
            auth = ("AUTH", endpoint.username, endpoint.password) if endpoint.username else ("AUTH", endpoint.password)
            commands.append(auth)
        commands += [("CLIENT", "SETNAME", client_name), ("CLIENT", "ID"), ("CLIENT", "INFO")]
        *required, info = await self.batch(b"".join(hiredis.pack_command(c) for c in commands), len(commands))
        failed = next((r for r in required if isinstance(r, ReplyError)), None)
        if failed is not None:
            raise HandshakeRefused(str(failed).split("\n")[0][:200])
        self.client_id = int(required[-1])
        # Optional: a server older than Redis 6.2 or a user without +client|info leaves the ID alone to go by.
        self.address = parse_line(info.decode().strip()).get("addr") if isinstance(info, bytes) else None

    async def call(self, *args: Any) -> Any:
        """One command, one reply (an error reply is returned as a ``ReplyError``, not raised)."""
        return (await self.batch(hiredis.pack_command(args), 1))[0]

    async def batch(self, payload: bytes, count: int) -> list[Any]:
        """Write ``count`` packed commands at once and read their ``count`` replies, in order.

        Cancelling (the caller's deadline) leaves replies unread: the connection is then broken.
        """
        self.send(payload, count)
        return await self.replies(count)

    def send(self, payload: bytes, count: int) -> None:
        """Write ``count`` packed commands; ``replies`` reads their replies, in the order they were sent.

        Several sends may precede their replies (a pipeline the node works through while we read).
        """
        if not count:
            return
        self._unread += count
        self.broken = True  # until every reply is read
        self._writer.write(payload)

    async def replies(self, count: int) -> list[Any]:
        """The next ``count`` replies of what was sent."""
        if not count:
            return []  # nothing asked: nothing to read (and a pending reply is the next call's)
        await self._writer.drain()
        replies: list[Any] = []
        gets = self._parser.gets
        while True:
            reply = gets()
            while reply is not False:
                replies.append(reply)
                if len(replies) == count:
                    self._unread -= count
                    self.broken = self._unread > 0
                    return replies
                reply = gets()
            data = await self._reader.read(1 << 20)
            if not data:
                raise EOFError("the node closed the connection")
            self._parser.feed(data)

    def close(self) -> None:
        self.broken = True
        self._writer.close()
