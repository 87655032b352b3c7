"""Password sign-in that cannot starve the API and cannot be brute-forced (issue 6, item 3).

Over HTTP against the live service: 5 wrong passwords lock a user name for 15 minutes, known or
not, without hashing meanwhile; the lock lives in the store, so another instance sharing it
refuses too; and Argon2 runs off the event loop, so other requests are answered while sign-ins
hash. The hashing itself is the real argon2-cffi; the tests only watch it (and, for the ordering
test, hold it at a gate they open themselves).
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from argon2 import PasswordHasher

from sessionplane import admin
from sessionplane.auth import passwords
from tests.conftest import settings_for
from tests.live import LiveService

WRONG = "the username or password is wrong"
LOCKED = "too many wrong passwords"
RIGHT = "R1ght-password!"


def sign_in(url: str, name: str, password: str, project_id: str, *, domain: str = "acme") -> httpx.Response:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": name, "password": password, "domain": {"name": domain}}},
            },
            "scope": {"project": {"id": project_id}},
        }
    }
    return httpx.post(f"{url}/v3/auth/tokens", json=body, timeout=60)


def answer(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json() if response.status_code != 201 else {}
    return response.status_code, body.get("error_code", ""), body.get("error_msg", "")


class WatchedHasher(PasswordHasher):
    """argon2-cffi's own hasher, counting the verifications and optionally holding them at a gate."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        super().__init__()
        self.gate = gate
        self.verified = 0
        self.inside = 0
        self.changed = threading.Condition()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        with self.changed:
            self.verified += 1
            self.inside += 1
            self.changed.notify_all()
        try:
            if self.gate is not None:
                self.gate.wait(timeout=120)  # a liveness guard: the test opens the gate
            return super().verify(hash, password)
        finally:
            with self.changed:
                self.inside -= 1


@pytest.fixture
def watched(monkeypatch) -> WatchedHasher:
    hasher = WatchedHasher()
    monkeypatch.setattr(passwords, "_hasher", hasher)
    return hasher


def fresh_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_five_wrong_passwords_lock_a_user_known_or_unknown_alike(service, tenant):
    known, unknown = fresh_name("lock-known"), fresh_name("lock-unknown")
    service.call(admin.add_user(service.services.inventory, domain=tenant.domain, name=known, password=RIGHT))
    seen = {}
    for name in (known, unknown):
        attempts = [sign_in(service.url, name, f"wrong-{n}", tenant.project_id) for n in range(5)]
        attempts.append(sign_in(service.url, name, RIGHT, tenant.project_id))  # the right one, for the known user
        seen[name] = [answer(a) for a in attempts]
    assert seen[known] == seen[unknown]
    assert all(a[:2] == (401, "APIG.0301") and WRONG in a[2] for a in seen[known][:5])
    status, code, message = seen[known][5]
    assert (status, code) == (401, "APIG.0301") and LOCKED in message


def test_a_locked_user_is_refused_without_hashing(service, tenant, watched):
    name = fresh_name("lock-nohash")
    service.call(admin.add_user(service.services.inventory, domain=tenant.domain, name=name, password=RIGHT))
    for n in range(5):
        assert answer(sign_in(service.url, name, f"wrong-{n}", tenant.project_id))[0] == 401
    assert watched.verified == 5
    for password in ("wrong-again", RIGHT, RIGHT):
        status, code, message = answer(sign_in(service.url, name, password, tenant.project_id))
        assert (status, code) == (401, "APIG.0301") and LOCKED in message
    assert watched.verified == 5


def test_a_right_password_resets_the_count(service, tenant):
    name = fresh_name("lock-reset")
    service.call(admin.add_user(service.services.inventory, domain=tenant.domain, name=name, password=RIGHT))
    for _ in range(2):
        for n in range(4):
            assert answer(sign_in(service.url, name, f"wrong-{n}", tenant.project_id))[0] == 401
        assert sign_in(service.url, name, RIGHT, tenant.project_id).status_code == 201


def test_the_lock_is_shared_by_instances_on_one_store_and_follows_the_settings(tmp_path):
    settings = settings_for(tmp_path, password_lockout_failures=3)
    with LiveService(settings) as first, LiveService(settings) as second:
        inventory = first.services.inventory
        first.call(admin.add_user(inventory, domain="acme", name="shared", password=RIGHT))
        project = first.call(admin.add_project(inventory, domain="acme", name="p"))
        for n in range(3):  # alternating: the count is the store's
            status, _code, message = answer(sign_in((first, second)[n % 2].url, "shared", f"wrong-{n}", project.id))
            assert status == 401 and WRONG in message
        for service in (first, second):
            status, _code, message = answer(sign_in(service.url, "shared", RIGHT, project.id))
            assert status == 401 and LOCKED in message


def test_sign_ins_hash_off_the_event_loop(service, tenant, admin_token, monkeypatch):
    """While wrong sign-ins are held inside Argon2, an unrelated request is answered; at most
    ``password_hash_concurrency`` (2) hash at once."""
    gate = threading.Event()
    hasher = WatchedHasher(gate)
    monkeypatch.setattr(passwords, "_hasher", hasher)
    names = [fresh_name("flood") for _ in range(4)]
    try:
        with ThreadPoolExecutor(len(names)) as pool:
            pending = [pool.submit(sign_in, service.url, name, "wrong", tenant.project_id) for name in names]
            with hasher.changed:
                assert hasher.changed.wait_for(lambda: hasher.inside >= 1, timeout=60), "no sign-in reached Argon2"
            # Were Argon2 on the event loop, the held hash would hold the loop too, and this would time out.
            unrelated = httpx.get(
                f"{service.url}/v3/{tenant.project_id}/instances", headers={"X-Auth-Token": admin_token}, timeout=60
            )
            assert unrelated.status_code == 200
            with hasher.changed:
                assert hasher.changed.wait_for(lambda: hasher.inside >= 2, timeout=60), "hashes ran one at a time"
            assert not any(p.done() for p in pending)  # the sign-ins are still hashing (held at the gate)
            assert hasher.inside == 2
            gate.set()
            assert [answer(p.result())[:2] for p in pending] == [(401, "APIG.0301")] * len(names)
    finally:
        gate.set()
