"""A node that lists its clients but refuses ``CLIENT LIST TYPE`` (a proxy in front of the servers).

sessionplane asks nodes for their normal and pub/sub clients (the node leaves out replication
links itself); a peer that refuses the TYPE filter is asked plainly, from then on directly, and its
replication links are then found by their flags. The peer here is a scripted RESP endpoint over
TCP: no Redis build refuses the filter, a proxy may.
"""

from __future__ import annotations

import asyncio

import hiredis

from sessionplane.nodes.adapter import NodeAdapter, NodeListing
from sessionplane.sessions.selection import Protection, client_sessions
from tests.conftest import settings_for
from tests.support import node_record

LISTING = (
    b"id=5 addr=10.0.0.9:6380 laddr=10.0.0.1:6379 fd=7 name= age=9 idle=0 flags=S db=0 sub=0 psub=0 multi=-1 "
    b"cmd=replconf user=default\n"
    b"id=8 addr=10.0.0.2:5000 laddr=10.0.0.1:6379 fd=8 name=orders age=3 idle=1 flags=N db=0 sub=0 psub=0 "
    b"multi=-1 cmd=get user=default\n"
)


class ProxyLikeNode:
    """Answers the handshake and a plain CLIENT LIST; refuses CLIENT LIST with arguments, as a proxy may."""

    def __init__(self) -> None:
        self.commands: list[tuple[bytes, ...]] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        parser = hiredis.Reader()
        while data := await reader.read(65536):
            parser.feed(data)
            while (command := parser.gets()) is not False:
                self.commands.append(tuple(command))
                writer.write(self._answer(tuple(a.upper() for a in command[:2]), len(command)))
            await writer.drain()
        writer.close()

    def _answer(self, verb: tuple[bytes, ...], argc: int) -> bytes:
        if verb == (b"CLIENT", b"ID"):
            return b":42\r\n"
        if verb == (b"CLIENT", b"LIST"):
            return b"-ERR syntax error\r\n" if argc > 2 else b"$%d\r\n%b\r\n" % (len(LISTING), LISTING)
        return b"+OK\r\n"


async def _listings(proxy: ProxyLikeNode, tmp_path) -> list[NodeListing]:
    server = await asyncio.start_server(proxy.serve, "127.0.0.1", 0)
    async with server:
        node = node_record("127.0.0.1", server.sockets[0].getsockname()[1])
        adapter = NodeAdapter(settings_for(tmp_path))
        try:
            return [await adapter.client_list(node), await adapter.client_list(node)]
        finally:
            await adapter.close()
            for writer in proxy.writers:
                writer.close()
                await writer.wait_closed()
            await asyncio.sleep(0.05)  # the adapter's closed transports finish closing before the loop ends


def test_a_node_refusing_the_type_filter_is_listed_plainly_and_its_links_found_by_flags(tmp_path):
    proxy = ProxyLikeNode()

    replies = asyncio.run(_listings(proxy, tmp_path))

    lists = [c for c in proxy.commands if c[:2] == (b"CLIENT", b"LIST")]
    # typed pair refused once, then plain; the next listing is plain straight away
    assert lists == [
        (b"CLIENT", b"LIST", b"TYPE", b"normal"),
        (b"CLIENT", b"LIST", b"TYPE", b"pubsub"),
        (b"CLIENT", b"LIST"),
        (b"CLIENT", b"LIST"),
    ]
    for reply in replies:
        assert not reply.links_excluded
        listing = reply.parsed()
        assert listing.ids_with_replication_flag() == {5}
        assert [listing.ids[i] for i in client_sessions(listing, Protection().shielded(listing, reply.own))] == [8]
