"""Concurrent listings of one node share one listing, sent after each of them asked: against a real node.

The node is stopped (SIGSTOP) while the callers ask, so that every one of them asks while the first
listing is on its way; the node's own command statistics count the listings it ran.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from sessionplane.errors import NodeUnavailable
from sessionplane.nodes.adapter import NodeAdapter
from sessionplane.sessions.selection import Protection
from sessionplane.settings import Settings
from tests.live import LiveService
from tests.support import RawSession, command_calls, node_record, session_ids, stopped

CALLERS = 10
TYPED = 2  # commands per listing: CLIENT LIST TYPE normal, then TYPE pubsub


def test_callers_listing_one_node_at_once_share_one_listing_and_see_every_session(tmp_path, cluster):
    server = cluster.start_server()
    node = node_record(server.host, server.port)
    clients = [RawSession(server) for _ in range(5)]

    async def scenario() -> None:
        adapter = NodeAdapter(Settings(data_dir=tmp_path))
        try:
            await adapter.client_list(node)  # the pool's connection, opened and named
            before = command_calls(server, "client|list")
            with stopped(server):
                callers = [asyncio.ensure_future(adapter.client_list(node)) for _ in range(CALLERS)]
                await asyncio.sleep(0.3)  # every caller has asked; the first one's listing waits on the node
            replies = await asyncio.gather(*callers)
            # The first caller's listing, then one for the nine that asked while it was on its way.
            assert command_calls(server, "client|list") - before == 2 * TYPED
            assert len({id(reply) for reply in replies}) == 2
            assert replies[1].parsed() is replies[-1].parsed()  # one parse of the shared reply
            for reply in replies:
                assert {c.id for c in clients} <= session_ids(reply)
        finally:
            await adapter.close()

    try:
        asyncio.run(scenario())
    finally:
        for client in clients:
            client.close()


def test_callers_sharing_a_listing_of_a_frozen_node_get_the_node_deadline_error(tmp_path, cluster):
    server = cluster.start_server()
    node = node_record(server.host, server.port)

    async def scenario() -> None:
        adapter = NodeAdapter(Settings(data_dir=tmp_path, node_deadline_seconds=0.5))
        try:
            await adapter.client_list(node)
            with stopped(server):
                first = asyncio.ensure_future(adapter.client_list(node))
                await asyncio.sleep(0.1)
                joined = [asyncio.ensure_future(adapter.client_list(node)) for _ in range(3)]
                outcomes = await asyncio.gather(first, *joined, return_exceptions=True)
            # The first caller's own read timed out; the three others gave up waiting for the next one (the
            # SharedReads patience: tests/unit/test_shared_reads.py) and got the same error, DBS.200018's.
            for outcome in outcomes:
                assert isinstance(outcome, NodeUnavailable)
                assert "did not answer within the 0.5 s node deadline" in str(outcome)
            fresh = RawSession(server)  # the node answers again: a listing sent now shows it
            try:
                assert fresh.id in session_ids(await adapter.client_list(node))
            finally:
                fresh.close()
        finally:
            await adapter.close()

    asyncio.run(scenario())


def test_requests_sharing_a_listing_scan_it_once_per_protection_and_each_sees_its_instance(
    service: LiveService, register, cluster, sessions, monkeypatch: pytest.MonkeyPatch
):
    """Pages of one node asked at once, under two instances' protections (the same node registered twice
    differs only in them): the protections' scan of the shared reply runs once per protection, and each
    request sees exactly its instance's sessions."""
    server = cluster.start_server()
    api = [sessions(server, name="api") for _ in range(3)]
    batch = [sessions(server, name="batch") for _ in range(2)]
    guardian = sessions(server, name="guardian")  # protected everywhere (the service's settings)
    narrow = register(server, name="shared-protections", protected_names=["batch"])
    wide = dataclasses.replace(narrow, protected_names=())
    node = narrow.nodes[0]
    scans: list[Protection] = []
    shielded = Protection.shielded

    def counted(protection: Protection, *args, **kwargs):
        scans.append(protection)
        return shielded(protection, *args, **kwargs)

    monkeypatch.setattr(Protection, "shielded", counted)
    service_sessions = service.services.sessions

    async def page(instance):
        return await service_sessions.list_node(instance=instance, node=node, offset=0, limit=100, addr_prefix=None)

    async def scenario():
        await page(narrow)  # the pool's connection, opened and named
        scans.clear()
        with stopped(server):
            callers = [asyncio.ensure_future(page(instance)) for instance in (narrow, wide) * 4]
            await asyncio.sleep(0.3)  # all eight have asked; the first one's listing waits on the node
        return await asyncio.gather(*callers)

    pages = service.call(scenario())
    # The first caller's listing (narrow), then one listing for the seven others: scanned once for each
    # instance's protections, not once per request.
    assert len(scans) == 3 and len(set(scans)) == 2
    for n, answer in enumerate(pages):
        expected = {s.id for s in api} | ({s.id for s in batch} if n % 2 else set())
        assert {int(s["id"]) for s in answer.sessions} == expected
        assert answer.total_count == len(expected)
        assert guardian.id not in {int(s["id"]) for s in answer.sessions}
    late = sessions(server, name="api")  # a listing asked for later is read anew: it shows the newcomer
    assert late.id in {int(s["id"]) for s in service.call(page(narrow)).sessions}
