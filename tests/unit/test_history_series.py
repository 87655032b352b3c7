"""Pure history aggregation: buckets, gaps, folding, growth, roll-ups, and the time parameters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionplane.errors import InvalidParameter
from sessionplane.history.records import ROLLUP_SECONDS, Cell
from sessionplane.history.rollup import rollup
from sessionplane.history.series import OTHER, growth, number, series
from sessionplane.history.service import plan
from sessionplane.history.timespec import parse_duration, parse_since
from sessionplane.settings import Settings

T0 = 1_800_000_000  # a multiple of 300 and of 60


def sample(node: str, at: float, total: int, names: dict[str, int] | None = None) -> Cell:
    groups = {"name": names or {}}
    return Cell(node, at, 1, 0, float(total), 0.0, 0.0, groups)


def unreachable(node: str, at: float) -> Cell:
    return Cell(node, at, 0, 1, 0.0, 0.0, 0.0, {})


def points(found, key):
    return next(s.points for s in found if s.key == key)


def test_instance_figures_sum_the_nodes_and_average_within_a_bucket():
    cells = [sample("n1", T0, 2), sample("n1", T0 + 5, 4), sample("n2", T0 + 1, 10), sample("n1", T0 + 10, 7)]
    found = series(cells, group_by="total", step=10, top_k=20)
    assert points(found, "total") == [(T0, 13.0), (T0 + 10, 7.0)]
    assert [s.key for s in found] == ["total", "active", "idle_over"]


def test_an_unreachable_node_is_a_gap_for_the_instance_not_a_smaller_sum():
    cells = [sample("n1", T0, 3), sample("n2", T0, 4), sample("n1", T0 + 10, 3), unreachable("n2", T0 + 10)]
    total = points(series(cells, group_by="total", step=10, top_k=20), "total")
    assert total == [(T0, 7.0), (T0 + 10, None)]
    by_name = [
        sample("n1", T0, 3, {"a": 3}),
        sample("n2", T0, 1, {"a": 1}),
        sample("n1", T0 + 10, 3, {"a": 3}),
        unreachable("n2", T0 + 10),
    ]
    assert points(series(by_name, group_by="name", step=10, top_k=20), "a") == [(T0, 4.0), (T0 + 10, None)]


def test_grouped_by_node_only_the_failed_node_has_the_gap():
    cells = [sample("n1", T0, 3), unreachable("n2", T0), sample("n1", T0 + 10, 5)]
    found = series(cells, group_by="node", step=10, top_k=20)
    assert points(found, "n1") == [(T0, 3.0), (T0 + 10, 5.0)]
    assert points(found, "n2") == [(T0, None)]  # no reading at all at T0+10: no point, not a gap


def test_one_failed_reading_among_good_ones_is_no_gap():
    cells = [sample("n1", T0, 4), unreachable("n1", T0 + 5)]
    assert points(series(cells, group_by="total", step=10, top_k=20), "total") == [(T0, 4.0)]


def test_buckets_without_readings_have_no_points():
    cells = [sample("n1", T0, 1), sample("n1", T0 + 100, 2)]
    assert points(series(cells, group_by="total", step=10, top_k=20), "total") == [(T0, 1.0), (T0 + 100, 2.0)]


def test_groups_beyond_top_k_are_folded_into_other_by_peak():
    cells = [
        sample("n1", T0, 10, {"a": 5, "b": 1, "c": 2, OTHER: 2}),
        sample("n2", T0, 3, {"b": 3}),
        sample("n1", T0 + 10, 9, {"a": 1, "c": 8}),
    ]
    found = series(cells, group_by="name", step=10, top_k=2)
    assert [s.key for s in found] == ["c", "a", OTHER]
    assert points(found, "c") == [(T0, 2.0), (T0 + 10, 8.0)]
    assert points(found, OTHER) == [(T0, 6.0), (T0 + 10, 0.0)]  # b (1 + 3) and the nodes' own (other)


def test_growth_ranks_the_groups_that_grew_most_first():
    cells = [
        sample("n1", T0, 10, {"steady": 5, "leaky": 1, "shrinking": 4}),
        unreachable("n1", T0 + 10),
        sample("n1", T0 + 20, 30, {"steady": 5, "leaky": 21, "shrinking": 1}),
    ]
    ranked, gaps = growth(cells, group_by="name", step=10, top_k=20)
    assert [(g.key, g.start, g.end, g.growth) for g in ranked] == [
        ("leaky", 1.0, 21.0, 20.0),
        ("steady", 5.0, 5.0, 0.0),
        ("shrinking", 4.0, 1.0, -3.0),
    ]
    assert gaps == 1
    top_one, _ = growth(cells, group_by="name", step=10, top_k=1)
    assert [g.key for g in top_one] == ["leaky"]


@st.composite
def raw_cells(draw) -> list[Cell]:
    cells = []
    for node in ("n1", "n2"):
        for offset in sorted(draw(st.sets(st.integers(0, 3 * ROLLUP_SECONDS - 1), max_size=30))):
            if draw(st.booleans()) and draw(st.booleans()):
                cells.append(unreachable(node, T0 + offset))
            else:
                names = draw(st.dictionaries(st.sampled_from("abcd"), st.integers(0, 9), max_size=4))
                cells.append(sample(node, T0 + offset, sum(names.values()), names))
    return cells


@given(cells=raw_cells(), group_by=st.sampled_from(["total", "name", "node"]))
def test_rollups_answer_like_the_raw_samples_they_came_from(cells, group_by):
    rolled = [cell for _instance, cell in rollup([("i", c) for c in cells], top_k=20)]
    from_raw = series(cells, group_by=group_by, step=ROLLUP_SECONDS, top_k=20)
    from_rollups = series(rolled, group_by=group_by, step=ROLLUP_SECONDS, top_k=20)
    assert _rounded(from_rollups) == _rounded(from_raw)


def _rounded(found):
    return [(s.key, [(t, number(v)) for t, v in s.points]) for s in found]


def test_numbers_are_rounded_and_whole_ones_are_integers():
    assert number(3.0) == 3 and isinstance(number(3.0), int)
    assert number(2 / 3) == 0.67 and number(None) is None


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("1h", 3600), ("7d", 604800), ("2w", 1209600)]
)
def test_durations(text, seconds):
    assert parse_duration(text, parameter="window") == seconds


@pytest.mark.parametrize("text", ["", "1", "h", "1x", "-1h", "1.5h", "0s", "999999w", " 1h", "1h "])
def test_bad_durations_name_the_parameter(text):
    with pytest.raises(InvalidParameter, match="^Invalid parameter: window: "):
        parse_duration(text, parameter="window")


NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_since_back_from_now_or_iso():
    assert parse_since("-1h", now=NOW) == NOW - timedelta(hours=1)
    assert parse_since("2026-11-25T09:00:00Z", now=NOW) == datetime(2026, 11, 25, 9, tzinfo=UTC)
    assert parse_since("2026-11-25T09:00:00", now=NOW) == datetime(2026, 11, 25, 9, tzinfo=UTC)
    assert parse_since("2026-11-25T10:00:00+01:00", now=NOW) == datetime(2026, 11, 25, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["yesterday", "-1x", "2026-11-25T13:00:00Z", "0001-01-01T00:00:00+05:00", "2000-01-01", "-"]
)
def test_bad_since_names_the_parameter(text):
    with pytest.raises(InvalidParameter, match="^Invalid parameter: since: "):
        parse_since(text, now=NOW)


def test_plan_uses_raw_samples_for_fine_steps_and_rollups_for_coarse_or_old_ranges():
    settings = Settings(sample_interval_seconds=15)
    assert plan(requested_step=None, since=NOW - timedelta(hours=1), until=NOW, settings=settings).step == 15
    fine = plan(requested_step=60, since=NOW - timedelta(hours=1), until=NOW, settings=settings)
    assert (fine.step, fine.from_rollups) == (60, False)
    coarse = plan(requested_step=400, since=NOW - timedelta(hours=1), until=NOW, settings=settings)
    assert (coarse.step, coarse.from_rollups) == (600, True)
    old = plan(requested_step=60, since=NOW - timedelta(days=3), until=NOW, settings=settings)
    assert (old.step, old.from_rollups) == (300, True)
    week = plan(requested_step=None, since=NOW - timedelta(days=7), until=NOW, settings=settings)
    assert week.from_rollups and week.step % ROLLUP_SECONDS == 0 and 7 * 86400 / week.step <= 240


def test_plan_refuses_too_many_points_naming_step():
    with pytest.raises(InvalidParameter, match="^Invalid parameter: step: "):
        plan(requested_step=1, since=NOW - timedelta(hours=12), until=NOW, settings=Settings())
