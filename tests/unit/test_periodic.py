"""Periodic.stop ends its loop even when a round loses the cancellation."""

from __future__ import annotations

import asyncio

from sessionplane.ops import periodic
from sessionplane.ops.periodic import Periodic


def test_stop_ends_a_loop_whose_round_turned_the_cancel_into_an_error(monkeypatch):
    monkeypatch.setattr(periodic, "_CANCEL_AGAIN_SECONDS", 0.05)
    rounds = 0
    swallowed = False

    async def work() -> None:
        nonlocal rounds, swallowed
        rounds += 1
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if swallowed:
                raise
            swallowed = True
            raise TimeoutError("a timeout that fired as the cancel landed") from None  # the loop logs it, goes on

    async def scenario() -> None:
        loop = Periodic("test", 0.01, work)
        loop.start()
        await asyncio.sleep(0.05)
        stopping = asyncio.ensure_future(loop.stop())
        # A hang guard, not a timing claim: without the second cancel, stop() never returns.
        await asyncio.wait({stopping}, timeout=30)
        assert stopping.done(), "stop() is still waiting for a loop that lost its cancel"

    asyncio.run(scenario())
    assert swallowed and rounds == 2  # the first cancel was lost in round 1; the second ended round 2
