"""The sampler's summary of a CLIENT LIST reply equals the general parse and the sessions domain's rules."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from sessionplane.history.summary import OTHER, fold, summarize
from sessionplane.nodes.client_list import ClientList, parse_client_list
from sessionplane.nodes.pool import OwnConnections
from sessionplane.sessions import selection
from sessionplane.sessions.selection import Protection

PROTECTION = Protection(names=frozenset({"guard"}), users=frozenset({"replicator"}))
OWN = OwnConnections(open=frozenset({4}))  # sessionplane's own connection, known by client ID
TOKEN = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=12)
NAME = st.one_of(st.sampled_from(["", "orders-api", "guard", "sessionplane", "batch-1", "(other)"]), TOKEN)
USER = st.sampled_from(["default", "app", "replicator", "ops"])
ADDR = st.one_of(
    st.builds("{}:{}".format, st.sampled_from(["10.0.0.1", "10.0.0.2", "127.0.0.1"]), st.integers(1, 65535)),
    st.builds("[{}]:{}".format, st.sampled_from(["::1", "fe80::1"]), st.integers(1, 65535)),
    st.just("/tmp/redis.sock:0"),
)


@st.composite
def client_lines(draw, with_lib_name: bool) -> str:
    fields = {
        "id": draw(st.integers(1, 10**9)),
        "addr": draw(ADDR),
        "laddr": "127.0.0.1:6379",
        "fd": 8,
        "name": draw(NAME),
        "age": draw(st.integers(0, 10**6)),
        "idle": draw(st.integers(0, 1000)),
        "flags": draw(st.sampled_from(["N", "b", "x", "M", "S", "P", "Nb"])),
        "db": 0,
        "sub": 0,
        "psub": 0,
        "ssub": 0,
        "multi": draw(st.sampled_from([-1, -1, -1, 0, 2])),
        "qbuf": 0,
        "qbuf-free": 0,
        "argv-mem": 0,
        "multi-mem": 0,
        "tot-mem": 1024,
        "events": "r",
        "cmd": "ping",
        "user": draw(USER),
        "redir": -1,
        "resp": 2,
    }
    if with_lib_name:
        fields |= {"lib-name": draw(st.sampled_from(["", "redis-py", "jedis", "go-redis"])), "lib-ver": "1.0"}
    return " ".join(f"{k}={v}" for k, v in fields.items())


@st.composite
def replies(draw) -> str:
    with_lib_name = draw(st.booleans())
    lines = draw(st.lists(client_lines(with_lib_name), max_size=40))
    return "".join(line + "\n" for line in lines)


def _sessions(listing: ClientList) -> list[int]:
    return selection.client_sessions(listing, PROTECTION.shielded(listing, OWN))


def reference(listing: ClientList, *, threshold: int, idle_over: int, top_k: int) -> tuple:
    """The same figures the slow, general way: every line parsed, selection's own rules."""
    parsed = parse_client_list(listing.text)
    clients = [parsed[i] for i in _sessions(listing)]
    groups = {
        "name": Counter(c.name for c in clients),
        "user": Counter(c.user for c in clients),
        "lib_name": Counter(c.fields.get("lib-name", "") for c in clients),
        "ip": Counter(c.ip for c in clients),
    }
    return (
        len(clients),
        sum(1 for c in clients if selection.is_active(c, threshold)),
        sum(1 for c in clients if c.idle >= idle_over),
        {dimension: fold(counter, top_k) for dimension, counter in groups.items()},
    )


def counted(listing: ClientList, *, threshold: int, idle_over: int, top_k: int) -> tuple:
    counts = summarize(listing, _sessions(listing), idle_threshold=threshold, idle_over_seconds=idle_over, top_k=top_k)
    return counts.total, counts.active, counts.idle_over, counts.groups


@settings(max_examples=300)
@given(reply=replies(), threshold=st.integers(0, 5), idle_over=st.integers(0, 1000), top_k=st.integers(1, 5))
def test_summary_equals_the_general_parse_and_the_selection_rules(reply, threshold, idle_over, top_k):
    listing = ClientList(reply)
    expected = reference(listing, threshold=threshold, idle_over=idle_over, top_k=top_k)
    assert counted(listing, threshold=threshold, idle_over=idle_over, top_k=top_k) == expected


@given(reply=replies())
def test_a_reply_of_another_shape_is_parsed_line_by_line_with_the_same_result(reply):
    # A leading line that does not start with "id=" turns the column shortcut off.
    odd = ClientList("addr=10.9.9.9:1 id=5 name=odd idle=0 flags=N multi=-1 user=default\n" + reply)
    assert counted(odd, threshold=1, idle_over=300, top_k=3) == reference(odd, threshold=1, idle_over=300, top_k=3)


def test_replication_links_own_and_protected_sessions_are_not_counted():
    reply = "".join(
        f"id={i} addr=10.0.0.{i}:5 laddr=x fd=1 name={name} age=1 idle=0 flags={flags} db=0 multi=-1 user={user}\n"
        for i, (name, flags, user) in enumerate(
            [
                ("app", "N", "default"),
                ("", "S", "default"),  # a replica's link
                ("", "M", "default"),  # our link to a master
                ("sessionplane", "N", "default"),
                ("guard", "N", "default"),
                ("app", "N", "replicator"),
            ],
            start=1,
        )
    )
    listing = ClientList(reply)
    counts = summarize(listing, _sessions(listing), idle_threshold=1, idle_over_seconds=300, top_k=20)
    assert counts.total == 1
    assert counts.groups["name"] == {"app": 1} and counts.groups["ip"] == {"10.0.0.1": 1}


def test_top_k_folds_the_rest_into_other_and_bounds_key_length():
    long_name = "x" * 5000
    reply = "".join(
        f"id={i} addr=10.0.0.1:{i} name={name} idle=0 flags=N multi=-1 user=default\n"
        for i, name in enumerate(["a", "a", "a", "b", "b", "c", "d", long_name], start=1)
    )
    listing = ClientList(reply)
    everything = range(len(listing))
    counts = summarize(listing, everything, idle_threshold=1, idle_over_seconds=300, top_k=2)
    assert counts.groups["name"] == {"a": 3, "b": 2, OTHER: 3}
    wide = summarize(listing, everything, idle_threshold=1, idle_over_seconds=300, top_k=20)
    assert max(len(key) for key in wide.groups["name"]) == 128
    assert counts.groups["lib_name"] == {"": 8}  # a server without lib-name: every session under ""


def test_fold_is_stable_on_ties():
    assert fold(Counter({"b": 1, "a": 1, "c": 1}), 2) == {"a": 1, "b": 1, OTHER: 1}
    assert fold(Counter({"a": 2}), 5) == {"a": 2}
