"""Pure parts of close rules and reconnect tracking: rule bodies, the longest-idle pick, what counts as back."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionplane.api.times import parse_moment
from sessionplane.errors import InvalidParameter
from sessionplane.nodes.client_list import ClientList
from sessionplane.rules.model import parse_rule
from sessionplane.rules.service import pick_longest_idle
from sessionplane.sessions.reconnects import count_reconnected, new_identities
from sessionplane.sessions.service import NodeOutcome

GOOD = {"name": "idle batch", "match": {"name": ["batch-*"], "min_idle_seconds": 60}}


def test_a_minimal_body_takes_the_defaults_and_keeps_its_selector():
    spec = parse_rule(GOOD, partial=False)
    assert spec.given() == {"name": "idle batch", "match": {"name": ["batch-*"], "min_idle_seconds": 60}}
    full = parse_rule({**GOOD, "exclude": {"user": ["ops"]}, "interval_seconds": 10, "mode": "enforce"}, partial=False)
    assert full.given()["exclude"] == {"user": ["ops"]} and full.interval_seconds == 10 and full.mode == "enforce"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**GOOD, "interval_seconds": 9}, "interval_seconds"),
        ({**GOOD, "interval_seconds": "60"}, "interval_seconds"),
        ({**GOOD, "mode": "sometimes"}, "mode"),
        ({**GOOD, "max_per_run": 0}, "max_per_run"),
        ({**GOOD, "max_per_run": True}, "max_per_run"),
        ({**GOOD, "enabled": "yes"}, "enabled"),
        ({**GOOD, "name": ""}, "name"),
        ({**GOOD, "name": "x" * 65}, "name"),
        ({**GOOD, "match": {"name": ["batch-[12]"]}}, "match.name[0]"),
        ({**GOOD, "match": {"min_idle_seconds": -1}}, "match.min_idle_seconds"),
        ({**GOOD, "match": {}}, "match"),
        ({**GOOD, "match": None}, "match"),
        ({**GOOD, "exclude": {"nmae": ["x"]}}, "exclude.nmae"),
        ({**GOOD, "scope": {"instance_ids": ["x"]}}, "scope"),
        ({"match": GOOD["match"]}, "name"),
        ({"name": "no selector"}, "match"),
    ],
)
def test_bad_bodies_name_the_field(body, field):
    with pytest.raises(InvalidParameter) as raised:
        parse_rule(body, partial=False)
    assert field in raised.value.message


def test_an_update_changes_only_what_it_gives_and_must_give_something():
    assert parse_rule({"enabled": False}, partial=True).given() == {"enabled": False}
    with pytest.raises(InvalidParameter, match="at least one field"):
        parse_rule({}, partial=True)
    with pytest.raises(InvalidParameter, match="interval_seconds"):
        parse_rule({"interval_seconds": 5}, partial=True)


def _listing(*clients: tuple[int, int, str]) -> ClientList:
    """(id, idle, name) lines as a node answers CLIENT LIST."""
    return ClientList(
        "".join(
            f"id={i} addr=10.0.0.1:{5000 + i} laddr=127.0.0.1:6379 fd=8 name={n} age={idle + 5} idle={idle} "
            f"flags=N db=0 sub=0 psub=0 multi=-1 cmd=get user=default\n"
            for i, idle, n in clients
        )
    )


def test_the_longest_idle_go_first_across_nodes_ties_to_the_older_client():
    a = _listing((1, 50, "a"), (2, 10, "b"), (3, 90, "c"))
    b = _listing((7, 50, "d"), (4, 50, "e"), (9, 0, "f"))
    picked = pick_longest_idle([(a, [0, 1, 2]), (b, [0, 1, 2])], 3)
    assert picked == [[2, 0], [1]]  # idle 90 (id 3), then the idle-50 ties by ID: 1 (node a), 4 (node b)
    assert pick_longest_idle([(a, [0, 1]), (b, [])], 10) == [[0, 1], []]  # only the selected lines


@given(
    idles=st.lists(st.lists(st.integers(0, 1000), max_size=12), min_size=1, max_size=4),
    limit=st.integers(1, 30),
)
def test_a_pick_is_capped_and_never_spares_a_longer_idle_session(idles, limit):
    listings, next_id = [], 1
    for node in idles:
        listings.append(_listing(*[(next_id + k, idle, f"c{k}") for k, idle in enumerate(node)]))
        next_id += len(node)
    picked = pick_longest_idle([(listing, range(len(listing))) for listing in listings], limit)
    chosen = [idles[n][i] for n, lines in enumerate(picked) for i in lines]
    spared = [idles[n][i] for n in range(len(idles)) for i in range(len(idles[n])) if i not in picked[n]]
    assert len(chosen) == min(limit, sum(len(n) for n in idles))
    assert not chosen or not spared or min(chosen) >= max(spared)


def _aged(*clients: tuple[int, int, str]) -> ClientList:
    """(id, age, name) lines."""
    return ClientList(
        "".join(
            f"id={i} addr=10.0.0.1:{5000 + i} fd=8 name={n} age={age} idle={age} flags=N db=0 cmd=get user=app\n"
            for i, age, n in clients
        )
    )


def test_new_sessions_are_those_above_the_close_newest_id_and_not_older_than_the_window():
    listing = _aged(
        (10, 400, "w"),  # there before the close (ID below the line)
        (21, 29, "w"),  # came back at once
        (22, 3, "w"),  # came back later
        (23, 900, "w"),  # above the line but older than the close: left out of a narrowed listing
        (30, 29, "own"),  # our own connection
    )
    new = new_identities(listing, {30}, newest_id=20, elapsed=30.2)
    assert new == Counter({("10.0.0.1", "w", "app"): 2})


def test_the_line_of_a_close_is_the_newest_id_its_listings_showed_not_only_of_the_lines_it_closed():
    slices = ((_aged((3, 1, "w"), (41, 1, "w")), [0]), (_aged((12, 1, "w"), (7, 1, "w")), [1]))
    assert NodeOutcome("n1", closed=2, closed_lines=slices).newest_id == 41
    assert NodeOutcome("n1", closed=0).newest_id == 0  # a close that read nothing


def test_after_a_node_restart_young_sessions_are_new_whatever_their_id():
    listing = _aged((3, 12, "w"), (5, 40, "w"))
    assert new_identities(listing, set(), newest_id=5000, elapsed=30.0) == Counter({("10.0.0.1", "w", "app"): 1})


def test_reconnected_counts_per_identity_at_most_as_many_as_were_closed():
    closed = Counter({("10.0.0.1", "w", "app"): 3, ("10.0.0.2", "x", "app"): 2})
    new = Counter({("10.0.0.1", "w", "app"): 10, ("10.0.0.3", "x", "app"): 4})
    assert count_reconnected(closed, new) == 3
    assert count_reconnected(closed, Counter()) == 0


def test_times_are_iso_or_relative_and_anything_else_names_the_field():
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert parse_moment("-90m", field="since", now=now) == now - timedelta(minutes=90)
    assert parse_moment("2026-11-24T10:00:00Z", field="since", now=now) == datetime(2026, 11, 24, 10, tzinfo=UTC)
    assert parse_moment("2026-11-24T10:00:00", field="since", now=now).tzinfo == UTC
    assert parse_moment("2026-11-24T12:00:00+02:00", field="since", now=now) == datetime(2026, 11, 24, 10, tzinfo=UTC)
    for bad in ("yesterday", "-5y", "-999999999d", "1h"):
        with pytest.raises(InvalidParameter, match="until"):
            parse_moment(bad, field="until", now=now)
