"""SharedReads: callers that ask at once share one read, and never one that went out before they asked."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessionplane.nodes.shared_reads import SharedReads

HANG_GUARD = 30  # seconds: a guard against a hang, not a timing claim


class Reads:
    """A read that counts its starts, answers with its own number, and ends when told (or at once)."""

    def __init__(self, *, held: bool = True) -> None:
        self.started = 0
        self.in_flight = 0
        self.most_in_flight = 0
        self.release = asyncio.Event()
        if not held:
            self.release.set()
        self.fail_with: Exception | None = None

    async def fetch(self) -> int:
        self.started += 1
        number = self.started
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.release.wait()
            if self.fail_with is not None:
                raise self.fail_with
            return number
        finally:
            self.in_flight -= 1


async def _read_in_flight(*, patience: float) -> tuple[SharedReads[int], Reads, asyncio.Future[int]]:
    """A caller reading "node" alone, its read held until ``reads.release``."""
    shared: SharedReads[int] = SharedReads(patience=patience)
    reads = Reads()
    first = asyncio.ensure_future(shared.read("node", reads.fetch))
    await _settle()
    return shared, reads, first


async def _settle() -> None:
    for _ in range(5):  # a few loop turns: every caller started so far has asked
        await asyncio.sleep(0)


def test_callers_that_ask_together_share_the_read_that_starts_after_them():
    async def scenario() -> None:
        shared: SharedReads[int] = SharedReads(patience=HANG_GUARD)
        reads = Reads()
        callers = [asyncio.ensure_future(shared.read("node", reads.fetch)) for _ in range(5)]
        await _settle()
        assert reads.started == 1  # the first reads alone; the four others wait for it to end
        reads.release.set()
        results = await asyncio.wait_for(asyncio.gather(*callers), HANG_GUARD)
        # The four asked while read 1 was on its way: they share read 2, not read 1 (older than their question).
        assert results == [1, 2, 2, 2, 2]
        assert reads.started == 2 and reads.most_in_flight == 1
        assert len(shared) == 0

    asyncio.run(scenario())


def test_keys_are_read_apart():
    async def scenario() -> None:
        shared: SharedReads[int] = SharedReads(patience=HANG_GUARD)
        reads = Reads(held=False)
        results = await asyncio.gather(*(shared.read(key, reads.fetch) for key in ("a", "b", "c")))
        assert sorted(results) == [1, 2, 3]

    asyncio.run(scenario())


def test_a_caller_that_gives_up_leaves_the_shared_read_to_the_others():
    async def scenario() -> None:
        shared, reads, first = await _read_in_flight(patience=HANG_GUARD)
        quitter, stayer = (asyncio.ensure_future(shared.read("node", reads.fetch)) for _ in range(2))
        await _settle()
        first.cancel()  # the caller reading alone gives up: its read ends with it
        quitter.cancel()  # one of the two sharing the next read gives up: that read goes on for the other
        await _settle()
        reads.release.set()
        assert await asyncio.wait_for(stayer, HANG_GUARD) == 2
        assert first.cancelled() and quitter.cancelled()
        assert len(shared) == 0

    asyncio.run(scenario())


def test_a_caller_waits_for_a_shared_read_no_longer_than_its_patience():
    async def scenario() -> None:
        shared, reads, first = await _read_in_flight(patience=0.05)
        await _gives_up(shared.read("node", reads.fetch))
        assert reads.started == 1  # it gave up still waiting for the read in flight: its own never began
        reads.release.set()
        assert await asyncio.wait_for(first, HANG_GUARD) == 1
        await asyncio.wait_for(_until_idle(shared), HANG_GUARD)  # the read it gave up on ran for nobody
        assert reads.started == 2

    asyncio.run(scenario())


def test_a_failed_shared_read_fails_its_callers_and_no_one_else():
    async def scenario() -> None:
        shared, reads, first = await _read_in_flight(patience=HANG_GUARD)
        joined = [asyncio.ensure_future(shared.read("node", reads.fetch)) for _ in range(2)]
        await _settle()
        reads.fail_with = ConnectionError("the node went away")
        reads.release.set()
        outcomes = await asyncio.wait_for(asyncio.gather(first, *joined, return_exceptions=True), HANG_GUARD)
        assert all(isinstance(o, ConnectionError) for o in outcomes)
        reads.fail_with = None
        assert await shared.read("node", reads.fetch) == 3  # the next caller reads afresh

    asyncio.run(scenario())


def test_the_error_of_a_read_every_caller_gave_up_on_is_not_logged_as_unretrieved():
    logged: list[dict] = []

    async def scenario() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, context: logged.append(context))
        shared, reads, first = await _read_in_flight(patience=0.05)
        await _gives_up(shared.read("node", reads.fetch))
        reads.fail_with = ConnectionError("the node went away")
        reads.release.set()
        with pytest.raises(ConnectionError):
            await first
        await asyncio.wait_for(_until_idle(shared), HANG_GUARD)
        gc.collect()  # an unretrieved task error is reported when the task is collected

    asyncio.run(scenario())
    assert not logged


async def _gives_up(read: Awaitable[int]) -> None:
    """``read`` raises TimeoutError (its patience), well before the hang guard."""
    task = asyncio.ensure_future(read)
    done, _ = await asyncio.wait({task}, timeout=HANG_GUARD)
    assert done, "the caller is still waiting, past its patience"
    with pytest.raises(TimeoutError):
        task.result()


async def _until_idle(shared: SharedReads[int]) -> None:
    while len(shared):
        await asyncio.sleep(0.01)


# A schedule: each caller asks some loop turns after the one before; read n takes durations[n % len] turns.
gaps = st.lists(st.integers(min_value=0, max_value=6), min_size=1, max_size=25)
durations = st.lists(st.integers(min_value=0, max_value=6), min_size=1, max_size=5)


@settings(max_examples=200, deadline=None)
@given(gaps, durations)
def test_every_answer_comes_from_a_read_that_started_after_its_caller_asked(gaps, durations):
    async def scenario() -> None:
        shared: SharedReads[int] = SharedReads(patience=HANG_GUARD)
        started = in_flight = most_in_flight = 0

        async def fetch() -> int:
            nonlocal started, in_flight, most_in_flight
            started += 1
            number = started
            in_flight += 1
            most_in_flight = max(most_in_flight, in_flight)
            for _ in range(durations[number % len(durations)]):
                await asyncio.sleep(0)
            in_flight -= 1
            return number

        async def caller() -> tuple[int, int]:
            asked_after = started  # reads begun before this caller asked
            return asked_after, await shared.read("node", fetch)

        callers = []
        for gap in gaps:
            for _ in range(gap):
                await asyncio.sleep(0)
            callers.append(asyncio.ensure_future(caller()))
        answers = await asyncio.wait_for(asyncio.gather(*callers), HANG_GUARD)
        assert all(read > asked_after for asked_after, read in answers)
        assert most_in_flight == 1
        assert started <= len(gaps)
        assert len(shared) == 0

    asyncio.run(scenario())
