"""The rule scheduler: one ``tick`` (run by the serving process every ``rule_tick_seconds``) runs the due rules.

Each tick asks the store for due rules and claims each with one conditional UPDATE (see
``RuleStore.claim``): with several replicas on one PostgreSQL store, every due time is claimed by
exactly one of them, and a rule still running (its lease unexpired) is not claimed again. Claimed
rules run concurrently; the lease is released when a run ends, whatever happened. A failing run
is logged and the others go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable

from sessionplane.rules.model import Rule, RuleRun
from sessionplane.rules.service import RuleService
from sessionplane.rules.store import RuleStore
from sessionplane.schema import utcnow
from sessionplane.settings import Settings

log = logging.getLogger(__name__)


class RuleScheduler:
    def __init__(
        self,
        *,
        store: RuleStore,
        rules: RuleService,
        settings: Settings,
        owner: str | None = None,
        observe_run: Callable[[float], None] = lambda _seconds: None,
    ) -> None:
        self._store = store
        self._rules = rules
        self._settings = settings
        self.owner = owner or uuid.uuid4().hex  # this replica, as the lease names it
        self._observe_run = observe_run  # the run-duration histogram of /metrics

    async def tick(self) -> list[RuleRun]:
        """Claim every due rule this replica can, run them, release them; the runs made."""
        now = utcnow()
        claimed = []
        for rule_id, interval in await self._store.due(now):
            rule = await self._store.claim(
                rule_id,
                owner=self.owner,
                now=now,
                interval_seconds=interval,
                lease_seconds=self._settings.rule_lease_seconds,
            )
            if rule is not None:
                claimed.append(rule)
        results = await asyncio.gather(*(self._run(rule) for rule in claimed))
        return [run for run in results if run is not None]

    async def _run(self, rule: Rule) -> RuleRun | None:
        started = time.perf_counter()
        try:
            return await self._rules.run(rule)
        except Exception:
            log.exception("close rule %s: the run failed", rule.id)
            return None
        finally:
            self._observe_run(time.perf_counter() - started)
            with contextlib.suppress(Exception):  # an unreleased lease expires on its own
                await self._store.release(rule.id, owner=self.owner)
