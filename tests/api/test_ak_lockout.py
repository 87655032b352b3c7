"""AK lockout in the store (issue 6, item 6): more than 5 bad signatures lock an existing AK for 5
minutes; a flood of unknown AKs writes nothing and cannot lift it; every instance sharing the
store sees it."""

from __future__ import annotations

import asyncio
import secrets

import httpx
from sqlalchemy import func, select

from sessionplane import admin
from sessionplane.auth.authenticate import RequestView
from sessionplane.auth.tables import LockoutRow
from sessionplane.errors import AuthenticationFailed
from tests.conftest import settings_for
from tests.live import LiveService
from tests.signed import signed_get

LOCKED = "AK access failed to reach the limit, forbidden"
BAD = "verify aksk signature fail"


def _new_key(service, domain: str, name: str):
    inventory = service.services.inventory
    user = service.call(admin.add_user(inventory, domain=domain, name=name, password=None, is_admin=True))
    return service.call(service.services.iam.create_access_key(user_id=user.id))


def _lockout_rows(service) -> int:
    async def count() -> int:
        async with service.services.db.sessions() as s:
            return int(await s.scalar(select(func.count()).select_from(LockoutRow)) or 0)

    return service.call(count())


def _answer(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body.get("error_code", ""), body.get("error_msg", "")


async def _flood(service, project_id: str, count: int) -> int:
    """Bad signatures under random AKs, through the authenticator the HTTP edge calls, 20 at a time."""

    async def one() -> bool:
        ak = secrets.token_hex(10).upper()
        view = RequestView(
            method="GET",
            path=f"/v3/{project_id}/instances",
            query=(),
            headers={
                "authorization": f"SDK-HMAC-SHA256 Access={ak}, SignedHeaders=host;x-sdk-date, Signature={'0' * 64}",
                "host": "127.0.0.1",
                "x-sdk-date": "20260101T000000Z",
            },
            body=b"",
            path_project_id=project_id,
            client_ip="127.0.0.1",
            secure=False,
        )
        try:
            await service.services.authenticator.authenticate(view)
        except AuthenticationFailed:
            return True
        return False

    refused = 0
    for _ in range(count // 20):
        refused += sum(await asyncio.gather(*(one() for _ in range(20))))
    return refused


def test_a_locked_ak_stays_locked_through_a_flood_of_unknown_keys(service, tenant):
    key = _new_key(service, tenant.domain, "ak-lockout-flood")
    url = f"{service.url}/v3/{tenant.project_id}/instances"
    assert signed_get(url, key.id, key.secret, project_id=tenant.project_id).status_code == 200
    rows_before = _lockout_rows(service)
    for _ in range(6):
        response = signed_get(url, key.id, "wrong-" + key.secret, project_id=tenant.project_id)
        assert _answer(response)[:2] == (401, "APIG.0301") and BAD in _answer(response)[2]
    locked = signed_get(url, key.id, key.secret, project_id=tenant.project_id)
    assert _answer(locked)[:2] == (401, "APIG.0301") and LOCKED in _answer(locked)[2]

    for _ in range(50):  # over HTTP too
        unknown = secrets.token_hex(10).upper()
        assert signed_get(url, unknown, key.secret, project_id=tenant.project_id).status_code == 401
    # The old in-memory table forgot a locked key after 10,000 others; now unknown keys write nothing at all,
    # so the size of the flood does not matter (the row count below is the proof).
    assert service.call(_flood(service, tenant.project_id, 2_000)) == 2_000

    still = signed_get(url, key.id, key.secret, project_id=tenant.project_id)
    assert _answer(still)[:2] == (401, "APIG.0301") and LOCKED in _answer(still)[2]
    assert _lockout_rows(service) == rows_before + 1  # the locked key's row; unknown keys wrote nothing


def test_five_failures_then_a_success_reset_the_count(service, tenant):
    key = _new_key(service, tenant.domain, "ak-lockout-reset")
    url = f"{service.url}/v3/{tenant.project_id}/instances"
    for _ in range(5):
        assert signed_get(url, key.id, "wrong-" + key.secret, project_id=tenant.project_id).status_code == 401
    assert signed_get(url, key.id, key.secret, project_id=tenant.project_id).status_code == 200
    for _ in range(5):
        assert signed_get(url, key.id, "wrong-" + key.secret, project_id=tenant.project_id).status_code == 401
    assert signed_get(url, key.id, key.secret, project_id=tenant.project_id).status_code == 200


def test_lockouts_hold_across_two_instances_sharing_one_store(tmp_path):
    settings = settings_for(tmp_path)
    with LiveService(settings) as first, LiveService(settings) as second:
        key = _new_key(first, "acme", "ak-two-instances")
        project = first.call(admin.add_project(first.services.inventory, domain="acme", name="p"))

        def get(service, secret: str) -> httpx.Response:
            return signed_get(f"{service.url}/v3/{project.id}/instances", key.id, secret, project_id=project.id)

        assert get(first, key.secret).status_code == 200 and get(second, key.secret).status_code == 200
        for n in range(6):  # alternate: the count is the store's, not a process's
            assert get((first, second)[n % 2], "wrong-" + key.secret).status_code == 401
        for service in (first, second):
            response = get(service, key.secret)
            assert _answer(response)[:2] == (401, "APIG.0301") and LOCKED in _answer(response)[2]
