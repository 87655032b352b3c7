"""Lockouts kept in the store, on SQLite and on PostgreSQL: the rules, their expiry, pruning, and
counting that stays exact when several processes fail at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from sessionplane.auth.lockout import LockoutRule, Lockouts
from sessionplane.auth.tables import LockoutRow
from sessionplane.db import Database


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def run_with(url: str, work, *, databases: int = 1) -> None:
    async def main() -> None:
        opened = [Database(url) for _ in range(databases)]
        await opened[0].migrate()
        try:
            await work(*opened)
        finally:
            for db in opened:
                await db.dispose()

    asyncio.run(main())


async def ak_locked(lockouts: Lockouts, access_key: str) -> bool:
    """What a signed request checks first: the AK's state, locked or not now."""
    return lockouts.locked(await lockouts.access_key_state(access_key))


async def rows(db: Database) -> int:
    async with db.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(LockoutRow)) or 0)


def test_more_than_five_signature_failures_lock_an_ak_for_five_minutes(database_url):
    async def work(db: Database) -> None:
        clock = Clock()
        lockouts = Lockouts(db, clock=clock)
        for _ in range(5):
            await lockouts.access_key_failed("AK")
        assert not await ak_locked(lockouts, "AK")
        await lockouts.access_key_failed("AK")
        assert await ak_locked(lockouts, "AK") and not await ak_locked(lockouts, "OTHER")
        clock.advance(seconds=299)
        assert await ak_locked(lockouts, "AK")
        clock.advance(seconds=2)
        assert not await ak_locked(lockouts, "AK")
        for _ in range(5):  # the count starts over after a lock
            await lockouts.access_key_failed("AK")
        assert not await ak_locked(lockouts, "AK")

    run_with(database_url, work)


def test_a_success_resets_the_ak_count(database_url):
    async def work(db: Database) -> None:
        lockouts = Lockouts(db, clock=Clock())
        for _ in range(5):
            await lockouts.access_key_failed("AK")
        await lockouts.access_key_succeeded("AK", state=await lockouts.access_key_state("AK"))
        assert await rows(db) == 0
        for _ in range(5):
            await lockouts.access_key_failed("AK")
        assert not await ak_locked(lockouts, "AK")

    run_with(database_url, work)


def test_five_wrong_passwords_within_fifteen_minutes_lock_for_fifteen_minutes(database_url):
    async def work(db: Database) -> None:
        clock = Clock()
        lockouts = Lockouts(db, clock=clock)

        async def locked(name: str = "ann") -> bool:
            return lockouts.locked(await lockouts.user_state(domain="acme", user_name=name))

        for _ in range(4):
            await lockouts.user_failed(domain="acme", user_name="ann")
            clock.advance(minutes=3)
        assert not await locked()
        await lockouts.user_failed(domain="acme", user_name="ann")  # the fifth, 12 minutes after the first
        assert await locked() and not await locked("bob")
        assert not lockouts.locked(await lockouts.user_state(domain="other", user_name="ann"))
        clock.advance(minutes=14, seconds=59)
        assert await locked()
        clock.advance(seconds=2)
        assert not await locked()

    run_with(database_url, work)


def test_failures_spread_beyond_the_window_do_not_lock(database_url):
    async def work(db: Database) -> None:
        clock = Clock()
        lockouts = Lockouts(db, clock=clock)
        for _ in range(10):
            await lockouts.user_failed(domain="acme", user_name="ann")
            clock.advance(minutes=4)  # at most four failures in any 15 minutes
        assert not lockouts.locked(await lockouts.user_state(domain="acme", user_name="ann"))

    run_with(database_url, work)


def test_expired_rows_are_pruned(database_url):
    async def work(db: Database) -> None:
        clock = Clock()
        lockouts = Lockouts(db, clock=clock)
        for n in range(50):
            await lockouts.user_failed(domain="acme", user_name=f"random-{n}")
        await lockouts.access_key_failed("AK")
        assert await rows(db) == 51
        clock.advance(minutes=16)
        await lockouts.user_failed(domain="acme", user_name="one-more")
        assert await rows(db) == 2  # the AK's count is kept for a day; the names' windows are over

    run_with(database_url, work)


def test_concurrent_failures_from_two_processes_all_count(database_url):
    async def work(first: Database, second: Database) -> None:
        rule = LockoutRule(locks_at=1000, window=timedelta(hours=1), lock=timedelta(minutes=5))
        clock = Clock()
        a, b = (Lockouts(db, password_rule=rule, access_key_rule=rule, clock=clock) for db in (first, second))
        await asyncio.gather(*(lockouts.access_key_failed("AK") for lockouts in (a, b) * 15))
        await asyncio.gather(*(lockouts.user_failed(domain="d", user_name="u") for lockouts in (a, b) * 15))
        assert (await a.user_state(domain="d", user_name="u")).failures == 30
        async with first.sessions() as s:
            assert await s.scalar(select(LockoutRow.failures).where(LockoutRow.subject == "ak:AK")) == 30

    run_with(database_url, work, databases=2)


def test_an_ak_locked_by_another_process_is_seen_at_once(database_url):
    async def work(first: Database, second: Database) -> None:
        clock = Clock()
        here, there = Lockouts(first, clock=clock), Lockouts(second, clock=clock)
        assert not await ak_locked(here, "AK")  # cached: not locked
        for _ in range(6):
            await there.access_key_failed("AK")
        assert await ak_locked(here, "AK")
        await there.access_key_succeeded("AK", state=await there.access_key_state("AK"))
        assert not await ak_locked(here, "AK")

    run_with(database_url, work, databases=2)
