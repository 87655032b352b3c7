"""The CLIENT LIST reader: columns, lookups, fallbacks, and agreement with redis-py's general parser."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from redis._parsers.helpers import parse_client_list as redis_py_parse

from sessionplane.nodes.client_list import ClientList, ip_of, parse_client_list, parse_line

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
    assert all(parse_line(line.decode()) == t for line, t in zip(listing.lines, theirs, strict=True))


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
        st.tuples(names, st.sampled_from(["N", "S", "M", "P", "xb", "OM"]), st.sampled_from(["default", "ops"])),
        max_size=20,
    ),
    names,
    st.sampled_from(["\n", "\r\n"]),
)
def test_lookups_agree_with_a_full_parse(rows, probe, newline):
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
    assert listing.ids_with_value("user", {"ops"}) == {c.id for c in clients if c.user == "ops"}
    for field in ("addr", "name", "flags", "user", "cmd"):
        assert listing.column(field) == [c.fields[field] for c in clients]
