"""Brute-force guards, kept in the store so that every replica and the CLI count the same failures.

- Passwords (Huawei IAM's default): 5 wrong passwords for one user name within 15 minutes lock
  it for 15 minutes. Counted per (domain, user name) whether or not the user exists, so a lockout
  says nothing about existence; the subject is a hash, so mistyped passwords in the name field
  are not kept.
- Access keys (spec 5.2): more than 5 consecutive signature failures refuse the AK for 5 minutes;
  a success resets the count, and a run of failures is forgotten a day after its first. Only keys
  that exist are counted: unknown keys have nothing to guess, so a flood of them writes nothing and
  cannot push a locked key out.

Each failure is one atomic upsert, so concurrent failures on several replicas all count. Expired
rows are pruned on every password failure: the table holds at most what the bounded password
hashing can fail in one window, plus one row per existing AK. AK states are read on every signed
request, so they are cached and every AK write moves the store revision (``revision.bump``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, case, delete, literal, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from sessionplane import revision
from sessionplane.auth.tables import LockoutRow
from sessionplane.db import Database
from sessionplane.schema import UTCDateTime

_table: Table = LockoutRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class LockoutRule:
    locks_at: int  # the failure that locks
    window: timedelta  # failures older than this (since the first of the window) are forgotten
    lock: timedelta


PASSWORD_RULE = LockoutRule(locks_at=5, window=timedelta(minutes=15), lock=timedelta(minutes=15))
ACCESS_KEY_RULE = LockoutRule(locks_at=6, window=timedelta(days=1), lock=timedelta(minutes=5))


@dataclass(frozen=True)
class LockoutState:
    failures: int = 0
    locked_until: datetime | None = None

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


class Lockouts:
    def __init__(
        self,
        db: Database,
        *,
        password_rule: LockoutRule = PASSWORD_RULE,
        access_key_rule: LockoutRule = ACCESS_KEY_RULE,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._password_rule = password_rule
        self._access_key_rule = access_key_rule
        self._clock = clock
        self._access_keys = db.revision.cache()

    # -- passwords -------------------------------------------------------------------------

    async def user_state(self, *, domain: str, user_name: str) -> LockoutState:
        return await self._state(_user_subject(domain, user_name))

    def locked(self, state: LockoutState) -> bool:
        return state.locked(self._clock())

    async def user_failed(self, *, domain: str, user_name: str) -> None:
        now = self._clock()
        async with self._db.transaction() as s:
            await s.execute(self._count_failure(_user_subject(domain, user_name), self._password_rule, now))
            await s.execute(delete(_table).where(_table.c.expires_at < _at(now)))

    async def user_succeeded(self, *, domain: str, user_name: str, state: LockoutState) -> None:
        if state.failures:
            async with self._db.transaction() as s:
                await s.execute(delete(_table).where(_table.c.subject == _user_subject(domain, user_name)))

    # -- access keys (existing keys only) --------------------------------------------------

    async def access_key_state(self, access_key: str) -> LockoutState:
        """The AK's failures and lock (read once per signed request: ``locked``, then ``access_key_succeeded``)."""
        subject = _ak_subject(access_key)
        state = await self._access_keys.get(subject, lambda: self._state(subject))
        return state or LockoutState()

    async def access_key_failed(self, access_key: str) -> None:
        async with self._db.transaction() as s:
            await s.execute(self._count_failure(_ak_subject(access_key), self._access_key_rule, self._clock()))
            await revision.bump(s)

    async def access_key_succeeded(self, access_key: str, *, state: LockoutState) -> None:
        """A verified signature: forget the AK's failures, if ``state`` (its state before) had any."""
        if state.failures or state.locked_until:
            async with self._db.transaction() as s:
                await s.execute(delete(_table).where(_table.c.subject == _ak_subject(access_key)))
                await revision.bump(s)

    async def _state(self, subject: str) -> LockoutState:
        query = select(_table.c.failures, _table.c.locked_until).where(_table.c.subject == subject)
        async with self._db.sessions() as s:
            row = (await s.execute(query)).first()
        return LockoutState(row.failures, row.locked_until) if row else LockoutState()

    def _count_failure(self, subject: str, rule: LockoutRule, now: datetime) -> Any:
        """One atomic upsert: count a failure in the current window, lock at ``rule.locks_at``."""
        dialect = sqlite if self._db.engine.dialect.name == "sqlite" else postgresql
        c = _table.c
        locked = c.locked_until > _at(now)  # lost a race with the lock: leave the row as it is
        restart = or_(c.window_started_at <= _at(now - rule.window), and_(c.locked_until.is_not(None), ~locked))
        count = case((restart, 1), else_=c.failures + 1)
        reached = count >= rule.locks_at
        first = {"subject": subject, "failures": 1, "window_started_at": now, "expires_at": now + rule.window}
        return (
            dialect.insert(_table)
            .values(**first, locked_until=None)
            .on_conflict_do_update(
                index_elements=[c.subject],
                set_={
                    "failures": case((locked, c.failures), (reached, 0), else_=count),
                    "window_started_at": case(
                        (locked, c.window_started_at), (restart, _at(now)), else_=c.window_started_at
                    ),
                    "locked_until": case(
                        (locked, c.locked_until), (reached, _at(now + rule.lock)), (restart, None), else_=c.locked_until
                    ),
                    "expires_at": case(
                        (locked, c.expires_at),
                        (reached, _at(now + rule.lock)),
                        (restart, _at(now + rule.window)),
                        else_=c.expires_at,
                    ),
                },
            )
        )


def _user_subject(domain: str, user_name: str) -> str:
    return "user:" + hashlib.sha256(f"{domain}\0{user_name}".encode()).hexdigest()


def _ak_subject(access_key: str) -> str:
    return "ak:" + access_key


def _at(moment: datetime) -> Any:
    return literal(moment, UTCDateTime)
