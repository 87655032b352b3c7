"""A session whose TYPE changed between its listing and its kill is still closed, and nothing else is.

Every kill by ID names the TYPE its listing showed (normal or pubsub), so that no kill can close a
replication link. A client that subscribes after it was listed (a fresh connection going on to
SUBSCRIBE), or a subscriber that unsubscribes from everything, is of the other TYPE when its kill
runs, and that kill closes nothing. The adapter then lists the IDs its kills missed and kills those
still there by the TYPE they have now (``nodes.adapter._kill_retyped``); on Valkey 8.1+, where one
kill names a thousand IDs, a kill that closed fewer than it named has all of its IDs listed again.
"""

from __future__ import annotations

import asyncio
import time

from tests.nodes import ON_EVERY_NODE_PROFILE
from tests.support import client_ids

pytestmark = ON_EVERY_NODE_PROFILE


def test_sessions_whose_type_changed_since_their_listing_are_closed(service, cluster, sessions, register):
    server = cluster.start_server()
    node = register(server).nodes[0]
    plain = sessions(server, name="plain")
    late_subscriber = sessions(server, name="late-subscriber")
    former_subscriber = sessions(server, name="former-subscriber")
    bystanders = [sessions(server, name="bystander"), sessions(server, name="listener")]
    bystanders[1].call("SUBSCRIBE", "news")
    former_subscriber.call("SUBSCRIBE", "news")
    # As their listing saw them: plain and late_subscriber normal, former_subscriber a subscriber. Now:
    late_subscriber.call("SUBSCRIBE", "news")
    assert former_subscriber.call("UNSUBSCRIBE", "news") == [b"unsubscribe", b"news", b"0"]

    closed = service.call(
        service.services.nodes.kill(node, ids=[plain.id, late_subscriber.id], pubsub_ids=[former_subscriber.id])
    )

    assert closed == 3
    gone = [plain, late_subscriber, former_subscriber]
    assert all(s.closed_by_node() for s in gone)
    assert not {s.id for s in gone} & client_ids(server)
    assert bystanders[0].alive() and not bystanders[1].closed_by_node(wait=False)


def test_a_close_by_ids_closes_a_session_that_subscribed_between_its_listing_and_its_kill(
    service, cluster, sessions, register
):
    server = cluster.start_server()
    node = register(server).nodes[0]
    joining = sessions(server, name="joining")
    bystander = sessions(server, name="bystander")
    decided = []

    def decide(_slice: int, reply):
        listing = reply.parsed()
        decided.append(listing.ids_by_type(range(len(listing))))
        joining.call("SUBSCRIBE", "news")  # after its listing, before its kill
        return decided[-1]

    async def close() -> int:
        recorded = asyncio.get_running_loop().create_future()
        recorded.set_result("audit-id")
        return await service.services.nodes.kill_in_slices(node, [[joining.id]], decide, ready=recorded)

    closed = service.call(close())

    assert decided == [([joining.id], [])]  # listed as a normal client: its kill named TYPE normal
    assert closed == 1
    assert joining.closed_by_node()
    assert joining.id not in client_ids(server)
    assert bystander.alive()


def test_a_session_that_became_a_replica_since_its_listing_is_not_closed(service, cluster, sessions, register):
    """The other way a session's TYPE changes: it ran PSYNC, and is a replication link now. Neither its kill
    (TYPE normal) nor the retry (which lists it again, flagged ``S``) closes it."""
    server = cluster.start_server()
    node = register(server).nodes[0]
    turned = sessions(server, name="turned-replica")
    assert turned.call("REPLCONF", "listening-port", "0") == b"OK"  # answered: PSYNC refuses pending output
    turned.sock.sendall(b"*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n")  # its reply, the data set, is never read
    with server.client() as client:
        for _ in range(100):  # until the node has taken its PSYNC (a liveness guard, not a speed assertion)
            (line,) = [c for c in client.client_list() if int(c["id"]) == turned.id]
            if "S" in line["flags"]:
                break
            time.sleep(0.05)
    assert "S" in line["flags"]

    closed = service.call(service.services.nodes.kill(node, ids=[turned.id]))

    assert closed == 0
    assert turned.id in client_ids(server)
    assert not turned.closed_by_node(wait=False)


def test_a_close_all_by_user_counts_exactly_and_catches_the_ids_it_decided_after_its_listing(
    service, cluster, sessions, register
):
    """The close-all that kills known users in its listing's pipeline, then what they did not cover (a user new
    since, and IDs): every kill's count adds up, and an ID whose session subscribed meanwhile is closed too."""
    server = cluster.start_server()
    with server.client() as admin_client:
        for user in ("app", "batch"):
            admin_client.execute_command("ACL", "SETUSER", user, "on", ">app-pa55", "+@all", "~*", "&*")
    node = register(server).nodes[0]
    apps = [sessions(server, user="app", password="app-pa55") for _ in range(2)]
    batch = sessions(server, user="batch", password="app-pa55")
    late = sessions(server, name="late")
    bystander = sessions(server, name="bystander")

    def then(reply):
        listed_normal, _pubsub = reply.parsed().ids_by_type(range(len(reply.parsed())))
        assert late.id in listed_normal
        late.call("SUBSCRIBE", "news")  # after the listing, before the kill that names it TYPE normal
        return [late.id], [], ["batch"]

    async def close() -> int:
        return await service.services.nodes.list_then_kill_users(node, ["app"], ready=asyncio.sleep(0), then=then)

    closed = service.call(close())

    assert closed == 4
    gone = [*apps, batch, late]
    assert all(s.closed_by_node() for s in gone)
    assert not {s.id for s in gone} & client_ids(server)
    assert bystander.alive()
