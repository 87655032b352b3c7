"""More than 5 consecutive signature failures lock an AK for 5 minutes; a success resets the count."""

from __future__ import annotations

from sessionplane.auth.lockout import Lockout


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_sixth_failure_locks_for_five_minutes():
    clock = Clock()
    lockout = Lockout(clock=clock)
    for _ in range(5):
        lockout.record_failure("AK")
    assert not lockout.is_locked("AK")
    lockout.record_failure("AK")
    assert lockout.is_locked("AK") and not lockout.is_locked("OTHER")
    clock.now += 299
    assert lockout.is_locked("AK")
    clock.now += 2
    assert not lockout.is_locked("AK")


def test_a_success_resets_the_count():
    lockout = Lockout(clock=Clock())
    for _ in range(5):
        lockout.record_failure("AK")
    lockout.record_success("AK")
    for _ in range(5):
        lockout.record_failure("AK")
    assert not lockout.is_locked("AK")


def test_memory_is_bounded():
    lockout = Lockout(capacity=3, clock=Clock())
    for n in range(10):
        lockout.record_failure(f"AK{n}")
    assert len(lockout._records) == 3
