"""The selector: parsing names the wrong field; evaluation over CLIENT LIST columns equals a plain reading."""

from __future__ import annotations

import fnmatch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionplane.errors import InvalidParameter
from sessionplane.nodes.client_list import ClientList, parse_client_list
from sessionplane.sessions.selector import Selector, parse_selector
from sessionplane.sessions.service import server_side_filters


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"match": {"nmae": ["x"]}}, "match.nmae"),
        ({"bogus": 1}, "bogus"),
        ({"match": {"name": "batch-*"}}, "match.name"),
        ({"match": {"name": []}}, "match.name"),
        ({"match": {"name": ["ok", 3]}}, "match.name[1]"),
        ({"match": {"name": ["a[bc]"]}}, "match.name[0]"),
        ({"match": {"user": ["has space"]}}, "match.user[0]"),
        ({"exclude": {"cmd": ["x\\y"]}}, "exclude.cmd[0]"),
        ({"match": {"min_idle_seconds": -1}}, "match.min_idle_seconds"),
        ({"match": {"min_idle_seconds": 1.5}}, "match.min_idle_seconds"),
        ({"match": {"min_idle_seconds": True}}, "match.min_idle_seconds"),
        ({"match": {"db": [0, -2]}}, "match.db[1]"),
        ({"match": {"db": ["0"]}}, "match.db[0]"),
        ({"match": {"flags": ["P!"]}}, "match.flags[0]"),
        ({"match": {"addr_prefix": "x" * 257}}, "match.addr_prefix"),
        ({"match": {"addr_prefix": ""}}, "match.addr_prefix"),
        ({"match": {"ip": ["10.0.0.1\n"]}}, "match.ip[0]"),
        ({"match": {"min_age_seconds": 10, "max_age_seconds": 5}}, "match.min_age_seconds"),
        ({"scope": {"instance_ids": "abc"}}, "scope.instance_ids"),
        ({"scope": {"node_ids": ["../etc"]}}, "scope.node_ids[0]"),
        ({"scope": {"nodes": []}}, "scope.nodes"),
        ({"match": []}, "match"),
        ([], "selector"),
    ],
)
def test_bad_selectors_name_the_field(document, field):
    with pytest.raises(InvalidParameter) as raised:
        parse_selector(document)
    assert raised.value.code == "DBS.200001"
    assert f"{field} " in raised.value.message or raised.value.message.endswith(f"{field}.")


def test_an_empty_selector_selects_everything():
    selector = parse_selector({})
    assert selector.selects_everything and selector.scope.implicit
    assert not parse_selector({"match": {"name": ["x"]}}).selects_everything


LISTING = (
    "id=1 addr=10.0.0.5:1000 laddr=10.0.0.1:6379 fd=8 name=batch-1 age=100 idle=700 flags=N db=0 sub=0 psub=0 "
    "multi=-1 cmd=blpop user=app lib-name=redis-py lib-ver=5.0\n"
    "id=2 addr=10.0.0.6:1001 laddr=10.0.0.1:6379 fd=9 name=healthcheck age=5000 idle=800 flags=N db=0 sub=0 psub=0 "
    "multi=-1 cmd=ping user=app lib-name=jedis lib-ver=4\n"
    "id=3 addr=[fe80::1]:1002 laddr=10.0.0.1:6379 fd=10 name= age=90000 idle=3 flags=P db=2 sub=1 psub=0 "
    "multi=-1 cmd=subscribe user=ops lib-name= lib-ver=\n"
    "id=4 addr=10.0.0.5:1003 laddr=10.0.0.1:6379 fd=11 name=batch-2 age=10 idle=10 flags=b db=0 sub=0 psub=0 "
    "multi=-1 cmd=blpop user=app lib-name=redis-py lib-ver=5.0\n"
)


def _ids(selector: Selector) -> list[int]:
    listing = ClientList(LISTING)
    return [listing.ids[i] for i in selector.lines(listing, range(len(listing)))]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"match": {"name": ["batch-*"]}}, [1, 4]),
        ({"match": {"name": ["batch-?"], "min_idle_seconds": 600}}, [1]),
        ({"match": {"name": [""]}}, [3]),
        ({"match": {"ip": ["fe80::1"]}}, [3]),
        ({"match": {"addr_prefix": "10.0.0.5:"}}, [1, 4]),
        ({"match": {"user": ["app"]}, "exclude": {"name": ["healthcheck"]}}, [1, 4]),
        ({"match": {"lib_name": ["redis-*", "jedis"]}}, [1, 2, 4]),
        ({"match": {"db": [2]}}, [3]),
        ({"match": {"flags": ["P"]}}, [3]),
        ({"match": {"flags": ["b", "P"]}}, [3, 4]),
        ({"match": {"cmd": ["BLPOP"]}}, []),  # globs are case-sensitive, as the node reports commands
        ({"match": {"min_age_seconds": 100, "max_age_seconds": 5000}}, [1, 2]),
        ({"exclude": {"user": ["ops"], "name": ["batch-1"]}}, [2, 4]),  # any exclude field excludes
        ({"match": {"name": ["batch-*"]}, "exclude": {"name": ["batch-*"]}}, []),  # exclude wins
    ],
)
def test_each_field_filters_what_it_says(document, expected):
    assert _ids(parse_selector(document)) == expected


def test_server_side_filters_only_for_single_exact_values():
    assert server_side_filters(parse_selector({"match": {"name": ["a"], "db": [1], "min_idle_seconds": 5}})) == (
        "NAME",
        "a",
        "DB",
        1,
        "IDLE",
        5,
    )
    assert server_side_filters(parse_selector({"match": {"name": ["a*"], "user": ["x", "y"], "db": [1, 2]}})) == ()


names = st.sampled_from(["", "batch-1", "batch-22", "api", "healthcheck", "a.b", "x*y"])
globs = st.lists(st.sampled_from(["batch-*", "batch-?", "*", "api", "", "a.b", "x*y", "*check"]), min_size=1)
rows = st.lists(
    st.tuples(
        names,
        st.sampled_from(["app", "ops", "default"]),
        st.integers(0, 3),
        st.integers(0, 1000),
        st.integers(0, 1000),
        st.sampled_from(["N", "P", "b", "Pb"]),
        st.sampled_from(["10.0.0.1", "10.0.0.2", "fe80::1"]),
    ),
    max_size=25,
)


@given(
    rows,
    st.fixed_dictionaries(
        {},
        optional={
            "name": globs,
            "user": st.lists(st.sampled_from(["app", "o*", "default"]), min_size=1),
            "db": st.lists(st.integers(0, 3), min_size=1),
            "min_idle_seconds": st.integers(0, 1000),
            "max_age_seconds": st.integers(0, 1000),
            "flags": st.lists(st.sampled_from(["P", "b", "Pb"]), min_size=1),
            "ip": st.lists(st.sampled_from(["10.0.0.1", "fe80::1"]), min_size=1),
        },
    ),
    st.fixed_dictionaries({}, optional={"name": globs, "user": st.lists(st.sampled_from(["ops"]), min_size=1)}),
)
def test_evaluation_equals_a_plain_reading_of_every_line(table, match, exclude):
    reply = "".join(
        f"id={n + 1} addr={'[' + ip + ']' if ':' in ip else ip}:{n} fd=5 name={name} age={age} idle={idle} "
        f"flags={flags} db={db} multi=-1 cmd=get user={user}\n"
        for n, (name, user, db, idle, age, flags, ip) in enumerate(table)
    )
    selector = parse_selector({"match": match, "exclude": exclude})
    listing = ClientList(reply)
    got = [listing.ids[i] for i in selector.lines(listing, range(len(listing)))]
    assert got == [c.id for c in parse_client_list(reply) if _plain(c.fields, match) and not _any(c.fields, exclude)]


def _ip(fields: dict[str, str]) -> str:
    return fields["addr"].rpartition(":")[0].strip("[]")


def _field_holds(fields: dict[str, str], name: str, value: object) -> bool:
    if name in ("name", "user"):
        return any(fnmatch.fnmatchcase(fields[name], g) for g in value)  # type: ignore[union-attr]
    if name == "db":
        return int(fields["db"]) in value  # type: ignore[operator]
    if name == "min_idle_seconds":
        return int(fields["idle"]) >= value  # type: ignore[operator]
    if name == "max_age_seconds":
        return int(fields["age"]) <= value  # type: ignore[operator]
    if name == "flags":
        return any(set(f) <= set(fields["flags"]) for f in value)  # type: ignore[union-attr]
    if name == "ip":
        return _ip(fields) in value  # type: ignore[operator]
    raise AssertionError(name)


def _plain(fields: dict[str, str], match: dict) -> bool:
    return all(_field_holds(fields, k, v) for k, v in match.items())


def _any(fields: dict[str, str], exclude: dict) -> bool:
    return any(_field_holds(fields, k, v) for k, v in exclude.items())
