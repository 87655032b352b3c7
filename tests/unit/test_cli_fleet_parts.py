"""The pure parts of the fleet CLI: durations and selector flags, the history chart, the delayed progress."""

from __future__ import annotations

import asyncio
import io

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from sessionplane.cli import chart
from sessionplane.cli.progress import slow_status
from sessionplane.cli.selector_flags import SELECTOR_PARAMETERS, build, parse_duration


def flags(**values: object) -> dict[str, object]:
    return {**{p.name: None for p in SELECTOR_PARAMETERS}, **values}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0), ("45", 45), ("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400), ("1w", 604800), ("1h30m", 5400)],
)
def test_durations(text, seconds):
    assert parse_duration(text, "--idle-over") == seconds


@pytest.mark.parametrize("text", ["", "m", "10x", "-5m", "1.5h", "30m1h", "ten"])
def test_bad_durations_name_the_flag(text):
    with pytest.raises(typer.BadParameter) as raised:
        parse_duration(text, "--age-over")
    assert raised.value.param_hint == "'--age-over'"


@given(st.integers(0, 10**6), st.integers(0, 59), st.integers(0, 59))
def test_durations_add_up(hours, minutes, seconds):
    assert parse_duration(f"{hours}h{minutes}m{seconds}s", "--x") == hours * 3600 + minutes * 60 + seconds


def test_flags_build_the_selector_the_api_would_parse():
    built = build(
        flags(
            scope_instance=["aaaain12", "aaaain12"],
            match_name=["batch-*"],
            match_db=[0, 3],
            match_min_idle_seconds="10m",
            exclude_user=["ops"],
            exclude_max_age_seconds="1h",
        )
    )
    assert built.instance_ids == ("aaaain12",)
    assert built.selector.as_json() == {
        "scope": {"instance_ids": ["aaaain12"], "node_ids": []},
        "match": {"name": ["batch-*"], "db": [0, 3], "min_idle_seconds": 600},
        "exclude": {"user": ["ops"], "max_age_seconds": 3600},
    }


@pytest.mark.parametrize(
    ("values", "hint", "said"),
    [
        ({"match_name": ["ok", "a{b}"]}, "'--name'", "'a{b}' is not a valid glob"),
        ({"exclude_lib_name": ["x y"]}, "'--exclude-lib'", "'x y' is not a valid glob"),
        ({"match_db": [-1]}, "'--db'", "-1 must be a database number"),
        ({"exclude_flags": ["P1"]}, "'--exclude-flags'", "'P1' must be client flag letters"),
        ({"match_addr_prefix": "10.\x01"}, "'--addr-prefix'", "control characters"),
        ({"match_min_age_seconds": "2h", "match_max_age_seconds": "1h"}, "'--age-over'", "must not exceed"),
        ({"exclude_min_age_seconds": "2h", "exclude_max_age_seconds": "1h"}, "'--exclude-age-over'", "--exclude-age"),
        ({"scope_node": ["ok", "no/pe"]}, "'--node'", "'no/pe' is not a valid ID"),
    ],
)
def test_bad_values_name_the_flag_not_the_json_path(values, hint, said):
    with pytest.raises(typer.BadParameter) as raised:
        build(flags(**values))
    assert raised.value.param_hint == hint
    assert said in raised.value.message and "match." not in raised.value.message


def test_every_criteria_field_has_a_flag_and_an_exclude_twin():
    from sessionplane.sessions.selector import FIELDS

    names = {p.name for p in SELECTOR_PARAMETERS}
    assert {f"match_{f}" for f in FIELDS} | {f"exclude_{f}" for f in FIELDS} <= names


# -- chart --------------------------------------------------------------------------------------------


def test_a_row_tells_zero_gap_and_not_sampled_apart():
    points = [(100, 0.0), (101, 4.0), (102, None), (104, 2.0)]
    (row,), top = chart.render([("leaky", points)], start=100, end=105, step=1, width=80)
    assert top == 4 and row.line == "_█× ▄ "
    assert (row.now, row.peak) == (2.0, 4.0)


def test_rows_share_one_scale_and_wide_ranges_keep_each_columns_peak():
    a = [(t, float(t % 10)) for t in range(0, 100)]
    b = [(t, 1.0) for t in range(0, 100)]
    rows, top = chart.render([("a", a), ("b", b)], start=0, end=99, step=1, width=10)
    assert top == 9 and len(rows[0].line) == 10 and rows[0].line == "█" * 10
    assert rows[1].line == "▁" * 10  # 1 of 9: the lowest bar, not scaled to its own row


def test_a_column_of_gaps_only_is_a_gap_and_a_last_gap_has_no_now():
    (row,), _top = chart.render([("x", [(0, None), (1, None), (2, 3.0)])], start=0, end=3, step=1, width=2)
    assert row.line == "×█" and row.now == 3.0
    (row,), _top = chart.render([("x", [(0, 1.0), (1, None)])], start=0, end=1, step=1, width=5)
    assert row.now is None and row.peak == 1.0


# -- progress -----------------------------------------------------------------------------------------


def terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=80), out


def test_a_slow_fan_out_shows_progress_and_a_quick_one_shows_none():
    async def slow() -> bool:
        console, out = terminal()
        async with slow_status("searching 64 nodes", after=0, console=console) as status:
            for _ in range(1000):  # let the timer run (a liveness bound, not a speed assertion)
                if status.shown:
                    break
                await asyncio.sleep(0.01)
        return status.shown and "searching 64 nodes" in out.getvalue()

    async def quick() -> str:
        console, out = terminal()
        async with slow_status("searching 64 nodes", after=3600, console=console) as status:
            await asyncio.sleep(0)
        assert not status.shown
        return out.getvalue()

    assert asyncio.run(slow())
    assert asyncio.run(quick()) == ""
