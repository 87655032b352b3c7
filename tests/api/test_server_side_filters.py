"""On Valkey 8.1+ the selector's single exact values become CLIENT LIST filters on the node; the answer
must be exactly the one the client-side filter gives (and on Redis 7.0 nothing is sent to the node)."""

from __future__ import annotations

import pytest

from sessionplane import admin
from sessionplane.demo.servers import LocalCluster
from sessionplane.inventory.records import NodeSpec
from sessionplane.sessions.selector import parse_selector
from sessionplane.sessions.service import SessionService
from tests.support import RawSession, wait_until_idle

SELECTORS = [
    {"match": {"name": ["batch-1"]}},
    {"match": {"db": [3]}},
    {"match": {"ip": ["127.0.0.1"], "name": ["batch-*"]}},
    {"match": {"min_idle_seconds": 2}},
    {"match": {"name": ["batch-1"], "db": [3], "min_idle_seconds": 2}},
    {"match": {"user": ["default"], "lib_name": ["x"]}},
    # Values Valkey's filters refuse ("No such user", "DB number should be between 0 and 15"), where
    # the client-side filter simply matches nothing: the answer must still be the same.
    {"match": {"user": ["nobody"]}},
    {"match": {"db": [16]}},
    {"match": {"name": ["batch-1"], "db": [1000000]}},
]


@pytest.mark.parametrize("kind", ["valkey", "redis"])
def test_server_side_filters_give_the_client_side_answer(service, tenant, kind):
    with LocalCluster(kind=kind) as cluster:
        server = cluster.start_server()
        sessions = [
            RawSession(server, name="batch-1", db=3),
            RawSession(server, name="batch-1"),
            RawSession(server, name="batch-2", db=3),
            RawSession(server, name="api"),
        ]
        try:
            wait_until_idle(server, sessions, seconds=2)
            fresh = RawSession(server, name="batch-1", db=3)  # idle 0: the min_idle filters leave it out
            sessions.append(fresh)
            instance = service.call(
                admin.adopt_instance(
                    service.services.inventory,
                    project_id=tenant.project_id,
                    name=f"filters-{kind}",
                    nodes=[NodeSpec(host=server.host, port=server.port)],
                )
            )
            node = instance.nodes[0]
            on_node = service.services.sessions
            client_side = SessionService(
                nodes=service.services.nodes,
                audit=service.services.audit,
                settings=service.settings.model_copy(update={"node_server_side_filters": False}),
            )
            for document in SELECTORS:
                selector = parse_selector(document)
                filtered = service.call(on_node.read(instance, node, selector))
                plain = service.call(client_side.read(instance, node, selector))
                picked = sorted(filtered.listing.ids[i] for i in filtered.selected)
                assert picked == sorted(plain.listing.ids[i] for i in plain.selected), document
                if kind == "redis":  # no filters on Redis 7.0: the node answered with every client
                    assert len(filtered.listing) == len(plain.listing)
            narrowed = service.call(on_node.read(instance, node, parse_selector(SELECTORS[0])))
            if kind == "valkey":  # the node did the filtering: only the matching clients came back
                assert sorted(narrowed.listing.ids) == sorted(s.id for s in sessions if s.name == "batch-1")
        finally:
            for session in sessions:
                session.close()
