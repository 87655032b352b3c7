"""The bench's own arithmetic: which baseline a ratio is taken to, and the CPU it reads from the kernel.

Every figure in the README's Performance section comes through these: a ratio taken to a slower
baseline than one measured in the same run, or CPU read from the wrong place, would misreport them.
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from bench.cpu import CpuMeter, CpuSpent, _process_seconds
from bench.harness import BACKGROUND_OFF, Contender, Row, report, rounds
from sessionplane.settings import Settings


async def _nothing() -> None:
    return None


def _contender(label: str, *seconds: float) -> Contender:
    rounds_run = list(range(1, len(seconds) + 1))
    return Contender(label, _nothing, times=list(seconds), cpu=[CpuSpent(0.0, 0.0, 0.0)], round_numbers=rounds_run)


def _row(api: float, fastest: float, *others: float) -> Row:
    return Row(
        "a case",
        _contender("sessionplane", api),
        _contender("named fastest", fastest),
        [_contender(f"other {n}", seconds) for n, seconds in enumerate(others)],
        target=1.15,
    )


def test_the_ratio_is_taken_to_the_named_fastest_way_when_it_was_the_fastest():
    row = _row(0.120, 0.100, 0.110)
    assert row.floor is row.fastest
    assert row.ratio == 0.120 / 0.100


def test_a_baseline_faster_than_the_named_one_in_the_run_is_the_one_the_ratio_is_taken_to():
    row = _row(0.120, 0.100, 0.110, 0.090)
    assert row.floor.label == "other 1"
    assert row.ratio == 0.120 / 0.090


def test_the_report_names_the_baseline_the_ratio_is_taken_to_and_its_verdict():
    beaten = report([_row(0.120, 0.100, 0.090)])
    assert "ratio to the fastest (other 0, faster this run than named fastest): 1.33x (target <= 1.15x)  MISSED" in (
        beaten
    )
    kept = report([_row(0.110, 0.100, 0.120)])
    assert "ratio to the fastest (named fastest): 1.10x (target <= 1.15x)  ok" in kept


def test_round_by_round_a_contender_of_two_cases_pairs_with_each_case_in_that_case_s_rounds():
    """The token call is timed in the small call's rounds and again in AK/SK's: each ratio takes its rounds."""
    token, plain, signed = (Contender(label, _nothing) for label in ("token", "plain", "signed"))
    asyncio.run(rounds([token, plain], count=4, warmups=0))
    asyncio.run(rounds([signed, token], count=4, warmups=0))
    token.times = [0.010, 0.020, 0.030, 0.040] + [0.100, 0.200, 0.300, 0.400]
    plain.times = [0.005, 0.010, 0.015, 0.020]
    signed.times = [0.110, 0.220, 0.330, 0.440]
    assert Row("small call", token, plain).paired_ratios() == [2.0, 2.0, 2.0, 2.0]
    assert Row("AK/SK", signed, token).paired_ratios() == pytest.approx([1.1] * 4)
    assert "round by round: median 1.10x, middle half 1.10-1.10x of 4 rounds" in report([Row("AK/SK", signed, token)])


def test_the_meter_reads_a_process_cpu_from_the_kernel_and_charges_a_round_what_it_used():
    me = os.getpid()
    meter = CpuMeter(servers={me})
    begun = meter.begin()
    spin_until = time.process_time() + 0.05  # 50 ms of this process's CPU, whatever the machine's speed
    while time.process_time() < spin_until:
        pass
    spent = meter.spent(begun)
    assert 0.04 < spent.server < 1.0  # the kernel's account of the same work (nanoseconds, every thread)
    assert 0.04 < spent.client < 1.0
    assert spent.nodes == 0.0  # no node registered


def test_a_process_that_is_gone_counts_for_nothing():
    assert _process_seconds(2**22 + 12345) == 0.0  # above the kernel's highest PID


def test_the_background_switch_names_real_settings(monkeypatch):
    """BENCH_QUIET's variables reach ``serve`` as its environment: a misspelt name would be ignored, not refused,
    and the bench would report a quiet run that was not."""
    for name in [n for n in os.environ if n.startswith("SESSIONPLANE_")]:
        monkeypatch.delenv(name)
    for name, value in BACKGROUND_OFF.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.sample_interval_seconds == 0 and settings.probe_interval_seconds == 0
    assert settings.reconnect_window_seconds == 86400
