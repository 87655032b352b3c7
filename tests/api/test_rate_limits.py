"""Rate limits (issue 11 item 2): APIG.0308, 429 with Retry-After, per caller (AK or user) and per project,
off by default, counted after authentication in the store. Across replicas: tests/integration/test_replicas.py."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from sessionplane import admin
from sessionplane.limits.service import RateLimiter
from sessionplane.limits.tables import RateCounterRow
from tests.conftest import login, settings_for
from tests.live import LiveService
from tests.signed import signed_get

PASSWORD = "Rate-l1mit-password"
WINDOW = 60
START = 1_800_000_000.0  # a window boundary (a multiple of 60)


class Clock:
    def __init__(self) -> None:
        self.now = START + 10

    def __call__(self) -> float:
        return self.now


def limited(tmp_path, clock: Clock, **limits: int) -> LiveService:
    live = LiveService(settings_for(tmp_path, rate_limit_window_seconds=WINDOW, **limits)).start()
    services = live.services
    # The same limiter the service builds, on a clock the test moves (windows are aligned to Unix time).
    services.rate_limits = RateLimiter(services.db, services.rate_limits.limits, clock=clock)
    return live


def user(live: LiveService, name: str, project: str) -> str:
    """A new admin user's token for ``project`` (its id in ``user_ids``)."""
    new = live.call(admin.add_user(live.services.inventory, domain="acme", name=name, password=PASSWORD, is_admin=True))
    user_ids[name] = new.id
    return login(live, domain="acme", name=name, password=PASSWORD, project_id=project)


user_ids: dict[str, str] = {}


def get(live: LiveService, project: str, token: str) -> httpx.Response:
    return httpx.get(f"{live.url}/v3/{project}/instances", headers={"X-Auth-Token": token}, timeout=30)


def assert_throttled(response: httpx.Response, *, policy: str, limit: int, retry_after: int) -> None:
    body = response.json()
    assert (response.status_code, body["error_code"]) == (429, "APIG.0308")
    assert body["error_msg"] == (
        f"The throttling threshold has been reached: policy {policy} over ratelimit, limit:{limit}, time:60 seconds"
    )
    assert response.headers["Retry-After"] == str(retry_after)
    assert body["request_id"] == response.headers["X-Request-Id"]


def counters(live: LiveService) -> int:
    async def count() -> int:
        async with live.services.db.sessions() as s:
            return int(await s.scalar(select(func.count()).select_from(RateCounterRow)) or 0)

    return live.call(count())


@pytest.fixture
def clock() -> Iterator[Clock]:
    yield Clock()


def test_off_by_default_and_nothing_is_counted(tmp_path):
    with LiveService(settings_for(tmp_path)) as live:
        project = live.call(admin.add_project(live.services.inventory, domain="acme", name="p")).id
        token = user(live, "ann", project)
        assert all(get(live, project, token).status_code == 200 for _ in range(30))
        assert counters(live) == 0


def test_a_caller_over_its_limit_is_refused_until_the_window_ends(tmp_path, clock):
    live = limited(tmp_path, clock, rate_limit_per_caller=3)
    try:
        project = live.call(admin.add_project(live.services.inventory, domain="acme", name="p")).id
        ann, bob = user(live, "ann", project), user(live, "bob", project)
        assert [get(live, project, ann).status_code for _ in range(3)] == [200, 200, 200]
        assert_throttled(get(live, project, ann), policy="caller", limit=3, retry_after=50)
        clock.now += 30
        assert_throttled(get(live, project, ann), policy="caller", limit=3, retry_after=20)
        assert get(live, project, bob).status_code == 200  # per caller: bob has his own count

        # Signed with an access key of ann's: the key is a caller of its own.
        key = live.call(live.services.iam.create_access_key(user_id=user_ids["ann"]))
        url = f"{live.url}/v3/{project}/instances"
        assert [signed_get(url, key.id, key.secret, project_id=project).status_code for _ in range(3)] == [200] * 3
        assert_throttled(
            signed_get(url, key.id, key.secret, project_id=project), policy="caller", limit=3, retry_after=20
        )

        clock.now = START + WINDOW  # the next window
        assert get(live, project, ann).status_code == 200
    finally:
        live.stop()


def test_a_project_limit_counts_every_caller_of_the_project(tmp_path, clock):
    live = limited(tmp_path, clock, rate_limit_per_project=4)
    try:
        one = live.call(admin.add_project(live.services.inventory, domain="acme", name="one")).id
        two = live.call(admin.add_project(live.services.inventory, domain="acme", name="two")).id
        ann, bob = user(live, "ann", one), user(live, "bob", one)
        answers = [get(live, one, token).status_code for token in (ann, bob, ann, bob)]
        assert answers == [200, 200, 200, 200]
        assert_throttled(get(live, one, bob), policy="project", limit=4, retry_after=50)
        assert_throttled(get(live, one, ann), policy="project", limit=4, retry_after=50)
        carl = user(live, "carl", two)
        assert get(live, two, carl).status_code == 200  # another project has its own count
    finally:
        live.stop()


def test_only_authenticated_requests_count_and_old_windows_are_pruned(tmp_path, clock):
    live = limited(tmp_path, clock, rate_limit_per_caller=2, rate_limit_per_project=100)
    try:
        project = live.call(admin.add_project(live.services.inventory, domain="acme", name="p")).id
        token = user(live, "ann", project)
        for _ in range(5):
            refused = get(live, project, "not-a-token")
            assert (refused.status_code, refused.json()["error_code"]) == (401, "APIG.0301")
        assert counters(live) == 0  # nobody known: nothing written
        assert [get(live, project, token).status_code for _ in range(2)] == [200, 200]
        assert get(live, project, token).status_code == 429
        assert counters(live) == 2  # the caller's and the project's, in this window
        clock.now += WINDOW
        assert get(live, project, token).status_code == 200
        assert live.call(live.services.rate_limits.prune()) == 2
        assert counters(live) == 2
    finally:
        live.stop()
