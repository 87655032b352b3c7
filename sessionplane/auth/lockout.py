"""Brute-force guard: more than 5 consecutive signature failures for one AK refuse it for 5 minutes.

In memory, per process (each replica counts its own failures); bounded, forgetting quiet keys.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Record:
    failures: int = 0
    locked_until: float = 0.0


class Lockout:
    def __init__(
        self,
        *,
        max_failures: int = 5,
        lock_seconds: float = 300.0,
        capacity: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_failures = max_failures
        self._lock_seconds = lock_seconds
        self._capacity = capacity
        self._clock = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def is_locked(self, access_key: str) -> bool:
        record = self._records.get(access_key)
        return record is not None and record.locked_until > self._clock()

    def record_failure(self, access_key: str) -> None:
        record = self._records.pop(access_key, None) or _Record()
        record.failures += 1
        if record.failures > self._max_failures:
            record.locked_until = self._clock() + self._lock_seconds
            record.failures = 0
        self._records[access_key] = record
        while len(self._records) > self._capacity:
            self._records.popitem(last=False)

    def record_success(self, access_key: str) -> None:
        self._records.pop(access_key, None)
